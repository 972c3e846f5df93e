"""Community participation: volunteers, their ideas, broadcasts (awareness, lessons, polls) and poll answers."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import Broadcast, BroadcastRecipient, Idea, LessonSchedule, OutboxMessage, Poll, PollAnswer, Volunteer
from ..statuses import DEAD_LETTERS, IDEA_STATUSES, OUTBOX_WAITING
from .db import for_update, in_places

# A volunteer messages may go to: still in the watch, with an address kept.
_REACHABLE = (Volunteer.active.is_(True), Volunteer.address_sealed.is_not(None))


def subscribe_volunteer(
    session: Session, *, reporter: str, address_sealed: str, channel: str, language: str,
    place: str | None, place_code: str | None, consent_wording: str, now: datetime,
) -> Volunteer:
    """Keep (or renew) a volunteer who has just agreed, with what they agreed to."""
    volunteer = session.exec(select(Volunteer).where(Volunteer.reporter == reporter)).first()
    if volunteer is None:
        volunteer = Volunteer(reporter=reporter, language=language, consent_wording=consent_wording, consent_at=now)
    volunteer.address_sealed, volunteer.channel, volunteer.language = address_sealed, channel, language
    volunteer.place, volunteer.place_code = place, place_code
    volunteer.consent_wording, volunteer.consent_at = consent_wording, now
    volunteer.active, volunteer.left_at = True, None
    session.add(volunteer)
    return volunteer


def unsubscribe_volunteer(session: Session, *, reporter: str, now: datetime) -> bool:
    """STOP: the volunteer leaves at once and their address is deleted."""
    result = session.exec(
        sa.update(Volunteer)
        .where(Volunteer.reporter == reporter, Volunteer.active.is_(True))
        .values(active=False, address_sealed=None, left_at=now)
    )
    return bool(result.rowcount)


def add_idea(session: Session, *, reporter: str, language: str, text: str, now: datetime) -> Idea:
    idea = Idea(reporter=reporter, language=language, text=text, created_at=now, updated_at=now)
    session.add(idea)
    return idea


def list_ideas(session: Session, *, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Idea]:
    query = select(Idea)
    if status:
        query = query.where(Idea.status == status)
    return list(session.exec(query.order_by(Idea.created_at.desc(), Idea.id.desc()).offset(offset).limit(limit)))


def set_idea_status(session: Session, *, idea_id: int, status: str, now: datetime) -> Idea | None:
    if status not in IDEA_STATUSES:
        raise ValueError(f"unknown idea status {status!r}")
    idea = session.get(Idea, idea_id)
    if idea is not None:
        idea.status, idea.updated_at = status, now
        session.add(idea)
    return idea


def volunteer_languages(session: Session, *, place_codes: list[str]) -> dict[str, int]:
    """How many active volunteers in these places speak each language (what a broadcast would reach)."""
    rows = session.exec(
        select(Volunteer.language, sa.func.count())
        .where(*_REACHABLE, in_places(Volunteer.place_code, place_codes))
        .group_by(Volunteer.language)
    )
    return {language: count for language, count in rows}


def volunteers_in(session: Session, *, place_codes: list[str]) -> list[Volunteer]:
    return list(session.exec(
        select(Volunteer).where(*_REACHABLE, in_places(Volunteer.place_code, place_codes)).order_by(Volunteer.id)
    ))


def poll_participants(session: Session, *, poll_id: int) -> list[Volunteer]:
    """Active volunteers who answered the poll: the people its results go back to."""
    return list(session.exec(
        select(Volunteer).join(PollAnswer, PollAnswer.volunteer_id == Volunteer.id)
        .where(PollAnswer.poll_id == poll_id, *_REACHABLE)
        .order_by(Volunteer.id)
    ))


def volunteer_by_reporter(session: Session, *, reporter: str) -> Volunteer | None:
    return session.exec(select(Volunteer).where(Volunteer.reporter == reporter)).first()


def volunteer_is_active(session: Session, *, reporter: str) -> bool:
    return session.exec(
        select(Volunteer.id).where(Volunteer.reporter == reporter, *_REACHABLE)
    ).first() is not None


def add_broadcast(
    session: Session, *, kind: str, texts: dict[str, str], place_codes: list[str], created_by: str, now: datetime,
    poll_id: int | None = None, status: str = "draft", scheduled_at: datetime | None = None,
) -> Broadcast:
    broadcast = Broadcast(kind=kind, texts=dict(texts), place_codes=list(place_codes), created_by=created_by,
                          created_at=now, poll_id=poll_id, status=status, scheduled_at=scheduled_at)
    session.add(broadcast)
    session.flush()
    return broadcast


def broadcast_by_id(session: Session, *, broadcast_id: int, lock: bool = False) -> Broadcast | None:
    query = select(Broadcast).where(Broadcast.id == broadcast_id)
    if lock:
        query = for_update(session, query)
    return session.exec(query.execution_options(populate_existing=True)).first()


def list_broadcasts(session: Session, *, kinds: tuple[str, ...] = (), poll_id: int | None = None,
                    limit: int = 100) -> list[Broadcast]:
    query = select(Broadcast)
    if kinds:
        query = query.where(Broadcast.kind.in_(kinds))
    if poll_id is not None:
        query = query.where(Broadcast.poll_id == poll_id)
    return list(session.exec(query.order_by(Broadcast.created_at.desc(), Broadcast.id.desc()).limit(limit)))


def due_broadcasts(session: Session, *, now: datetime, limit: int = 5) -> list[Broadcast]:
    """Scheduled broadcasts whose time has come; on PostgreSQL locked, and skipped when another worker has them."""
    query = (
        select(Broadcast).where(Broadcast.status == "scheduled", Broadcast.scheduled_at <= now)
        .order_by(Broadcast.scheduled_at, Broadcast.id).limit(limit)
    )
    query = for_update(session, query, skip_locked=True)
    return list(session.exec(query.execution_options(populate_existing=True)))


def add_broadcast_recipient(session: Session, *, broadcast_id: int, volunteer_id: int, outbox_id: int,
                            language: str) -> None:
    session.add(BroadcastRecipient(broadcast_id=broadcast_id, volunteer_id=volunteer_id, outbox_id=outbox_id,
                                   language=language))


def broadcast_outcomes(session: Session, *, broadcast_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per broadcast: how many of its messages are waiting, sent, delivered, failed or cancelled.

    'delivered' counts Twilio's delivered and read callbacks; 'failed' counts a send refused or a
    callback saying undelivered; 'not_sent' what went nowhere for want of an account; a row the
    retention rules removed counts as 'purged'.
    """
    found: dict[int, dict[str, int]] = {
        bid: {"waiting": 0, "sent": 0, "delivered": 0, "failed": 0, "not_sent": 0, "cancelled": 0, "purged": 0}
        for bid in broadcast_ids
    }
    if not broadcast_ids:
        return found
    rows = session.exec(
        select(BroadcastRecipient.broadcast_id, OutboxMessage.status, OutboxMessage.delivery_status, sa.func.count())
        .select_from(BroadcastRecipient)
        .join(OutboxMessage, OutboxMessage.id == BroadcastRecipient.outbox_id, isouter=True)
        .where(BroadcastRecipient.broadcast_id.in_(broadcast_ids))
        .group_by(BroadcastRecipient.broadcast_id, OutboxMessage.status, OutboxMessage.delivery_status)
    )
    for broadcast_id, status, delivery, count in rows:
        if status is None:
            bucket = "purged"
        elif status in OUTBOX_WAITING:
            bucket = "waiting"
        elif status in DEAD_LETTERS or delivery in ("undelivered", "failed"):
            bucket = "failed"
        elif status == "not_sent":  # no account to send with: never counted as sent
            bucket = "not_sent"
        elif status == "cancelled":
            bucket = "cancelled"
        elif delivery in ("delivered", "read"):
            bucket = "delivered"
        else:
            bucket = "sent"
        found[broadcast_id][bucket] += count
    return found


def sending_broadcasts(session: Session, *, limit: int = 50) -> list[Broadcast]:
    query = select(Broadcast).where(Broadcast.status == "sending").order_by(Broadcast.id).limit(limit)
    return list(session.exec(query))


def broadcast_unsettled(session: Session, *, broadcast_id: int) -> int:
    """How many of the broadcast's messages the worker has still to send."""
    return session.exec(
        select(sa.func.count()).select_from(BroadcastRecipient)
        .join(OutboxMessage, OutboxMessage.id == BroadcastRecipient.outbox_id)
        .where(BroadcastRecipient.broadcast_id == broadcast_id, OutboxMessage.status.in_(OUTBOX_WAITING))
    ).one()


def add_poll(session: Session, *, questions: dict[str, str], options: dict[str, list[str]], place_codes: list[str],
             created_by: str, now: datetime) -> Poll:
    poll = Poll(questions=dict(questions), options={k: list(v) for k, v in options.items()},
                place_codes=list(place_codes), created_by=created_by, created_at=now)
    session.add(poll)
    session.flush()
    return poll


def poll_by_id(session: Session, *, poll_id: int) -> Poll | None:
    return session.get(Poll, poll_id, populate_existing=True)


def list_polls(session: Session, *, limit: int = 100) -> list[Poll]:
    return list(session.exec(select(Poll).order_by(Poll.created_at.desc(), Poll.id.desc()).limit(limit)))


def poll_tally(session: Session, *, poll_id: int) -> dict[int, int]:
    """Answers per option number."""
    rows = session.exec(
        select(PollAnswer.choice, sa.func.count()).where(PollAnswer.poll_id == poll_id).group_by(PollAnswer.choice)
    )
    return {choice: count for choice, count in rows}


def poll_reaching(session: Session, *, volunteer_id: int) -> tuple[Poll, datetime] | None:
    """The open poll that most recently reached this volunteer, and when it was sent to them."""
    row = session.exec(
        select(Poll, OutboxMessage.sent_at)
        .join(Broadcast, Broadcast.poll_id == Poll.id)
        .join(BroadcastRecipient, BroadcastRecipient.broadcast_id == Broadcast.id)
        .join(OutboxMessage, OutboxMessage.id == BroadcastRecipient.outbox_id)
        .where(BroadcastRecipient.volunteer_id == volunteer_id, Broadcast.kind == "poll", Poll.status == "open",
               OutboxMessage.status == "sent", OutboxMessage.sent_at.is_not(None))
        .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def poll_answer_of(session: Session, *, poll_id: int, volunteer_id: int) -> PollAnswer | None:
    return session.exec(
        select(PollAnswer).where(PollAnswer.poll_id == poll_id, PollAnswer.volunteer_id == volunteer_id)
    ).first()


def set_poll_answer(session: Session, *, poll_id: int, volunteer_id: int, choice: int, now: datetime) -> PollAnswer:
    """Keep the volunteer's answer; a later one replaces the earlier (one answer per volunteer)."""
    answer = poll_answer_of(session, poll_id=poll_id, volunteer_id=volunteer_id)
    if answer is None:
        answer = PollAnswer(poll_id=poll_id, volunteer_id=volunteer_id, choice=choice, answered_at=now)
    answer.choice, answer.answered_at = choice, now
    session.add(answer)
    return answer


def lesson_schedule(session: Session, *, lock: bool = False) -> LessonSchedule | None:
    query = select(LessonSchedule).order_by(LessonSchedule.id).limit(1)
    if lock:
        query = for_update(session, query, skip_locked=True)
    return session.exec(query.execution_options(populate_existing=True)).first()


def save_lesson_schedule(session: Session, *, active: bool, next_at: datetime | None, place_codes: list[str],
                         updated_by: str, now: datetime) -> LessonSchedule:
    schedule = lesson_schedule(session) or LessonSchedule()
    schedule.active, schedule.next_at, schedule.place_codes = active, next_at, list(place_codes)
    schedule.updated_by, schedule.updated_at = updated_by, now
    session.add(schedule)
    session.flush()
    return schedule


def idea_by_id(session: Session, *, idea_id: int) -> Idea | None:
    return session.get(Idea, idea_id)
