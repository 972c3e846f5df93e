"""Conversations (one per sender, locked while a message is handled) and the messages already processed."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import ConversationRow, ProcessedMessage
from .db import for_update, insert_for


def lock_conversation(session: Session, *, reporter: str, channel: str) -> ConversationRow:
    """The sender's conversation, created if new, locked until the transaction ends."""
    query = for_update(session, select(ConversationRow).where(ConversationRow.reporter == reporter))
    query = query.execution_options(populate_existing=True)
    # Almost every message comes from a known sender: one statement, not two (bench/webhook.py).
    row = session.exec(query).first()
    if row is not None:
        return row
    insert = insert_for(session)
    session.execute(
        insert(ConversationRow)
        .values(reporter=reporter, channel=channel, data={}, opted_out=False)
        .on_conflict_do_nothing(index_elements=["reporter"])
    )
    return session.exec(query).one()


# What a repeated message gets once its first answer was dropped: TwiML that sends nothing.
NO_REPLY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def processed_twiml(session: Session, *, message_sid: str) -> str | None:
    """The TwiML a processed message got (or one that sends nothing, once that is dropped); None if new."""
    row = session.get(ProcessedMessage, message_sid)
    if row is None:
        return None
    return row.twiml if row.twiml is not None else NO_REPLY_TWIML


def record_processed(session: Session, *, message_sid: str, twiml: str, now: datetime,
                     reporter: str | None = None) -> None:
    session.add(ProcessedMessage(message_sid=message_sid, twiml=twiml, received_at=now, reporter=reporter))


def forget_replies(session: Session, *, reporter: str) -> int:
    """Drop the answers kept for this reporter's earlier messages (STOP, EXIT): a summary echoed
    back must not outlive the report. The sids stay, so a replay still changes nothing."""
    result = session.exec(
        sa.update(ProcessedMessage).where(ProcessedMessage.reporter == reporter)
        .values(twiml=None, reporter=None)
    )
    return result.rowcount or 0


def last_seen_of(session: Session, *, reporter: str) -> datetime | None:
    return session.exec(select(ConversationRow.last_seen_at).where(ConversationRow.reporter == reporter)).first()
