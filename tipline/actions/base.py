"""Who acts, how an action says no, and the one way an action writes the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .. import storage
from ..models import Partner


@dataclass(frozen=True)
class Actor:
    """Who acts: an operator (their email and address), a partner (by its number), or the system."""

    name: str
    kind: str  # operator, partner, system, reporter
    address: str | None = None

    @classmethod
    def operator(cls, email: str, address: str | None = None) -> Actor:
        return cls(email, "operator", address)

    @classmethod
    def partner(cls, partner: Partner) -> Actor:
        return cls(f"partner:{partner.name}", "partner")


SYSTEM = Actor("system", "system")
REPORTER = Actor("reporter", "reporter")  # never who: the reporter is only ever a pseudonym
COMMAND_LINE = Actor("cli", "operator")  # whoever runs `tipline` on the server


class Refused(Exception):
    """An act the rules do not allow. `code` names the rule so each adapter says it in its own words;
    `facts` are the values the words may need (never a reporter's); `message` is for logs and tests."""

    def __init__(self, code: str, message: str | None = None, **facts):
        super().__init__(message or f"{code}: {', '.join(f'{k}={v}' for k, v in facts.items())}")
        self.code = code
        self.facts = facts


def audit(session, actor: Actor, action: str, *, now: datetime, target: str | None = None,
          detail: dict | None = None) -> None:
    """The action's entry in the audit trail, in the caller's transaction: written with the change or not at all."""
    storage.record_audit(session, actor=actor.name, action=action, at=now, target=target, address=actor.address,
                         detail=detail)
