"""routing that cannot fail silently, partners' outcomes to confirm (issue 9)

Revision ID: 0007
Revises: 0011 (main's head when routing merged main: the gateway and security heads merged)
"""
import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import tipline.models

revision = "0007"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tip") as batch:
        batch.add_column(sa.Column("routing", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch.add_column(sa.Column("outcome_reported_at", tipline.models.UTCDateTime(), nullable=True))
    op.create_index("ix_tip_urgency_routing", "tip", ["urgency", "routing", "created_at"])
    op.create_index("ix_tip_outcome_reported_at", "tip", ["outcome_reported_at"])


def downgrade() -> None:
    op.drop_index("ix_tip_outcome_reported_at", table_name="tip")
    op.drop_index("ix_tip_urgency_routing", table_name="tip")
    with op.batch_alter_table("tip") as batch:
        batch.drop_column("outcome_reported_at")
        batch.drop_column("routing")
