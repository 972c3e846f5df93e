"""community participation: volunteers and ideas

Revision ID: 0004
Revises: 0001
"""
import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import tipline.models

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "volunteer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reporter", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("address_sealed", sa.Text(), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("place", sa.Text(), nullable=True),
        sa.Column("place_code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("consent_at", tipline.models.UTCDateTime(), nullable=False),
        sa.Column("consent_wording", sa.Text(), nullable=False),
        sa.Column("left_at", tipline.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reporter"),
    )
    op.create_index("ix_volunteer_place_code", "volunteer", ["place_code"])
    op.create_index("ix_volunteer_active", "volunteer", ["active"])
    op.create_table(
        "idea",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", tipline.models.UTCDateTime(), nullable=False),
        sa.Column("reporter", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("updated_at", tipline.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_idea_created_at", "idea", ["created_at"])
    op.create_index("ix_idea_status", "idea", ["status"])
    # Tips get the place picked from the list (a province or regency code), for filters and coverage.
    with op.batch_alter_table("tip") as batch:
        batch.add_column(sa.Column("place_code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch.create_index("ix_tip_place_code", ["place_code"])


def downgrade() -> None:
    with op.batch_alter_table("tip") as batch:
        batch.drop_index("ix_tip_place_code")
        batch.drop_column("place_code")
    op.drop_table("idea")
    op.drop_table("volunteer")
