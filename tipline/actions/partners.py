"""Partners: registering, changing and deactivating the organisations that receive tips.

`check_partner` is the one validation: `tipline partners add` and the dashboard's partner form both
parse their input into its arguments and say its problems in their own words. Every change is audited,
whichever adapter made it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime

import phonenumbers

from .. import storage
from ..engine import Flow
from ..escalation import EVERYWHERE, is_place_code
from ..models import CATEGORIES, Partner
from ..privacy import mask
from .base import Actor, Refused, audit

CHANNELS = ("sms", "whatsapp")
MAX_NAME = 128
MAX_REGION = 128
MAX_PREFERENCE = 100_000


@dataclass(frozen=True)
class PartnerInput:
    """A partner's values, checked. `phone` None keeps the number a partner has (editing only);
    `active` None when adding (a new partner is active)."""

    name: str
    phone: str | None
    channel: str
    language: str
    regions: tuple[str, ...]
    categories: tuple[str, ...]
    urgent_only: bool
    preference: int
    active: bool | None = None

    def values(self) -> dict:
        """The columns to write, leaving out what stays as it is."""
        found = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in found.items() if value is not None}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a partner's input: the field, the rule, and the values the words may need."""

    field: str
    code: str
    facts: tuple[tuple[str, str], ...] = ()


class PartnerInvalid(Refused):
    """The input breaks one rule or more; `problems` lists them all, so a form can mark every field."""

    def __init__(self, problems: list[Problem]):
        super().__init__("invalid", "; ".join(f"{p.field}: {p.code}" for p in problems))
        self.problems = problems


def split_regions(text: str | None) -> list[str]:
    """Places as a form's text holds them: one a line (commas and semicolons also separate)."""
    return [r for r in re.split(r"[\n,;]", text or "") if r.strip()]


def e164(phone: str) -> str | None:
    """The number in E.164 (a whatsapp: prefix is allowed), or None when it cannot be a phone number."""
    try:
        number = phonenumbers.parse(phone.strip().removeprefix("whatsapp:"), None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_partner(
    flow: Flow, *, name: str | None, phone: str | None, channel: str, language: str, regions: list[str],
    categories: list[str], urgent_only: bool, preference: int | None, active: bool | None = None,
    editing: bool = False,
) -> PartnerInput:
    """The partner's values cleaned and checked against the deployment's flow; PartnerInvalid otherwise.

    A place code must be one of flows/places.yaml's (a typo would cover nobody); no place means
    everywhere, and "everywhere" among others is everywhere. When editing, an empty phone keeps the number.
    """
    problems: list[Problem] = []
    name = " ".join((name or "").split())
    if not name:
        problems.append(Problem("name", "required"))
    elif len(name) > MAX_NAME:
        problems.append(Problem("name", "too_long", (("limit", str(MAX_NAME)),)))
    number = None
    if (phone or "").strip():
        number = e164(phone)
        if number is None:
            problems.append(Problem("phone", "invalid"))
    elif not editing:
        problems.append(Problem("phone", "required"))
    if channel not in CHANNELS:
        problems.append(Problem("channel", "unknown"))
    if language not in flow.languages:
        problems.append(Problem("language", "unknown", (("language", language),)))
    cleaned = [" ".join(r.split()) for r in regions if r.strip()]
    unknown = [r for r in cleaned if is_place_code(r) and flow.place(r) is None]
    if unknown:
        problems.append(Problem("regions", "unknown_place", (("codes", ", ".join(unknown)),)))
    if any(len(r) > MAX_REGION for r in cleaned):
        problems.append(Problem("regions", "too_long", (("limit", str(MAX_REGION)),)))
    if any(r.casefold() == EVERYWHERE for r in cleaned):
        cleaned = [EVERYWHERE]
    wrong = [c for c in categories if c not in CATEGORIES]
    if wrong:
        problems.append(Problem("categories", "unknown", (("categories", ", ".join(wrong)),)))
    if preference is None or not 0 <= preference <= MAX_PREFERENCE:
        problems.append(Problem("preference", "out_of_range", (("limit", str(MAX_PREFERENCE)),)))
    if problems:
        raise PartnerInvalid(problems)
    return PartnerInput(
        name=name, phone=number, channel=channel, language=language, regions=tuple(cleaned or [EVERYWHERE]),
        categories=tuple(dict.fromkeys(categories)), urgent_only=bool(urgent_only), preference=preference,
        active=None if not editing or active is None else bool(active),
    )


def _conflicts(session, values: PartnerInput, editing: Partner | None = None) -> None:
    """Name and number are each one partner's (active or not): refused, naming which is taken."""
    problems = []
    named = storage.partner_by_name(session, name=values.name)
    if named is not None and named is not editing:
        problems.append(Problem("name", "taken"))
    if values.phone is not None:
        numbered = storage.partner_by_phone(session, phone=values.phone, active_only=False)
        if numbered is not None and numbered is not editing:
            problems.append(Problem("phone", "taken"))
    if problems:
        raise PartnerInvalid(problems)


def add_partner(session, actor: Actor, values: PartnerInput, *, now: datetime) -> Partner:
    """Register a partner, active; audited as partner_added (the number only masked)."""
    if values.phone is None:
        raise PartnerInvalid([Problem("phone", "required")])
    _conflicts(session, values)
    added = values.values()
    added.pop("active", None)
    partner = storage.add_partner(session, now=now, **added)
    audit(session, actor, "partner_added", now=now, target=partner.name,
          detail={"phone": mask(partner.phone), "channel": partner.channel, "regions": partner.regions,
                  "categories": partner.categories, "urgent_only": partner.urgent_only,
                  "preference": partner.preference})
    return partner


def edit_partner(session, actor: Actor, partner: Partner, values: PartnerInput, *, now: datetime) -> list[str]:
    """Change what differs; a new name follows to the partner's accounts. Returns the fields changed
    (none: nothing is written, nor audited)."""
    _conflicts(session, values, editing=partner)
    wanted = values.values()
    before = {key: getattr(partner, key) for key in wanted}
    changed = [key for key, value in wanted.items() if before[key] != value]
    if changed:
        storage.update_partner(session, partner=partner, **{key: wanted[key] for key in changed})
        audit(session, actor, "partner_changed", now=now, target=partner.name,
              detail={"changed": changed} | ({"renamed_from": before["name"]} if "name" in changed else {}))
    return changed


def deactivate_partner(session, actor: Actor, partner: Partner, *, now: datetime) -> bool:
    """Stop sending to a partner (its past escalations stay on the tips); False when it was inactive already."""
    if not partner.active:
        return False
    storage.update_partner(session, partner=partner, active=False)
    audit(session, actor, "partner_deactivated", now=now, target=partner.name)
    return True
