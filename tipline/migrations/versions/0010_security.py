"""security hardening (issue 10): server-side dashboard sessions, forced password change, processed
sids kept without their words, an audit trail that refuses DELETE and TRUNCATE too

Revision ID: 0010
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

import tipline.models  # noqa: F401  (custom column types)

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None

WHEN = tipline.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "dashboard_session",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("second_factor_pending", sa.Boolean(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.Column("last_seen_at", WHEN(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["dashboard_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    op.create_index("ix_dashboard_session_user_id", "dashboard_session", ["user_id"])
    op.create_index("ix_dashboard_session_last_seen_at", "dashboard_session", ["last_seen_at"])
    # A plain ADD COLUMN (the default fills existing rows): rebuilding dashboard_user on SQLite
    # would fire the ON DELETE actions of the tables that point at it.
    op.add_column("dashboard_user", sa.Column("password_change_required", sa.Boolean(), nullable=False,
                                              server_default=sa.false()))
    with op.batch_alter_table("processed_message") as batch:
        batch.alter_column("twiml", existing_type=sa.Text(), nullable=True)
        batch.add_column(sa.Column("reporter", sa.String(length=64), nullable=True))
        batch.create_index("ix_processed_message_reporter", ["reporter"])

    # The audit trail refuses UPDATE since 0003; now DELETE and TRUNCATE as well. A table owner can
    # still drop triggers: the README's deployment notes run the server as a role without that right.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
            "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()"
        )
    else:  # SQLite has no TRUNCATE; a DELETE without WHERE fires the trigger like any other
        op.execute(
            "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
            "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_entry")
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_delete ON audit_entry")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_delete")
    op.execute("DELETE FROM processed_message WHERE twiml IS NULL")
    with op.batch_alter_table("processed_message") as batch:
        batch.drop_index("ix_processed_message_reporter")
        batch.drop_column("reporter")
        batch.alter_column("twiml", existing_type=sa.Text(), nullable=False)
    op.drop_column("dashboard_user", "password_change_required")
    op.drop_index("ix_dashboard_session_last_seen_at", table_name="dashboard_session")
    op.drop_index("ix_dashboard_session_user_id", table_name="dashboard_session")
    op.drop_table("dashboard_session")
