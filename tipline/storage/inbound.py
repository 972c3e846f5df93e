"""The inbound hot path in SQLAlchemy Core: four statements for an ordinary message.

An answer in the middle of a report costs, inside the message's one transaction:

1. `SELECT ... FROM conversation ... FOR UPDATE`: the sender's conversation, locked (SQLite has
   no row locks: its writers queue, see db.writing);
2. `UPDATE tip ... RETURNING`: the report so far, into the reporter's own unfinished tip;
3. `UPDATE conversation`: where the sender now stands;
4. `INSERT INTO processed_message ... ON CONFLICT DO NOTHING RETURNING`: the MessageSid claimed
   with the answer it gets. It comes last, once the answer is known: when it claims nothing the
   sid was already answered, and the caller rolls the whole transaction back and answers as before.

The statements are built once per process. The ORM stays where it helps (dashboard, admin, the
rarer events of a conversation); its session shares this transaction's connection.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from ..models import ConversationRow, ProcessedMessage, Tip, TipEvent

_conversation = ConversationRow.__table__
_processed = ProcessedMessage.__table__
_tip = Tip.__table__
_tip_event = TipEvent.__table__
_NOTE_ON_TIP = sa.insert(_tip_event)
_INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}

# What a repeated message gets once its first answer was dropped: TwiML that sends nothing.
NO_REPLY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


class Transaction:
    """One message's write transaction: Core statements on `conn`, and an ORM session on the same
    connection only once a rarer step asks for it (an ordinary message never does)."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = Session(bind=self.conn, expire_on_commit=False)
        return self._session

    def flush(self) -> None:
        """What the ORM session holds, written before the transaction commits."""
        if self._session is not None:
            self._session.flush()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


@dataclass
class SenderConversation:
    """The locked conversation row of one sender, as plain values; `save_conversation` writes it back."""

    id: int
    reporter: str
    state: str | None
    language: str | None
    channel: str
    data: dict
    opted_out: bool
    last_seen_at: datetime | None


_CONVERSATION_COLUMNS = [getattr(_conversation.c, name) for name in SenderConversation.__dataclass_fields__]
# FOR UPDATE is left out by SQLAlchemy's SQLite compiler: there the writer's turn is the lock.
_LOCK_CONVERSATION = (
    sa.select(*_CONVERSATION_COLUMNS).where(_conversation.c.reporter == sa.bindparam("reporter")).with_for_update()
)
_NEW_CONVERSATION = {
    dialect: insert(_conversation).on_conflict_do_nothing(index_elements=["reporter"])
    for dialect, insert in _INSERTS.items()
}
_SAVE_CONVERSATION = (
    sa.update(_conversation).where(_conversation.c.id == sa.bindparam("conversation_id"))
    .values({name: sa.bindparam(f"new_{name}") for name in
             ("state", "language", "channel", "data", "opted_out", "last_seen_at")})
)
_CLAIM = {
    dialect: insert(_processed).on_conflict_do_nothing(index_elements=["message_sid"])
    .returning(_processed.c.message_sid)
    for dialect, insert in _INSERTS.items()
}
_ANSWERED = sa.select(_processed.c.twiml).where(_processed.c.message_sid == sa.bindparam("message_sid"))


def lock_conversation(conn: sa.Connection, *, reporter: str, channel: str) -> SenderConversation:
    """The sender's conversation, created if new, locked until the transaction ends.

    One statement for a known sender; a new one costs an insert and a second select.
    """
    row = conn.execute(_LOCK_CONVERSATION, {"reporter": reporter}).first()
    if row is None:
        conn.execute(_NEW_CONVERSATION[conn.dialect.name],
                     {"reporter": reporter, "channel": channel, "data": {}, "opted_out": False})
        row = conn.execute(_LOCK_CONVERSATION, {"reporter": reporter}).one()
    return SenderConversation(*row)


def save_conversation(conn: sa.Connection, conversation: SenderConversation) -> None:
    conn.execute(_SAVE_CONVERSATION, {
        "conversation_id": conversation.id, "new_state": conversation.state, "new_language": conversation.language,
        "new_channel": conversation.channel, "new_data": conversation.data, "new_opted_out": conversation.opted_out,
        "new_last_seen_at": conversation.last_seen_at,
    })


def claim_message(conn: sa.Connection, *, message_sid: str, twiml: str, now: datetime,
                  reporter: str | None = None) -> bool:
    """Record the message as answered with `twiml`; False when its sid was already recorded.

    On PostgreSQL a claim of a sid another transaction holds waits for it to end (the unique
    index), so exactly one of two concurrent deliveries claims it.
    """
    claimed = conn.execute(_CLAIM[conn.dialect.name], {
        "message_sid": message_sid, "twiml": twiml, "received_at": now, "reporter": reporter,
    }).first()
    return claimed is not None


def answered_twiml(conn: sa.Connection, *, message_sid: str) -> str | None:
    """The TwiML a processed message got (or one that sends nothing, once that is dropped); None if new."""
    row = conn.execute(_ANSWERED, {"message_sid": message_sid}).first()
    if row is None:
        return None
    return row.twiml if row.twiml is not None else NO_REPLY_TWIML


@functools.cache
def _update_report(columns: tuple[str, ...]) -> sa.Update:
    """UPDATE of an unfinished tip by its own reporter, built once per set of columns."""
    values: dict[str, Any] = {name: sa.bindparam(f"new_{name}") for name in columns}
    if "contact_consent" in columns:  # a no keeps no contact; a yes keeps the one sealed before
        values["contact_sealed"] = sa.case(
            (sa.bindparam("new_contact_consent", type_=sa.Boolean),
             sa.func.coalesce(sa.bindparam("new_contact_sealed", type_=sa.Text), _tip.c.contact_sealed)),
            else_=sa.null(),
        )
    return (
        sa.update(_tip)
        .where(_tip.c.reference == sa.bindparam("tip_reference"), _tip.c.reporter == sa.bindparam("tip_reporter"),
               _tip.c.complete.is_(False))
        .values(values)
        .returning(_tip.c.id, _tip.c.location, _tip.c.place_code)
    )


def update_report(conn: sa.Connection, *, reference: str, reporter: str, columns: dict[str, Any],
                  contact_sealed: str | None, now: datetime) -> sa.Row | None:
    """The report so far into the reporter's own unfinished tip, in one statement.

    Returns the tip's id, location and place code, or None when no such tip exists (a new report,
    another reporter's reference): the caller then saves it the long way, which knows what to do.
    """
    columns = columns | {"updated_at": now}
    params = {f"new_{name}": value for name, value in columns.items()}
    params |= {"tip_reference": reference, "tip_reporter": reporter, "new_contact_sealed": contact_sealed}
    return conn.execute(_update_report(tuple(sorted(columns))), params).first()


def note_on_tip(conn: sa.Connection, *, tip_id: int, kind: str, at: datetime) -> None:
    """A system event on the timeline of a tip `update_report` just wrote (a typed place that names
    no place in the list), without opening the ORM session."""
    conn.execute(_NOTE_ON_TIP, {"tip_id": tip_id, "kind": kind, "at": at, "actor": "system", "detail": {}})
