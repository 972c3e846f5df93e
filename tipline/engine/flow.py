"""Load the conversation from flows/: structure, words per language, deployment numbers.

The structure becomes a python-statemachine chart, so the library checks that every state is
reachable and every transition has a target; `check_flow` adds the checks the library cannot
know about (every language complete, GSM-7 only, at most two segments a message).
"""

from __future__ import annotations

import re
import string
import threading
from dataclasses import dataclass
from dataclasses import field as _field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from statemachine.exceptions import InvalidDefinition
from statemachine.io import create_machine_class_from_definition

from .places import Place, PlaceMatch, PlaceMatcher, PlaceWords, sort_key
from .reading import MEANINGS, Lexicon, Signals, fold, phrase, phrases

ANSWER_KINDS = {"menu", "yes_no", "choice", "text", "place", "lessons", "language"}
QUESTION_KINDS = {"yes_no", "choice", "text", "place"}
ACTIONS = {"urgent", "submit", "discard", "subscribe"}
# What a report field may be for the engine, besides an answer kept with the tip: `danger` (a yes is a
# child in danger now), `story` (where a reporter's own words go), `place` (where a shared location
# goes), `contact` (consent to be contacted; the address is kept sealed only with a yes).
FIELD_ROLES = ("danger", "story", "place", "contact")
SUMMARY_WIDTH = 30  # characters of an answer echoed in the summary, unless its field says otherwise
KEYWORDS = (
    "MENU", "STOP", "START", "HELP", "LANG", "EXIT", "ADD", "STATUS", "JOIN", "IDEA", "SKIP", "YES", "NO",
    "SEND", "DELETE",
)
ANSWER_WORDS = MEANINGS  # answers, not commands: SKIP, YES, NO, SEND, DELETE
PLACE_MENU_CHARACTERS = 300  # two GSM-7 segments hold 306
# Jumps that work from every state: the global keywords MENU, HELP, LANG and JOIN, panic words (to
# the flow's `urgent` state, where an urgent report goes on) and a story (to its `report` state).
GLOBAL_JUMPS = {
    "to_menu": "initial", "to_help": "help", "to_language": "language", "to_join": "join", "to_urgent": "urgent",
    "to_report": "report",
}
# The states flow.yaml names by their role (see its header); `initial` is "menu" unless named, and
# the flow needs `help` and `language` (the HELP and LANG keywords). A role not named is not offered.
STATE_ROLES = ("initial", "report", "urgent", "confirm", "lessons", "help", "language", "join")


class FlowError(Exception):
    """The flows/ folder cannot be loaded; the message says what and where."""


@dataclass(frozen=True)
class Option:
    to: str
    do: str | None = None
    means: tuple[str, ...] = ()  # answer words that pick it too: SEND, DELETE, YES ...


@dataclass(frozen=True)
class FieldSpec:
    """One answer of the report, as flow.yaml's `fields` declares it: how it is kept and shown."""

    name: str
    kind: str  # the answer a question for it takes: yes_no, choice, text, place
    label: str | None = None  # message key naming it on the tip page; None: not shown as an answer
    column: bool = False  # a column of the tip of its own (filters, routing); else in the tip's answers
    summary: int = SUMMARY_WIDTH  # characters echoed back in the summary before sending
    partner: int | None = None  # shown to partners as {name} in their escalation, clipped to this
    role: str | None = None  # FIELD_ROLES


@dataclass(frozen=True)
class StateSpec:
    name: str
    ask: str
    answer: str
    field: str | None = None
    next: str | None = None
    on_yes: str | None = None
    on_no: str | None = None  # a "no" leaves the question for this state instead of `next`
    yes_next: str | None = None  # a "yes" goes on here instead of `next` (the urgent branch)
    skip_when_urgent: bool = False  # not asked in a report of a child in danger right now
    then: str | None = None  # action once the question is answered (e.g. subscribe)
    options: dict[str, Option] = _field(default_factory=dict)
    choices: dict[str, str] = _field(default_factory=dict)

    @property
    def is_question(self) -> bool:
        return self.answer in QUESTION_KINDS


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    keywords: dict[str, frozenset[str]]
    greetings: frozenset[str]
    messages: dict[str, str]
    lessons: tuple[str, ...]
    numbers: dict[str, int] = _field(default_factory=dict)  # number words: SATU 1, TWO 2 ...
    panic: tuple[str, ...] = ()  # words that call for help: TOLONG, SOS, HELP ME ...
    not_panic: tuple[str, ...] = ()  # phrases that only look like it: TANDA BAHAYA, TIDAK BAHAYA ...
    story_words: tuple[str, ...] = ()  # words of someone telling what happened: ANAK, GIRL ...
    done_words: tuple[str, ...] = ()  # "I have told it all": UDAH, SELESAI, THAT'S ALL ...
    question_words: dict[str, dict[str, tuple[str, ...]]] = _field(default_factory=dict)  # ask key -> meaning -> words


@dataclass
class Flow:
    """Everything the engine needs to talk: states, words, numbers, the chart class."""

    initial: str
    idle: timedelta
    states: dict[str, StateSpec]
    languages: dict[str, Language]
    default_language: str
    service_name: str
    numbers: dict[str, str]
    machine_class: type
    places: tuple[Place, ...] = ()
    urgent: str | None = None  # where a report goes on once a child is known to be in danger now
    place_words: PlaceWords | None = None
    fields: dict[str, FieldSpec] = _field(default_factory=dict)  # the report's answers, in display order
    roles: dict[str, str | None] = _field(default_factory=dict)  # STATE_ROLES: the state playing each
    timezone: str = "UTC"  # the deployment's time zone (an IANA name), for the times people read

    def __post_init__(self) -> None:
        self.report_states = report_states(self.states, self.roles)
        self._places = {p.code: p for top in self.places for p in (top, *top.children)}
        self._matcher: PlaceMatcher | None = None
        self.lexicons = {code: self._lexicon(code) for code in self.languages}
        self.signals = Signals(
            panic=phrases(w for lang in self.languages.values() for w in lang.panic),
            not_panic=phrases(w for lang in self.languages.values() for w in lang.not_panic),
            story_words={p[0] for p in phrases(w for lang in self.languages.values() for w in lang.story_words)
                         if len(p) == 1},
            greetings={w for lang in self.languages.values() for g in lang.greetings for w in phrase(g)},
            done=phrases(w for lang in self.languages.values() for w in lang.done_words),
        )
        self._charts = threading.local()
        self._transitions: dict[tuple[str, str], str] = {}
        self._place_pages: dict[tuple[str, str | None], list[tuple[Place, ...]]] = {}
        english = self.languages.get("en")
        # A command table per language: commands (MENU, EXIT, ...) work in every language's words,
        # whatever the conversation's language; its own language is applied last, so it wins a
        # clash. Answers (YES, NO, SKIP, SEND, DELETE) are read by the lexicons instead.
        self._keywords: dict[str, dict[str, str]] = {}
        for code, lang in self.languages.items():
            table: dict[str, str] = {}
            for source in (*self.languages.values(), english, lang):
                if source is None:
                    continue
                for key, words in source.keywords.items():
                    if key not in ANSWER_WORDS:
                        table.update(dict.fromkeys(words, key))
            self._keywords[code] = table

    def _lexicon(self, code: str) -> Lexicon:
        """Answer words of `code`: other languages', then English's, then its own (its own win a clash)."""
        english = self.languages.get("en")
        own = self.languages[code]
        lexicon = Lexicon()
        order = [lang for lang in self.languages.values() if lang not in (english, own)] + [english, own]
        for lang in order:
            if lang is None:
                continue
            for meaning in ANSWER_WORDS:
                for words in phrases(lang.keywords.get(meaning, ())):
                    lexicon.meanings[words] = meaning
            for word, number in lang.numbers.items():
                lexicon.meanings[phrase(word)] = str(number)
            for ask, table in lang.question_words.items():
                for meaning, synonyms in table.items():
                    for words in phrases(synonyms):
                        lexicon.questions.setdefault(ask, {})[words] = meaning
        return lexicon

    def transition(self, state: str, event: str) -> str:
        """The state `event` leads to from `state`, as the python-statemachine chart decides.

        The chart has no guards, so a (state, event) pair always leads to the same state: each
        pair asks the chart once per process and is remembered. One chart instance per thread
        is reused (building one costs more than the rest of a message's work); it reads and
        writes the current state on a holder object. A refused event is asked again each time.
        """
        known = self._transitions.get((state, event))
        if known is not None:
            return known
        cached = getattr(self._charts, "chart", None)
        if cached is None:
            holder = _StateHolder(self.initial)
            cached = self._charts.chart = (holder, self.machine_class(model=holder, state_field="state"))
        holder, chart = cached
        holder.state = state
        chart.send(event)
        self._transitions[(state, event)] = holder.state
        return holder.state

    def field_named(self, role: str) -> str | None:
        """The name of the report field playing `role` (FIELD_ROLES), or None when the flow has none."""
        return next((f.name for f in self.fields.values() if f.role == role), None)

    @property
    def shown_fields(self) -> tuple[FieldSpec, ...]:
        """The report's answers shown on the tip page and exported, in the flow's order."""
        return tuple(f for f in self.fields.values() if f.label)

    def label(self, language: str, field: FieldSpec) -> str:
        """A field's name in `language` (English when the language lacks it)."""
        return self.word(language, field.label, field.name)

    def word(self, language: str, key: str | None, otherwise: str) -> str:
        """A short message as it stands (a label, a choice's words) in `language`, else in English, else
        `otherwise`: for readers whose language the flow may lack (partners, staff)."""
        for code in (language, "en"):
            lang = self.languages.get(code)
            if lang is not None and key in lang.messages:
                return lang.messages[key]
        return otherwise

    def keyword(self, language: str, word: str) -> str | None:
        """The command (MENU, STOP, ...) that word means in language, or None."""
        return self._keywords[language].get(fold(word))

    def say(self, language: str, key: str, **values: Any) -> str:
        """The message key in language, placeholders filled."""
        template = self.languages[language].messages[key]
        return template.format_map(_Values(self.numbers, self.service_name, values))

    def lesson(self, language: str, index: int) -> str:
        text = self.languages[language].lessons[index].format_map(
            _Values(self.numbers, self.service_name, {})
        )
        return self.say(language, "lesson", lesson=text)

    def lesson_count(self, language: str) -> int:
        return len(self.languages[language].lessons)

    def place(self, code: str | None) -> Place | None:
        return self._places.get(code) if code else None

    @property
    def place_matcher(self) -> PlaceMatcher:
        if self._matcher is None:
            self._matcher = PlaceMatcher(self.places, self.place_words)
        return self._matcher

    def match_place(self, text: str, *, within: str | None = None) -> PlaceMatch:
        """The place typed words name in flows/places.yaml: confident, ambiguous or none (see places.py)."""
        return self.place_matcher.match(text, within=within)

    @property
    def carrier_stop_words(self) -> frozenset[str]:
        """Opt-out words the SMS provider answers itself (Twilio's, listed as English STOP words)."""
        english = self.languages.get("en")
        return english.keywords.get("STOP", frozenset()) if english else frozenset()

    def place_pages(self, language: str, parent: str | None) -> list[tuple[Place, ...]]:
        """The numbered pages of places under parent (None: the top level), each fitting an SMS menu.

        A page holds at most 8 places (9 is "more", 0 the way out) and as many as keep the
        whole menu within PLACE_MENU_CHARACTERS, in alphabetical order.
        """
        key = (language, parent)
        if key not in self._place_pages:
            items = sorted(self.place(parent).children if parent else self.places, key=sort_key)
            self._place_pages[key] = _paginate(items, lambda page: self.place_menu(language, parent, page))
        return self._place_pages[key]

    def which_pages(self, language: str, candidates: tuple[Place, ...]) -> list[tuple[Place, ...]]:
        """The numbered pages of the places typed words may mean ("Bekasi": Kab. or Kota)."""
        return _paginate(list(candidates), lambda page: self.which_menu(language, page, more=True))

    def which_menu(self, language: str, page: tuple[Place, ...], *, more: bool) -> str:
        """One page of the choice; `more` adds "9 More" when there is another page."""
        lines = [f"{i} {self.place_matcher.label(p)}" for i, p in enumerate(page, start=1)]
        if more:
            lines.append(self.say(language, "place_more"))
        return self.say(language, "place_which", choices="\n".join(lines))

    def place_menu(self, language: str, parent: str | None, page: tuple[Place, ...]) -> str:
        choices = "\n".join(f"{i} {p.name}" for i, p in enumerate(page, start=1))
        if parent is None:
            return self.say(language, "place_top", choices=choices)
        return self.say(language, "place_inner", choices=choices, parent=self.place(parent).name)

    def detect_language(self, words: list[str]) -> str:
        """The language a first message is written in, by its greetings and keywords."""
        scores = {code: 0 for code in self.languages}
        for code, lang in self.languages.items():
            own = set(lang.greetings) | set(lang.numbers) | set(lang.panic) | set(lang.story_words)
            for synonyms in lang.keywords.values():
                own |= synonyms
            scores[code] = sum(1 for w in words if w in own)
        # Words every language shares (MENU, STATUS) say nothing about the language.
        best = max(scores.values())
        winners = [code for code, score in scores.items() if score == best]
        if best == 0 or len(winners) > 1:
            return self.default_language
        return winners[0]


def _paginate(items: list[Place], render) -> list[tuple[Place, ...]]:
    """Pages of at most 8 items (9 is "more", 0 the way out) whose menu stays within PLACE_MENU_CHARACTERS."""
    pages: list[tuple[Place, ...]] = []
    page: list[Place] = []
    for item in items:
        candidate = [*page, item]
        if page and (len(candidate) > 8 or len(render(tuple(candidate))) > PLACE_MENU_CHARACTERS):
            pages.append(tuple(page))
            candidate = [item]
        page = candidate
    if page:
        pages.append(tuple(page))
    return pages


class _StateHolder:
    """The object the chart keeps its current state on."""

    def __init__(self, state: str):
        self.state = state


class _Values(dict):
    """Placeholder values: the message's own, then the deployment's numbers and name."""

    def __init__(self, numbers: dict[str, str], service: str, own: dict[str, Any]):
        super().__init__(numbers)
        self["service"] = service
        self.update(own)

    def __missing__(self, key: str) -> str:
        raise FlowError(f"message uses unknown placeholder {{{key}}}")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML that keeps YES, NO, Y, N, ON and OFF as words: they are keywords here."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError:
        raise FlowError(f"{path}: missing") from None
    except yaml.YAMLError as exc:
        raise FlowError(f"{path}: not valid YAML: {exc}") from None


def _parse_states(raw: dict, where: Path) -> dict[str, StateSpec]:
    if not isinstance(raw, dict) or not raw:
        raise FlowError(f"{where}: 'states' must be a mapping of state names")
    states: dict[str, StateSpec] = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict):
            raise FlowError(f"{where}: state {name!r} must be a mapping")
        answer = spec.get("answer")
        if answer not in ANSWER_KINDS:
            raise FlowError(f"{where}: state {name!r} has answer {answer!r}; use one of {sorted(ANSWER_KINDS)}")
        if not isinstance(spec.get("ask"), str):
            raise FlowError(f"{where}: state {name!r} needs 'ask', a message key")
        options: dict[str, Option] = {}
        for digit, target in (spec.get("options") or {}).items():
            digit = str(digit)
            if isinstance(target, dict):
                means = tuple(str(m) for m in target.get("means") or ())
                option = Option(to=target.get("to"), do=target.get("do"), means=means)
                unknown_means = set(means) - set(ANSWER_WORDS)
                if unknown_means:
                    raise FlowError(f"{where}: state {name!r}: option {digit!r} means {sorted(unknown_means)}; "
                                    f"use {list(ANSWER_WORDS)}")
            else:
                option = Option(to=target)
            if not re.fullmatch(r"[1-9]", digit):
                raise FlowError(f"{where}: state {name!r}: option {digit!r} must be a digit 1-9")
            if option.do is not None and option.do not in ACTIONS:
                raise FlowError(f"{where}: state {name!r}: unknown action {option.do!r}")
            options[digit] = option
        choices = {str(k): str(v) for k, v in (spec.get("choices") or {}).items()}
        on_yes, then = spec.get("on_yes"), spec.get("then")
        for action in (on_yes, then):
            if action is not None and action not in ACTIONS:
                raise FlowError(f"{where}: state {name!r}: unknown action {action!r}")
        states[name] = StateSpec(
            name=name,
            ask=spec["ask"],
            answer=answer,
            field=spec.get("field"),
            next=spec.get("next"),
            on_yes=on_yes,
            on_no=spec.get("on_no"),
            yes_next=spec.get("yes_next"),
            skip_when_urgent=bool(spec.get("skip_when_urgent")),
            then=then,
            options=options,
            choices=choices,
        )
        if answer in ("menu", "lessons") and not options:
            raise FlowError(f"{where}: state {name!r} needs 'options'")
        if answer in QUESTION_KINDS | {"language"} and not states[name].next:
            raise FlowError(f"{where}: state {name!r} needs 'next'")
        if answer in QUESTION_KINDS and not states[name].field:
            raise FlowError(f"{where}: state {name!r} needs 'field'")
        if answer == "choice" and not choices:
            raise FlowError(f"{where}: state {name!r} needs 'choices'")
    return states


def _parse_fields(raw: Any, where: Path) -> dict[str, FieldSpec]:
    """flow.yaml's `fields`: each report answer's kind, label, storage and place in messages."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise FlowError(f"{where}: 'fields' must be a mapping of field names")
    fields: dict[str, FieldSpec] = {}
    known = {"kind", "label", "column", "summary", "partner", "role"}
    for name, spec in raw.items():
        name = str(name)
        if not isinstance(spec, dict) or spec.get("kind") not in QUESTION_KINDS:
            raise FlowError(f"{where}: field {name!r} needs a kind, one of {sorted(QUESTION_KINDS)}")
        unknown = set(spec) - known
        if unknown:
            raise FlowError(f"{where}: field {name!r} has unknown key(s) {sorted(unknown)}; use {sorted(known)}")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise FlowError(f"{where}: field {name!r}: a name is lower-case letters, digits and _")
        for width in ("summary", "partner"):
            value = spec.get(width)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 4):
                raise FlowError(f"{where}: field {name!r}: {width} is a number of characters (at least 4)")
        role = spec.get("role")
        if role is not None and role not in FIELD_ROLES:
            raise FlowError(f"{where}: field {name!r}: role {role!r}; use one of {list(FIELD_ROLES)}")
        if role is not None and any(f.role == role for f in fields.values()):
            raise FlowError(f"{where}: two fields have the role {role!r}")
        fields[name] = FieldSpec(
            name=name, kind=spec["kind"], label=spec.get("label"), column=bool(spec.get("column")),
            summary=spec.get("summary") or SUMMARY_WIDTH, partner=spec.get("partner"), role=role,
        )
    return fields


def _check_report(states: dict[str, StateSpec], named: dict[str, str | None], fields: dict[str, FieldSpec],
                  where: Path) -> None:
    """Every report question keeps its answer in a declared field of the same kind; the roles fit."""
    report = report_states(states, named)
    for name in sorted(report):
        spec = states[name]
        if not spec.is_question:
            continue
        field = fields.get(spec.field)
        if field is None:
            raise FlowError(f"{where}: state {name!r} keeps {spec.field!r}, which 'fields' does not declare")
        if field.kind != spec.answer:
            raise FlowError(f"{where}: state {name!r} takes a {spec.answer} answer, but field {field.name!r} "
                            f"is a {field.kind}")
    confirm = named.get("confirm")
    if confirm is not None and not any(o.do == "submit" for o in states[confirm].options.values()):
        raise FlowError(f"{where}: the confirm state {confirm!r} has no option that does submit")
    if confirm is not None and confirm not in report:
        raise FlowError(f"{where}: the confirm state {confirm!r} is not reached from the report state")
    kinds = {"danger": "yes_no", "contact": "yes_no", "story": "text", "place": "place"}
    for field in fields.values():
        if field.role is not None and field.kind != kinds[field.role]:
            raise FlowError(f"{where}: field {field.name!r} with role {field.role} must be a {kinds[field.role]}")
    for role, why in (("danger", "a yes is a child in danger now"), ("story", "where a reporter's own words go")):
        if report and not any(f.role == role for f in fields.values()):
            raise FlowError(f"{where}: no field has the role {role} ({why})")


def report_states(states: dict[str, StateSpec], roles: dict[str, str | None]) -> frozenset[str]:
    """The states whose answers make up a report: those reached from the `report` and `urgent` states
    by answering, up to the option that submits or discards it (and never the menu)."""
    found: set[str] = set()
    waiting = [roles.get("report"), roles.get("urgent")]
    while waiting:
        name = waiting.pop()
        if name is None or name in found or name not in states or name == roles.get("initial"):
            continue
        found.add(name)
        spec = states[name]
        waiting += [spec.next, spec.yes_next, spec.on_no]
        waiting += [option.to for option in spec.options.values() if option.do is None]
    return frozenset(found)


def _chart_definition(states: dict[str, StateSpec], named: dict[str, str | None]) -> dict:
    """python-statemachine's dict form of the conversation: one event per kind of answer."""
    definition: dict[str, dict] = {}
    for name, spec in states.items():
        on: dict[str, list[dict]] = {}
        for digit, option in spec.options.items():
            on[f"pick_{digit}"] = [{"target": option.to}]
        if spec.next:
            on["answer"] = [{"target": spec.next}]
            if spec.is_question:
                on["skip"] = [{"target": spec.next}]
        if spec.on_no:
            on["decline"] = [{"target": spec.on_no}]
        if spec.yes_next:
            on["answer_yes"] = [{"target": spec.yes_next}]
        for event, role in GLOBAL_JUMPS.items():
            target = named.get(role)
            if target in states:
                on[event] = [{"target": target}]
        definition[name] = {"initial": name == named["initial"], "on": on}
    return definition


def _build_machine(states: dict[str, StateSpec], named: dict[str, str | None], where: Path) -> type:
    for role, state in named.items():
        if (role == "initial" or state is not None) and state not in states:
            raise FlowError(f"{where}: {role} state {state!r} is not defined")
    for name, spec in states.items():
        targets = [o.to for o in spec.options.values()] + [t for t in (spec.next, spec.on_no, spec.yes_next) if t]
        for target in targets:
            if target not in states:
                raise FlowError(f"{where}: state {name!r} leads to undefined state {target!r}")
    for needed in ("help", "language"):
        if named.get(needed) is None:
            raise FlowError(f"{where}: the flow needs a {needed!r} state, named by `{needed}:` (HELP and LANG)")
    try:
        return create_machine_class_from_definition(
            "Conversation",
            states=_chart_definition(states, named),
            allow_event_without_transition=False,
            catch_errors_as_events=False,
        )
    except InvalidDefinition as exc:
        raise FlowError(f"{where}: {exc}") from None


def _parse_language(code: str, raw: Any, where: Path) -> Language:
    if not isinstance(raw, dict):
        raise FlowError(f"{where}: must be a mapping")
    keywords_raw = raw.get("keywords") or {}
    keywords: dict[str, frozenset[str]] = {}
    for key in KEYWORDS:
        words = keywords_raw.get(key)
        if not words:
            raise FlowError(f"{where}: keywords.{key} is missing")
        keywords[key] = frozenset(fold(str(w)) for w in words)
    unknown = set(keywords_raw) - set(KEYWORDS)
    if unknown:
        raise FlowError(f"{where}: unknown keywords {sorted(unknown)}")
    messages = raw.get("messages")
    if not isinstance(messages, dict):
        raise FlowError(f"{where}: 'messages' must be a mapping")
    lessons = raw.get("lessons") or []
    if not isinstance(lessons, list) or not all(isinstance(x, str) for x in lessons):
        raise FlowError(f"{where}: 'lessons' must be a list of texts")
    numbers = raw.get("numbers") or {}
    if not isinstance(numbers, dict) or not all(isinstance(n, int) and 0 <= n <= 9 for n in numbers.values()):
        raise FlowError(f"{where}: 'numbers' maps number words to 0-9")
    lists = {}
    for name in ("panic", "not_panic", "story_words", "done_words"):
        value = raw.get(name) or []
        if not isinstance(value, list):
            raise FlowError(f"{where}: {name!r} must be a list of words")
        lists[name] = tuple(fold(str(w)) for w in value)
    question_words: dict[str, dict[str, tuple[str, ...]]] = {}
    for ask, table in (raw.get("question_words") or {}).items():
        if not isinstance(table, dict) or set(table) - set(ANSWER_WORDS):
            raise FlowError(f"{where}: question_words.{ask} maps {list(ANSWER_WORDS)} to words")
        question_words[str(ask)] = {meaning: tuple(fold(str(w)) for w in words) for meaning, words in table.items()}
    return Language(
        code=code,
        name=str(raw.get("language_name") or code),
        keywords=keywords,
        greetings=frozenset(fold(str(w)) for w in raw.get("greetings") or []),
        messages={str(k): str(v) for k, v in messages.items()},
        lessons=tuple(lessons),
        numbers={fold(str(w)): n for w, n in numbers.items()},
        question_words=question_words,
        **lists,
    )


def load_flow(folder: str | Path, *, service_name: str | None = None) -> Flow:
    """Read flows/ into a Flow; raise FlowError with the file and the fault."""
    folder = Path(folder)
    structure = _read_yaml(folder / "flow.yaml")
    deployment = _read_yaml(folder / "deployment.yaml")
    if not isinstance(structure, dict) or not isinstance(deployment, dict):
        raise FlowError(f"{folder}: flow.yaml and deployment.yaml must be mappings")
    states = _parse_states(structure.get("states"), folder / "flow.yaml")
    # A role not named falls back to the state of that name, if any (older flows name only some).
    named = {role: structure.get(role) for role in STATE_ROLES}
    named["initial"] = named["initial"] or "menu"
    machine_class = _build_machine(states, named, folder / "flow.yaml")
    fields = _parse_fields(structure.get("fields"), folder / "flow.yaml")
    _check_report(states, named, fields, folder / "flow.yaml")

    codes = deployment.get("languages") or []
    if not codes:
        raise FlowError(f"{folder / 'deployment.yaml'}: 'languages' lists no language")
    if "en" not in codes:
        codes = [*codes, "en"]  # English keywords always work, so English must be there
    languages = {
        code: _parse_language(code, _read_yaml(folder / "messages" / f"{code}.yaml"),
                              folder / "messages" / f"{code}.yaml")
        for code in codes
    }
    default_language = deployment.get("default_language", codes[0])
    if default_language not in languages:
        raise FlowError(f"{folder / 'deployment.yaml'}: default_language {default_language!r} is not in languages")
    numbers = {str(k): str(v) for k, v in (deployment.get("numbers") or {}).items()}
    timezone = str(deployment.get("timezone") or "UTC")
    if not known_zone(timezone):
        raise FlowError(f"{folder / 'deployment.yaml'}: timezone {timezone!r} is not a time zone name such as "
                        "Asia/Jakarta")
    places = _load_places(folder / "places.yaml") if (folder / "places.yaml").exists() else ()
    place_words = _load_place_words(folder / "place_words.yaml") if (folder / "place_words.yaml").exists() else None
    return Flow(
        initial=named["initial"],
        idle=timedelta(minutes=int(structure.get("idle_minutes", 30))),
        states=states,
        languages=languages,
        default_language=default_language,
        service_name=service_name or str(deployment.get("service_name") or "Tipline"),
        numbers=numbers,
        machine_class=machine_class,
        places=places,
        urgent=named["urgent"],
        place_words=place_words,
        fields=fields,
        roles=named,
        timezone=timezone,
    )


def known_zone(name: str) -> bool:
    """Whether `name` is a time zone the zone database knows (Asia/Jakarta, UTC)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _load_places(path: Path) -> tuple[Place, ...]:
    """A two-level tree: top-level places (provinces), each with its places (regencies, cities)."""
    raw = _read_yaml(path)
    tops = raw.get("places") if isinstance(raw, dict) else None
    if not isinstance(tops, list) or not tops:
        raise FlowError(f"{path}: 'places' must be a list of places")
    seen: set[str] = set()

    def one(item: Any, where: str) -> Place:
        if not isinstance(item, dict) or not item.get("code") or not item.get("name"):
            raise FlowError(f"{path}: {where}: each place needs a code and a name")
        code = str(item["code"])
        if code in seen:
            raise FlowError(f"{path}: place code {code!r} appears twice")
        seen.add(code)
        return Place(code=code, name=str(item["name"]))

    places = []
    for index, top in enumerate(tops, start=1):
        parent = one(top, f"place {index}")
        children = tuple(one(child, f"{parent.name}") for child in top.get("places") or [])
        places.append(Place(parent.code, parent.name, children))
    return tuple(places)


def _load_place_words(path: Path) -> PlaceWords:
    """How people write places: kind words (kab, kota, prov), words to pass over, other names by code."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise FlowError(f"{path}: must be a mapping with kinds, ignore and aliases")
    kinds = raw.get("kinds") or {}
    if not isinstance(kinds, dict) or set(kinds) - {"province", "regency", "city"}:
        raise FlowError(f"{path}: 'kinds' maps province, regency and city to the words that name them")
    aliases = raw.get("aliases") or {}
    if not isinstance(aliases, dict) or not all(isinstance(v, list) for v in aliases.values()):
        raise FlowError(f"{path}: 'aliases' maps a place code to a list of other names")
    return PlaceWords(
        kinds={kind: {str(w) for w in names or ()} for kind, names in kinds.items()},
        ignore={str(w) for w in raw.get("ignore") or ()},
        aliases={str(code): [str(n) for n in names] for code, names in aliases.items()},
    )


def placeholders(template: str) -> set[str]:
    """The {names} a message template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
