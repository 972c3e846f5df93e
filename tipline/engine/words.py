"""Words the tip line sends on its own initiative: flows/outbound.yaml and flows/community.yaml.

Partners, on-call operators, reporters who agreed to a follow-up and volunteers read these. They are
read with the conversation's YAML loader and filled like its messages (the deployment's numbers and
{service} work everywhere), and WORDS below is the one place that says which messages exist and which
placeholders the code supplies to each: `tipline flows check` refuses a file that names another
placeholder or misses a message in any language, and `say` refuses a caller that supplies others.
A typo must fail the check, never a partner's escalation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .flow import Flow, FlowError, _read_yaml, _Values

log = logging.getLogger(__name__)

FITTED_ROOM = 20  # a message's free text (the part cut to fit) must keep at least this much room


@dataclass(frozen=True)
class Message:
    """One message: the placeholders the code fills, its segment limit, the free text cut to fit."""

    placeholders: tuple[str, ...] = ()
    segments: int = 2
    fitted: tuple[str, ...] = ()  # free text (the reporter's description, an operator's question)


WORDS: dict[str, dict[str, Message]] = {
    "outbound.yaml": {
        # pieces of a partner's escalation
        "urgency_immediate": Message(),
        "urgency_normal": Message(),
        "update": Message(),
        "unknown": Message(),
        # and {<field>} for each report field flow.yaml shows to partners (`partner`): see messages_of
        "escalation": Message(("reference", "urgency", "kind", "what"), segments=3, fitted=("what",)),
        # answers to a partner's ACK, DONE and INFO
        "ack_done": Message(("reference",)),
        "done_done": Message(("reference",)),
        "info": Message(("reference", "what"), segments=3, fitted=("what",)),
        "info_none": Message(("reference",)),
        "not_yours": Message(("reference",)),
        "usage": Message(),
        "already_closed": Message(("reference",)),
        # alerts to the on-call number
        "timeout_alert": Message(("reference", "minutes", "partner")),
        "timeout_alert_none": Message(("reference", "minutes")),
        "unrouted_alert": Message(("reference",)),
        "failed_alert": Message(("reference",)),
        # a follow-up question to a reporter who agreed to be contacted
        "follow_up": Message(("reference", "question"), fitted=("question",)),
        "follow_up_thanks": Message(("reference",)),
    },
    "community.yaml": {
        "awareness": Message(("text",), fitted=("text",)),
        "lesson": Message(("lesson",), segments=3),  # a lesson (at most 2 segments) and its frame
        "poll": Message(("question", "choices"), fitted=("question", "choices")),
        "poll_thanks": Message(("choice",)),
        "poll_results": Message(("question", "results", "change"), fitted=("question", "results", "change")),
        "poll_no_answers": Message(),
    },
}

# The longest value each placeholder takes; the check fills messages with these (free text gets
# FITTED_ROOM). kind, urgency and lesson depend on the language and are measured by the check.
LONGEST = {
    "reference": "WWWW-WWWW",
    "minutes": "9999",
    "partner": "W" * 128,  # a partner's name is at most 128 characters
    "choice": "9",
}


def messages_of(name: str, flow: Flow) -> dict[str, Message]:
    """The messages of a words file with the placeholders this flow adds: a partner's escalation
    carries each report field declared with a `partner` width, clipped to it, as {<field>}."""
    messages = dict(WORDS[name])
    if "escalation" in messages:
        escalation = messages["escalation"]
        shown = tuple(f.name for f in flow.fields.values() if f.partner)
        messages["escalation"] = Message((*escalation.placeholders, *shown), escalation.segments, escalation.fitted)
    return messages


@dataclass
class Words:
    """One words file: a section per language; a message missing or broken in one falls back to English."""

    name: str
    table: dict[str, Any]
    flow: Flow

    @classmethod
    def load(cls, folder: str | Path, name: str, flow: Flow) -> Words:
        if name not in WORDS:
            raise FlowError(f"{name}: not a words file the tip line knows ({', '.join(WORDS)})")
        path = Path(folder) / name
        table = _read_yaml(path)
        if not isinstance(table, dict) or not isinstance(table.get("en"), dict):
            raise FlowError(f"{path}: needs an 'en' section of messages")
        return cls(name=name, table=table, flow=flow)

    def say(self, language: str, key: str, **values: Any) -> str:
        """The message in `language` (else English), filled; the caller supplies exactly its placeholders."""
        message = messages_of(self.name, self.flow)[key]
        if set(values) != set(message.placeholders):
            raise TypeError(f"{self.name}: {key!r} takes {sorted(message.placeholders)}, not {sorted(values)}")
        for code in dict.fromkeys((language, "en")):
            template = (self.table.get(code) or {}).get(key)
            if not isinstance(template, str):
                continue
            try:
                return template.format_map(_Values(self.flow.numbers, self.flow.service_name, values))
            except (FlowError, ValueError, IndexError, AttributeError, KeyError) as exc:
                if code == "en":
                    raise FlowError(f"{self.name}: en.{key}: {exc}") from None
                # A broken translation must not stop the message: English goes instead (run `tipline flows check`).
                log.warning("%s: %s.%s is broken (%s); sending English", self.name, code, key, type(exc).__name__)
        raise FlowError(f"{self.name}: en.{key} is missing")
