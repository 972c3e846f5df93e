"""merge the gateway channel and the security hardening into one line

Revision ID: 0011
Revises: 0009, 0010
"""

revision = "0011"
down_revision = ("0009", "0010")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
