"""Conversations and the messages already processed, besides the inbound hot path (inbound.py)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import ConversationRow, ProcessedMessage


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
