"""the report's answers not filtered on (when, children, ...) kept as JSON on the tip (issue 12)

Revision ID: 0013
Revises: 0008 (the head on main: 0011 merges, then 0007 and 0008 follow it)

A question added in flows/flow.yaml needs no column: its answer goes in `tip.answers` under its
field name. Upgrade moves `when_seen` and `children` there; downgrade moves them back (answers of
other fields have no column to go back to and are dropped).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BATCH = 500


def _tips(*columns):
    return sa.table("tip", sa.column("id", sa.Integer()), *columns)


def _rows(bind, tips, last_id):
    return bind.execute(sa.select(tips).where(tips.c.id > last_id).order_by(tips.c.id).limit(BATCH)).all()


def upgrade() -> None:
    with op.batch_alter_table("tip") as batch:
        batch.add_column(sa.Column("answers", JSON_TYPE, nullable=True))
    bind = op.get_bind()
    old = _tips(sa.column("when_seen", sa.Text()), sa.column("children", sa.Text()))
    new = _tips(sa.column("answers", JSON_TYPE))
    last_id = 0
    while rows := _rows(bind, old, last_id):
        for row in rows:
            given = (("when", row.when_seen), ("children", row.children))
            answers = {name: value for name, value in given if value is not None}
            bind.execute(sa.update(new).where(new.c.id == row.id).values(answers=answers))
        last_id = rows[-1].id
    with op.batch_alter_table("tip") as batch:
        batch.alter_column("answers", existing_type=JSON_TYPE, nullable=False)
        batch.drop_column("children")
        batch.drop_column("when_seen")


def downgrade() -> None:
    with op.batch_alter_table("tip") as batch:
        batch.add_column(sa.Column("when_seen", sa.Text(), nullable=True))
        batch.add_column(sa.Column("children", sa.Text(), nullable=True))
    bind = op.get_bind()
    tips = _tips(sa.column("answers", JSON_TYPE), sa.column("when_seen", sa.Text()), sa.column("children", sa.Text()))
    last_id = 0
    while rows := _rows(bind, tips, last_id):
        for row in rows:
            answers = row.answers or {}
            bind.execute(sa.update(tips).where(tips.c.id == row.id)
                         .values(when_seen=answers.get("when"), children=answers.get("children")))
        last_id = rows[-1].id
    with op.batch_alter_table("tip") as batch:
        batch.drop_column("answers")
