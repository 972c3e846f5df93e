"""The conversation engine: one inbound message in, the new state, replies and events out.

Pure on purpose: no web, storage or Twilio imports, and `now` comes from the caller. What must
happen outside the conversation (keep a tip, drop one, escalate) leaves as events in the Turn,
and the caller stores everything in one transaction. Tests drive it with a fixed clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from .flow import Flow, StateSpec
from .reference import parse_reference

WORD_PUNCTUATION = ".,!?;:'\"()[]*_~"
MAX_ANSWER = 2000  # characters kept of one answer; Twilio's own limit is 1,600
SUMMARY_WIDTH = {"description": 50}
SUMMARY_DEFAULT_WIDTH = 30
REPORT = "report_"  # states whose answers make up a tip
PLACE_LIST = "9"  # in a place question: show the numbered list of places (and its next page)
PICKING = "_picking_place"  # where a reporter is in the list of places, kept with the answers
STRAY_TEXT_MIN = 20  # free text this long given to a numbered question is kept, not dropped
REPORT_FIELDS = ("category", "description", "location", "when", "children", "contact_consent")
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
    """Create or update the tip `reference` with `fields` (the whole report so far)."""

    reference: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class DiscardTip:
    """Delete the unfinished tip `reference` (quick exit or the reporter chose Delete)."""

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


@dataclass(frozen=True)
class Turn:
    conversation: Conversation
    replies: list[str]
    events: list[object]


class TipDirectory(Protocol):
    """What the engine may ask about stored tips: their status, nothing else."""

    def status_of(self, reference: str) -> str | None: ...


def words_of(text: str) -> list[str]:
    """The words keywords and answers are read from: "Stop." and "Halo, saya..." give STOP and HALO."""
    return [w for w in (w.strip(WORD_PUNCTUATION) for w in text.upper().split()) if w]


def command_of(flow: Flow, language: str, text: str) -> str | None:
    """The command a message gives whatever the state (MENU, STOP, EXIT, ADD, STATUS, IDEA...), or None.

    Answer words (YES, NO, SKIP) are not commands. Whoever takes a message outside the
    conversation (an answer to an operator's question) must let these through to `step`.
    """
    words = words_of(text)
    if not words:
        return None
    first = flow.keyword(language, words[0])
    if first in ("ADD", "STATUS", "IDEA"):
        return first
    if len(words) == 1 and first not in ("YES", "NO", "SKIP"):
        return first
    return None


def step(
    flow: Flow,
    conversation: Conversation,
    inbound: Inbound,
    now: datetime,
    *,
    tips: TipDirectory,
    new_reference: Callable[[], str],
) -> Turn:
    """Advance `conversation` by one inbound message."""
    return _Step(flow, conversation, inbound, now, tips, new_reference).run()


class _Step:
    def __init__(self, flow, conversation, inbound, now, tips, new_reference):
        self.flow: Flow = flow
        self.conv: Conversation = replace(conversation, answers=dict(conversation.answers))
        self.inbound: Inbound = inbound
        self.now: datetime = now
        self.tips: TipDirectory = tips
        self.new_reference = new_reference
        self.replies: list[str] = []
        self.events: list[object] = []
        self.text = " ".join(inbound.text.split())
        self.words = words_of(self.text)

    # ---- entry point -------------------------------------------------------------------
    def run(self) -> Turn:
        conv = self.conv
        first = conv.state is None
        if conv.language not in self.flow.languages:
            conv.language = self.flow.detect_language(self.words)
        if not first and conv.last_seen and self.now - conv.last_seen >= self.flow.idle:
            self._leave_report()  # kept as an unfinished tip already; start over
            conv.state = None
            first = True
        conv.last_seen = self.now

        keyword = self._whole_keyword()
        if self.inbound.opt_out == "STOP" or keyword == "STOP":
            return self._stop()
        if conv.opted_out and (keyword in ("START", "YES") or self.inbound.opt_out == "START"):
            conv.opted_out = False
            return self._welcome()
        if keyword == "EXIT":
            return self._exit()
        command = self.flow.keyword(conv.language, self.words[0]) if self.words else None
        if command in ("ADD", "STATUS") and self._reference_command(command):
            return self._turn()
        if command == "IDEA":
            return self._idea()
        if keyword in ("START",):
            self._leave_report()
            return self._welcome()
        if keyword == "MENU":
            self._leave_report()
            return self._jump("to_menu")
        if keyword == "HELP":
            return self._jump("to_help")
        if keyword == "LANG":
            return self._jump("to_language")
        if keyword == "JOIN" and "join" in self.flow.states:
            self._leave_report()
            return self._jump("to_join")

        if self.inbound.media_count:
            self._media()
        if first:
            return self._welcome()
        if not self.text and self.inbound.location is None:
            if not self.inbound.media_count:
                self._ask(self.spec)
            return self._turn()
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
        return Turn(self.conv, self.replies, self.events)

    def _whole_keyword(self) -> str | None:
        if len(self.words) != 1:
            return None
        keyword = self.flow.keyword(self.lang, self.words[0])
        return keyword if keyword not in ("SKIP", "YES", "NO", "ADD", "STATUS", "IDEA") else None

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

    # ---- global keywords ---------------------------------------------------------------------
    def _stop(self) -> Turn:
        """Opt-out: no reply at all (Twilio answers STOP itself); an unfinished report is kept."""
        self._leave_report()
        self.events.append(ForgetContact())
        self.conv.state = None
        self.conv.opted_out = True
        return Turn(self.conv, [], self.events)

    def _exit(self) -> Turn:
        """Quick exit: end now, drop the unfinished report, keep nothing to contact."""
        self._discard_report()
        self.events.append(ForgetContact())
        self.conv.state = None
        self.say("exit")
        return self._turn()

    def _reference_command(self, command: str) -> bool:
        rest = self.text.split(" ", 2)[1:]
        reference = parse_reference(rest[0]) if rest else None
        if reference is None:
            if len(self.words) == 1:  # the bare word: show how to use it
                self.say("add_usage" if command == "ADD" else "status_usage")
                return True
            return False  # ordinary words that start with "add": not a command
        status = self.tips.status_of(reference)
        if command == "ADD":
            text = rest[1].strip() if len(rest) > 1 else ""
            if not text:
                self.say("add_usage")
            elif status is None:
                self.say("not_found", reference=reference)
            else:
                self.events.append(AddToTip(reference, text[:MAX_ANSWER]))
                self.say("add_done", reference=reference)
        elif status is None:
            self.say("not_found", reference=reference)
        else:
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

    def _media(self) -> None:
        """Images of children are never wanted: ask for words instead; keep only the count."""
        self.say("media_warning")
        if self.conv.state and self.conv.state.startswith(REPORT):
            self.conv.answers["media_count"] = self.conv.answers.get("media_count", 0) + self.inbound.media_count
            self._save(complete=False)

    # ---- states ------------------------------------------------------------------------------
    def _prompt(self, spec: StateSpec) -> str:
        if spec.answer == "lessons":
            return self.flow.lesson(self.lang, self.conv.lesson)
        if spec.answer == "language":
            listing = "\n".join(
                f"{i} {lang.name}" for i, lang in enumerate(self.flow.languages.values(), start=1)
            )
            return self.flow.say(self.lang, spec.ask, languages=listing)
        if spec.name == "report_confirm" or spec.ask == "confirm":
            return self.flow.say(self.lang, spec.ask, **self._summary())
        if spec.answer == "place" and self.inbound.channel == "whatsapp":
            key = f"{spec.ask}_whatsapp"
            if key in self.flow.languages[self.lang].messages:
                return self.flow.say(self.lang, key)
        return self.flow.say(self.lang, spec.ask)

    def _ask(self, spec: StateSpec) -> None:
        self.replies.append(self._prompt(spec))

    def _enter(self) -> None:
        """Say what the new state asks; starting the report or the lessons resets them."""
        self._ask(self.spec)

    def _go(self, event: str) -> None:
        before = self.conv.state
        self._send(event)
        target = self.conv.state
        if target == "report_danger" and not (before or "").startswith(REPORT):
            self._leave_report()
        if target == "learn" and before != "learn":
            self.conv.lesson = 0
        self._enter()

    def _answer(self, spec: StateSpec) -> None:
        word = self.words[0] if len(self.words) == 1 else None
        handler = getattr(self, f"_answer_{spec.answer}")
        handler(spec, word)

    def _not_understood(self, spec: StateSpec) -> None:
        if spec.name.startswith(REPORT) and len(self.text) >= STRAY_TEXT_MIN:
            # Someone wrote their story where a number was expected: keep it, ask again.
            previous = self.conv.answers.get("description")
            self.conv.answers["description"] = (f"{previous}\n{self.text}" if previous else self.text)[:MAX_ANSWER * 2]
            self._save(complete=False)
            self.say("kept_text")
        else:
            self.say("not_understood")
        self._ask(spec)

    def _answer_menu(self, spec: StateSpec, word: str | None) -> None:
        option = spec.options.get(word or "")
        if option is None:
            return self._not_understood(spec)
        if option.do == "submit":
            self._submit()
        elif option.do == "discard":
            self._discard_report()
            self.say("discarded")
        if option.do:
            # The closing words already end the report; the menu is one digit away and
            # sending it again would cost the reporter another segment.
            self._send(f"pick_{word}")
        else:
            self._go(f"pick_{word}")

    def _answer_lessons(self, spec: StateSpec, word: str | None) -> None:
        option = spec.options.get(word or "")
        if option is None:
            return self._not_understood(spec)
        if option.to == spec.name:  # "next"
            if self.conv.lesson + 1 >= self.flow.lesson_count(self.lang):
                self.say("lessons_done")
                self.conv.lesson = 0
                return self._go("to_menu")
            self.conv.lesson += 1
        self._go(f"pick_{word}")

    def _answer_language(self, spec: StateSpec, word: str | None) -> None:
        codes = list(self.flow.languages)
        if word is None or not word.isdigit() or not 1 <= int(word) <= len(codes):
            return self._not_understood(spec)
        self.conv.language = codes[int(word) - 1]
        self.say("language_set")
        self._go("answer")

    def _yes_no(self, word: str | None) -> bool | None | str:
        if word == "1" or (word and self.flow.keyword(self.lang, word) == "YES"):
            return True
        if word == "2" or (word and self.flow.keyword(self.lang, word) == "NO"):
            return False
        return "?"

    def _is_skip(self, word: str | None) -> bool:
        return word == "0" or bool(word and self.flow.keyword(self.lang, word) == "SKIP")

    def _answer_yes_no(self, spec: StateSpec, word: str | None) -> None:
        if self._is_skip(word):
            return self._record(spec, None, "skip")
        value = self._yes_no(word)
        if value == "?":
            return self._not_understood(spec)
        if value is True and spec.on_yes == "urgent":
            self.say("urgent")  # the numbers first, before anything else is asked
        if value is False and spec.on_no:
            self.say(f"{spec.ask}_declined")
            self.conv.answers = {}
            return self._send("decline")
        self._record(spec, value, "answer")
        if value is True and spec.on_yes == "urgent":
            self.events.append(Escalate(self.conv.tip))

    def _answer_choice(self, spec: StateSpec, word: str | None) -> None:
        if self._is_skip(word):
            return self._record(spec, None, "skip")
        if word not in spec.choices:
            return self._not_understood(spec)
        self._record(spec, spec.choices[word], "answer")

    def _answer_text(self, spec: StateSpec, word: str | None) -> None:
        if self._is_skip(word):
            return self._record(spec, None, "skip")
        self._record(spec, self.text[:MAX_ANSWER], "answer")

    def _answer_place(self, spec: StateSpec, word: str | None) -> None:
        picking = self.conv.answers.pop(PICKING, None)
        if self.inbound.location:
            place = f"{self.text} ({self.inbound.location})" if self.text else self.inbound.location
            return self._record(spec, place[:MAX_ANSWER], "answer")
        if picking is not None:
            return self._answer_picker(spec, word, picking)
        if word == PLACE_LIST and self.flow.places:
            return self._show_places({"parent": None, "page": 0})
        self._answer_text(spec, word)

    def _show_places(self, picking: dict) -> None:
        """Numbered pages of the deployment's places, for phones without GPS."""
        self.conv.answers[PICKING] = picking
        pages = self.flow.place_pages(self.lang, picking["parent"])
        self.replies.append(self.flow.place_menu(self.lang, picking["parent"], pages[picking["page"]]))

    def _answer_picker(self, spec: StateSpec, word: str | None, picking: dict) -> None:
        parent = self.flow.place(picking["parent"])
        pages = self.flow.place_pages(self.lang, picking["parent"])
        page = pages[picking["page"] % len(pages)]
        if word == PLACE_LIST:  # more
            return self._show_places({**picking, "page": (picking["page"] + 1) % len(pages)})
        if self._is_skip(word):
            if parent is None:
                return self._record(spec, None, "skip")
            return self._record_place(spec, parent.name, parent.code)  # "not sure": the province will do
        if word and word.isdigit():
            if not 1 <= int(word) <= len(page):
                self.say("not_understood")
                return self._show_places(picking)
            chosen = page[int(word) - 1]
            if parent is None and chosen.children:
                return self._show_places({"parent": chosen.code, "page": 0})
            name = f"{chosen.name}, {parent.name}" if parent else chosen.name
            return self._record_place(spec, name, chosen.code)
        # Words instead of a number: the reporter's own description of the place wins.
        text = f"{self.text}, {parent.name}" if parent else self.text
        self._record_place(spec, text[:MAX_ANSWER], parent.code if parent else None)

    def _record_place(self, spec: StateSpec, name: str, code: str | None) -> None:
        self.conv.answers[f"{spec.field}_code"] = code
        self._record(spec, name, "answer")

    # ---- the report ----------------------------------------------------------------------------
    def _record(self, spec: StateSpec, value: Any, event: str) -> None:
        previous = self.conv.answers.get(spec.field)
        if spec.field == "description" and value is not None and previous:
            value = f"{previous}\n{value}"  # text kept earlier stays first
        if value is not None or spec.field not in self.conv.answers:
            self.conv.answers[spec.field] = value
        if spec.name.startswith(REPORT) and self._has_content():
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
        return answers.get("danger") is True or any(answers.get(f) is not None for f in REPORT_FIELDS[:-1])

    def _fields(self, complete: bool) -> dict[str, Any]:
        answers = self.conv.answers
        return {
            "urgency": "immediate" if answers.get("danger") is True else "normal",
            **{name: answers.get(name) for name in REPORT_FIELDS},
            "contact_consent": answers.get("contact_consent") is True,
            "place_code": answers.get("location_code"),
            "media_count": answers.get("media_count", 0),
            "complete": complete,
            "channel": self.inbound.channel,
            "language": self.lang,
        }

    def _save(self, *, complete: bool) -> str:
        if self.conv.tip is None:
            self.conv.tip = self.new_reference()
        self.events.append(SaveTip(self.conv.tip, self._fields(complete)))
        return self.conv.tip

    def _submit(self) -> None:
        reference = self._save(complete=True)
        self.say("submitted", reference=reference)
        self.conv.answers, self.conv.tip = {}, None

    def _leave_report(self) -> None:
        """Stop writing the current report; what was kept stays, marked unfinished."""
        self.conv.answers, self.conv.tip = {}, None

    def _discard_report(self) -> None:
        # A report of immediate danger was escalated the moment it arrived; a child may depend
        # on it, so it stays (unfinished). Anything else unfinished is deleted.
        if self.conv.tip is not None and self.conv.answers.get("danger") is not True:
            self.events.append(DiscardTip(self.conv.tip))
        self._leave_report()

    def _summary(self) -> dict[str, str]:
        answers = self.conv.answers

        def shown(name: str) -> str:
            value = answers.get(name)
            if value is None:
                return self.flow.say(self.lang, "summary_skipped")
            if value is True or value is False:
                return self.flow.say(self.lang, "summary_yes" if value else "summary_no")
            if name == "category":
                return self.flow.say(self.lang, f"category_{value}")
            text = " ".join(str(value).split())
            width = SUMMARY_WIDTH.get(name, SUMMARY_DEFAULT_WIDTH)
            return text if len(text) <= width else text[: width - 3] + "..."

        return {name: shown(name) for name in ("danger", *REPORT_FIELDS)}
