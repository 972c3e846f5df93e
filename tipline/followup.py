"""Anonymous follow-up: an operator asks a reporter who agreed to be contacted; the answer joins the tip.

The operator never sees the number: the question is queued to the sealed contact address, and
the reporter's first reply after it (within ANSWER_WINDOW) is added to the tip, unless it is a
command, a call for help, a new story, or they are writing a report (the service decides that).
`ADD <ref> <text>` works as always.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from . import storage
from .escalation import Outbound
from .models import FollowUp, Tip
from .statuses import CLOSED_STATUSES

MAX_QUESTION = 300
ANSWER_WINDOW = timedelta(days=7)  # a question older than this no longer captures messages
ANSWER_MAX_PLAIN = 160  # longer than one SMS and telling a story: a new report, not the answer


class FollowUpRefused(Exception):
    """The reporter cannot be asked: no consent, no contact left, or the tip is closed."""


def ask_reporter(
    session, tip: Tip, question: str, *, actor: str, now: datetime, outbound: Outbound,
) -> FollowUp:
    """Queue `question` to the tip's reporter; refused unless they said yes to contact."""
    question = " ".join((question or "").split())
    if not question:
        raise FollowUpRefused("the question is empty")
    if len(question) > MAX_QUESTION:
        raise FollowUpRefused(f"the question is longer than {MAX_QUESTION} characters")
    if not tip.contact_consent or not tip.contact_sealed:
        raise FollowUpRefused("the reporter did not agree to be contacted, or their contact was deleted")
    if tip.status in CLOSED_STATUSES:
        raise FollowUpRefused("the tip is closed")
    address = outbound.contacts.open(tip.contact_sealed)
    if address is None:
        raise FollowUpRefused("the contact address cannot be opened with the current TIPLINE_CONTACT_KEY")
    follow_up = storage.add_follow_up(session, tip=tip, question=question, actor=actor, now=now)
    body = outbound.say(tip.language, "follow_up", reference=tip.reference, question=question)
    outbound.queue(
        session, kind="follow_up", address=address, body=body, now=now, tip=tip, reporter=tip.reporter,
        sealed=tip.contact_sealed,
    )
    storage.add_event(session, tip=tip, kind="follow_up_asked", at=now, actor=actor)
    return follow_up


def take_answer(
    session, *, reporter: str, text: str, last_seen: datetime | None, now: datetime, outbound: Outbound,
) -> str | None:
    """If this reporter has a question pending and this is their first reply since it was asked,
    add `text` to its tip and return the thanks."""
    follow_up = storage.pending_follow_up(session, reporter=reporter, since=now - ANSWER_WINDOW)
    if follow_up is None or (last_seen is not None and last_seen >= follow_up.asked_at):
        return None
    tip = storage.tip_by_id(session, tip_id=follow_up.tip_id)
    storage.add_to_tip(session, reference=tip.reference, text=text[:2000], now=now)
    follow_up.answered_at = now
    session.add(follow_up)
    storage.add_event(session, tip=tip, kind="follow_up_answered", at=now)
    return outbound.say(tip.language, "follow_up_thanks", reference=tip.reference)
