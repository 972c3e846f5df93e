"""core tables: conversations, tips, additions, events, processed messages

Revision ID: 0001
Revises:
Create Date: 2026-11-28 00:28:04.694356
"""
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op
from sqlalchemy.dialects import postgresql

import tipline.models  # noqa: F401  (custom column types)

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('conversation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reporter', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('opted_out', sa.Boolean(), nullable=False),
    sa.Column('last_seen_at', tipline.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', tipline.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reporter')
    )
    op.create_table('processed_message',
    sa.Column('message_sid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('received_at', tipline.models.UTCDateTime(), nullable=False),
    sa.Column('twiml', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('message_sid')
    )
    with op.batch_alter_table('processed_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processed_message_received_at'), ['received_at'], unique=False)

    op.create_table('tip',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
    sa.Column('created_at', tipline.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', tipline.models.UTCDateTime(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('urgency', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('location', sa.Text(), nullable=True),
    sa.Column('when_seen', sa.Text(), nullable=True),
    sa.Column('children', sa.Text(), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reporter', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('contact_consent', sa.Boolean(), nullable=False),
    sa.Column('contact_sealed', sa.Text(), nullable=True),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('media_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reference')
    )
    with op.batch_alter_table('tip', schema=None) as batch_op:
        batch_op.create_index('ix_tip_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_tip_reporter', ['reporter'], unique=False)
        batch_op.create_index('ix_tip_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_tip_urgency_created', ['urgency', 'created_at'], unique=False)

    op.create_table('tip_addition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('created_at', tipline.models.UTCDateTime(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['tip_id'], ['tip.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tip_addition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tip_addition_tip_id'), ['tip_id'], unique=False)

    op.create_table('tip_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('at', tipline.models.UTCDateTime(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['tip_id'], ['tip.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tip_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tip_event_tip_id'), ['tip_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('tip_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tip_event_tip_id'))

    op.drop_table('tip_event')
    with op.batch_alter_table('tip_addition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tip_addition_tip_id'))

    op.drop_table('tip_addition')
    with op.batch_alter_table('tip', schema=None) as batch_op:
        batch_op.drop_index('ix_tip_urgency_created')
        batch_op.drop_index('ix_tip_status_created')
        batch_op.drop_index('ix_tip_reporter')
        batch_op.drop_index('ix_tip_created_at')

    op.drop_table('tip')
    with op.batch_alter_table('processed_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processed_message_received_at'))

    op.drop_table('processed_message')
    op.drop_table('conversation')

