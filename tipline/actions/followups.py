"""Follow-up: an operator asks a reporter who agreed to be contacted; the operator never sees the number.

The question is queued to the sealed contact address. The rules for when that is refused live here
once (`refusal`): the dashboard hides its form by them and the action enforces them. The reporter's
answer is taken by tipline.followup, on the service's side.
"""

from __future__ import annotations

from datetime import datetime

from .. import storage
from ..engine.gsm import segments
from ..escalation import Outbound
from ..models import FollowUp, Tip
from ..statuses import CLOSED_STATUSES
from .base import Actor, Refused, audit

MAX_QUESTION = 300

# Why a reporter cannot be asked, as the refusal's code and its words for logs and the command line.
REFUSALS = {
    "empty": "the question is empty",
    "too_long": f"the question is longer than {MAX_QUESTION} characters",
    "no_contact": "the reporter did not agree to be contacted, or their contact was deleted",
    "closed": "the tip is closed",
    "sealed": "the contact address cannot be opened with the current TIPLINE_CONTACT_KEY",
}


class FollowUpRefused(Refused):
    """The reporter cannot be asked: no consent, no contact left, the tip is closed, or no question."""

    def __init__(self, code: str):
        super().__init__(code, REFUSALS[code])


def refusal(tip: Tip) -> str | None:
    """Why this tip's reporter cannot be asked (a REFUSALS code), or None when they can: only a reporter
    who agreed to be contacted, whose address is still kept, on an open tip. Closing a tip deletes its
    contact address too, so "closed" is named first: it is the reason that says the most."""
    if tip.status in CLOSED_STATUSES:
        return "closed"
    if not tip.contact_consent or not tip.contact_sealed:
        return "no_contact"
    return None


def ask_reporter(session, actor: Actor, tip: Tip, question: str, *, now: datetime, outbound: Outbound) -> FollowUp:
    """Queue `question` to the tip's reporter, in the tip's timeline and the audit trail."""
    question = " ".join((question or "").split())
    if not question:
        raise FollowUpRefused("empty")
    if len(question) > MAX_QUESTION:
        raise FollowUpRefused("too_long")
    if (code := refusal(tip)) is not None:
        raise FollowUpRefused(code)
    address = outbound.contacts.open(tip.contact_sealed)
    if address is None:
        raise FollowUpRefused("sealed")
    follow_up = storage.add_follow_up(session, tip=tip, question=question, actor=actor.name, now=now)
    body = outbound.say(tip.language, "follow_up", reference=tip.reference, question=question)
    outbound.queue(
        session, kind="follow_up", address=address, body=body, now=now, tip=tip, reporter=tip.reporter,
        sealed=tip.contact_sealed,
    )
    storage.add_event(session, tip=tip, kind="follow_up_asked", at=now, actor=actor.name)
    audit(session, actor, "follow_up_asked", now=now, target=tip.reference,
          detail={"follow_up": follow_up.id, "segments": segments(body)})
    return follow_up
