"""The outbox: every message tipline sends, queued in the transaction of its cause, claimed and
settled by the worker; the per-number send rate; the outbox page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import OutboxMessage, SendSlot
from ..statuses import DEAD_LETTERS, NOT_RECEIVED, OUTBOX_WAITING
from .db import for_update, insert_for


def _cancel_waiting(session: Session, *conditions, now: datetime) -> int:
    """Cancel what the worker has still to send among these messages, with their sealed address copies."""
    result = session.exec(
        sa.update(OutboxMessage).where(*conditions, OutboxMessage.status.in_(OUTBOX_WAITING))
        .values(status="cancelled", updated_at=now, to_sealed="")
    )
    return result.rowcount or 0


def withdraw_reporter_messages(session: Session, *, tip_id: int, now: datetime) -> int:
    """Nothing queued for this tip's reporter goes out any more (the tip was closed)."""
    return _cancel_waiting(session, OutboxMessage.tip_id == tip_id, OutboxMessage.reporter.is_not(None), now=now)


# What carries a tip to a partner or to the on-call number (never a reporter's follow-up).
ROUTING_KINDS = ("escalation", "update", "alert")


def tip_messages_carried(session: Session, *, tip_id: int) -> set[int | None]:
    """Who a message about this tip is on its way to or went to: partner ids, None for the on-call number."""
    return set(session.exec(
        select(OutboxMessage.partner_id).distinct()
        .where(OutboxMessage.tip_id == tip_id, OutboxMessage.reporter.is_(None),
               OutboxMessage.kind.in_(ROUTING_KINDS), OutboxMessage.status.in_((*OUTBOX_WAITING, "sent")))
    ))


def tip_messages_failed(session: Session, *, tip_id: int) -> bool:
    """Whether a message about this tip to a partner or the on-call number failed or could not be sent."""
    return session.exec(
        select(OutboxMessage.id)
        .where(OutboxMessage.tip_id == tip_id, OutboxMessage.reporter.is_(None),
               OutboxMessage.kind.in_(ROUTING_KINDS), OutboxMessage.status.in_(NOT_RECEIVED)).limit(1)
    ).first() is not None


def cancel_reporter_outbox(session: Session, *, reporter: str, now: datetime) -> int:
    """Nothing queued for this reporter goes out any more (STOP, EXIT)."""
    return _cancel_waiting(session, OutboxMessage.reporter == reporter, now=now)


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
    query = for_update(session, query, skip_locked=True)
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
    insert = insert_for(session)
    session.execute(
        insert(SendSlot).values(sender=sender, next_free_at=now).on_conflict_do_nothing(index_elements=["sender"])
    )
    query = select(SendSlot).where(SendSlot.sender == sender)
    query = for_update(session, query)
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
    query = for_update(session, query)
    return session.exec(query).first()


def list_outbox(session: Session, *, statuses: tuple[str, ...] = (), limit: int = 200) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if statuses:
        query = query.where(OutboxMessage.status.in_(statuses))
    return list(session.exec(query))


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


def note_outbox_error(session: Session, *, message_id: int, error: str, now: datetime) -> None:
    """Keep the provider's words for a failed delivery (an error name, never the message)."""
    session.exec(sa.update(OutboxMessage).where(OutboxMessage.id == message_id)
                 .values(error=error[:255], updated_at=now))
