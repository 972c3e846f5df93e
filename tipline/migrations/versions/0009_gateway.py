"""SMS Gateway for Android channel (issue 14): the outbox row's provider, handled webhook deliveries

Revision ID: 0009
Revises: 0006
"""
import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import tipline.models

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None

SHORT = sqlmodel.sql.sqltypes.AutoString(length=16)


def upgrade() -> None:
    op.add_column("outbox", sa.Column("provider", SHORT, nullable=False, server_default="twilio"))
    op.create_table(
        "gateway_event",
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("received_at", tipline.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_gateway_event_received_at", "gateway_event", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_gateway_event_received_at", table_name="gateway_event")
    op.drop_table("gateway_event")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("provider")
