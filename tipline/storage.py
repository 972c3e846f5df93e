"""All database access. Views and the service call these keyword-only functions, never SQL.

SQLite runs in WAL mode and takes its write lock at the start of a message's transaction
(BEGIN IMMEDIATE), so two messages from one sender never interleave; PostgreSQL locks the
sender's conversation row (SELECT ... FOR UPDATE) so many workers can serve many senders.
"""

from __future__ import annotations

import logging
import statistics
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from .inbound import NO_REPLY_TWIML, Transaction  # noqa: F401  (NO_REPLY_TWIML: what a repeat gets once its answer is dropped)
from .models import ConversationRow, ProcessedMessage, Tip, TipAddition, TipEvent

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# WAL with synchronous=NORMAL: a commit survives the process being killed (the crash test); only
# an OS crash or power loss can lose the last commits. README "SQLite durability" has the numbers.
SQLITE_SYNCHRONOUS = "NORMAL"


def _no_fetched_rows(record: logging.LogRecord) -> bool:
    """SQLAlchemy logs every fetched row once its logger allows DEBUG (a root logger at DEBUG is
    enough), and rows hold reporters' words; hide_parameters covers bound values only."""
    return record.msg != "Row %r"


def make_engine(url: str, *, connect_timeout: int | None = None, statement_timeout: int | None = None,
                lock_timeout: int | None = None) -> sa.Engine:
    """An engine tuned for the dialect: SQLite WAL with immediate writes, psycopg 3 pooling.

    The timeouts (seconds; the server's Settings.database_timeouts) make a database that stops
    answering fail within seconds, so the webhook answers 503 (Twilio retries) and no worker hangs:
    `connect_timeout` bounds a new connection, `statement_timeout` and `lock_timeout` are the
    server's own limits, and the client gives up on any answer `ANSWER_GRACE` seconds after the
    statement timeout (a server that accepts connections and never replies). SQLite has only a
    busy timeout: the lock timeout.
    """
    logging.getLogger("sqlalchemy.engine.Engine").addFilter(_no_fetched_rows)  # idempotent
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Reporters' words live in this file: readable by the service's user only. SQLite
            # gives the -wal and -shm files the same permissions.
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        busy_seconds = lock_timeout if lock_timeout is not None else 30
        engine = sa.create_engine(
            url, connect_args={"timeout": busy_seconds, "check_same_thread": False}, hide_parameters=True
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            # Let SQLAlchemy own BEGIN so writes can take the lock up front (below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            mode = "IMMEDIATE" if conn.get_execution_options().get("sqlite_write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    # hide_parameters: a database error must never carry a reporter's words into a log line.
    bounded = any(limit is not None for limit in (connect_timeout, statement_timeout, lock_timeout))
    engine = sa.create_engine(url, pool_size=5, max_overflow=5, hide_parameters=True, pool_pre_ping=not bounded)
    if bounded:
        _bound_postgres_waits(engine, connect_timeout=connect_timeout, statement_timeout=statement_timeout,
                              lock_timeout=lock_timeout)
    return engine


ANSWER_GRACE = 2  # seconds past the statement timeout before the client stops waiting for the server
PING_TIMEOUT = 2  # seconds a pooled connection has to answer SELECT 1 before it is replaced


def _bound_postgres_waits(engine: sa.Engine, *, connect_timeout: int | None, statement_timeout: int | None,
                          lock_timeout: int | None) -> None:
    """Connections that give up: on connecting, on any statement, on a lock, and on a silent server."""
    import psycopg

    answer_limit = statement_timeout + ANSWER_GRACE if statement_timeout is not None else None
    options = " ".join(
        f"-c {name}={seconds * 1000}" for name, seconds in (
            ("statement_timeout", statement_timeout), ("lock_timeout", lock_timeout)) if seconds is not None
    )

    class BoundedConnection(psycopg.Connection):
        """psycopg's connection, waiting at most `answer_limit` seconds for any answer.

        statement_timeout is enforced by the server, so it does nothing when the server itself
        stops answering (or a proxy in between does); then this limit drops the connection and
        SQLAlchemy's pool replaces it.
        """

        limit = answer_limit

        def wait(self, gen, interval=None, timeout=None):
            limit = timeout if timeout is not None else self.limit
            started = time.monotonic()
            try:
                if interval is None:
                    return super().wait(gen, timeout=limit)
                return super().wait(gen, interval=interval, timeout=limit)
            except psycopg.OperationalError:
                if limit is not None and time.monotonic() - started >= limit:
                    self.pgconn.finish()  # mid-protocol: unusable, and SQLAlchemy sees it closed
                    raise psycopg.OperationalError(f"the database did not answer within {limit:g} s") from None
                raise

        def ping(self) -> None:
            previous, self.limit = self.limit, PING_TIMEOUT
            try:
                self.execute("SELECT 1")
            finally:
                self.limit = previous

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        if connect_timeout is not None:
            cparams["connect_timeout"] = connect_timeout
        if options:  # added to any options the URL carries (e.g. a search_path)
            cparams["options"] = f"{cparams.get('options', '')} {options}".strip()
        return BoundedConnection.connect(*cargs, **cparams)

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy):
        # SQLAlchemy's pool_pre_ping would wait on a silent server as long as any statement;
        # a connection that does not answer SELECT 1 at once is replaced (DisconnectionError).
        if record.info.pop("fresh", False):
            return
        try:
            dbapi_connection.ping()
        except psycopg.Error:
            raise sa.exc.DisconnectionError("the pooled connection did not answer") from None

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_connection, record):
        record.info["fresh"] = True


@contextmanager
def writing(engine: sa.Engine) -> Iterator[Session]:
    """One write transaction: committed on success, rolled back on any error."""
    if engine.dialect.name != "sqlite":
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session
        return
    with _sqlite_writer_turn(engine.url.database):
        with Session(engine.execution_options(sqlite_write=True), expire_on_commit=False) as session:
            with session.begin():
                yield session


@contextmanager
def writing_transaction(engine: sa.Engine) -> Iterator[Transaction]:
    """One write transaction as `writing`, on a Core connection: the inbound hot path (inbound.py)."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield from _flushed(Transaction(conn))
        return
    with _sqlite_writer_turn(engine.url.database):
        with engine.execution_options(sqlite_write=True).begin() as conn:
            yield from _flushed(Transaction(conn))


def _flushed(transaction: Transaction) -> Iterator[Transaction]:
    try:
        yield transaction
        transaction.flush()
    finally:
        transaction.close()


@contextmanager
def _sqlite_writer_turn(database: str | None) -> Iterator[None]:
    """Writers queue on a file lock before BEGIN IMMEDIATE.

    SQLite's own busy handler waits by sleeping in growing steps (1 ms up to 100 ms), so two
    gunicorn workers that collide lose time asleep; a blocking flock wakes the next writer the
    moment the lock is free. Each turn opens its own descriptor, so threads queue too.
    """
    if not database or database == ":memory:":
        yield
        return
    fd = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def describe_database_error(error: sa.exc.DBAPIError) -> str:
    """What failed in the database, for operators, without a value from the failing row.

    No traceback: PostgreSQL's error DETAIL quotes the whole failing row (a reporter's words)
    and data errors (SQLSTATE class 22) quote the value, so for errors the server reports only
    the code, the primary message of other classes and the names of table, column and constraint
    are kept. Connection failures and SQLite's messages name hosts and schema, never values.
    """
    orig = error.orig
    name = type(orig).__name__
    diag = getattr(orig, "diag", None)
    code = getattr(diag, "sqlstate", None)
    if not code:
        return f"{name}: {' '.join(str(orig).split())[:300]}"
    facts = [f"sqlstate {code}"]
    facts += [f"{label} {value}" for label, value in (
        ("table", diag.table_name), ("column", diag.column_name), ("constraint", diag.constraint_name),
    ) if value]
    primary = "data exception" if code.startswith("22") else (diag.message_primary or "")
    statement = " ".join((error.statement or "").split()[:3])
    return f"{name}: {primary} ({', '.join(facts)}) in {statement} ..."


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

    command.upgrade(alembic_config(url), "head")


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
    query = select(ConversationRow).where(ConversationRow.reporter == reporter)
    if dialect == "postgresql":
        query = query.with_for_update()
    query = query.execution_options(populate_existing=True)
    # Almost every message comes from a known sender: one statement, not two (bench/webhook.py).
    row = session.exec(query).first()
    if row is not None:
        return row
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(ConversationRow)
        .values(reporter=reporter, channel=channel, data={}, opted_out=False)
        .on_conflict_do_nothing(index_elements=["reporter"])
    )
    return session.exec(query).one()


def forget_replies(session: Session, *, reporter: str) -> int:
    """Drop the answers kept for this reporter's earlier messages (STOP, EXIT): a summary echoed
    back must not outlive the report. The sids stay, so a replay still changes nothing."""
    result = session.exec(
        sa.update(ProcessedMessage).where(ProcessedMessage.reporter == reporter)
        .values(twiml=None, reporter=None)
    )
    return result.rowcount or 0


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
    "place_code": "place_code",
    "complete": "complete",
    "channel": "channel",
    "language": "language",
}


def tip_columns(fields: dict[str, Any]) -> dict[str, Any]:
    """The tip's column values that a report's fields (the engine's SaveTip.fields) give."""
    return {column: fields[key] for key, column in TIP_FIELDS.items() if key in fields}


def tip_by_reference(session: Session, *, reference: str) -> Tip | None:
    return session.exec(select(Tip).where(Tip.reference == reference)).first()


def tip_status(session: Session, *, reference: str) -> str | None:
    return session.exec(select(Tip.status).where(Tip.reference == reference)).first()


def save_tip(
    session: Session, *, reference: str, reporter: str, fields: dict[str, Any], now: datetime,
    contact_sealed: str | None, pin_hash: str | None = None,
) -> Tip:
    """Create or update the reporter's tip from the report so far; a PIN comes once, hashed."""
    tip = tip_by_reference(session, reference=reference)
    created = tip is None
    if created:
        tip = Tip(reference=reference, reporter=reporter, created_at=now, updated_at=now)
    elif tip.reporter != reporter:
        raise PermissionError("a tip can only be written by its own reporter")
    was_complete = tip.complete
    for column, value in tip_columns(fields).items():
        setattr(tip, column, value)
    tip.complete = was_complete or bool(fields.get("complete"))
    if pin_hash is not None:
        tip.pin_hash, tip.pin_failures, tip.pin_failed_at = pin_hash, 0, None
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


# Timeline events that mean staff (or a partner) acted on a tip: EXIT or Delete then keeps it.
STAFF_EVENTS = (
    "status_changed", "assigned", "note_added", "escalated", "marked_duplicate", "follow_up_asked",
    "partner_acknowledged", "partner_outcome", "partner_info", "outcome_confirmed", "outcome_rejected",
)
PIN_TRIES = 5  # wrong PINs in a row before a tip's PIN stops working for PIN_LOCK
PIN_LOCK = timedelta(hours=24)


def tip_handling(session: Session, *, tip: Tip) -> str:
    """"passed_on" (a partner or the on-call number has it), "in_hand" (staff acted) or "none".

    An urgent tip is passed on by its routing ("partner", "oncall"; not "unrouted" or "failed"); a tip
    an operator sent to a partner by its escalation.
    """
    if tip.routing in ("partner", "oncall"):
        return "passed_on"
    escalated = session.exec(select(Escalation.id).where(Escalation.tip_id == tip.id).limit(1)).first()
    if escalated is not None and tip.routing is None:
        return "passed_on"
    acted = session.exec(
        select(TipEvent.id).where(TipEvent.tip_id == tip.id, TipEvent.kind.in_(STAFF_EVENTS)).limit(1)
    ).first()
    return "in_hand" if acted is not None or tip.status != "new" else "none"


def withdraw_tip(session: Session, *, tip: Tip, now: datetime) -> None:
    """The reporter asked to delete a tip that was passed on or acted on: kept, and marked so."""
    if not has_event(session, tip_id=tip.id, kind="reporter_withdrew"):
        add_event(session, tip=tip, kind="reporter_withdrew", at=now, actor="reporter")
    tip.contact_sealed, tip.contact_consent, tip.updated_at = None, False, now
    session.add(tip)


def discard_tip(session: Session, *, reference: str, reporter: str, now: datetime | None = None) -> bool:
    """Delete an unfinished tip of this reporter (quick exit) that nobody has acted on.

    Finished tips are never dropped; one that was passed on or that staff touched is kept and
    marked "reporter withdrew" instead. Returns whether it was deleted.
    """
    tip = tip_by_reference(session, reference=reference)
    if tip is None or tip.reporter != reporter or tip.complete:
        return False
    if tip.urgency == "immediate" or tip_handling(session, tip=tip) != "none":
        withdraw_tip(session, tip=tip, now=now or tip.updated_at)
        return False
    session.exec(sa.delete(TipEvent).where(TipEvent.tip_id == tip.id))
    session.exec(sa.delete(TipAddition).where(TipAddition.tip_id == tip.id))
    session.delete(tip)
    return True


def try_tip_pin(session: Session, *, tip: Tip, correct: bool, now: datetime) -> bool:
    """A PIN typed from another phone: right and not locked opens the tip; wrong counts a try.

    After PIN_TRIES wrong ones the PIN opens nothing until PIN_LOCK has passed since the last.
    """
    recent = tip.pin_failed_at is not None and now - tip.pin_failed_at < PIN_LOCK
    failures = tip.pin_failures if recent else 0
    if correct and failures < PIN_TRIES:
        tip.pin_failures, tip.pin_failed_at = 0, None
        session.add(tip)
        return True
    tip.pin_failures, tip.pin_failed_at = failures + 1, now
    session.add(tip)
    return False


def add_to_tip(session: Session, *, reference: str, text: str, now: datetime) -> Tip | None:
    """The reporter's later words (a closed tip goes back to operators: casework.reporter_added)."""
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
        "place_code": tip.place_code,
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


# ---- dashboard: accounts, queue, case work, audit trail, statistics (issue 3) ---------------------

OPEN_STATUSES = ("new", "triaged", "escalated")  # an immediate-danger tip in these is pinned on top
STAFF_ROLES = ("admin", "operator")


def create_user(
    session: Session, *, email: str, role: str, password_hash: str, session_token: str,
    partner: str | None = None, now: datetime,
):
    from .models import User

    user = User(
        email=email.strip().lower(), role=role, partner=partner, password_hash=password_hash,
        session_token=session_token, created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def user_by_email(session: Session, *, email: str):
    from .models import User

    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def user_by_id(session: Session, *, user_id: int):
    from .models import User

    return session.get(User, user_id)


def list_users(session: Session, *, roles: tuple[str, ...] | None = None) -> list:
    from .models import User

    query = select(User).order_by(User.email)
    if roles:
        query = query.where(User.role.in_(roles))
    return list(session.exec(query))


def update_user(session: Session, *, user_id: int, **values: Any):
    """Change an account's columns (password hash, TOTP, flags); returns the account or None."""
    from .models import User

    user = session.get(User, user_id)
    if user is None:
        return None
    for name, value in values.items():
        if not hasattr(User, name) or name in ("id", "email", "created_at"):
            raise ValueError(f"cannot set {name}")
        setattr(user, name, value)
    session.add(user)
    return user


def add_dashboard_session(session: Session, *, key_hash: str, user_id: int, now: datetime,
                          second_factor_pending: bool = False) -> None:
    from .models import DashboardSession

    session.add(DashboardSession(key_hash=key_hash, user_id=user_id, second_factor_pending=second_factor_pending,
                                 created_at=now, last_seen_at=now, data=""))
    session.flush()


def dashboard_session(session: Session, *, key_hash: str):
    from .models import DashboardSession

    return session.get(DashboardSession, key_hash)


def save_dashboard_session(session: Session, *, key_hash: str, data: str, last_seen_at: datetime) -> bool:
    """Keep what the session holds and when it was last used; False when it has ended meanwhile."""
    from .models import DashboardSession

    result = session.exec(
        sa.update(DashboardSession).where(DashboardSession.key_hash == key_hash)
        .values(data=data, last_seen_at=last_seen_at)
    )
    return bool(result.rowcount)


def end_dashboard_sessions(session: Session, *, user_id: int | None = None, key_hash: str | None = None) -> int:
    """End one session (its key's hash) or every session of an account; how many ended."""
    from .models import DashboardSession

    if (user_id is None) == (key_hash is None):
        raise ValueError("name either an account or one session")
    query = sa.delete(DashboardSession)
    if key_hash is not None:
        query = query.where(DashboardSession.key_hash == key_hash)
    else:
        query = query.where(DashboardSession.user_id == user_id)
    return session.exec(query).rowcount or 0


def record_audit(
    session: Session, *, actor: str, action: str, at: datetime, target: str | None = None,
    address: str | None = None, detail: dict | None = None,
) -> None:
    """Append one entry to the audit trail (there is no function that changes or removes one)."""
    from .models import AuditEntry

    session.add(AuditEntry(actor=actor[:254], action=action, at=at, target=target, address=address,
                           detail=detail or {}))


def audit_entries(
    session: Session, *, actor: str | None = None, action: str | None = None, target: str | None = None,
    since: datetime | None = None, until: datetime | None = None, page: int = 1, per_page: int = 100,
) -> tuple[list, int]:
    """One page of the audit trail, newest first, and how many entries match."""
    from .models import AuditEntry

    conditions = []
    if actor:
        conditions.append(AuditEntry.actor == actor.strip().lower())
    if action:
        conditions.append(AuditEntry.action == action)
    if target:
        conditions.append(AuditEntry.target == target.strip())
    if since:
        conditions.append(AuditEntry.at >= since)
    if until:
        conditions.append(AuditEntry.at < until)
    total = session.exec(select(sa.func.count()).select_from(AuditEntry).where(*conditions)).one()
    rows = session.exec(
        select(AuditEntry).where(*conditions).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), total


def audit_actions(session: Session) -> list[str]:
    from .models import AuditEntry

    return list(session.exec(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def visible_tips(*, role: str, partner: str | None):
    """The SQL condition for the tips an account may see.

    Staff see every tip. A partner account sees only tips escalated to its own organisation,
    through the Partner and Escalation tables of the escalation feature; while those tables do
    not exist, or the account names no partner, a partner sees nothing.
    """
    from . import models

    if role in STAFF_ROLES:
        return sa.true()
    partner_model = getattr(models, "Partner", None)
    escalation_model = getattr(models, "Escalation", None)
    if role != "partner" or not partner or partner_model is None or escalation_model is None:
        return sa.false()
    escalated = (
        select(escalation_model.tip_id)
        .join(partner_model, partner_model.id == escalation_model.partner_id)
        .where(partner_model.name == partner)
    )
    return Tip.id.in_(escalated)


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows; None means any. Dates are inclusive days in UTC."""

    status: str | None = None
    urgency: str | None = None
    category: str | None = None
    language: str | None = None
    channel: str | None = None
    complete: bool | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    search: str | None = None
    place_code: str | None = None  # a province or regency: the tips there and under it

    def conditions(self) -> list:
        found = []
        for column, value in (
            (Tip.status, self.status), (Tip.urgency, self.urgency), (Tip.category, self.category),
            (Tip.language, self.language), (Tip.channel, self.channel), (Tip.complete, self.complete),
        ):
            if value is not None:
                found.append(column == value)
        if self.since is not None:
            found.append(Tip.created_at >= self.since)
        if self.until is not None:
            found.append(Tip.created_at < self.until)
        if self.search:
            pattern = "%" + self.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            found.append(sa.or_(Tip.description.ilike(pattern, escape="\\"), Tip.location.ilike(pattern, escape="\\")))
        if self.place_code:
            found.append(in_places(Tip.place_code, [self.place_code]))
        return found


@dataclass(frozen=True)
class QueuePage:
    nobody: list  # urgent, open, and received by nobody (unrouted, or routing failed): first of all
    to_confirm: list  # a partner reported an outcome (DONE) that no operator confirmed yet
    pinned: list  # immediate danger and still open: shown on the first page, longest waiting first
    pinned_total: int  # how many such tips match; more than `pinned` holds when there are very many
    tips: list  # every matching tip, newest first (pinned ones too: nothing is ever only pinned)
    total: int  # tips matching; a lower bound when `more` is true
    more: bool  # more than QUEUE_COUNT_CAP match: counting them all would cost more than it tells
    page: int
    pages: int
    per_page: int

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or (self.more and len(self.tips) == self.per_page)


QUEUE_COUNT_CAP = 10_000


def tip_queue(
    session: Session, *, filters: QueueFilter, role: str, partner: str | None, page: int = 1,
    per_page: int = 50, pinned_limit: int = 50,
) -> QueuePage:
    """The triage queue: on the first page, urgent tips nobody received, partners' outcomes to confirm
    and open immediate-danger tips, each longest waiting first; then all tips newest first.

    Counting stops at QUEUE_COUNT_CAP, so a broad filter over many tips stays fast.
    """
    from .models import NOBODY

    visible = visible_tips(role=role, partner=partner)
    wanted = [visible, *filters.conditions()]
    staff = role in STAFF_ROLES  # a partner's queue has no routing or confirming to do
    nobody_received = received_by_nobody(session)
    is_pinned = sa.and_(Tip.urgency == "immediate", Tip.status.in_(OPEN_STATUSES))
    if staff:  # listed once: above the other emergencies
        is_pinned = sa.and_(is_pinned, sa.or_(Tip.routing.is_(None), Tip.routing.not_in(NOBODY)))
    to_confirm = sa.and_(Tip.outcome_reported_at.is_not(None), Tip.status.not_in(("closed", "spam")))
    nobody, confirm, pinned = [], [], []
    if page == 1 and staff:
        nobody = list(session.exec(
            select(Tip).where(*wanted, nobody_received).order_by(Tip.created_at, Tip.id).limit(pinned_limit)
        ))
        confirm = list(session.exec(
            select(Tip).where(*wanted, to_confirm).order_by(Tip.outcome_reported_at, Tip.id).limit(pinned_limit)
        ))
    if page == 1:
        pinned = list(session.exec(
            select(Tip).where(*wanted, is_pinned).order_by(Tip.created_at, Tip.id).limit(pinned_limit)
        ))
    pinned_total = len(pinned) if len(pinned) < pinned_limit else session.exec(
        select(sa.func.count()).select_from(Tip).where(*wanted, is_pinned)
    ).one()
    matching = session.exec(
        select(sa.func.count()).select_from(select(Tip.id).where(*wanted).limit(QUEUE_COUNT_CAP + 1).subquery())
    ).one()
    more = matching > QUEUE_COUNT_CAP
    total = min(matching, QUEUE_COUNT_CAP)
    pages = max(1, -(-total // per_page))
    page = max(1, page) if more else min(max(1, page), pages)
    tips = list(session.exec(
        select(Tip).where(*wanted).order_by(Tip.created_at.desc(), Tip.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    ))
    return QueuePage(nobody=nobody, to_confirm=confirm, pinned=pinned, pinned_total=pinned_total, tips=tips,
                     total=total, more=more, page=page, pages=pages, per_page=per_page)


def received_by_nobody(session: Session):
    """The condition "an open urgent tip that reached nobody (unrouted) or whose routing failed"."""
    from .models import NOBODY

    return sa.and_(Tip.urgency == "immediate", _rare(session, Tip.routing.in_(NOBODY)),
                   Tip.status.not_in(("closed", "spam")))


def _rare(session: Session, condition):
    """Tell SQLite a condition is rarely true. Its statistics keep averages only, so a column that is
    nearly always empty (a tip's routing problem) looks common and the planner scans the wrong index."""
    return sa.func.unlikely(condition) if session.get_bind().dialect.name == "sqlite" else condition


def visible_tip(session: Session, *, reference: str, role: str, partner: str | None) -> Tip | None:
    """The tip if this account may see it; None both when it is missing and when it is not theirs."""
    return session.exec(
        select(Tip).where(Tip.reference == reference, visible_tips(role=role, partner=partner))
    ).first()


def tip_case(session: Session, *, tip: Tip):
    from .models import TipCase

    return session.get(TipCase, tip.id)


def _case_for_update(session: Session, tip: Tip):
    from .models import TipCase

    case = session.get(TipCase, tip.id)
    if case is None:
        case = TipCase(tip_id=tip.id)
        session.add(case)
    return case


def tip_timeline(session: Session, *, tip: Tip) -> list[TipEvent]:
    return list(session.exec(select(TipEvent).where(TipEvent.tip_id == tip.id).order_by(TipEvent.at, TipEvent.id)))


def tip_notes(session: Session, *, tip: Tip) -> list:
    from .models import TipNote

    return list(session.exec(select(TipNote).where(TipNote.tip_id == tip.id).order_by(TipNote.at, TipNote.id)))


def duplicates_of(session: Session, *, tip: Tip) -> list[str]:
    from .models import TipCase

    return list(session.exec(
        select(Tip.reference).join(TipCase, TipCase.tip_id == Tip.id).where(TipCase.duplicate_of_id == tip.id)
        .order_by(Tip.created_at)
    ))


def tip_reference_by_id(session: Session, *, tip_id: int) -> str | None:
    return session.exec(select(Tip.reference).where(Tip.id == tip_id)).first()


def note_triaged(session: Session, *, tip: Tip, now: datetime) -> None:
    """The first time anyone moves a tip on from "new" (the statistics' time to triage)."""
    case = _case_for_update(session, tip)
    if case.triaged_at is None:
        case.triaged_at = now


def withdraw_reporter_messages(session: Session, *, tip_id: int, now: datetime) -> int:
    """Nothing queued for this tip's reporter goes out any more, and its sealed address copy goes."""
    result = session.exec(
        sa.update(OutboxMessage)
        .where(OutboxMessage.tip_id == tip_id, OutboxMessage.reporter.is_not(None),
               OutboxMessage.status.in_(("pending", "sending")))
        .values(status="cancelled", updated_at=now, to_sealed="")
    )
    return result.rowcount or 0


def assign_tip(session: Session, *, tip: Tip, assignee_id: int | None, actor: str, now: datetime) -> bool:
    case = _case_for_update(session, tip)
    if case.assignee_id == assignee_id:
        return False
    assignee = user_by_id(session, user_id=assignee_id) if assignee_id is not None else None
    if assignee_id is not None and (assignee is None or assignee.role not in STAFF_ROLES):
        raise ValueError("tips are assigned to operators only")
    case.assignee_id = assignee_id
    add_event(session, tip=tip, kind="assigned", at=now, actor=actor,
              detail={"to": assignee.email if assignee else None})
    return True


def link_duplicate(session: Session, *, tip: Tip, original: Tip) -> None:
    _case_for_update(session, tip).duplicate_of_id = original.id


def add_note(session: Session, *, tip: Tip, author: str, text: str, now: datetime) -> None:
    from .models import TipNote

    session.add(TipNote(tip_id=tip.id, author=author, text=text, at=now))
    add_event(session, tip=tip, kind="note_added", at=now, actor=author)


def _day(column, dialect: str):
    return sa.func.date(column) if dialect == "sqlite" else sa.cast(column, sa.Date)


def tip_statistics(session: Session, *, since: datetime, until: datetime, places: int = 10) -> dict[str, Any]:
    """Counts for the statistics page, all over tips that arrived in [since, until)."""
    from .models import TipCase

    dialect = session.get_bind().dialect.name
    in_range = [Tip.created_at >= since, Tip.created_at < until]
    day = _day(Tip.created_at, dialect).label("day")

    def grouped(column):
        return [
            (value, count) for value, count in session.exec(
                select(column, sa.func.count()).where(*in_range).group_by(column).order_by(sa.func.count().desc())
            )
        ]

    per_day: dict[str, dict[str, int]] = {}
    for when, urgency, count in session.exec(
        select(day, Tip.urgency, sa.func.count()).where(*in_range).group_by(day, Tip.urgency).order_by(day)
    ):
        per_day.setdefault(str(when), {})[urgency] = count
    place = sa.func.lower(sa.func.trim(Tip.location))
    by_place = list(session.exec(
        select(place, sa.func.count()).where(*in_range, Tip.location.is_not(None), sa.func.trim(Tip.location) != "")
        .group_by(place).order_by(sa.func.count().desc(), place).limit(places)
    ))
    by_place_code = list(session.exec(
        select(Tip.place_code, sa.func.count()).where(*in_range, Tip.place_code.is_not(None)).group_by(Tip.place_code)
    ))
    waits = [
        (triaged - created).total_seconds()
        for created, triaged in session.exec(
            select(Tip.created_at, TipCase.triaged_at).join(TipCase, TipCase.tip_id == Tip.id)
            .where(*in_range, TipCase.triaged_at.is_not(None))
        )
    ]
    return {
        "total": session.exec(select(sa.func.count()).select_from(Tip).where(*in_range)).one(),
        "per_day": per_day,
        "by_category": grouped(Tip.category),
        "by_language": grouped(Tip.language),
        "by_channel": grouped(Tip.channel),
        "by_place": [(name, count) for name, count in by_place],
        "by_place_code": [(code, count) for code, count in by_place_code],
        "median_triage_seconds": statistics.median(waits) if waits else None,
        "triaged": len(waits),
    }


# ---- partners, escalations, outbox, follow-ups and retention (issue 4) --------------------------

from datetime import timedelta  # noqa: E402

from .models import (  # noqa: E402
    ConversationRow as _Conversation,
    Escalation,
    FollowUp,
    OutboxMessage,
    Partner,
    SendSlot,
)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def add_partner(
    session: Session, *, name: str, phone: str, channel: str, language: str, regions: list[str],
    categories: list[str], urgent_only: bool, preference: int, now: datetime,
) -> Partner:
    partner = Partner(
        name=name, phone=phone, channel=channel, language=language, regions=list(regions),
        categories=list(categories), urgent_only=urgent_only, preference=preference, created_at=now,
    )
    session.add(partner)
    session.flush()
    return partner


def partner_by_name(session: Session, *, name: str) -> Partner | None:
    return session.exec(select(Partner).where(Partner.name == name)).first()


def partner_by_phone(session: Session, *, phone: str) -> Partner | None:
    """The active partner registered with this E.164 number, locked on PostgreSQL (one reply at a time)."""
    query = select(Partner).where(Partner.phone == phone, Partner.active.is_(True))
    if _is_postgres(session):
        query = query.with_for_update()
    return session.exec(query).first()


def list_partners(session: Session, *, active_only: bool = True) -> list[Partner]:
    query = select(Partner).order_by(Partner.preference, Partner.id)
    if active_only:
        query = query.where(Partner.active.is_(True))
    return list(session.exec(query))


def escalations_for_tip(session: Session, *, tip_id: int) -> list[Escalation]:
    return list(session.exec(select(Escalation).where(Escalation.tip_id == tip_id).order_by(Escalation.id)))


def escalation_for(session: Session, *, tip_id: int, partner_id: int) -> Escalation | None:
    return session.exec(
        select(Escalation).where(Escalation.tip_id == tip_id, Escalation.partner_id == partner_id)
    ).first()


def add_escalation(
    session: Session, *, tip: Tip, partner: Partner, actor: str, now: datetime, due_at: datetime | None,
) -> Escalation:
    escalation = Escalation(tip_id=tip.id, partner_id=partner.id, actor=actor, created_at=now, due_at=due_at)
    session.add(escalation)
    session.flush()
    return escalation


def overdue_escalations(session: Session, *, now: datetime, limit: int = 100) -> list[Escalation]:
    """Escalations still waiting for their partner's ACK past their deadline, whatever the tip's status.

    The timer is the escalation's own: an ACK (from any partner of the tip) or the tip's closing
    clears it, a status an operator sets does not. On PostgreSQL the rows are locked and rows another
    worker holds are skipped, so two workers never move the same tip to the next partner twice.
    """
    query = (
        select(Escalation)
        .where(Escalation.status == "sent", Escalation.due_at.is_not(None), Escalation.due_at <= now)
        .order_by(Escalation.due_at, Escalation.id)
        .limit(limit)
    )
    if _is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query))


def lock_tip(session: Session, *, tip_id: int) -> Tip | None:
    query = select(Tip).where(Tip.id == tip_id)
    if _is_postgres(session):
        query = query.with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).first()


# What carries a tip to a partner or to the on-call number (never a reporter's follow-up).
ROUTING_KINDS = ("escalation", "update", "alert")
NOT_RECEIVED = ("failed", "dead", "not_sent")


def reported_outcomes(session: Session, *, tip: Tip) -> list[tuple[str, Escalation]]:
    """Partners' outcomes (DONE) on this tip that wait for an operator: (partner name, escalation)."""
    rows = session.exec(
        select(Partner.name, Escalation).join(Partner, Partner.id == Escalation.partner_id)
        .where(Escalation.tip_id == tip.id, Escalation.done_at.is_not(None), Escalation.status != "done")
        .order_by(Escalation.done_at, Escalation.id)
    )
    return [(name, escalation) for name, escalation in rows]


def tip_messages_carried(session: Session, *, tip_id: int) -> set[int | None]:
    """Who a message about this tip is on its way to or went to: partner ids, None for the on-call number."""
    return set(session.exec(
        select(OutboxMessage.partner_id).distinct()
        .where(OutboxMessage.tip_id == tip_id, OutboxMessage.reporter.is_(None),
               OutboxMessage.kind.in_(ROUTING_KINDS), OutboxMessage.status.in_(("pending", "sending", "sent")))
    ))


def tip_messages_failed(session: Session, *, tip_id: int) -> bool:
    """Whether a message about this tip to a partner or the on-call number failed or could not be sent."""
    return session.exec(
        select(OutboxMessage.id)
        .where(OutboxMessage.tip_id == tip_id, OutboxMessage.reporter.is_(None),
               OutboxMessage.kind.in_(ROUTING_KINDS), OutboxMessage.status.in_(NOT_RECEIVED)).limit(1)
    ).first() is not None


def tips_received_by_nobody(session: Session, *, limit: int = 100) -> list[Tip]:
    """Open urgent tips that reached nobody ("unrouted") or whose routing failed, longest waiting first."""
    return list(session.exec(
        select(Tip).where(received_by_nobody(session)).order_by(Tip.created_at, Tip.id).limit(limit)
    ))


def cancel_reporter_outbox(session: Session, *, reporter: str, now: datetime) -> int:
    """Nothing queued for this reporter goes out any more (STOP, EXIT); the sealed address goes too."""
    result = session.exec(
        sa.update(OutboxMessage)
        .where(OutboxMessage.reporter == reporter, OutboxMessage.status.in_(("pending", "sending")))
        .values(status="cancelled", updated_at=now, to_sealed="")
    )
    return result.rowcount or 0


def enqueue(
    session: Session, *, kind: str, channel: str, to_sealed: str, to_hint: str, body: str, now: datetime,
    tip_id: int | None = None, partner_id: int | None = None, reporter: str | None = None,
    fallback_of_id: int | None = None, provider: str = "twilio",
) -> OutboxMessage:
    """Queue one outbound message in the caller's transaction: it exists only if the cause does."""
    message = OutboxMessage(
        kind=kind, channel=channel, to_sealed=to_sealed, to_hint=to_hint, body=body, created_at=now,
        updated_at=now, next_attempt_at=now, tip_id=tip_id, partner_id=partner_id, reporter=reporter,
        fallback_of_id=fallback_of_id, provider=provider,
    )
    session.add(message)
    session.flush()
    return message


def claim_due(session: Session, *, now: datetime, limit: int, lease: timedelta) -> list[OutboxMessage]:
    """Take up to `limit` due messages for this worker until `now + lease`.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent workers each get different rows. SQLite:
    the write transaction (BEGIN IMMEDIATE) already serialises claimers. A worker that died
    mid-send leaves its rows 'sending'; they are due again when the lease ends.
    """
    due = sa.or_(
        sa.and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        sa.and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now),
    )
    query = select(OutboxMessage).where(due).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
    if _is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    rows = list(session.exec(query.execution_options(populate_existing=True)))
    for row in rows:
        row.status = "sending"
        row.claimed_until = now + lease
        row.updated_at = now
        session.add(row)
    session.flush()
    return rows


def reserve_send_slot(session: Session, *, sender: str, now: datetime, seconds: float, burst: float = 0.0,
                      max_wait: timedelta | None = None) -> datetime:
    """When a message of `seconds` airtime may leave `sender`: the per-number rate across workers.

    `burst` seconds of airtime may go at once before the spacing starts (a token bucket in the
    form of GCRA: next_free_at is the bucket's theoretical arrival time). A start later than
    `max_wait` is only told, not reserved: the caller gives the message back until then, and a
    message that waits must not use up the allowance twice.
    """
    insert = pg_insert if _is_postgres(session) else sqlite_insert
    session.execute(
        insert(SendSlot).values(sender=sender, next_free_at=now).on_conflict_do_nothing(index_elements=["sender"])
    )
    query = select(SendSlot).where(SendSlot.sender == sender)
    if _is_postgres(session):
        query = query.with_for_update()
    slot = session.exec(query.execution_options(populate_existing=True)).one()
    start = max(now, slot.next_free_at - timedelta(seconds=burst))
    if max_wait is not None and start - now > max_wait:
        return start
    slot.next_free_at = max(now, slot.next_free_at) + timedelta(seconds=seconds)
    session.add(slot)
    return start


def outbox_message(session: Session, *, message_id: int) -> OutboxMessage | None:
    return session.get(OutboxMessage, message_id, populate_existing=True)


def settle_outbox(session: Session, *, message_id: int, now: datetime, **values: Any) -> OutboxMessage | None:
    """Write the outcome of a send attempt onto the row."""
    row = session.get(OutboxMessage, message_id, populate_existing=True)
    if row is None:
        return None
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = now
    session.add(row)
    return row


def outbox_by_sid(session: Session, *, twilio_sid: str) -> OutboxMessage | None:
    query = select(OutboxMessage).where(OutboxMessage.twilio_sid == twilio_sid)
    if _is_postgres(session):
        query = query.with_for_update()
    return session.exec(query).first()


def list_outbox(session: Session, *, statuses: tuple[str, ...] = (), limit: int = 200) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if statuses:
        query = query.where(OutboxMessage.status.in_(statuses))
    return list(session.exec(query))


def last_seen_of(session: Session, *, reporter: str) -> datetime | None:
    return session.exec(select(_Conversation.last_seen_at).where(_Conversation.reporter == reporter)).first()


def partner_by_id(session: Session, *, partner_id: int) -> Partner | None:
    return session.get(Partner, partner_id)


def tip_by_id(session: Session, *, tip_id: int) -> Tip | None:
    return session.get(Tip, tip_id)


def add_follow_up(session: Session, *, tip: Tip, question: str, actor: str, now: datetime) -> FollowUp:
    follow_up = FollowUp(tip_id=tip.id, reporter=tip.reporter, question=question, actor=actor, asked_at=now)
    session.add(follow_up)
    session.flush()
    return follow_up


def pending_follow_up(session: Session, *, reporter: str, since: datetime) -> FollowUp | None:
    """The newest unanswered question to this reporter asked after `since`, on a tip still open."""
    return session.exec(
        select(FollowUp)
        .join(Tip, Tip.id == FollowUp.tip_id)
        .where(FollowUp.reporter == reporter, FollowUp.answered_at.is_(None), FollowUp.asked_at >= since,
               Tip.status.not_in(("closed", "spam")))
        .order_by(FollowUp.asked_at.desc(), FollowUp.id.desc())
    ).first()


def forget_follow_ups(session: Session, *, reporter: str, now: datetime) -> None:
    """No pending question may capture this reporter's next message any more."""
    session.exec(
        sa.update(FollowUp).where(FollowUp.reporter == reporter, FollowUp.answered_at.is_(None)).values(answered_at=now)
    )


RETENTION_KINDS = ("contacts", "conversations", "processed_replies", "processed_messages", "closed_tip_text",
                   "outbox", "follow_ups", "dashboard_sessions")


def purge(
    session: Session, *, now: datetime, contacts_before: datetime, conversations_before: datetime,
    processed_before: datetime, closed_text_before: datetime, outbox_before: datetime, dry_run: bool,
    replies_before: datetime | None = None, sessions_idle_before: datetime | None = None,
    sessions_started_before: datetime | None = None,
) -> dict[str, int]:
    """Apply the retention rules; return how many rows each rule touched (or would touch).

    No rule deletes from the audit trail: the database refuses that, and nothing here needs it.
    """
    from .models import DashboardSession

    replies_before = replies_before or processed_before
    sessions_idle_before = sessions_idle_before or now
    sessions_started_before = sessions_started_before or now
    closed = ("closed", "spam")
    rules: dict[str, tuple] = {
        # A contact address lives no longer than the contact period, nor past the tip's closing.
        "contacts": (Tip, sa.and_(Tip.contact_sealed.is_not(None),
                                  sa.or_(Tip.created_at < contacts_before, Tip.status.in_(closed))),
                     {"contact_sealed": None}),
        # Finished conversations: nobody wrote for the whole period. Opted-out senders keep a row
        # with nothing in it but the opt-out, so a later message still respects it.
        "conversations": (_Conversation, sa.and_(_Conversation.last_seen_at < conversations_before,
                                                 _Conversation.opted_out.is_(False)), None),
        # The answer (it can echo a summary) only while Twilio may retry; the bare sid for weeks.
        "processed_replies": (ProcessedMessage, sa.and_(ProcessedMessage.received_at < replies_before,
                                                        ProcessedMessage.received_at >= processed_before,
                                                        sa.or_(ProcessedMessage.twiml.is_not(None),
                                                               ProcessedMessage.reporter.is_not(None))),
                              {"twiml": None, "reporter": None}),
        "processed_messages": (ProcessedMessage, ProcessedMessage.received_at < processed_before, None),
        "closed_tip_text": (Tip, sa.and_(Tip.status.in_(closed), Tip.updated_at < closed_text_before,
                                         sa.or_(Tip.description.is_not(None), Tip.location.is_not(None),
                                                Tip.when_seen.is_not(None), Tip.children.is_not(None))),
                            {"description": None, "location": None, "when_seen": None, "children": None}),
        "outbox": (OutboxMessage, sa.and_(OutboxMessage.status.in_(("sent", "not_sent", "failed", "dead", "cancelled")),
                                          OutboxMessage.updated_at < outbox_before), None),
        "follow_ups": (FollowUp, FollowUp.asked_at < contacts_before, None),
        "dashboard_sessions": (DashboardSession, sa.or_(DashboardSession.last_seen_at < sessions_idle_before,
                                                        DashboardSession.created_at < sessions_started_before), None),
    }
    counts: dict[str, int] = {}
    for name, (model, condition, values) in rules.items():
        table = model.__table__
        counts[name] = session.exec(select(sa.func.count()).select_from(table).where(condition)).one()
        if dry_run or not counts[name]:
            continue
        if name == "closed_tip_text":
            ids = select(Tip.id).where(condition).scalar_subquery()
            session.exec(sa.delete(TipAddition).where(TipAddition.tip_id.in_(ids)))
            session.exec(sa.update(Escalation).where(Escalation.tip_id.in_(ids)).values(note=None))
        if values is None:
            session.exec(sa.delete(model).where(condition))
        else:
            session.exec(sa.update(model).where(condition).values(**values))
    return counts


def has_event(session: Session, *, tip_id: int, kind: str) -> bool:
    return session.exec(select(TipEvent.id).where(TipEvent.tip_id == tip_id, TipEvent.kind == kind).limit(1)).first() is not None


# ---- dashboard: partners admin, the outbox page, follow-ups on a tip (issues 3 and 4) -------------

DEAD_LETTERS = ("failed", "dead")  # what the outbox page offers to send again


def follow_ups_for_tip(session: Session, *, tip_id: int) -> list[FollowUp]:
    return list(session.exec(select(FollowUp).where(FollowUp.tip_id == tip_id).order_by(FollowUp.asked_at, FollowUp.id)))


def partner_with_phone(session: Session, *, phone: str) -> Partner | None:
    """Any partner with this number, active or not (the number is unique over all partners)."""
    return session.exec(select(Partner).where(Partner.phone == phone)).first()


def update_partner(session: Session, *, partner: Partner, **values: Any) -> Partner:
    """Change a partner; a new name follows to the partner's dashboard accounts (they are tied by name)."""
    from .models import User

    allowed = {"name", "phone", "channel", "language", "regions", "categories", "urgent_only", "preference", "active"}
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"cannot set {', '.join(sorted(unknown))}")
    old_name = partner.name
    for name, value in values.items():
        setattr(partner, name, list(value) if name in ("regions", "categories") else value)
    session.add(partner)
    if partner.name != old_name:
        session.exec(sa.update(User).where(User.partner == old_name).values(partner=partner.name))
    session.flush()
    return partner


def outbox_page(
    session: Session, *, statuses: tuple[str, ...] = (), kinds: tuple[str, ...] = (), page: int = 1,
    per_page: int = 100,
) -> tuple[list[OutboxMessage], int]:
    """One page of the outbox, newest first, and how many rows match."""
    conditions = []
    if statuses:
        conditions.append(OutboxMessage.status.in_(statuses))
    if kinds:
        conditions.append(OutboxMessage.kind.in_(kinds))
    total = session.exec(select(sa.func.count()).select_from(OutboxMessage).where(*conditions)).one()
    rows = session.exec(
        select(OutboxMessage).where(*conditions).order_by(OutboxMessage.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), total


def outbox_counts(session: Session) -> dict[str, int]:
    """How many outbox rows are in each status."""
    rows = session.exec(select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status))
    return dict(rows.all())


def outbox_kinds(session: Session) -> list[str]:
    return list(session.exec(select(OutboxMessage.kind).distinct().order_by(OutboxMessage.kind)))


def tip_references(session: Session, *, tip_ids: list[int]) -> dict[int, str]:
    if not tip_ids:
        return {}
    return dict(session.exec(select(Tip.id, Tip.reference).where(Tip.id.in_(tip_ids))).all())


def partner_names(session: Session, *, partner_ids: list[int]) -> dict[int, str]:
    if not partner_ids:
        return {}
    return dict(session.exec(select(Partner.id, Partner.name).where(Partner.id.in_(partner_ids))).all())


def retry_outbox(session: Session, *, message_id: int, now: datetime, to_sealed: str | None = None) -> bool:
    """Make a failed or dead message pending again, due now, with a fresh count of attempts.

    One UPDATE guarded by the status, so two people pressing retry at once queue it once.
    `to_sealed` restores an address the worker wiped (a reporter's, kept no longer than sending needs).
    """
    values: dict[str, Any] = {"status": "pending", "attempts": 0, "next_attempt_at": now, "updated_at": now,
                              "claimed_until": None}
    if to_sealed is not None:
        values["to_sealed"] = to_sealed
    result = session.exec(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status.in_(DEAD_LETTERS))
        .values(**values)
    )
    return bool(result.rowcount)


# ---- community participation (issue 5) ---------------------------------------------------------

from .models import IDEA_STATUSES, Idea, Volunteer  # noqa: E402

def subscribe_volunteer(
    session: Session, *, reporter: str, address_sealed: str, channel: str, language: str,
    place: str | None, place_code: str | None, consent_wording: str, now: datetime,
) -> Volunteer:
    """Keep (or renew) a volunteer who has just agreed, with what they agreed to."""
    volunteer = session.exec(select(Volunteer).where(Volunteer.reporter == reporter)).first()
    if volunteer is None:
        volunteer = Volunteer(reporter=reporter, language=language, consent_wording=consent_wording, consent_at=now)
    volunteer.address_sealed, volunteer.channel, volunteer.language = address_sealed, channel, language
    volunteer.place, volunteer.place_code = place, place_code
    volunteer.consent_wording, volunteer.consent_at = consent_wording, now
    volunteer.active, volunteer.left_at = True, None
    session.add(volunteer)
    return volunteer


def unsubscribe_volunteer(session: Session, *, reporter: str, now: datetime) -> bool:
    """STOP: the volunteer leaves at once and their address is deleted."""
    result = session.exec(
        sa.update(Volunteer)
        .where(Volunteer.reporter == reporter, Volunteer.active.is_(True))
        .values(active=False, address_sealed=None, left_at=now)
    )
    return bool(result.rowcount)


def active_volunteers(session: Session, *, place_codes: list[str] | None = None) -> list[Volunteer]:
    """Volunteers to send to; place_codes matches a province and everything under it."""
    query = select(Volunteer).where(Volunteer.active.is_(True), Volunteer.address_sealed.is_not(None))
    if place_codes:
        conditions = [Volunteer.place_code == code for code in place_codes]
        conditions += [Volunteer.place_code.startswith(f"{code}.") for code in place_codes]
        query = query.where(sa.or_(*conditions))
    return list(session.exec(query.order_by(Volunteer.id)))


def add_idea(session: Session, *, reporter: str, language: str, text: str, now: datetime) -> Idea:
    idea = Idea(reporter=reporter, language=language, text=text, created_at=now, updated_at=now)
    session.add(idea)
    return idea


def list_ideas(session: Session, *, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Idea]:
    query = select(Idea)
    if status:
        query = query.where(Idea.status == status)
    return list(session.exec(query.order_by(Idea.created_at.desc(), Idea.id.desc()).offset(offset).limit(limit)))


def set_idea_status(session: Session, *, idea_id: int, status: str, now: datetime) -> Idea | None:
    if status not in IDEA_STATUSES:
        raise ValueError(f"unknown idea status {status!r}")
    idea = session.get(Idea, idea_id)
    if idea is not None:
        idea.status, idea.updated_at = status, now
        session.add(idea)
    return idea


# ---- awareness messages, lessons of the week and polls (issue 5) -------------------------------

from .models import Broadcast, BroadcastRecipient, LessonSchedule, Poll, PollAnswer  # noqa: E402


def in_places(column, place_codes: list[str] | tuple[str, ...]):
    """The condition "column is one of these places or lies under one" (32 covers 32.01); empty: all."""
    if not place_codes:
        return sa.true()
    return sa.or_(*[column == code for code in place_codes],
                  *[column.startswith(f"{code}.", autoescape=True) for code in place_codes])


def volunteer_languages(session: Session, *, place_codes: list[str]) -> dict[str, int]:
    """How many active volunteers in these places speak each language (what a broadcast would reach)."""
    rows = session.exec(
        select(Volunteer.language, sa.func.count())
        .where(Volunteer.active.is_(True), Volunteer.address_sealed.is_not(None),
               in_places(Volunteer.place_code, place_codes))
        .group_by(Volunteer.language)
    )
    return {language: count for language, count in rows}


def volunteers_in(session: Session, *, place_codes: list[str]) -> list[Volunteer]:
    return list(session.exec(
        select(Volunteer).where(Volunteer.active.is_(True), Volunteer.address_sealed.is_not(None),
                                in_places(Volunteer.place_code, place_codes)).order_by(Volunteer.id)
    ))


def poll_participants(session: Session, *, poll_id: int) -> list[Volunteer]:
    """Active volunteers who answered the poll: the people its results go back to."""
    return list(session.exec(
        select(Volunteer).join(PollAnswer, PollAnswer.volunteer_id == Volunteer.id)
        .where(PollAnswer.poll_id == poll_id, Volunteer.active.is_(True), Volunteer.address_sealed.is_not(None))
        .order_by(Volunteer.id)
    ))


def volunteer_by_reporter(session: Session, *, reporter: str) -> Volunteer | None:
    return session.exec(select(Volunteer).where(Volunteer.reporter == reporter)).first()


def volunteer_is_active(session: Session, *, reporter: str) -> bool:
    return session.exec(
        select(Volunteer.id).where(Volunteer.reporter == reporter, Volunteer.active.is_(True),
                                   Volunteer.address_sealed.is_not(None))
    ).first() is not None


def add_broadcast(
    session: Session, *, kind: str, texts: dict[str, str], place_codes: list[str], created_by: str, now: datetime,
    poll_id: int | None = None, status: str = "draft", scheduled_at: datetime | None = None,
) -> Broadcast:
    broadcast = Broadcast(kind=kind, texts=dict(texts), place_codes=list(place_codes), created_by=created_by,
                          created_at=now, poll_id=poll_id, status=status, scheduled_at=scheduled_at)
    session.add(broadcast)
    session.flush()
    return broadcast


def broadcast_by_id(session: Session, *, broadcast_id: int, lock: bool = False) -> Broadcast | None:
    query = select(Broadcast).where(Broadcast.id == broadcast_id)
    if lock and _is_postgres(session):
        query = query.with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).first()


def list_broadcasts(session: Session, *, kinds: tuple[str, ...] = (), poll_id: int | None = None,
                    limit: int = 100) -> list[Broadcast]:
    query = select(Broadcast)
    if kinds:
        query = query.where(Broadcast.kind.in_(kinds))
    if poll_id is not None:
        query = query.where(Broadcast.poll_id == poll_id)
    return list(session.exec(query.order_by(Broadcast.created_at.desc(), Broadcast.id.desc()).limit(limit)))


def due_broadcasts(session: Session, *, now: datetime, limit: int = 5) -> list[Broadcast]:
    """Scheduled broadcasts whose time has come; on PostgreSQL locked, and skipped when another worker has them."""
    query = (
        select(Broadcast).where(Broadcast.status == "scheduled", Broadcast.scheduled_at <= now)
        .order_by(Broadcast.scheduled_at, Broadcast.id).limit(limit)
    )
    if _is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query.execution_options(populate_existing=True)))


def add_broadcast_recipient(session: Session, *, broadcast_id: int, volunteer_id: int, outbox_id: int,
                            language: str) -> None:
    session.add(BroadcastRecipient(broadcast_id=broadcast_id, volunteer_id=volunteer_id, outbox_id=outbox_id,
                                   language=language))


def broadcast_outcomes(session: Session, *, broadcast_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per broadcast: how many of its messages are waiting, sent, delivered, failed or cancelled.

    'delivered' counts Twilio's delivered and read callbacks; 'failed' counts a send refused or a
    callback saying undelivered; 'not_sent' what went nowhere for want of an account; a row the
    retention rules removed counts as 'purged'.
    """
    found: dict[int, dict[str, int]] = {
        bid: {"waiting": 0, "sent": 0, "delivered": 0, "failed": 0, "not_sent": 0, "cancelled": 0, "purged": 0}
        for bid in broadcast_ids
    }
    if not broadcast_ids:
        return found
    rows = session.exec(
        select(BroadcastRecipient.broadcast_id, OutboxMessage.status, OutboxMessage.delivery_status, sa.func.count())
        .select_from(BroadcastRecipient)
        .join(OutboxMessage, OutboxMessage.id == BroadcastRecipient.outbox_id, isouter=True)
        .where(BroadcastRecipient.broadcast_id.in_(broadcast_ids))
        .group_by(BroadcastRecipient.broadcast_id, OutboxMessage.status, OutboxMessage.delivery_status)
    )
    for broadcast_id, status, delivery, count in rows:
        if status is None:
            bucket = "purged"
        elif status in ("pending", "sending"):
            bucket = "waiting"
        elif status in ("failed", "dead") or delivery in ("undelivered", "failed"):
            bucket = "failed"
        elif status == "not_sent":  # no account to send with: never counted as sent
            bucket = "not_sent"
        elif status == "cancelled":
            bucket = "cancelled"
        elif delivery in ("delivered", "read"):
            bucket = "delivered"
        else:
            bucket = "sent"
        found[broadcast_id][bucket] += count
    return found


def sending_broadcasts(session: Session, *, limit: int = 50) -> list[Broadcast]:
    return list(session.exec(select(Broadcast).where(Broadcast.status == "sending").order_by(Broadcast.id).limit(limit)))


def broadcast_unsettled(session: Session, *, broadcast_id: int) -> int:
    """How many of the broadcast's messages the worker has still to send."""
    return session.exec(
        select(sa.func.count()).select_from(BroadcastRecipient)
        .join(OutboxMessage, OutboxMessage.id == BroadcastRecipient.outbox_id)
        .where(BroadcastRecipient.broadcast_id == broadcast_id, OutboxMessage.status.in_(("pending", "sending")))
    ).one()


def add_poll(session: Session, *, questions: dict[str, str], options: dict[str, list[str]], place_codes: list[str],
             created_by: str, now: datetime) -> Poll:
    poll = Poll(questions=dict(questions), options={k: list(v) for k, v in options.items()},
                place_codes=list(place_codes), created_by=created_by, created_at=now)
    session.add(poll)
    session.flush()
    return poll


def poll_by_id(session: Session, *, poll_id: int) -> Poll | None:
    return session.get(Poll, poll_id, populate_existing=True)


def list_polls(session: Session, *, limit: int = 100) -> list[Poll]:
    return list(session.exec(select(Poll).order_by(Poll.created_at.desc(), Poll.id.desc()).limit(limit)))


def poll_tally(session: Session, *, poll_id: int) -> dict[int, int]:
    """Answers per option number."""
    rows = session.exec(
        select(PollAnswer.choice, sa.func.count()).where(PollAnswer.poll_id == poll_id).group_by(PollAnswer.choice)
    )
    return {choice: count for choice, count in rows}


def poll_reaching(session: Session, *, volunteer_id: int) -> tuple[Poll, datetime] | None:
    """The open poll that most recently reached this volunteer, and when it was sent to them."""
    row = session.exec(
        select(Poll, OutboxMessage.sent_at)
        .join(Broadcast, Broadcast.poll_id == Poll.id)
        .join(BroadcastRecipient, BroadcastRecipient.broadcast_id == Broadcast.id)
        .join(OutboxMessage, OutboxMessage.id == BroadcastRecipient.outbox_id)
        .where(BroadcastRecipient.volunteer_id == volunteer_id, Broadcast.kind == "poll", Poll.status == "open",
               OutboxMessage.status == "sent", OutboxMessage.sent_at.is_not(None))
        .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def poll_answer_of(session: Session, *, poll_id: int, volunteer_id: int) -> PollAnswer | None:
    return session.exec(
        select(PollAnswer).where(PollAnswer.poll_id == poll_id, PollAnswer.volunteer_id == volunteer_id)
    ).first()


def set_poll_answer(session: Session, *, poll_id: int, volunteer_id: int, choice: int, now: datetime) -> PollAnswer:
    """Keep the volunteer's answer; a later one replaces the earlier (one answer per volunteer)."""
    answer = poll_answer_of(session, poll_id=poll_id, volunteer_id=volunteer_id)
    if answer is None:
        answer = PollAnswer(poll_id=poll_id, volunteer_id=volunteer_id, choice=choice, answered_at=now)
    answer.choice, answer.answered_at = choice, now
    session.add(answer)
    return answer


def lesson_schedule(session: Session, *, lock: bool = False) -> LessonSchedule | None:
    query = select(LessonSchedule).order_by(LessonSchedule.id).limit(1)
    if lock and _is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return session.exec(query.execution_options(populate_existing=True)).first()


def save_lesson_schedule(session: Session, *, active: bool, next_at: datetime | None, place_codes: list[str],
                         updated_by: str, now: datetime) -> LessonSchedule:
    schedule = lesson_schedule(session) or LessonSchedule()
    schedule.active, schedule.next_at, schedule.place_codes = active, next_at, list(place_codes)
    schedule.updated_by, schedule.updated_at = updated_by, now
    session.add(schedule)
    session.flush()
    return schedule


def idea_by_id(session: Session, *, idea_id: int) -> Idea | None:
    return session.get(Idea, idea_id)


# ---- SMS Gateway for Android (issue 14) ------------------------------------------------------------

from .models import GatewayEvent  # noqa: E402


def gateway_event_seen(session: Session, *, event_id: str) -> bool:
    return session.get(GatewayEvent, event_id) is not None


def record_gateway_event(session: Session, *, event_id: str, event: str, now: datetime) -> bool:
    """Remember a handled webhook delivery; False when it was remembered already (a retry)."""
    insert = pg_insert if _is_postgres(session) else sqlite_insert
    result = session.execute(
        insert(GatewayEvent).values(event_id=event_id, event=event, received_at=now)
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    return bool(result.rowcount)


def purge_gateway_events(session: Session, *, before: datetime, dry_run: bool) -> int:
    condition = GatewayEvent.received_at < before
    count = session.exec(select(sa.func.count()).select_from(GatewayEvent).where(condition)).one()
    if count and not dry_run:
        session.exec(sa.delete(GatewayEvent).where(condition))
    return count


def note_outbox_error(session: Session, *, message_id: int, error: str, now: datetime) -> None:
    """Keep the provider's words for a failed delivery (an error name, never the message)."""
    session.exec(sa.update(OutboxMessage).where(OutboxMessage.id == message_id)
                 .values(error=error[:255], updated_at=now))
