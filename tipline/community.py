"""What the tip line sends to community watch volunteers on its own: awareness messages, the lesson of
the week, polls and their results; and how a poll answer is counted.

Only volunteers, who agreed to receive these, are ever sent anything here: the recipients come
from the Volunteer table, never from tips or conversations. Everything goes out through the
outbox, so the per-number rate, retries and WhatsApp's 24-hour rule apply as to every message.
A broadcast's rows are spread out in time at half the send rate, so a tip's escalation queued
during a large broadcast still goes out within seconds, not after the whole broadcast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import channels, storage
from .engine.gsm import non_gsm_characters, segments
from .engine.words import Words
from .models import Broadcast, Poll, Volunteer

log = logging.getLogger(__name__)

OUTBOX_PREFIX = "volunteer_"  # outbox kinds volunteer_awareness, volunteer_lesson, volunteer_poll, ...
BROADCAST_SHARE = 0.5  # of the send rate; the rest stays free for escalations and follow-ups
LESSON_EVERY = timedelta(days=7)
MAX_TEXT = 640  # four GSM-7 segments; the preview shows what it costs
MAX_OPTIONS, MIN_OPTIONS = 9, 2
OPT_OUT_CODE = 21610


def is_volunteer_kind(kind: str | None) -> bool:
    return bool(kind) and kind.startswith(OUTBOX_PREFIX)


# ---- words ------------------------------------------------------------------------------------------

def words(tipline) -> Words:
    """flows/community.yaml, loaded and checked like every words file (tipline/engine/words.py)."""
    return tipline.community_words


# ---- composing ----------------------------------------------------------------------------------------

def compose_awareness(tipline, texts: dict[str, str]) -> dict[str, str]:
    say = words(tipline).say
    return {lang: say(lang, "awareness", text=text.strip()) for lang, text in texts.items() if text and text.strip()}


def compose_lesson(tipline, index: int) -> dict[str, str]:
    """The lesson at `index` (wrapping round) in every language of the flow."""
    flow, say = tipline.flow, words(tipline).say
    bodies = {}
    for lang in flow.languages:
        count = flow.lesson_count(lang)
        if count:
            text = flow.languages[lang].lessons[index % count]
            filled = text.format_map({**flow.numbers, "service": flow.service_name})
            bodies[lang] = say(lang, "lesson", lesson=filled)
    return bodies


def poll_choices(options: list[str]) -> str:
    return "\n".join(f"{number} {option}" for number, option in enumerate(options, start=1))


def compose_poll(tipline, poll: Poll) -> dict[str, str]:
    say = words(tipline).say
    return {lang: say(lang, "poll", question=question, choices=poll_choices(poll.options[lang]))
            for lang, question in poll.questions.items()}


def poll_option_count(poll: Poll) -> int:
    return len(next(iter(poll.options.values()), []))


def compose_results(tipline, poll: Poll, tally: dict[int, int], changes: dict[str, str]) -> dict[str, str]:
    """The results in each language of the poll, with the operators' "what will change" after them."""
    say = words(tipline).say
    total = sum(tally.values())
    bodies = {}
    for lang, question in poll.questions.items():
        change = (changes.get(lang) or "").strip()
        if not change:
            continue
        if total:
            results = "\n".join(
                f"{number} {option}: {round(100 * tally.get(number, 0) / total)}%"
                for number, option in enumerate(poll.options[lang], start=1)
            )
        else:
            results = say(lang, "poll_no_answers")
        bodies[lang] = say(lang, "poll_results", question=question, results=results, change=change)
    return bodies


def body_for(texts: dict[str, str], language: str, default: str) -> tuple[str, str] | None:
    """The words a volunteer gets: in their language, else the deployment's default, else English."""
    for lang in (language, default, "en"):
        if texts.get(lang):
            return lang, texts[lang]
    return None


# ---- the audience and the cost, before sending ------------------------------------------------------------

@dataclass(frozen=True)
class Cost:
    language: str
    recipients: int
    segments: int  # per recipient
    gsm7: bool
    characters: list[str]  # those that force UCS-2

    @property
    def total(self) -> int:
        return self.recipients * self.segments


@dataclass(frozen=True)
class Preview:
    recipients: int
    costs: list[Cost]
    missing: int  # volunteers for whom no text fits (cannot happen once the default language has one)

    @property
    def total_segments(self) -> int:
        return sum(c.total for c in self.costs)


def audience(session, broadcast: Broadcast) -> list[Volunteer]:
    if broadcast.kind == "poll_results":
        return storage.poll_participants(session, poll_id=broadcast.poll_id)
    return storage.volunteers_in(session, place_codes=broadcast.place_codes)


def preview(session, tipline, broadcast: Broadcast) -> Preview:
    """Who a broadcast would reach now and what it costs, per language, GSM-7 or not."""
    default = tipline.flow.default_language
    counts: dict[str, int] = {}
    missing = 0
    if broadcast.kind == "poll_results":
        by_language: dict[str, int] = {}
        for volunteer in audience(session, broadcast):
            by_language[volunteer.language] = by_language.get(volunteer.language, 0) + 1
    else:
        by_language = storage.volunteer_languages(session, place_codes=broadcast.place_codes)
    for language, count in by_language.items():
        chosen = body_for(broadcast.texts, language, default)
        if chosen is None:
            missing += count
        else:
            counts[chosen[0]] = counts.get(chosen[0], 0) + count
    costs = []
    for language, text in broadcast.texts.items():
        bad = non_gsm_characters(text)
        costs.append(Cost(language, counts.get(language, 0), segments(text), not bad, bad))
    return Preview(recipients=sum(counts.values()), costs=costs, missing=missing)


# ---- the worker's part ------------------------------------------------------------------------------

def expand(session, tipline, broadcast: Broadcast, *, now: datetime) -> int:
    """Write one outbox row per volunteer the broadcast reaches, spread over time; returns how many."""
    default = tipline.flow.default_language
    rate = max(tipline.settings.send_rate_per_second, 0.001) * BROADCAST_SHARE
    at, count, total_segments = now, 0, 0
    for volunteer in audience(session, broadcast):
        chosen = body_for(broadcast.texts, volunteer.language, default)
        if chosen is None or not volunteer.address_sealed:
            continue
        language, body = chosen
        row = storage.enqueue(
            session, kind=f"{OUTBOX_PREFIX}{broadcast.kind}", channel=volunteer.channel,
            to_sealed=volunteer.address_sealed, to_hint="", body=body, now=now, reporter=volunteer.reporter,
            provider=channels.provider_for(tipline.settings, volunteer.channel),
        )
        row.next_attempt_at = at
        session.add(row)
        storage.add_broadcast_recipient(session, broadcast_id=broadcast.id, volunteer_id=volunteer.id,
                                        outbox_id=row.id, language=language)
        cost = max(1, segments(body))
        at += timedelta(seconds=cost / rate)
        count += 1
        total_segments += cost
    broadcast.status, broadcast.started_at = "sending", now
    broadcast.recipients, broadcast.segments = count, total_segments
    if not count:
        broadcast.status, broadcast.finished_at = "sent", now
    session.add(broadcast)
    return count


def send_lesson_if_due(session, tipline, *, now: datetime) -> Broadcast | None:
    """The lesson of the week, when it is on and its time has come; the schedule moves a week on."""
    schedule = storage.lesson_schedule(session, lock=True)
    if schedule is None or not schedule.active or schedule.next_at is None or schedule.next_at > now:
        return None
    texts = compose_lesson(tipline, schedule.next_lesson)
    broadcast = storage.add_broadcast(session, kind="lesson", texts=texts, place_codes=schedule.place_codes,
                                      created_by="system", now=now, status="scheduled", scheduled_at=now)
    schedule.next_lesson += 1
    while schedule.next_at <= now:  # after a pause, the next one is a week from now, not a burst
        schedule.next_at += LESSON_EVERY
    session.add(schedule)
    return broadcast


def run_timers(tipline, *, now: datetime) -> int:
    """The worker's timer: lesson of the week, due broadcasts into the outbox, finished ones marked sent."""
    with storage.writing(tipline.db) as session:
        send_lesson_if_due(session, tipline, now=now)
    queued = 0
    while True:
        with storage.writing(tipline.db) as session:
            due = storage.due_broadcasts(session, now=now, limit=1)
            if not due:
                break
            queued += expand(session, tipline, due[0], now=now)
            log.info("broadcast %s (%s): %d messages queued", due[0].id, due[0].kind, due[0].recipients)
    with storage.writing(tipline.db) as session:
        for broadcast in storage.sending_broadcasts(session):
            if not storage.broadcast_unsettled(session, broadcast_id=broadcast.id):
                broadcast.status, broadcast.finished_at = "sent", now
                session.add(broadcast)
    return queued


def after_failure(session, row, *, code: int | None, now: datetime) -> None:
    """Twilio says the volunteer opted out (21610): they leave the watch, as if they had sent STOP."""
    if code == OPT_OUT_CODE and is_volunteer_kind(row.kind) and row.reporter:
        if storage.unsubscribe_volunteer(session, reporter=row.reporter, now=now):
            log.info("outbox %s: the volunteer opted out with the carrier (21610) and left the watch", row.id)


# ---- poll answers ---------------------------------------------------------------------------------------

POLL_ANSWER_WINDOW = timedelta(days=3)  # a poll older than this no longer takes a bare number


def take_poll_answer(session, tipline, *, reporter: str, last_seen: datetime | None, text: str,
                     now: datetime) -> str | None:
    """Count a number as the answer to the poll that last reached this volunteer; the thanks, or None.

    Only their first message since the poll reached them, within POLL_ANSWER_WINDOW; anything
    later goes to the conversation (a digit then is a menu choice or a report's answer).
    """
    volunteer = storage.volunteer_by_reporter(session, reporter=reporter)
    if volunteer is None or not volunteer.active:
        return None
    flow = tipline.flow
    lexicon = flow.lexicons.get(volunteer.language) or flow.lexicons[flow.default_language]
    reading = lexicon.answer(text)  # "2", "dua", "②"; never int() of what was typed
    if reading is None or reading.extra or reading.number is None:
        return None
    reached = storage.poll_reaching(session, volunteer_id=volunteer.id)
    if reached is None:
        return None
    poll, sent_at = reached
    if not 1 <= reading.number <= poll_option_count(poll) or now - sent_at > POLL_ANSWER_WINDOW:
        return None
    if last_seen is not None and last_seen >= sent_at:
        return None  # not their first reply since the poll
    storage.set_poll_answer(session, poll_id=poll.id, volunteer_id=volunteer.id, choice=reading.number, now=now)
    return words(tipline).say(volunteer.language, "poll_thanks", choice=str(reading.number))
