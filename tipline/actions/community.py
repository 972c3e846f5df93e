"""Community: an operator schedules or cancels a broadcast, closes a poll, marks an idea.

The worker's own steps (sending a scheduled broadcast, marking it sent) are tipline.community's.
"""

from __future__ import annotations

from datetime import datetime

from .. import storage
from ..models import Broadcast, Idea, Poll
from ..statuses import BROADCAST_CANCELLABLE, IDEA_STATUSES
from .base import Actor, Refused, audit


def schedule_broadcast(session, actor: Actor, broadcast: Broadcast, *, at: datetime, now: datetime) -> None:
    """A draft goes out at `at` (now: the worker's next pass). Refused: not a draft ("not_draft"),
    or a time already passed ("past")."""
    if at < now:
        raise Refused("past")
    if broadcast.status != "draft":
        raise Refused("not_draft", status=broadcast.status)
    broadcast.status, broadcast.scheduled_at = "scheduled", at
    session.add(broadcast)
    audit(session, actor, "broadcast_scheduled", now=now, target=f"broadcast {broadcast.id}",
          detail={"at": at.isoformat(), "kind": broadcast.kind})


def cancel_broadcast(session, actor: Actor, broadcast: Broadcast, *, now: datetime) -> None:
    """A draft or scheduled broadcast will not go out. Refused once the worker started it ("started")."""
    if broadcast.status not in BROADCAST_CANCELLABLE:
        raise Refused("started", status=broadcast.status)
    broadcast.status = "cancelled"
    session.add(broadcast)
    audit(session, actor, "broadcast_cancelled", now=now, target=f"broadcast {broadcast.id}")


def close_poll(session, actor: Actor, poll: Poll, *, now: datetime) -> bool:
    """Stop counting answers (later digits go to the ordinary conversation); False when it was closed already."""
    if poll.status != "open":
        return False
    poll.status, poll.closed_at = "closed", now
    session.add(poll)
    audit(session, actor, "poll_closed", now=now, target=f"poll {poll.id}")
    return True


def set_idea_status(session, actor: Actor, idea: Idea, status: str, *, now: datetime) -> bool:
    """Mark an idea new, considered or done; False when it is there already."""
    if status not in IDEA_STATUSES:
        raise Refused("unknown_status", status=status)
    before = idea.status
    if before == status:
        return False
    storage.set_idea_status(session, idea_id=idea.id, status=status, now=now)
    audit(session, actor, "idea_status_changed", now=now, target=f"idea {idea.id}",
          detail={"from": before, "to": status})
    return True
