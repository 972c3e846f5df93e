"""All database access. Views and the service call these keyword-only functions, never SQL.

SQLite runs in WAL mode and takes its write lock at the start of a message's transaction
(BEGIN IMMEDIATE), so two messages from one sender never interleave; PostgreSQL locks the
sender's conversation row (SELECT ... FOR UPDATE) so many workers can serve many senders.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from .models import ConversationRow, ProcessedMessage, Tip, TipAddition, TipEvent

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> sa.Engine:
    """An engine tuned for the dialect: SQLite WAL with immediate writes, psycopg 3 pooling."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            # Let SQLAlchemy own BEGIN so writes can take the lock up front (below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            mode = "IMMEDIATE" if conn.get_execution_options().get("sqlite_write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    # hide_parameters: a database error must never carry a reporter's words into a log line.
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, hide_parameters=True)


@contextmanager
def writing(engine: sa.Engine) -> Iterator[Session]:
    """One write transaction: committed on success, rolled back on any error."""
    bound = engine.execution_options(sqlite_write=True) if engine.dialect.name == "sqlite" else engine
    with Session(bound, expire_on_commit=False) as session:
        with session.begin():
            yield session


@contextmanager
def reading(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Apply every migration (creates the schema on an empty database)."""
    from alembic import command

    command.upgrade(alembic_config(url), "heads")


def ping(engine: sa.Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except sa.exc.SQLAlchemyError:
        return False


# ---- conversations and processed messages ------------------------------------------------------

def lock_conversation(session: Session, *, reporter: str, channel: str) -> ConversationRow:
    """The sender's conversation, created if new, locked until the transaction ends."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(ConversationRow)
        .values(reporter=reporter, channel=channel, data={}, opted_out=False)
        .on_conflict_do_nothing(index_elements=["reporter"])
    )
    query = select(ConversationRow).where(ConversationRow.reporter == reporter)
    if dialect == "postgresql":
        query = query.with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).one()


def processed_twiml(session: Session, *, message_sid: str) -> str | None:
    row = session.get(ProcessedMessage, message_sid)
    return row.twiml if row is not None else None


def record_processed(session: Session, *, message_sid: str, twiml: str, now: datetime) -> None:
    session.add(ProcessedMessage(message_sid=message_sid, twiml=twiml, received_at=now))


# ---- tips --------------------------------------------------------------------------------------

TIP_FIELDS = {
    "urgency": "urgency",
    "category": "category",
    "description": "description",
    "location": "location",
    "when": "when_seen",
    "children": "children",
    "contact_consent": "contact_consent",
    "media_count": "media_count",
    "complete": "complete",
    "channel": "channel",
    "language": "language",
}


def tip_by_reference(session: Session, *, reference: str) -> Tip | None:
    return session.exec(select(Tip).where(Tip.reference == reference)).first()


def tip_status(session: Session, *, reference: str) -> str | None:
    return session.exec(select(Tip.status).where(Tip.reference == reference)).first()


def save_tip(
    session: Session, *, reference: str, reporter: str, fields: dict[str, Any], now: datetime,
    contact_sealed: str | None,
) -> Tip:
    """Create or update the reporter's tip from the report so far."""
    tip = tip_by_reference(session, reference=reference)
    created = tip is None
    if created:
        tip = Tip(reference=reference, reporter=reporter, created_at=now, updated_at=now)
    elif tip.reporter != reporter:
        raise PermissionError("a tip can only be written by its own reporter")
    was_complete = tip.complete
    for key, column in TIP_FIELDS.items():
        if key in fields:
            setattr(tip, column, fields[key])
    tip.complete = was_complete or bool(fields.get("complete"))
    if not tip.contact_consent:
        tip.contact_sealed = None  # a no keeps nothing
    elif contact_sealed is not None:
        tip.contact_sealed = contact_sealed
    tip.updated_at = now
    session.add(tip)
    session.flush()
    if created:
        add_event(session, tip=tip, kind="created", at=now, detail={"urgency": tip.urgency})
    if tip.complete and not was_complete:
        add_event(session, tip=tip, kind="completed", at=now)
    return tip


def discard_tip(session: Session, *, reference: str, reporter: str) -> bool:
    """Delete an unfinished tip of this reporter (quick exit); finished tips are never dropped."""
    tip = tip_by_reference(session, reference=reference)
    if tip is None or tip.reporter != reporter or tip.complete:
        return False
    session.exec(sa.delete(TipEvent).where(TipEvent.tip_id == tip.id))
    session.exec(sa.delete(TipAddition).where(TipAddition.tip_id == tip.id))
    session.delete(tip)
    return True


def add_to_tip(session: Session, *, reference: str, text: str, now: datetime) -> Tip | None:
    tip = tip_by_reference(session, reference=reference)
    if tip is None:
        return None
    session.add(TipAddition(tip_id=tip.id, text=text, created_at=now))
    tip.updated_at = now
    session.add(tip)
    add_event(session, tip=tip, kind="addition", at=now)
    return tip


def add_event(
    session: Session, *, tip: Tip, kind: str, at: datetime, actor: str = "system", detail: dict | None = None
) -> None:
    session.add(TipEvent(tip_id=tip.id, kind=kind, at=at, actor=actor, detail=detail or {}))


def forget_contacts(session: Session, *, reporter: str) -> int:
    """Delete every contact address this reporter left (STOP, EXIT)."""
    result = session.exec(
        sa.update(Tip)
        .where(Tip.reporter == reporter, Tip.contact_sealed.is_not(None))
        .values(contact_sealed=None, contact_consent=False)
    )
    return result.rowcount or 0


def additions_by_tip(session: Session, *, tip_ids: list[int]) -> dict[int, list[TipAddition]]:
    found: dict[int, list[TipAddition]] = {}
    if not tip_ids:
        return found
    rows = session.exec(
        select(TipAddition).where(TipAddition.tip_id.in_(tip_ids)).order_by(TipAddition.created_at, TipAddition.id)
    )
    for row in rows:
        found.setdefault(row.tip_id, []).append(row)
    return found


def export_tip(tip: Tip, additions: list[TipAddition] = ()) -> dict[str, Any]:
    """A tip as the contract's export fields (plus a few more); never the contact address."""
    return {
        "reference": tip.reference,
        "created_at": tip.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": tip.updated_at.isoformat().replace("+00:00", "Z"),
        "status": tip.status,
        "urgency": tip.urgency,
        "category": tip.category,
        "description": tip.description,
        "location": tip.location,
        "when": tip.when_seen,
        "children": tip.children,
        "channel": tip.channel,
        "language": tip.language,
        "reporter": tip.reporter,
        "contact_consent": tip.contact_consent,
        "complete": tip.complete,
        "media_count": tip.media_count,
        "additions": [
            {"created_at": a.created_at.isoformat().replace("+00:00", "Z"), "text": a.text} for a in additions
        ],
    }


def export_tips(session: Session, *, batch_size: int = 500) -> Iterator[dict[str, Any]]:
    """Every tip in arrival order, in batches, so a large export never sits in memory whole."""
    last_id = 0
    while True:
        batch = list(session.exec(select(Tip).where(Tip.id > last_id).order_by(Tip.id).limit(batch_size)))
        if not batch:
            return
        additions = additions_by_tip(session, tip_ids=[t.id for t in batch])
        for tip in batch:
            yield export_tip(tip, additions.get(tip.id, []))
        last_id = batch[-1].id
