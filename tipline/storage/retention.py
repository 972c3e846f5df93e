"""The retention rules: what is deleted or emptied, and when (the `tipline purge` command)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import (
    ConversationRow,
    DashboardSession,
    Escalation,
    FollowUp,
    OutboxMessage,
    ProcessedMessage,
    Tip,
    TipAddition,
)
from ..statuses import CLOSED_STATUSES, OUTBOX_SETTLED

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
    replies_before = replies_before or processed_before
    sessions_idle_before = sessions_idle_before or now
    sessions_started_before = sessions_started_before or now
    rules: dict[str, tuple] = {
        # A contact address lives no longer than the contact period, nor past the tip's closing.
        "contacts": (Tip, sa.and_(Tip.contact_sealed.is_not(None),
                                  sa.or_(Tip.created_at < contacts_before, Tip.status.in_(CLOSED_STATUSES))),
                     {"contact_sealed": None}),
        # Finished conversations: nobody wrote for the whole period. Opted-out senders keep a row
        # with nothing in it but the opt-out, so a later message still respects it.
        "conversations": (ConversationRow, sa.and_(ConversationRow.last_seen_at < conversations_before,
                                                 ConversationRow.opted_out.is_(False)), None),
        # The answer (it can echo a summary) only while Twilio may retry; the bare sid for weeks.
        "processed_replies": (ProcessedMessage, sa.and_(ProcessedMessage.received_at < replies_before,
                                                        ProcessedMessage.received_at >= processed_before,
                                                        sa.or_(ProcessedMessage.twiml.is_not(None),
                                                               ProcessedMessage.reporter.is_not(None))),
                              {"twiml": None, "reporter": None}),
        "processed_messages": (ProcessedMessage, ProcessedMessage.received_at < processed_before, None),
        "closed_tip_text": (Tip, sa.and_(Tip.status.in_(CLOSED_STATUSES), Tip.updated_at < closed_text_before,
                                         sa.or_(Tip.description.is_not(None), Tip.location.is_not(None),
                                                sa.cast(Tip.answers, sa.Text) != "{}")),
                            {"description": None, "location": None, "answers": {}}),
        "outbox": (OutboxMessage, sa.and_(OutboxMessage.status.in_(OUTBOX_SETTLED),
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
