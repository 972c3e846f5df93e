"""Anonymous follow-up, the reporter's side: the answer to an operator's question joins the tip.

The question is asked by tipline.actions.followups. The reporter's first reply after it (within
ANSWER_WINDOW) is added to the tip, unless it is a command, a call for help, a new story, or they are
writing a report (the service decides that). `ADD <ref> <text>` works as always.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from . import storage
from .escalation import Outbound

ANSWER_WINDOW = timedelta(days=7)  # a question older than this no longer captures messages
ANSWER_MAX_PLAIN = 160  # longer than one SMS and telling a story: a new report, not the answer


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
