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

import yaml
from statemachine.exceptions import InvalidDefinition
from statemachine.io import create_machine_class_from_definition

ANSWER_KINDS = {"menu", "yes_no", "choice", "text", "place", "lessons", "language"}
QUESTION_KINDS = {"yes_no", "choice", "text", "place"}
ACTIONS = {"urgent", "submit", "discard", "subscribe"}
KEYWORDS = (
    "MENU", "STOP", "START", "HELP", "LANG", "EXIT", "ADD", "STATUS", "JOIN", "IDEA", "SKIP", "YES", "NO",
)
ANSWER_WORDS = ("SKIP", "YES", "NO")
PLACE_MENU_CHARACTERS = 300  # two GSM-7 segments hold 306
# Jumps that work from every state: the global keywords MENU, HELP and LANG.
GLOBAL_JUMPS = {"to_menu": "initial", "to_help": "help", "to_language": "language", "to_join": "join"}


class FlowError(Exception):
    """The flows/ folder cannot be loaded; the message says what and where."""


@dataclass(frozen=True)
class Option:
    to: str
    do: str | None = None


@dataclass(frozen=True)
class StateSpec:
    name: str
    ask: str
    answer: str
    field: str | None = None
    next: str | None = None
    on_yes: str | None = None
    on_no: str | None = None  # a "no" leaves the question for this state instead of `next`
    then: str | None = None  # action once the question is answered (e.g. subscribe)
    options: dict[str, Option] = _field(default_factory=dict)
    choices: dict[str, str] = _field(default_factory=dict)

    @property
    def is_question(self) -> bool:
        return self.answer in QUESTION_KINDS


@dataclass(frozen=True)
class Place:
    """A province (with its regencies and cities) or a regency/city, by its official code."""

    code: str
    name: str
    children: tuple[Place, ...] = ()


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    keywords: dict[str, frozenset[str]]
    greetings: frozenset[str]
    messages: dict[str, str]
    lessons: tuple[str, ...]


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

    def __post_init__(self) -> None:
        self._places = {p.code: p for top in self.places for p in (top, *top.children)}
        self._charts = threading.local()
        self._place_pages: dict[tuple[str, str | None], list[tuple[Place, ...]]] = {}
        english = self.languages.get("en")
        # A keyword table per language. Commands (MENU, EXIT, ...) work in every language's
        # words, whatever the conversation's language; answers (YES, NO, SKIP) in its own words
        # and English. Its own language is applied last, so it wins a clash.
        self._keywords: dict[str, dict[str, str]] = {}
        for code, lang in self.languages.items():
            table: dict[str, str] = {}
            for source in (*self.languages.values(), english, lang):
                if source is None:
                    continue
                for key, words in source.keywords.items():
                    if key in ANSWER_WORDS and source not in (english, lang):
                        continue
                    for word in words:
                        table[word] = key
            self._keywords[code] = table

    def transition(self, state: str, event: str) -> str:
        """The state `event` leads to from `state`, as the python-statemachine chart decides.

        One chart instance per thread is reused (building one costs more than the rest of a
        message's work); it reads and writes the current state on a holder object.
        """
        cached = getattr(self._charts, "chart", None)
        if cached is None:
            holder = _StateHolder(self.initial)
            cached = self._charts.chart = (holder, self.machine_class(model=holder, state_field="state"))
        holder, chart = cached
        holder.state = state
        chart.send(event)
        return holder.state

    def keyword(self, language: str, word: str) -> str | None:
        """The keyword (MENU, STOP, ...) that word means in language, or None."""
        return self._keywords[language].get(word.upper())

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

    def place_pages(self, language: str, parent: str | None) -> list[tuple[Place, ...]]:
        """The numbered pages of places under parent (None: the top level), each fitting an SMS menu.

        A page holds at most 8 places (9 is "more", 0 the way out) and as many as keep the
        whole menu within PLACE_MENU_CHARACTERS.
        """
        key = (language, parent)
        if key not in self._place_pages:
            items = self.place(parent).children if parent else self.places
            pages: list[tuple[Place, ...]] = []
            page: list[Place] = []
            for item in items:
                candidate = [*page, item]
                if page and (len(candidate) > 8 or len(self.place_menu(language, parent, tuple(candidate))) > PLACE_MENU_CHARACTERS):
                    pages.append(tuple(page))
                    candidate = [item]
                page = candidate
            if page:
                pages.append(tuple(page))
            self._place_pages[key] = pages
        return self._place_pages[key]

    def place_menu(self, language: str, parent: str | None, page: tuple[Place, ...]) -> str:
        choices = "\n".join(f"{i} {p.name}" for i, p in enumerate(page, start=1))
        if parent is None:
            return self.say(language, "place_top", choices=choices)
        return self.say(language, "place_inner", choices=choices, parent=self.place(parent).name)

    def detect_language(self, words: list[str]) -> str:
        """The language a first message is written in, by its greetings and keywords."""
        scores = {code: 0 for code in self.languages}
        for code, lang in self.languages.items():
            own = set(lang.greetings)
            for synonyms in lang.keywords.values():
                own |= synonyms
            scores[code] = sum(1 for w in words if w in own)
        # Words every language shares (MENU, STATUS) say nothing about the language.
        best = max(scores.values())
        winners = [code for code, score in scores.items() if score == best]
        if best == 0 or len(winners) > 1:
            return self.default_language
        return winners[0]


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
                option = Option(to=target.get("to"), do=target.get("do"))
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


def _chart_definition(states: dict[str, StateSpec], initial: str) -> dict:
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
        for event, target in GLOBAL_JUMPS.items():
            target = initial if target == "initial" else target
            if target in states:
                on[event] = [{"target": target}]
        definition[name] = {"initial": name == initial, "on": on}
    return definition


def _build_machine(states: dict[str, StateSpec], initial: str, where: Path) -> type:
    if initial not in states:
        raise FlowError(f"{where}: initial state {initial!r} is not defined")
    for name, spec in states.items():
        targets = [o.to for o in spec.options.values()] + [t for t in (spec.next, spec.on_no) if t]
        for target in targets:
            if target not in states:
                raise FlowError(f"{where}: state {name!r} leads to undefined state {target!r}")
    for needed in ("help", "language"):
        if needed not in states:
            raise FlowError(f"{where}: the flow needs a {needed!r} state (HELP and LANG keywords)")
    try:
        return create_machine_class_from_definition(
            "Conversation",
            states=_chart_definition(states, initial),
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
        keywords[key] = frozenset(str(w).upper() for w in words)
    unknown = set(keywords_raw) - set(KEYWORDS)
    if unknown:
        raise FlowError(f"{where}: unknown keywords {sorted(unknown)}")
    messages = raw.get("messages")
    if not isinstance(messages, dict):
        raise FlowError(f"{where}: 'messages' must be a mapping")
    lessons = raw.get("lessons") or []
    if not isinstance(lessons, list) or not all(isinstance(x, str) for x in lessons):
        raise FlowError(f"{where}: 'lessons' must be a list of texts")
    return Language(
        code=code,
        name=str(raw.get("language_name") or code),
        keywords=keywords,
        greetings=frozenset(str(w).upper() for w in raw.get("greetings") or []),
        messages={str(k): str(v) for k, v in messages.items()},
        lessons=tuple(lessons),
    )


def load_flow(folder: str | Path, *, service_name: str | None = None) -> Flow:
    """Read flows/ into a Flow; raise FlowError with the file and the fault."""
    folder = Path(folder)
    structure = _read_yaml(folder / "flow.yaml")
    deployment = _read_yaml(folder / "deployment.yaml")
    if not isinstance(structure, dict) or not isinstance(deployment, dict):
        raise FlowError(f"{folder}: flow.yaml and deployment.yaml must be mappings")
    initial = structure.get("initial", "menu")
    states = _parse_states(structure.get("states"), folder / "flow.yaml")
    machine_class = _build_machine(states, initial, folder / "flow.yaml")

    codes = deployment.get("languages") or []
    if not codes:
        raise FlowError(f"{folder / 'deployment.yaml'}: 'languages' lists no language")
    if "en" not in codes:
        codes = [*codes, "en"]  # English keywords always work, so English must be there
    languages = {
        code: _parse_language(code, _read_yaml(folder / "messages" / f"{code}.yaml"), folder / "messages" / f"{code}.yaml")
        for code in codes
    }
    default_language = deployment.get("default_language", codes[0])
    if default_language not in languages:
        raise FlowError(f"{folder / 'deployment.yaml'}: default_language {default_language!r} is not in languages")
    numbers = {str(k): str(v) for k, v in (deployment.get("numbers") or {}).items()}
    places = _load_places(folder / "places.yaml") if (folder / "places.yaml").exists() else ()
    return Flow(
        initial=initial,
        idle=timedelta(minutes=int(structure.get("idle_minutes", 30))),
        states=states,
        languages=languages,
        default_language=default_language,
        service_name=service_name or str(deployment.get("service_name") or "Tipline"),
        numbers=numbers,
        machine_class=machine_class,
        places=places,
    )


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


def placeholders(template: str) -> set[str]:
    """The {names} a message template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
