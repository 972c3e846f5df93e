"""The conversation engine: one inbound message in, the new state, replies and events out.

Pure on purpose: no web, storage or Twilio imports, and `now` comes from the caller. What must
happen outside the conversation (keep a tip, drop one, escalate) leaves as events in the Turn,
and the caller stores everything in one transaction. Tests drive it with a fixed clock.

What a reporter can rely on, whatever they type:
- answers are read as people write them (reading.py): "iyaaa", "gak ada kok", "satu", "①";
- panic words (TOLONG, SOS...) from any state give the emergency numbers at once and an urgent
  report, the message's words kept;
- nothing they say is lost: a story as a first message or a menu reply starts a report, free text
  at a numbered question joins the description, a photo caption is added to it, a location shared
  at any question is kept as the location;
- a report interrupted by silence is offered back (TIPLINE_RESUME_HOURS);
- the bot says only what is true: "passed on" only when someone will receive it, "deleted" only
  when nothing was kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from . import gsm
from .flow import FieldSpec, Flow, StateSpec
from .reading import Answer, is_number, squeeze, words
from .reference import find_pin, find_references
from .reference import new_pin as _new_pin

MAX_ANSWER = 2000  # characters kept of one answer; Twilio's own limit is 1,600
MAX_DESCRIPTION = 16_000  # a story told in many messages: ten full ones
ECHO_WIDTH = 40  # characters of an ADD echoed back in its confirmation
PLACE_LIST = 9  # in a place question: show the numbered list of places (and its next page)
PICKING = "_picking_place"  # where a reporter is in the list of places, kept with the answers
WHICH = "_which_place"  # typed words that named several places: the choice offered
TOLD = "_told"  # the reporter has told what happened: the "what" questions are passed over
SUSPENDED = "_suspended"  # the question an interrupted report was at, while it is offered back
RESUME = "_resume"  # the state of a conversation offering an interrupted report back
RESUME_ASK = "ask_resume"  # its message: the question words of "continue your report?" are under this key
DEFAULT_RESUME = timedelta(hours=24)
_FIRST_WORD = re.compile(r"[\W_]*[^\W_]*")
# Statuses a reporter may see; an operator's "spam" reads as closed to the sender.
REPORTER_STATUS = {"spam": "closed"}


@dataclass(frozen=True)
class Inbound:
    """One message from a reporter, already stripped of everything that identifies them."""

    text: str
    channel: str = "sms"  # "sms" or "whatsapp"
    media_count: int = 0
    location: str | None = None  # a location shared on WhatsApp, as words or "lat,lon"
    opt_out: str | None = None  # Twilio Advanced Opt-Out's OptOutType (STOP, START, HELP)
    # Whether the provider itself confirms its opt-out words (Twilio does on SMS); None: by channel.
    provider_answers_stop: bool | None = None


@dataclass
class Conversation:
    """Where one sender stands. Serialisable with `to_dict` / `from_dict`."""

    state: str | None = None  # None: the next message starts from the welcome
    language: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    tip: str | None = None  # reference of the report being written, once it is kept
    lesson: int = 0
    last_seen: datetime | None = None
    opted_out: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"answers": self.answers, "tip": self.tip, "lesson": self.lesson}

    @classmethod
    def from_row(cls, state, language, data, last_seen, opted_out) -> Conversation:
        data = data or {}
        return cls(
            state=state,
            language=language,
            answers=dict(data.get("answers") or {}),
            tip=data.get("tip"),
            lesson=int(data.get("lesson") or 0),
            last_seen=last_seen,
            opted_out=bool(opted_out),
        )


# Events: what the caller must do besides replying.
@dataclass(frozen=True)
class SaveTip:
    """Create or update the tip `reference` with `fields` (the whole report so far).

    `pin` comes once, when the report is sent: the caller keeps only a keyed hash of it.
    """

    reference: str
    fields: dict[str, Any]
    pin: str | None = None
    place_unmatched: bool = False  # words given as the place in this message name no place in the list

    def __repr__(self) -> str:  # the PIN never reaches a log line
        return f"SaveTip(reference={self.reference!r}, fields={sorted(self.fields)!r})"


@dataclass(frozen=True)
class DiscardTip:
    """Delete the unfinished tip `reference` (quick exit or Delete), which nobody has acted on yet."""

    reference: str


@dataclass(frozen=True)
class WithdrawTip:
    """The reporter asked to delete `reference`, but it was passed on or acted on: keep it, marked."""

    reference: str


@dataclass(frozen=True)
class AddToTip:
    reference: str
    text: str


@dataclass(frozen=True)
class Escalate:
    """A child is in danger now: the tip must reach partners at once."""

    reference: str


@dataclass(frozen=True)
class Subscribe:
    """The sender agreed to be a community watch volunteer for `place` in `language`."""

    language: str
    place: str | None
    place_code: str | None


@dataclass(frozen=True)
class ShareIdea:
    """IDEA <text>: a community suggestion, kept under the sender's pseudonym."""

    text: str
    language: str


@dataclass(frozen=True)
class ForgetContact:
    """Delete every contact address this sender left (STOP or EXIT)."""


# Every event the engine may put in a Turn; the service has one handler for each (a test holds them equal).
EVENTS = (SaveTip, DiscardTip, WithdrawTip, AddToTip, Escalate, Subscribe, ShareIdea, ForgetContact)


@dataclass(frozen=True)
class Turn:
    conversation: Conversation
    replies: list[str]
    events: list[object]


@dataclass(frozen=True)
class Access:
    """Whether a sender may read or add to a tip: their own, or the PIN given with its reference."""

    granted: bool
    pin_used: bool = False  # the digits after the reference were its PIN, not words to add


class TipDirectory(Protocol):
    """What the engine may ask about stored tips; the caller answers from its store."""

    def status_of(self, reference: str) -> str | None: ...

    def access(self, reference: str, pin: str | None) -> Access:
        """Own tip (same sender), or the right PIN (a wrong one counts against the tip)."""

    def handling(self, reference: str) -> str:
        """"passed_on" (a partner or the on-call number has it), "in_hand" (staff acted) or "none"."""

    def urgent_route(self, fields: dict[str, Any]) -> bool:
        """Whether an urgent tip with these fields reaches a person now (partner or on-call)."""


class NoTips:
    """A directory with nothing in it (practice chat, the flows check): nothing is claimed."""

    def status_of(self, reference: str) -> None:
        return None

    def access(self, reference: str, pin: str | None) -> Access:
        return Access(False)

    def handling(self, reference: str) -> str:
        return "none"

    def urgent_route(self, fields: dict[str, Any]) -> bool:
        return False


def words_of(text: str) -> list[str]:
    """The words keywords and answers are read from: "Stop." and "Halo, saya..." give STOP and HALO."""
    return words(text)


def command_of(flow: Flow, language: str, text: str) -> str | None:
    """The command a message gives whatever the state (MENU, STOP, EXIT, ADD, STATUS, IDEA...), or None.

    Answer words (YES, NO, SKIP...) are not commands. Whoever takes a message outside the
    conversation (an answer to an operator's question) must let these through to `step`.
    """
    found = words_of(text)
    if not found:
        return None
    first = flow.keyword(language, found[0])
    if first in ("ADD", "STATUS", "IDEA"):
        return first
    return first if len(found) == 1 else None


def is_panic(flow: Flow, text: str) -> bool:
    """A call for help (TOLONG, SOS, "help me" ...): it goes to the conversation, never elsewhere."""
    return flow.signals.is_panic(text)


def is_story(flow: Flow, text: str) -> bool:
    """Someone telling what happened, in any language of the flow."""
    return flow.signals.is_story(text)


def is_report_state(flow: Flow, state: str | None) -> bool:
    """A state of the report (flow.yaml's report states), or the offer to resume one."""
    return state == RESUME or state in flow.report_states


def in_report(flow: Flow, conversation: Conversation, now: datetime) -> bool:
    """The sender is writing a report now (not gone quiet): their next message belongs to it."""
    if not is_report_state(flow, conversation.state):
        return False
    return conversation.last_seen is None or now - conversation.last_seen < flow.idle


def step(
    flow: Flow,
    conversation: Conversation,
    inbound: Inbound,
    now: datetime,
    *,
    tips: TipDirectory,
    new_reference: Callable[[], str],
    new_pin: Callable[[], str] = _new_pin,
    resume_window: timedelta = DEFAULT_RESUME,
) -> Turn:
    """Advance `conversation` by one inbound message."""
    return _Step(flow, conversation, inbound, now, tips, new_reference, new_pin, resume_window).run()


def merge_replies(replies: list[str]) -> list[str]:
    """Join replies of one turn into fewer messages when that costs no more segments.

    "Noted." and the next question in one SMS cost one segment instead of two; a join is made
    only when the result stays within two segments and costs no more than the parts.
    """
    merged: list[str] = []
    for reply in replies:
        if merged:
            joined = f"{merged[-1]}\n{reply}"
            if gsm.segments(joined) <= min(2, gsm.segments(merged[-1]) + gsm.segments(reply)):
                merged[-1] = joined
                continue
        merged.append(reply)
    return merged


class _Step:
    def __init__(self, flow, conversation, inbound, now, tips, new_reference, new_pin, resume_window):
        self.flow: Flow = flow
        self.conv: Conversation = replace(conversation, answers=dict(conversation.answers))
        self.inbound: Inbound = inbound
        self.now: datetime = now
        self.tips: TipDirectory = tips
        self.new_reference = new_reference
        self.new_pin = new_pin
        self.resume_window = resume_window
        self.replies: list[str] = []
        self.events: list[object] = []
        self.place_unmatched = False
        self.text = " ".join(inbound.text.split())
        self.words = words_of(self.text)
        # The report fields the engine treats apart, by their role in flow.yaml.
        self.danger = flow.field_named("danger")
        self.story = flow.field_named("story")
        self.place_field = flow.field_named("place")

    # ---- entry point -------------------------------------------------------------------
    def run(self) -> Turn:
        conv = self.conv
        first = conv.state is None
        if conv.language not in self.flow.languages:
            conv.language = self.flow.detect_language(self.words)
        offer_resume = False
        if not first and conv.last_seen and self.now - conv.last_seen >= self.flow.idle:
            if self._report_open() and self.now - conv.last_seen < self.resume_window:
                if conv.state != RESUME:
                    conv.answers[SUSPENDED] = conv.state
                    conv.state = RESUME
                offer_resume = True
            else:
                self._leave_report()  # kept as an unfinished tip already; start over
                conv.state = None
                first = True
        conv.last_seen = self.now

        keyword = self._whole_keyword()
        if self.inbound.opt_out == "STOP" or keyword == "STOP":
            return self._stop()
        if conv.opted_out and (keyword == "START" or self.words == ["YES"] or self.inbound.opt_out == "START"):
            conv.opted_out = False
            return self._welcome()
        if keyword == "EXIT":
            return self._exit()
        command = self.flow.keyword(self.lang, self.words[0]) if self.words else None
        if command in ("ADD", "STATUS") and self._reference_command(command):
            return self._turn()
        if command == "IDEA":
            return self._idea()
        if keyword in ("START", "MENU", "HELP", "LANG", "JOIN") and conv.state == RESUME:
            self._unsuspend()
        if keyword == "START":
            self._leave_report()
            return self._welcome()
        if keyword == "MENU":
            self._leave_report()
            return self._jump("to_menu")
        if keyword == "HELP":
            return self._jump("to_help")
        if keyword == "LANG":
            return self._jump("to_language")
        if keyword == "JOIN" and self.flow.roles.get("join"):
            self._leave_report()
            return self._jump("to_join")

        if self._panic():
            return self._turn()
        if self.inbound.media_count:
            self._media()
            if self._caption_kept(offer_resume):
                return self._turn()
        if self.inbound.location and self._location_kept(offer_resume):
            return self._turn()
        if offer_resume:
            self._offer_resume()
            return self._turn()
        if first:
            if self.text and self.flow.signals.is_story(self.text):
                return self._start_story()
            return self._welcome()
        if conv.state == RESUME:
            self._answer_resume()
            return self._turn()
        if not self.text and self.inbound.location is None:
            if not self.inbound.media_count:
                self._ask(self.spec)
            return self._turn()
        if not is_report_state(self.flow, conv.state) and self.spec.answer not in ("place", "text") \
                and self.flow.signals.is_story(self.text):
            return self._start_story()  # a story where a menu choice was expected
        self._answer(self.spec)
        return self._turn()

    # ---- helpers ---------------------------------------------------------------------------
    @property
    def lang(self) -> str:
        return self.conv.language

    @property
    def spec(self) -> StateSpec:
        return self.flow.states[self.conv.state]

    def say(self, key: str, **values: Any) -> None:
        self.replies.append(self.flow.say(self.lang, key, **values))

    def _turn(self) -> Turn:
        return Turn(self.conv, merge_replies(self.replies), self.events)

    def _reading(self, spec: StateSpec | None = None) -> Answer | None:
        return self.flow.lexicons[self.lang].answer(self.text, spec.ask if spec else None)

    def _whole_keyword(self) -> str | None:
        if len(self.words) != 1:
            return None
        keyword = self.flow.keyword(self.lang, self.words[0])
        return keyword if keyword not in ("ADD", "STATUS", "IDEA") else None

    def _send(self, event: str) -> None:
        """Move through the chart; the chart refuses a transition the flow does not have."""
        self.conv.state = self.flow.transition(self.conv.state or self.flow.initial, event)

    def _jump(self, event: str) -> Turn:
        if self.conv.state is None:
            self.conv.state = self.flow.initial
        self._send(event)
        self._enter()
        return self._turn()

    def _welcome(self) -> Turn:
        self.conv.state = self.flow.initial
        welcome = self.flow.say(self.lang, "welcome")
        self.replies.append(f"{welcome}\n{self._prompt(self.spec)}")
        return self._turn()

    def _in_report(self) -> bool:
        return is_report_state(self.flow, self.conv.state)

    def _report_open(self) -> bool:
        """A report with something in it, that the reporter may want back."""
        return self._in_report() and (self.conv.tip is not None or self._has_content())

    def _has_letters(self) -> bool:
        """Words worth keeping: more than digits, greetings, answer words and "I have told it all"
        ("umurnya 14 thn", not "9", "ok", "halo" or "udah")."""
        greetings = self.flow.signals.greetings
        if all(is_number(w) or squeeze(w) in greetings for w in self.words) or self.flow.signals.is_done(self.text):
            return False
        reading = self._reading()
        return reading is None or reading.extra > 0

    # ---- global keywords ---------------------------------------------------------------------
    def _stop(self) -> Turn:
        """Opt-out: an unfinished report is kept; confirmed unless the provider confirms it itself."""
        self._leave_report()
        self.events.append(ForgetContact())
        self.conv.state = None
        self.conv.opted_out = True
        provider_answers = self.inbound.provider_answers_stop
        if provider_answers is None:
            provider_answers = self.inbound.channel == "sms"
        carrier_word = self.inbound.opt_out == "STOP" or (
            len(self.words) == 1 and self.words[0] in self.flow.carrier_stop_words
        )
        if not (provider_answers and carrier_word):
            self.say("stopped")  # BERHENTI, or STOP on WhatsApp: nobody else tells them it worked
        return self._turn()

    def _exit(self) -> Turn:
        """Quick exit: end now, drop the unfinished report unless it was passed on, keep no contact."""
        kept = self._end_report()
        self.events.append(ForgetContact())
        self.conv.state = None
        if kept:
            self.say(kept)
        self.say("exit")
        return self._turn()

    def _reference_command(self, command: str) -> bool:
        """ADD and STATUS with the reference typed any way; the sender's own tip, or with its PIN."""
        rest = unicodedata.normalize("NFKC", self.text)
        rest = rest[_FIRST_WORD.match(rest).end():]  # "STATUS:VQEG-8GK3" and "status VQEG 8GK3" alike
        readings = find_references(rest)
        if not readings:
            if len(self.words) == 1:  # the bare word: show how to use it
                self.say("add_usage" if command == "ADD" else "status_usage")
                return True
            return False  # ordinary words that start with "add" or "cek": not a command
        # Several readings can fit ("saya ABCD EFGH"): the sender's own tip among them, else the likeliest.
        reference, end = next(((r, e) for r, e in readings if self.tips.access(r, None).granted), readings[0])
        after = rest[end:]
        pin = find_pin(after, anywhere=command == "STATUS")
        access = self.tips.access(reference, pin[0] if pin else None)
        if not access.granted:
            # The same words whether the tip is missing, someone else's or the PIN wrong: nothing leaks.
            self.say("access_denied", reference=reference)
            return True
        if command == "ADD":
            text = (pin[1] if pin and access.pin_used else after).strip(" \t:;,.-")
            if not text:
                self.say("add_usage")
                return True
            self.events.append(AddToTip(reference, text[:MAX_ANSWER]))
            self.say("add_done", reference=reference, added=_clip(text, ECHO_WIDTH))
            return True
        status = self.tips.status_of(reference) or "new"
        shown = REPORTER_STATUS.get(status, status)
        self.say(f"status_{shown}", reference=reference)
        return True

    def _idea(self) -> Turn:
        text = self.text.split(" ", 1)[1].strip() if len(self.words) > 1 else ""
        if not text:
            self.say("idea_usage")
        else:
            self.events.append(ShareIdea(text[:MAX_ANSWER], self.lang))
            self.say("idea_thanks")
        return self._turn()

    # ---- panic, stories, photos, locations, coming back ------------------------------------------
    def _panic(self) -> bool:
        """TOLONG, SOS, "help me": the numbers at once and an urgent report, from any state."""
        in_report = self._in_report()
        danger = self.conv.answers.get(self.danger) if in_report else None
        if danger is True:
            return False  # already urgent and passed on: an answer to the question like any other
        # Someone who said no child is in danger writes "tolong ..." politely; only a bare cry counts.
        if not self.flow.signals.is_panic(self.text, strict=danger is False):
            return False
        if self.conv.state == RESUME:
            self._unsuspend(keep=True)
        if not in_report:
            self._leave_report()
        if not self.flow.signals.only_panic(self.text):
            self._keep_words(self.text, saved=False)
        if self.inbound.media_count:
            self._count_media()
        self.conv.answers[self.danger] = True
        self.conv.answers.pop(PICKING, None)
        self.conv.answers.pop(WHICH, None)
        self._urgent()
        self.events.append(Escalate(self._save(complete=False)))
        if self.conv.state is None:
            self.conv.state = self.flow.initial
        self._send("to_urgent")
        self._enter()
        return True

    def _urgent(self) -> None:
        """The numbers first; "passed on" only when a partner or the on-call number will get it."""
        routed = self.tips.urgent_route(self._fields(complete=False))
        self.say("urgent" if routed else "urgent_unrouted")

    def _start_story(self) -> Turn:
        """A story where a menu choice was expected: it starts a report, the words kept."""
        self._leave_report()
        if self.conv.state is None:
            self.conv.state = self.flow.initial
        self._keep_words(self.text, saved=True)
        self.say("kept_story")
        self._send("to_report")
        self._enter()
        return self._turn()

    def _keep_words(self, text: str, *, saved: bool = True) -> None:
        """Add what the reporter wrote to the description, whatever its length; nothing replaces it."""
        previous = self.conv.answers.get(self.story)
        self.conv.answers[self.story] = (f"{previous}\n{text}" if previous else text)[:MAX_DESCRIPTION]
        if self.flow.signals.is_story(text):
            self.conv.answers[TOLD] = True
        if saved:
            self._save(complete=False)

    def _count_media(self) -> None:
        self.conv.answers["media_count"] = self.conv.answers.get("media_count", 0) + self.inbound.media_count

    def _media(self) -> None:
        """Images of children are never wanted: ask for words instead; keep only the count."""
        self.say("media_warning")
        if self._in_report():
            self._count_media()
            self._save(complete=False)

    def _caption_kept(self, offer_resume: bool) -> bool:
        """A photo's caption in a report is added to the description, never taken as an answer."""
        if not self.text:
            return False
        if self._in_report():
            self._keep_words(self.text)
            self.say("kept_text")
            if offer_resume:
                self.say("ask_resume")
            else:
                self._again_or_resume()
            return True
        if self.flow.signals.is_story(self.text):
            self._start_story()
            return True
        return False

    def _location_kept(self, offer_resume: bool) -> bool:
        """A location shared at any question of a report is its location (at a place question, the answer)."""
        if self.place_field is None or not self._in_report() or (
            self.conv.state != RESUME and self.spec.answer == "place"
        ):
            return False
        self.conv.answers.pop(PICKING, None)
        self.conv.answers.pop(WHICH, None)
        code = self._code_of(self.inbound.location)
        self._set_place(self.place_field, self._shared_place(), code)
        self.place_unmatched = code is None and bool(self.flow.places)
        self._save(complete=False)
        self.say("location_kept")
        if offer_resume:
            self._offer_resume()
        else:
            self._again_or_resume()
        return True

    def _again_or_resume(self) -> None:
        if self.conv.state == RESUME:
            self.say("ask_resume_again")
        else:
            self._again(self.spec)

    def _offer_resume(self) -> None:
        """The first message after a long silence in a report: keep its words, offer the report back."""
        if self.flow.lexicons[self.lang].own_answer(self.text, RESUME_ASK) is not None:
            # "lanjut", "mulai lagi": the answer to the offer, given before it is made.
            return self._answer_resume()
        if self._has_letters():
            self._keep_words(self.text)
            self.say("kept_text")
        self.say("ask_resume")

    def _unsuspend(self, *, keep: bool = False) -> None:
        """Leave the offer to resume: back at the question (keep), or out of the report."""
        suspended = self.conv.answers.pop(SUSPENDED, None)
        if keep and suspended in self.flow.states:
            self.conv.state = suspended
        else:
            self._leave_report()
            self.conv.state = self.flow.initial

    def _answer_resume(self) -> None:
        reading = self.flow.lexicons[self.lang].answer(self.text, RESUME_ASK)  # "lanjut", "mulai lagi" too
        meaning = reading.meaning if reading else None
        if meaning in ("1", "YES"):
            self._unsuspend(keep=True)
            if self.conv.answers.get(WHICH):
                return self._show_which(self.conv.answers[WHICH])
            if self.conv.answers.get(PICKING):
                return self._show_places(self.conv.answers[PICKING])
            return self._ask(self.spec)
        if meaning in ("2", "NO"):
            self._unsuspend()  # the unfinished report stays kept for operators
            self._welcome()
            return None
        if self._has_letters():
            self._keep_words(self.text)
            self.say("kept_text")
        self.say("ask_resume_again")
        return None

    # ---- states ------------------------------------------------------------------------------
    def _prompt(self, spec: StateSpec) -> str:
        if spec.answer == "lessons":
            return self.flow.lesson(self.lang, self.conv.lesson)
        if spec.answer == "language":
            return self.flow.say(self.lang, spec.ask, languages=self._languages("\n"))
        if spec.name == self.flow.roles.get("confirm"):
            return self.flow.say(self.lang, spec.ask, **self._summary())
        if spec.answer == "place" and self.inbound.channel == "whatsapp":
            key = f"{spec.ask}_whatsapp"
            if key in self.flow.languages[self.lang].messages:
                return self.flow.say(self.lang, key)
        return self.flow.say(self.lang, spec.ask)

    def _languages(self, separator: str) -> str:
        return separator.join(f"{i} {lang.name}" for i, lang in enumerate(self.flow.languages.values(), start=1))

    def _ask(self, spec: StateSpec) -> None:
        self.replies.append(self._prompt(spec))

    def _again(self, spec: StateSpec) -> None:
        """One line that says which answers are wanted, instead of the whole question again."""
        if self.conv.answers.get(WHICH) or self.conv.answers.get(PICKING):
            self.say("place_again")
        elif f"{spec.ask}_again" in self.flow.languages[self.lang].messages:
            self.say(f"{spec.ask}_again", languages_inline=self._languages(", "))
        else:
            self._ask(spec)

    def _answered(self, spec: StateSpec) -> bool:
        """The report has this answer already (a place shared earlier, a story told at the start)."""
        if not spec.field or not self._in_report():
            return False
        if spec.field == self.story:
            return bool(self.conv.answers.get(TOLD))
        return self.conv.answers.get(spec.field) is not None

    def _enter(self) -> None:
        """Say what the new state asks, passing over questions the report has answered already."""
        for _ in self.flow.states:  # at most once round the flow, whatever flow.yaml says
            if not self.spec.is_question or not (
                self._answered(self.spec) or (self.spec.skip_when_urgent and self._urgent_now())
            ):
                break
            self._send("skip")
        self._ask(self.spec)

    def _go(self, event: str) -> None:
        before = self.conv.state
        self._send(event)
        target = self.conv.state
        if is_report_state(self.flow, target) and not is_report_state(self.flow, before):
            self._leave_report()
        lessons = self.flow.roles.get("lessons")
        if target == lessons and before != lessons:
            self.conv.lesson = 0
        self._enter()

    def _answer(self, spec: StateSpec) -> None:
        getattr(self, f"_answer_{spec.answer}")(spec)

    def _not_understood(self, spec: StateSpec) -> None:
        if self._in_report() and self.conv.answers.get(self.story) and self.flow.signals.is_done(self.text):
            return self._ask(spec)  # "udah", "itu aja" after a story told in several messages: the question, whole
        if self._in_report() and self._has_letters():
            # Someone wrote their story where a number was expected: keep it, ask again briefly.
            self._keep_words(self.text)
            self.say("kept_text")
        self._again(spec)

    def _option(self, spec: StateSpec) -> str | None:
        reading = self._reading(spec)
        if reading is None:
            return None
        if reading.meaning in spec.options:
            return reading.meaning
        return next((digit for digit, option in spec.options.items() if reading.meaning in option.means), None)

    def _answer_menu(self, spec: StateSpec) -> None:
        digit = self._option(spec)
        if digit is None:
            return self._not_understood(spec)
        option = spec.options[digit]
        if option.do == "submit":
            self._submit()
        elif option.do == "discard":
            self.say(self._end_report() or "discarded")
        if option.do:
            # The closing words already end the report; the menu is one digit away and
            # sending it again would cost the reporter another segment.
            self._send(f"pick_{digit}")
        else:
            self._go(f"pick_{digit}")

    def _answer_lessons(self, spec: StateSpec) -> None:
        digit = self._option(spec)
        if digit is None:
            return self._not_understood(spec)
        if spec.options[digit].to == spec.name:  # "next"
            if self.conv.lesson + 1 >= self.flow.lesson_count(self.lang):
                self.say("lessons_done")
                self.conv.lesson = 0
                return self._go("to_menu")
            self.conv.lesson += 1
        self._go(f"pick_{digit}")

    def _answer_language(self, spec: StateSpec) -> None:
        codes = list(self.flow.languages)
        reading = self._reading(spec)
        number = reading.number if reading else None
        if number is None or not 1 <= number <= len(codes):
            return self._not_understood(spec)
        self.conv.language = codes[number - 1]
        self.say("language_set")
        self._go("answer")

    def _is_skip(self, reading: Answer | None, *, whole: bool = False) -> bool:
        return reading is not None and reading.meaning in ("0", "SKIP") and (reading.extra == 0 or not whole)

    def _answer_yes_no(self, spec: StateSpec) -> None:
        reading = self._reading(spec)
        if self._is_skip(reading):
            return self._record(spec, None, "skip")
        meaning = reading.meaning if reading else None
        value = True if meaning in ("1", "YES") else False if meaning in ("2", "NO") else None
        if value is None:
            return self._not_understood(spec)
        if reading.extra and self._in_report() and self.flow.signals.is_story(self.text):
            self._keep_words(self.text, saved=False)  # "iya, ada anak dikurung": the yes and the words
        if value is False and spec.on_no:
            self.say(f"{spec.ask}_declined")
            self.conv.answers = {}
            return self._send("decline")
        event = "answer_yes" if value and spec.yes_next else "answer"
        if value is True and spec.on_yes == "urgent":
            self.conv.answers[spec.field] = True
            self._urgent()  # the numbers first, before anything else is asked
            self._record(spec, True, event)
            self.events.append(Escalate(self.conv.tip))
            return None
        self._record(spec, value, event)

    def _answer_choice(self, spec: StateSpec) -> None:
        reading = self._reading(spec)
        if self._is_skip(reading):
            return self._record(spec, None, "skip")
        if reading is None or reading.meaning not in spec.choices:
            return self._not_understood(spec)
        self._record(spec, spec.choices[reading.meaning], "answer")

    def _answer_text(self, spec: StateSpec) -> None:
        if self._is_skip(self._reading(spec), whole=True):  # "lewat jalan tol" is an answer, not a skip
            return self._record(spec, None, "skip")
        self._record(spec, self.text[:MAX_ANSWER], "answer")

    # ---- places --------------------------------------------------------------------------------
    def _answer_place(self, spec: StateSpec) -> None:
        picking = self.conv.answers.pop(PICKING, None)
        which = self.conv.answers.pop(WHICH, None)
        if self.inbound.location:
            return self._record_place(spec, self._shared_place(), self._code_of(self.inbound.location))
        reading = self._reading(spec)
        number = reading.number if reading and not reading.extra else None
        if which is not None:
            return self._answer_which(spec, number, which)
        if picking is not None:
            return self._answer_picker(spec, number, picking)
        if number == PLACE_LIST and self.flow.places:
            return self._show_places({"parent": None, "page": 0})
        if self._is_skip(reading, whole=True):
            return self._record(spec, None, "skip")
        self._place_words(spec, self.text[:MAX_ANSWER])

    def _shared_place(self) -> str:
        place = f"{self.text} ({self.inbound.location})" if self.text else self.inbound.location
        return place[:MAX_ANSWER]

    def _code_of(self, words: str | None) -> str | None:
        """The place code of words that name one place for sure (a shared location's address)."""
        if not words or not self.flow.places:
            return None
        match = self.flow.match_place(words)
        return match.place.code if match.kind == "confident" else None

    def _place_words(self, spec: StateSpec, text: str, parent=None) -> None:
        """Typed words: matched to the places list; several matches are asked back, none kept as typed."""
        if not self.flow.places:
            return self._record_place(spec, text, None)
        match = self.flow.match_place(text, within=parent.code if parent else None)
        named = f"{text}, {parent.name}" if parent else text
        if match.kind == "confident":
            return self._record_place(spec, named, match.place.code)
        if match.kind == "ambiguous":
            return self._show_which({"codes": [p.code for p in match.candidates], "page": 0, "words": named,
                                     "parent": parent.code if parent else None})
        self._record_place(spec, named, parent.code if parent else None)  # "place not matched" for operators

    def _show_places(self, picking: dict) -> None:
        """Numbered pages of the deployment's places, for phones without GPS."""
        self.conv.answers[PICKING] = picking
        pages = self.flow.place_pages(self.lang, picking["parent"])
        self.replies.append(self.flow.place_menu(self.lang, picking["parent"], pages[picking["page"] % len(pages)]))

    def _show_which(self, which: dict) -> None:
        """The places typed words may mean, numbered, alphabetical, 9 for the next page."""
        self.conv.answers[WHICH] = which
        pages = self.flow.which_pages(self.lang, self._candidates(which))
        page = pages[which["page"] % len(pages)]
        self.replies.append(self.flow.which_menu(self.lang, page, more=len(pages) > 1))

    def _candidates(self, which: dict) -> tuple:
        return tuple(p for p in (self.flow.place(c) for c in which["codes"]) if p is not None)

    def _answer_which(self, spec: StateSpec, number: int | None, which: dict) -> None:
        pages = self.flow.which_pages(self.lang, self._candidates(which))
        page = pages[which["page"] % len(pages)] if pages else ()
        if number == PLACE_LIST and len(pages) > 1:
            return self._show_which({**which, "page": (which["page"] + 1) % len(pages)})
        if number == 0 or self._is_skip(self._reading(spec), whole=True):  # none of these: keep the words
            return self._record_place(spec, which["words"], which.get("parent"))
        if number is not None and 1 <= number <= len(page):
            return self._record_place(spec, which["words"], page[number - 1].code)
        if self._has_letters():  # other words: read them as the place instead
            return self._place_words(spec, self.text[:MAX_ANSWER])
        self.say("place_again")
        self._show_which(which)

    def _answer_picker(self, spec: StateSpec, number: int | None, picking: dict) -> None:
        parent = self.flow.place(picking["parent"])
        pages = self.flow.place_pages(self.lang, picking["parent"])
        page = pages[picking["page"] % len(pages)]
        if number == PLACE_LIST:  # more
            return self._show_places({**picking, "page": (picking["page"] + 1) % len(pages)})
        if number == 0 or self._is_skip(self._reading(spec), whole=True):
            if parent is None:
                return self._record(spec, None, "skip")
            return self._record_place(spec, parent.name, parent.code)  # "not sure": the province will do
        if number is not None:
            if not 1 <= number <= len(page):
                self.say("place_again")
                return self._show_places(picking)
            chosen = page[number - 1]
            if parent is None and chosen.children:
                return self._show_places({"parent": chosen.code, "page": 0})
            name = f"{chosen.name}, {parent.name}" if parent else chosen.name
            return self._record_place(spec, name, chosen.code)
        if not self._has_letters():
            self.say("place_again")
            return self._show_places(picking)
        # Words instead of a number: the reporter's own description of the place wins.
        self._place_words(spec, self.text[:MAX_ANSWER], parent)

    def _set_place(self, field_name: str, name: str, code: str | None) -> None:
        self.conv.answers[field_name] = name
        self.conv.answers[f"{field_name}_code"] = code

    def _record_place(self, spec: StateSpec, name: str, code: str | None) -> None:
        self.conv.answers[f"{spec.field}_code"] = code
        self.place_unmatched = code is None and bool(self.flow.places)
        self._record(spec, name, "answer")

    # ---- the report ----------------------------------------------------------------------------
    def _record(self, spec: StateSpec, value: Any, event: str) -> None:
        previous = self.conv.answers.get(spec.field)
        if spec.field == self.story and value is not None:
            self.conv.answers[TOLD] = True
            if previous:
                value = f"{previous}\n{value}"[:MAX_DESCRIPTION]  # text kept earlier stays first
        if value is not None or spec.field not in self.conv.answers:
            self.conv.answers[spec.field] = value
        if self._in_report() and self._has_content():
            self._save(complete=False)
        if spec.then == "subscribe":
            self._subscribe()
            return self._send(event)  # the closing words are enough; the menu is one digit away
        self._go(event)

    def _subscribe(self) -> None:
        answers = self.conv.answers
        self.events.append(Subscribe(self.lang, answers.get("place"), answers.get("place_code")))
        self.say("join_done")
        self.conv.answers = {}

    def _has_content(self) -> bool:
        answers = self.conv.answers
        return self._urgent_now() or any(
            answers.get(f.name) is not None for f in self.flow.fields.values() if f.role not in ("danger", "contact")
        )

    def _urgent_now(self) -> bool:
        """The reporter said a child is in danger right now (or wrote panic words)."""
        return self.conv.answers.get(self.danger) is True

    def _fields(self, complete: bool) -> dict[str, Any]:
        answers = self.conv.answers
        return {
            "urgency": "immediate" if self._urgent_now() else "normal",
            **{f.name: answers.get(f.name) for f in self.flow.fields.values() if f.role != "danger"},
            **{f.name: answers.get(f.name) is True for f in self.flow.fields.values() if f.role == "contact"},
            "place_code": answers.get(f"{self.place_field}_code"),
            "media_count": answers.get("media_count", 0),
            "complete": complete,
            "channel": self.inbound.channel,
            "language": self.lang,
        }

    def _save(self, *, complete: bool, pin: str | None = None) -> str:
        if self.conv.tip is None:
            self.conv.tip = self.new_reference()
        self.events.append(SaveTip(self.conv.tip, self._fields(complete), pin, self.place_unmatched))
        return self.conv.tip

    def _submit(self) -> None:
        pin = self.new_pin()
        reference = self._save(complete=True, pin=pin)
        self.say("submitted", reference=reference, pin=pin)
        self.conv.answers, self.conv.tip = {}, None

    def _leave_report(self) -> None:
        """Stop writing the current report; what was kept stays, marked unfinished."""
        self.conv.answers, self.conv.tip = {}, None

    def _end_report(self) -> str | None:
        """EXIT or Delete: drop the unfinished report, unless it was passed on or acted on.

        Returns the message that says why it was kept, or None when nothing was kept.
        """
        reference, urgent = self.conv.tip, self._urgent_now()
        self._leave_report()
        if reference is None:
            return None
        handling = self.tips.handling(reference)
        if handling == "none" and not urgent:
            self.events.append(DiscardTip(reference))
            return None
        # A child may depend on it, or staff already work on it: kept, marked as withdrawn.
        self.events.append(WithdrawTip(reference))
        return {"passed_on": "kept_passed_on", "in_hand": "kept_in_hand"}.get(handling, "kept_danger")

    def _summary(self) -> dict[str, str]:
        answers = self.conv.answers

        def shown(field: FieldSpec) -> str:
            value = answers.get(field.name)
            if value is None:
                return self.flow.say(self.lang, "summary_skipped")
            if value is True or value is False:
                return self.flow.say(self.lang, "summary_yes" if value else "summary_no")
            if field.kind == "choice":
                return self.flow.say(self.lang, f"{field.name}_{value}")
            return _clip(str(value), field.summary)

        return {field.name: shown(field) for field in self.flow.fields.values()}


def _clip(text: str, width: int) -> str:
    """A reporter's words echoed back: one line, GSM-7 only, at most `width` characters."""
    flat = " ".join(gsm.to_gsm7(text).split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."
