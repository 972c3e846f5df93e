"""awareness messages, lessons of the week and polls (issue 5)

Revision ID: 0005
Revises: 0004, 0002 (its recipients point at outbox rows)
Depends on: 0002 (recipients point at outbox rows)
"""
import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op
from sqlalchemy.dialects import postgresql

import tipline.models

revision = "0005"
down_revision = ("0004", "0002")
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
EMAIL = sqlmodel.sql.sqltypes.AutoString(length=254)
SHORT = sqlmodel.sql.sqltypes.AutoString(length=16)


def upgrade() -> None:
    op.create_table(
        "poll",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", tipline.models.UTCDateTime(), nullable=False),
        sa.Column("created_by", EMAIL, nullable=False),
        sa.Column("questions", JSON, nullable=False),
        sa.Column("options", JSON, nullable=False),
        sa.Column("place_codes", JSON, nullable=False),
        sa.Column("status", SHORT, nullable=False),
        sa.Column("closed_at", tipline.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "broadcast",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", SHORT, nullable=False),
        sa.Column("created_at", tipline.models.UTCDateTime(), nullable=False),
        sa.Column("created_by", EMAIL, nullable=False),
        sa.Column("texts", JSON, nullable=False),
        sa.Column("place_codes", JSON, nullable=False),
        sa.Column("status", SHORT, nullable=False),
        sa.Column("scheduled_at", tipline.models.UTCDateTime(), nullable=True),
        sa.Column("started_at", tipline.models.UTCDateTime(), nullable=True),
        sa.Column("finished_at", tipline.models.UTCDateTime(), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_broadcast_status_scheduled", "broadcast", ["status", "scheduled_at"])
    op.create_index("ix_broadcast_poll_id", "broadcast", ["poll_id"])
    op.create_table(
        "broadcast_recipient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("language", SHORT, nullable=False),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcast.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["volunteer_id"], ["volunteer.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("broadcast_id", "volunteer_id", name="uq_broadcast_recipient"),
    )
    op.create_index("ix_broadcast_recipient_broadcast_id", "broadcast_recipient", ["broadcast_id"])
    op.create_index("ix_broadcast_recipient_volunteer_id", "broadcast_recipient", ["volunteer_id"])
    op.create_index("ix_broadcast_recipient_outbox_id", "broadcast_recipient", ["outbox_id"])
    op.create_table(
        "poll_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("choice", sa.Integer(), nullable=False),
        sa.Column("answered_at", tipline.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["volunteer_id"], ["volunteer.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("poll_id", "volunteer_id", name="uq_poll_answer"),
    )
    op.create_index("ix_poll_answer_poll_id", "poll_answer", ["poll_id"])
    op.create_table(
        "lesson_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_lesson", sa.Integer(), nullable=False),
        sa.Column("next_at", tipline.models.UTCDateTime(), nullable=True),
        sa.Column("place_codes", JSON, nullable=False),
        sa.Column("updated_by", EMAIL, nullable=False),
        sa.Column("updated_at", tipline.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("lesson_schedule")
    op.drop_table("poll_answer")
    op.drop_table("broadcast_recipient")
    op.drop_table("broadcast")
    op.drop_table("poll")
