"""open surveys: responses without an invitation (site, service, unit, kiosk, paper,
keypad), attributed to a unit, service and staff member; invitations without a case
(the SMS keyword)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("survey_invitations", schema=None) as b:
        b.alter_column("case_id", existing_type=BigId, nullable=True)
        b.add_column(sa.Column("scope", sa.String(length=16), server_default="case", nullable=False))
        b.add_column(sa.Column("unit_code", sa.String(length=64), nullable=True))
        b.add_column(sa.Column("service_code", sa.String(length=64), nullable=True))
    with op.batch_alter_table("survey_responses", schema=None) as b:
        b.alter_column("invitation_id", existing_type=BigId, nullable=True)
        b.add_column(sa.Column("scope", sa.String(length=16), server_default="case", nullable=False))
        b.add_column(sa.Column("unit_code", sa.String(length=64), nullable=True))
        b.add_column(sa.Column("service_code", sa.String(length=64), nullable=True))
        b.add_column(sa.Column("staff_id", BigId, nullable=True))
        b.add_column(sa.Column("entered_by", BigId, nullable=True))
        b.add_column(sa.Column("visit_key", sa.String(length=64), nullable=True))
        b.create_foreign_key(b.f("fk_survey_responses_staff_id_staff"), "staff", ["staff_id"], ["id"])
        b.create_foreign_key(b.f("fk_survey_responses_entered_by_staff"), "staff", ["entered_by"], ["id"])
        b.create_unique_constraint(b.f("uq_survey_responses_visit_key"), ["visit_key"])
        b.create_index(b.f("ix_survey_responses_created_at"), ["created_at"], unique=False)
        b.create_index(b.f("ix_survey_responses_unit_code"), ["unit_code"], unique=False)
        b.create_index(b.f("ix_survey_responses_staff_id"), ["staff_id"], unique=False)
    # Responses given before: the unit and service of their case.
    op.execute(
        "UPDATE survey_responses SET unit_code = (SELECT c.unit_code FROM cases c "
        "JOIN survey_invitations i ON i.case_id = c.id "
        "WHERE i.id = survey_responses.invitation_id), "
        "service_code = (SELECT c.service_code FROM cases c "
        "JOIN survey_invitations i ON i.case_id = c.id "
        "WHERE i.id = survey_responses.invitation_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("survey_responses", schema=None) as b:
        b.drop_index(b.f("ix_survey_responses_staff_id"))
        b.drop_index(b.f("ix_survey_responses_unit_code"))
        b.drop_index(b.f("ix_survey_responses_created_at"))
        b.drop_constraint(b.f("uq_survey_responses_visit_key"), type_="unique")
        b.drop_constraint(b.f("fk_survey_responses_entered_by_staff"), type_="foreignkey")
        b.drop_constraint(b.f("fk_survey_responses_staff_id_staff"), type_="foreignkey")
        for col in ("visit_key", "entered_by", "staff_id", "service_code", "unit_code", "scope"):
            b.drop_column(col)
        b.alter_column("invitation_id", existing_type=BigId, nullable=False)
    with op.batch_alter_table("survey_invitations", schema=None) as b:
        for col in ("service_code", "unit_code", "scope"):
            b.drop_column(col)
        b.alter_column("case_id", existing_type=BigId, nullable=False)
