"""Migrations are one line of history and build exactly the tables the models describe."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from tipline import models  # noqa: F401  (registers every table)
from tipline.storage import alembic_config, upgrade


def test_one_head():
    assert len(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()) == 1


def test_migrated_schema_matches_the_models(database_url):
    upgrade(database_url)
    upgrade(database_url)  # idempotent
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_answers_move_to_json_and_back(database_url):
    """0013: a tip's when and children (the reporter's words) survive the upgrade and the downgrade."""
    from alembic import command

    config = alembic_config(database_url)
    command.upgrade(config, "0008")
    engine = sa.create_engine(database_url)
    now = "2026-01-05 08:00:00+00:00"
    columns = ("reference", "created_at", "updated_at", "status", "urgency", "channel", "language", "reporter",
               "contact_consent", "complete", "media_count", "pin_failures", "when_seen", "children")
    rows = [
        ("AAAA-2222", now, now, "new", "normal", "sms", "id", "pseudonym-1", False, True, 0, 0,
         "tadi malam jam 11an", "kira2 5 anak cewek"),
        ("BBBB-3333", now, now, "new", "normal", "sms", "id", "pseudonym-2", False, False, 0, 0, None, None),
    ]
    insert = sa.text(f"INSERT INTO tip ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})")
    try:
        with engine.begin() as conn:
            conn.execute(insert, [dict(zip(columns, row, strict=True)) for row in rows])
        command.upgrade(config, "head")
        tips = sa.table("tip", sa.column("reference"), sa.column("answers", sa.JSON()))
        with engine.connect() as conn:
            answers = dict(conn.execute(sa.select(tips.c.reference, tips.c.answers).order_by(tips.c.reference)).all())
        assert answers == {"AAAA-2222": {"when": "tadi malam jam 11an", "children": "kira2 5 anak cewek"},
                           "BBBB-3333": {}}
        command.downgrade(config, "0008")
        with engine.connect() as conn:
            back = conn.execute(sa.text("SELECT reference, when_seen, children FROM tip ORDER BY reference")).all()
        assert [tuple(row) for row in back] == [("AAAA-2222", "tadi malam jam 11an", "kira2 5 anak cewek"),
                                                ("BBBB-3333", None, None)]
    finally:
        engine.dispose()
