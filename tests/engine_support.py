"""The engine on its own: a fixed clock, an in-memory stand-in for stored tips, and one reporter's talk."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

from tipline.engine import (
    Access,
    Conversation,
    Inbound,
    NoTips,
    SaveTip,
    step,
)
from tipline.engine.reference import ALPHABET

FLOWS = Path(__file__).resolve().parent.parent / "flows"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Tips(NoTips):
    """An in-memory stand-in for stored tips: only what the engine may ask.

    `statuses` are the sender's own tips; `others` someone else's, with their PIN.
    """

    def __init__(self, statuses=None, *, others=None, handling=None, routed=True):
        self.statuses = dict(statuses or {})
        self.others = dict(others or {})  # reference -> (status, pin)
        self.handlings = dict(handling or {})
        self.routed = routed
        self.pin_tries: list[tuple[str, str]] = []

    def status_of(self, reference):
        return self.statuses.get(reference) or (self.others.get(reference) or (None,))[0]

    def access(self, reference, pin):
        if reference in self.statuses:
            return Access(True, pin_used=False)
        if reference not in self.others or pin is None:
            return Access(False)
        self.pin_tries.append((reference, pin))
        return Access(self.others[reference][1] == pin, pin_used=True)

    def handling(self, reference):
        return self.handlings.get(reference, "none")

    def urgent_route(self, fields):
        return self.routed


class Talk:
    """One reporter's conversation with the engine, recording replies and events."""

    def __init__(self, flow, *, channel="sms", language=None, tips=None):
        self.flow = flow
        self.conversation = Conversation(language=language)
        self.channel = channel
        self.now = T0
        self.tips = tips or Tips()
        self._counter = itertools.count(2)
        self.events: list = []

    def reference(self):
        n = next(self._counter)
        return f"{ALPHABET[n]}{ALPHABET[n]}{ALPHABET[n]}{ALPHABET[n]}-2222"

    def send(self, text="", **inbound):
        turn = step(
            self.flow, self.conversation, Inbound(text=text, channel=self.channel, **inbound), self.now,
            tips=self.tips, new_reference=self.reference,
        )
        self.conversation = turn.conversation
        self.events.extend(turn.events)
        self.last_events = turn.events
        return turn.replies

    def saved(self):
        return [e for e in self.events if isinstance(e, SaveTip)]


def to_where(flow, language="en"):
    """A reporter who has told a story and is asked where it happens."""
    talk = Talk(flow, language=language)
    for text in ("hi", "1", "2", "Children work nights at the brick kiln", "1"):
        talk.send(text)
    assert talk.conversation.state == "report_where"
    return talk
