"""case appeals: appeal_level and appealed_at on cases

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from gateway.core.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("appeal_level", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("appealed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("appealed_at")
        batch.drop_column("appeal_level")
