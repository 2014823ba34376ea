"""oversight: assignee, answered_by, notices, forwards, audit indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "forwards",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("body_code", sa.String(length=64), nullable=False),
        sa.Column("body_name", sa.String(length=200), nullable=False),
        sa.Column("body_email", sa.String(length=320), nullable=False),
        sa.Column("staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reporter_revealed", sa.Boolean(), nullable=False),
        sa.Column("message_id", sa.String(length=500), nullable=False),
        sa.Column("outbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_forwards_case_id_cases")),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name=op.f("fk_forwards_outbox_id_outbox")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_forwards_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forwards")),
        sa.UniqueConstraint("message_id", name=op.f("uq_forwards_message_id")),
    )
    with op.batch_alter_table("forwards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_forwards_case_id"), ["case_id"], unique=False)

    op.create_table(
        "notices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("staff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_notices_case_id_cases")),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name=op.f("fk_notices_outbox_id_outbox")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_notices_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_notices_key")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notices_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_notices_staff_status", ["staff_id", "status"], unique=False)

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_action_at", ["action", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("assignee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(
            sa.Column("answered_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(sa.Column("reporter_consent", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_answered_by"), ["answered_by"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_cases_answered_by_staff"), "staff", ["answered_by"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_cases_assignee_id_staff"), "staff", ["assignee_id"], ["id"])

    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notify", sa.String(length=16), server_default="digest", nullable=False))
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:

    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
        batch_op.drop_column("notify")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cases_assignee_id_staff"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_cases_answered_by_staff"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_cases_assignee_id"))
        batch_op.drop_index(batch_op.f("ix_cases_answered_by"))
        batch_op.drop_column("purged_at")
        batch_op.drop_column("reporter_consent")
        batch_op.drop_column("answered_by")
        batch_op.drop_column("assignee_id")

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))
        batch_op.drop_index("ix_audit_events_action_at")

    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_staff_status")
        batch_op.drop_index(batch_op.f("ix_notices_case_id"))

    op.drop_table("notices")
    with op.batch_alter_table("forwards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forwards_case_id"))

    op.drop_table("forwards")
