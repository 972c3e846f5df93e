"""Engines, sessions and transactions, and the few query helpers every aggregate shares.

SQLite runs in WAL mode and takes its write lock at the start of a message's transaction
(BEGIN IMMEDIATE), so two messages from one sender never interleave; PostgreSQL locks the
sender's conversation row (SELECT ... FOR UPDATE, see `for_update`) so many workers can serve
many senders.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from .inbound import Transaction

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# WAL with synchronous=NORMAL: a commit survives the process being killed (tests/storage/test_crash_safety.py);
# only an OS crash or a power cut can lose the last commits. README "SQLite durability" has the numbers.
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
    import psycopg  # here, not at the top: only a PostgreSQL deployment loads the driver

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
    from alembic.config import Config  # Alembic loads when migrating, not with every worker

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Apply every migration (creates the schema on an empty database)."""
    from alembic import command  # as in alembic_config

    command.upgrade(alembic_config(url), "head")


def ping(engine: sa.Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except sa.exc.SQLAlchemyError:
        return False


# ---- query helpers the aggregates share ------------------------------------------------------------

def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def for_update(session: Session, query, *, skip_locked: bool = False):
    """The query, locking the rows it reads on PostgreSQL (SKIP LOCKED: rows another worker holds are
    left out). SQLite needs no row locks: a write transaction holds the whole database (BEGIN IMMEDIATE)."""
    return query.with_for_update(skip_locked=skip_locked) if is_postgres(session) else query


def insert_for(session: Session):
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING (both dialects spell it alike)."""
    return pg_insert if is_postgres(session) else sqlite_insert


def rarely(session: Session, condition):
    """Tell SQLite a condition is rarely true. Its statistics keep averages only, so a column that is
    nearly always empty (a tip's routing problem) looks common and the planner scans the wrong index."""
    return sa.func.unlikely(condition) if session.get_bind().dialect.name == "sqlite" else condition


def day_of(column, dialect: str, *, zone: tzinfo = UTC, at: datetime | None = None):
    """The column's date in the zone. SQLite has no zones: it shifts by the zone's offset at `at`
    (exact for zones without summer time, such as Indonesia's)."""
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone(getattr(zone, "key", "UTC"), sa.func.timezone("UTC", column)), sa.Date)
    offset = (at or datetime.now(UTC)).astimezone(zone).utcoffset() or timedelta()
    return sa.func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes")


def in_places(column, place_codes: list[str] | tuple[str, ...]):
    """The condition "column is one of these places or lies under one" (32 covers 32.01); empty: all."""
    if not place_codes:
        return sa.true()
    return sa.or_(*[column == code for code in place_codes],
                  *[column.startswith(f"{code}.", autoescape=True) for code in place_codes])
