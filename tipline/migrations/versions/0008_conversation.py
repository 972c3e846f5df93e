"""a tip's PIN (keyed hash) and its wrong tries, for ADD and STATUS from another phone (issue 8)

Revision ID: 0008
Revises: 0007 (main's head when conv merged main: routing after the gateway and security heads)
"""
import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import tipline.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tip") as batch:
        batch.add_column(sa.Column("pin_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        # Existing tips have had no PIN and no wrong tries.
        batch.add_column(sa.Column("pin_failures", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("pin_failed_at", tipline.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tip") as batch:
        batch.drop_column("pin_failed_at")
        batch.drop_column("pin_failures")
        batch.drop_column("pin_hash")
