"""`tipline flows check`: prove flows/ is complete and cheap before a reporter ever sees it.

Checks every language has every message and lesson, every message uses only known placeholders,
every bot message is GSM-7 and at most two SMS segments with its placeholders at their longest (the
words files of outbound.yaml and community.yaml likewise, against tipline/engine/words.py), no answer
word is claimed by two meanings in one language (nor by a command or a panic word), and a complete
report (welcome to reference, with and without immediate danger, the place typed or picked from the
list) costs at most REPORT_BUDGET segments (PLACE_LIST_BUDGET more when picked). The budget is
measured by driving the real engine, not estimated.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ..statuses import TIP_STATUSES
from . import gsm
from .conversation import (
    ECHO_WIDTH,
    PICKING,
    REPORTER_STATUS,
    RESUME_ASK,
    Conversation,
    Inbound,
    NoTips,
    step,
)
from .flow import ANSWER_WORDS, FieldSpec, Flow, FlowError, _read_yaml, _Values, load_flow, placeholders
from .place_map import load_place_map
from .reading import phrase
from .words import FITTED_ROOM, WORDS, Message, messages_of
from .words import LONGEST as SIDE_LONGEST

MAX_SEGMENTS = 2
REPORT_BUDGET = 12
PLACE_LIST_BUDGET = 3  # more for a place picked from the numbered list: its pages are menus of their own
MIN_LESSONS = 6
# Messages the engine says by name, besides each state's `ask`.
ENGINE_MESSAGES = (
    "welcome", "urgent", "urgent_unrouted", "kept_text", "kept_story", "location_kept",
    "submitted", "discarded", "kept_passed_on", "kept_in_hand", "kept_danger",
    "summary_yes", "summary_no", "summary_skipped", "lesson", "lessons_done", "language_set",
    "exit", "stopped", "media_warning", "add_done", "add_usage", "status_usage", "access_denied", "idea_usage",
    "idea_thanks", "ask_resume", "ask_resume_again",
    *(f"status_{s}" for s in TIP_STATUSES if s not in REPORTER_STATUS),
)
NUMBERED = ("menu", "yes_no", "choice", "lessons", "language")  # each needs a one-line <ask>_again
SAMPLE_REFERENCE = "WWWW-WWWW"
# The longest value each per-message placeholder can take (summary fields are truncated).
LONGEST = {
    "reference": SAMPLE_REFERENCE,
    "pin": "9999",
    "added": "W" * ECHO_WIDTH,
}


PLACE_MESSAGES = ("place_top", "place_inner", "place_which", "place_more")


def required_messages(flow: Flow) -> set[str]:
    keys = set(ENGINE_MESSAGES) | (set(PLACE_MESSAGES) | {"place_again"} if flow.places else set())
    for spec in flow.states.values():
        keys.add(spec.ask)
        if spec.answer in NUMBERED:
            keys.add(f"{spec.ask}_again")
        if spec.on_no:
            keys.add(f"{spec.ask}_declined")
        if spec.then == "subscribe":
            keys.add("join_done")
        keys.update(f"{spec.field}_{value}" for value in spec.choices.values())
    keys.update(field.label for field in flow.fields.values() if field.label)
    return keys


def _longest_values(flow: Flow, code: str) -> dict[str, str]:
    lang = flow.languages[code]
    listing = "\n".join(f"{i} {language.name}" for i, language in enumerate(flow.languages.values(), start=1))
    longest_lesson = max(lang.lessons, key=len, default="")
    return {
        **LONGEST,
        **{field.name: _longest_answer(flow, lang, field, field.summary) for field in flow.fields.values()},
        "languages": listing,
        "languages_inline": listing.replace("\n", ", "),
        "lesson": longest_lesson.format_map({**flow.numbers, "service": flow.service_name}),
    }


def _longest_answer(flow: Flow, lang, field: FieldSpec, width: int) -> str:
    """The longest a field's answer can be as said back: in words for a yes/no or a choice, else `width`
    characters (its width in the confirm summary, or in a partner's escalation)."""
    if field.kind == "yes_no":
        return max((lang.messages.get(k, "") for k in ("summary_yes", "summary_no", "summary_skipped")), key=len)
    if field.kind == "choice":
        values = {v for spec in flow.states.values() if spec.field == field.name for v in spec.choices.values()}
        return max((lang.messages.get(f"{field.name}_{v}", "") for v in values), key=len, default="")
    return "W" * width


def _check_messages(flow: Flow) -> list[str]:
    faults: list[str] = []
    required = required_messages(flow)
    every_key = set().union(*(set(language.messages) for language in flow.languages.values())) | required
    known = set(flow.numbers) | {"service"}
    reference = flow.languages.get("en") or next(iter(flow.languages.values()))
    for code, lang in flow.languages.items():
        where = f"messages/{code}.yaml"
        for key in sorted(every_key - set(lang.messages)):
            faults.append(f"{where}: message {key!r} is missing")
        if len(lang.lessons) < MIN_LESSONS:
            faults.append(f"{where}: {len(lang.lessons)} lessons; at least {MIN_LESSONS} are needed")
        if len(lang.lessons) != len(reference.lessons):
            faults.append(f"{where}: {len(lang.lessons)} lessons, but {reference.code} has {len(reference.lessons)}")
        values = _longest_values(flow, code)
        for key, template in sorted(lang.messages.items()):
            if key in PLACE_MESSAGES:
                continue  # checked page by page below
            used = placeholders(template)
            unknown = used - known - set(values)
            if unknown:
                faults.append(f"{where}: {key!r} uses unknown placeholder(s) {sorted(unknown)}")
                continue
            other = reference.messages.get(key)
            if other is not None and placeholders(other) - known != used - known:
                faults.append(f"{where}: {key!r} uses {sorted(used - known)}, "
                              f"{reference.code} uses {sorted(placeholders(other) - known)}")
            faults.extend(_check_text(f"{where}: {key!r}", flow.say(code, key, **values)))
        for index in range(len(lang.lessons)):
            try:
                text = flow.lesson(code, index)
            except FlowError as exc:
                faults.append(f"{where}: lesson {index + 1}: {exc}")
                continue
            faults.extend(_check_text(f"{where}: lesson {index + 1}", text))
        faults.extend(_check_places(flow, code, where))
        welcome = flow.say(code, "welcome") + "\n" + flow.say(code, flow.states[flow.initial].ask)
        faults.extend(_check_text(f"{where}: welcome with the menu", welcome))
    return faults


def _check_words(flow: Flow) -> list[str]:
    """Answer words: none claimed by two meanings in one language, nor by a command or a panic word."""
    faults: list[str] = []
    for code, lang in flow.languages.items():
        where = f"messages/{code}.yaml"
        claims: dict[tuple[str, ...], set[str]] = {}
        for meaning in ANSWER_WORDS:
            for word in lang.keywords.get(meaning, ()):
                claims.setdefault(phrase(word), set()).add(meaning)
        for word, number in lang.numbers.items():
            claims.setdefault(phrase(word), set()).add(str(number))
        commands = {phrase(w): key for key, words in lang.keywords.items() if key not in ANSWER_WORDS for w in words}
        panic = {phrase(w) for w in lang.panic}
        for words, meanings in sorted(claims.items()):
            shown = " ".join(words)
            if len(meanings) > 1:
                faults.append(f"{where}: {shown!r} is claimed by {sorted(meanings)}")
            if words in commands:
                faults.append(f"{where}: {shown!r} is both the command {commands[words]} and an answer")
            if words in panic:
                faults.append(f"{where}: {shown!r} is both a panic word and an answer")
        for words in sorted(panic & set(commands)):
            faults.append(f"{where}: panic word {' '.join(words)!r} is also the command {commands[words]}")
        asks = {spec.ask for spec in flow.states.values()} | {RESUME_ASK}
        for ask, table in lang.question_words.items():
            if ask not in asks:
                faults.append(f"{where}: question_words.{ask} names no question of flow.yaml")
            seen: dict[tuple[str, ...], set[str]] = {}
            for meaning, words in table.items():
                for word in words:
                    seen.setdefault(phrase(word), set()).add(meaning)
            for words, meanings in sorted(seen.items()):
                if len(meanings) > 1:
                    faults.append(f"{where}: question_words.{ask}: {' '.join(words)!r} "
                                  f"is claimed by {sorted(meanings)}")
    return faults


def _check_places(flow: Flow, code: str, where: str) -> list[str]:
    """Every page of every place menu, exactly as a reporter would get it."""
    if not flow.places or not all(k in flow.languages[code].messages for k in PLACE_MESSAGES):
        return []
    faults = []
    # A numbered choice of the places some typed words may mean: the longest names, a full page.
    longest = tuple(sorted((p for top in flow.places for p in top.children),
                           key=lambda p: -len(flow.place_matcher.label(p)))[:8])
    for number, page in enumerate(flow.which_pages(code, longest), start=1):
        menu = flow.which_menu(code, page, more=True)
        faults.extend(_check_text(f"{where}: a numbered choice of places, page {number}", menu))
    for parent in (None, *(p.code for p in flow.places if p.children)):
        try:
            pages = flow.place_pages(code, parent)
        except FlowError as exc:
            return [f"{where}: place menus: {exc}"]
        for number, page in enumerate(pages, start=1):
            label = f"{where}: places under {parent or 'the top'}, page {number}"
            faults.extend(_check_text(label, flow.place_menu(code, parent, page)))
    return faults


def _check_text(where: str, text: str, *, limit: int = MAX_SEGMENTS) -> list[str]:
    faults = []
    bad = gsm.non_gsm_characters(text)
    if bad:
        faults.append(f"{where}: not GSM-7, would cost UCS-2 rates: {' '.join(repr(c) for c in bad)}")
    count = gsm.segments(text)
    if count > limit:
        faults.append(f"{where}: {count} SMS segments ({len(text)} characters); at most {limit}")
    return faults


def _picked_place(flow: Flow) -> list[str]:
    """The answers that pick a place from the numbered list: 9, then the first province and its first place."""
    if not flow.places:
        return ["W" * 200]
    first = flow.place_pages(flow.default_language, None)[0][0]
    return ["9", "1", "1"] if first.children else ["9", "1"]


def report_cost(flow: Flow, code: str, *, danger: bool, place: str = "typed") -> int:
    """Segments the bot sends for a whole report, first message to reference, longest answers.

    `place` is "typed" (words that match no place, kept as typed) or "picked" (from the list).
    """
    where = ["W" * 200] if place == "typed" else _picked_place(flow)
    conversation = Conversation(language=code)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    total, text, turn = 0, "hello", None
    for _ in range(4 * len(flow.states) + 10):  # the flow's questions answered once each, at most
        turn = step(flow, conversation, Inbound(text), now, tips=NoTips(), new_reference=lambda: SAMPLE_REFERENCE,
                    new_pin=lambda: LONGEST["pin"])
        conversation = turn.conversation
        total += sum(gsm.segments(reply) for reply in turn.replies)
        if any(SAMPLE_REFERENCE in r for r in turn.replies):
            break
        text = _longest_answer_to(flow, conversation, danger=danger, where=where)
        if text is None:
            break
    if turn is None or conversation.tip is not None or not any(SAMPLE_REFERENCE in r for r in turn.replies):
        raise FlowError(f"messages/{code}.yaml: the scripted report did not end with a reference")
    return total


def _longest_answer_to(flow: Flow, conversation: Conversation, *, danger: bool, where: list[str]) -> str | None:
    """What the scripted reporter answers in the conversation's state: the longest answer that goes on."""
    spec = flow.states[conversation.state]
    if spec.name == flow.initial:
        return next((d for d, o in spec.options.items() if o.to == flow.roles.get("report")), None)
    if spec.answer == "menu":
        return next((d for d, o in spec.options.items() if o.do == "submit"), None)
    field = flow.fields.get(spec.field) if spec.field else None
    if field is not None and field.role == "danger":
        return "1" if danger else "2"
    if spec.answer == "place":
        return where[0] if len(where) == 1 else _next_pick(conversation, where)
    if spec.answer == "text":
        return "W" * (300 if field is not None and field.role == "story" else 100)
    return "1"  # a choice or a yes


def _next_pick(conversation: Conversation, where: list[str]) -> str:
    """Picking a place from the numbered list: 9 for the list, then the first entries."""
    picking = conversation.answers.get(PICKING)
    if picking is None:
        return where[0]
    return where[2] if picking.get("parent") else where[1]


def _side_longest(flow: Flow, code: str, section: dict) -> dict[str, str]:
    """The longest value of every placeholder of the words files, in this language."""
    lang = flow.languages[code]
    categories = [v for k, v in lang.messages.items() if k.startswith("category_")]
    urgencies = [str(section.get(k) or "") for k in ("urgency_immediate", "urgency_normal")]
    longest_lesson = max(lang.lessons, key=len, default="")
    return {
        **SIDE_LONGEST,
        **{field.name: _longest_answer(flow, lang, field, field.partner) for field in flow.fields.values()
           if field.partner},
        "kind": max(categories, key=len, default=""),
        "urgency": f"{section.get('update') or ''} {max(urgencies, key=len)}",
        "lesson": longest_lesson.format_map({**flow.numbers, "service": flow.service_name}),
    }


def _check_side_files(folder: Path, flow: Flow) -> list[str]:
    """outbound.yaml and community.yaml, as the code sends them (tipline/engine/words.py): every
    message in every language, only the placeholders the code supplies, GSM-7, within its limit."""
    faults: list[str] = []
    known = set(flow.numbers) | {"service"}
    for name in WORDS:
        messages = messages_of(name, flow)
        try:
            raw = _read_yaml(folder / name)
        except FlowError as exc:
            faults.append(str(exc))
            continue
        if not isinstance(raw, dict):
            faults.append(f"{name}: must be a mapping of languages")
            continue
        for code in flow.languages:
            section = raw.get(code)
            if not isinstance(section, dict):
                faults.append(f"{name}: no section for language {code!r}")
                continue
            faults.extend(f"{name}: {code}.{key} is missing" for key in sorted(set(messages) - set(section)))
            faults.extend(f"{name}: {code}.{key} is not a message the tip line sends"
                          for key in sorted(set(section) - set(messages)))
            longest = _side_longest(flow, code, section)
            for key in sorted(set(section) & set(messages)):
                faults.extend(_check_side_message(f"{name}: {code}.{key}", section[key], messages[key], known,
                                                  longest, flow))
    return faults


def _check_side_message(where: str, text, message: Message, known: set[str], longest: dict[str, str],
                        flow: Flow) -> list[str]:
    if not isinstance(text, str):
        return [f"{where}: must be text"]
    try:
        used = placeholders(text)
    except ValueError as exc:
        return [f"{where}: {exc}"]
    unknown = used - known - set(message.placeholders)
    if unknown:
        allowed = ", ".join(f"{{{p}}}" for p in message.placeholders) or "none of its own"
        return [f"{where}: uses unknown placeholder(s) {sorted(unknown)}; the tip line fills {allowed}, "
                "{service} and the deployment's numbers"]
    values = {p: "W" * FITTED_ROOM if p in message.fitted else longest[p] for p in message.placeholders}
    try:
        filled = text.format_map(_Values(flow.numbers, flow.service_name, values))
    except (FlowError, ValueError, IndexError, AttributeError, KeyError) as exc:
        return [f"{where}: {exc}"]
    return _check_text(where, filled, limit=message.segments)


def check_flow(folder: str | Path, *, service_name: str | None = None) -> list[str]:
    """Every fault in flows/ as a readable line; an empty list means the flows are fine."""
    try:
        flow = load_flow(folder, service_name=service_name)
    except FlowError as exc:
        return [str(exc)]
    faults = _check_messages(flow) + _check_words(flow)
    side = _check_side_files(Path(folder), flow)  # the words files do not take part in a report
    try:
        load_place_map(folder, flow.places)
    except FlowError as exc:
        side.append(str(exc))
    if faults:
        return faults + side
    faults = side
    for code in flow.languages:
        for danger in (False, True):
            for place in ("typed", "picked"):
                try:
                    cost = report_cost(flow, code, danger=danger, place=place)
                except (FlowError, KeyError) as exc:
                    faults.append(f"messages/{code}.yaml: a complete report fails: {exc}")
                    continue
                budget = REPORT_BUDGET + (PLACE_LIST_BUDGET if place == "picked" else 0)
                if cost > budget:
                    kind = "with immediate danger" if danger else "without immediate danger"
                    faults.append(f"messages/{code}.yaml: a complete report {kind}, the place {place}, costs "
                                  f"{cost} segments; at most {budget}")
    return faults
