"""Community: an operator drafts, schedules or cancels a broadcast, creates and closes a poll, drafts its
results, sets the lesson of the week, marks an idea.

The words are composed by tipline.community; the worker's own steps (sending a scheduled broadcast,
marking it sent) are its too. A draft is checked here: the deployment's default language is required,
so every volunteer can get the message.
"""

from __future__ import annotations

from datetime import datetime

from .. import community, storage
from ..models import Broadcast, Idea, Poll
from ..statuses import BROADCAST_CANCELLABLE, IDEA_STATUSES
from .base import Actor, Refused, audit

MAX_OPTION = 40  # characters of one poll option


def draft_awareness(session, actor: Actor, line, *, texts: dict[str, str], places: list[str],
                    now: datetime) -> Broadcast:
    """An awareness message per language (a draft, sent only once scheduled). Refused without the
    deployment's default language ("default_language")."""
    if line.flow.default_language not in texts:
        raise Refused("default_language")
    broadcast = storage.add_broadcast(session, kind="awareness", texts=community.compose_awareness(line, texts),
                                      place_codes=places, created_by=actor.name, now=now)
    audit(session, actor, "broadcast_drafted", now=now, target=f"broadcast {broadcast.id}",
          detail={"places": places, "languages": sorted(texts)})
    return broadcast


def poll_problem(questions: dict[str, str], options: dict[str, list[str]], default: str) -> str | None:
    """What is wrong with a poll (a Refused code), or None: the default language, a question and its options
    in each language, the same number of options everywhere, 2 to 9 of them, each short."""
    if default not in questions or default not in options:
        return "default_language"
    if set(questions) != set(options):
        return "question_without_options"
    counts = {len(found) for found in options.values()}
    if len(counts) != 1:
        return "option_counts_differ"
    if not community.MIN_OPTIONS <= counts.pop() <= community.MAX_OPTIONS:
        return "option_count"
    if any(len(option) > MAX_OPTION for found in options.values() for option in found):
        return "option_too_long"
    return None


def create_poll(session, actor: Actor, line, *, questions: dict[str, str], options: dict[str, list[str]],
                places: list[str], now: datetime) -> Broadcast:
    """A poll and the draft broadcast that asks it; refused with poll_problem's code."""
    if (code := poll_problem(questions, options, line.flow.default_language)) is not None:
        raise Refused(code)
    poll = storage.add_poll(session, questions=questions, options=options, place_codes=places,
                            created_by=actor.name, now=now)
    broadcast = storage.add_broadcast(session, kind="poll", texts=community.compose_poll(line, poll),
                                      place_codes=places, created_by=actor.name, now=now, poll_id=poll.id)
    audit(session, actor, "poll_created", now=now, target=f"poll {poll.id}", detail={"places": places})
    return broadcast


def draft_poll_results(session, actor: Actor, line, poll: Poll, *, changes: dict[str, str],
                       now: datetime) -> Broadcast:
    """The results, with what will change, to everyone who answered (a draft). Refused: the default
    language's words missing for a poll asked in it ("default_language"), or no words at all ("empty")."""
    texts = community.compose_results(line, poll, storage.poll_tally(session, poll_id=poll.id), changes)
    default = line.flow.default_language
    if default in poll.questions and default not in texts:
        raise Refused("default_language")
    if not texts:
        raise Refused("empty")
    broadcast = storage.add_broadcast(session, kind="poll_results", texts=texts, place_codes=[],
                                      created_by=actor.name, now=now, poll_id=poll.id)
    audit(session, actor, "poll_results_drafted", now=now, target=f"poll {poll.id}",
          detail={"broadcast": broadcast.id})
    return broadcast


def set_lesson_schedule(session, actor: Actor, *, active: bool, start: datetime, places: list[str],
                        now: datetime) -> None:
    """Turn the lesson of the week on (from `start`) or off."""
    storage.save_lesson_schedule(session, active=active, next_at=start if active else None, place_codes=places,
                                 updated_by=actor.name, now=now)
    audit(session, actor, "lesson_schedule_changed", now=now,
          detail={"active": active, "start": start.isoformat(), "places": places})


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
