"""partners, escalations, outbox, send slots and follow-up questions (issue 4)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 00:32:15.990007
"""
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op
from sqlalchemy.dialects import postgresql

import tipline.models  # noqa: F401  (custom column types)

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partner',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('regions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('categories', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
              nullable=False),
    sa.Column('urgent_only', sa.Boolean(), nullable=False),
    sa.Column('preference', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('last_inbound_at', tipline.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', tipline.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('phone')
    )
    op.create_table('send_slot',
    sa.Column('sender', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('next_free_at', tipline.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('sender')
    )
    op.create_table('escalation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('created_at', tipline.models.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('due_at', tipline.models.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_at', tipline.models.UTCDateTime(), nullable=True),
    sa.Column('done_at', tipline.models.UTCDateTime(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tip_id'], ['tip.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tip_id', 'partner_id', name='uq_escalation_tip_partner')
    )
    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalation_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index('ix_escalation_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalation_tip_id'), ['tip_id'], unique=False)
    op.create_table('follow_up',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('reporter', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('asked_at', tipline.models.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('answered_at', tipline.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['tip_id'], ['tip.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('follow_up', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_reporter'), ['reporter'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_tip_id'), ['tip_id'], unique=False)
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', tipline.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tipline.models.UTCDateTime(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('to_sealed', sa.Text(), nullable=False),
    sa.Column('to_hint', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=True),
    sa.Column('partner_id', sa.Integer(), nullable=True),
    sa.Column('reporter', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', tipline.models.UTCDateTime(), nullable=False),
    sa.Column('claimed_until', tipline.models.UTCDateTime(), nullable=True),
    sa.Column('sender', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('twilio_sid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('delivery_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('sent_at', tipline.models.UTCDateTime(), nullable=True),
    sa.Column('fallback_of_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['fallback_of_id'], ['outbox.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tip_id'], ['tip.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_reporter'), ['reporter'], unique=False)
        batch_op.create_index('ix_outbox_status_next', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_tip_id'), ['tip_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_twilio_sid'), ['twilio_sid'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_twilio_sid'))
        batch_op.drop_index(batch_op.f('ix_outbox_tip_id'))
        batch_op.drop_index('ix_outbox_status_next')
        batch_op.drop_index(batch_op.f('ix_outbox_reporter'))
    op.drop_table('outbox')
    with op.batch_alter_table('follow_up', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_tip_id'))
        batch_op.drop_index(batch_op.f('ix_follow_up_reporter'))
    op.drop_table('follow_up')
    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalation_tip_id'))
        batch_op.drop_index('ix_escalation_status_due')
        batch_op.drop_index(batch_op.f('ix_escalation_partner_id'))
    op.drop_table('escalation')
    op.drop_table('send_slot')
    op.drop_table('partner')
