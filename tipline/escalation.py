"""Getting a tip to people who can act: partner matching, escalation, partners' answers, the timer.

Everything here runs inside the caller's transaction and only queues messages in the outbox,
so an escalation exists exactly when its messages do. Partner messages carry what, where, when,
how urgent and how many; never anything about the reporter.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from . import channels, storage
from .engine import Flow, FlowError, parse_reference
from .engine.gsm import segments
from .models import Escalation, Partner, Tip
from .privacy import ContactBox
from .settings import Settings

log = logging.getLogger(__name__)

MAX_SEGMENTS = 3
FIELD_WIDTH = 80  # each of where, when, how many, before the description gets the rest
EVERYWHERE = "everywhere"
PARTNER_COMMANDS = ("ACK", "DONE", "INFO")
OPEN_STATUSES = ("new", "triaged", "escalated")


class OutboundError(FlowError):
    """flows/outbound.yaml is missing or incomplete."""


@dataclass
class Outbound:
    """What composing and queueing outbound messages needs: words, keys, settings, the flow."""

    settings: Settings
    contacts: ContactBox
    flow: Flow
    words: dict[str, dict[str, str]]

    @classmethod
    def load(cls, settings: Settings, contacts: ContactBox, flow: Flow) -> Outbound:
        path = Path(settings.flows_path) / "outbound.yaml"
        try:
            words = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise OutboundError(f"{path}: {exc}") from None
        if not isinstance(words, dict) or not isinstance(words.get("en"), dict):
            raise OutboundError(f"{path}: needs an 'en' section of messages")
        return cls(settings=settings, contacts=contacts, flow=flow, words=words)

    def say(self, language: str, key: str, **values: str) -> str:
        table = self.words.get(language) or {}
        template = table.get(key) or self.words["en"][key]
        return template.format(service=self.flow.service_name, **values)

    def category(self, language: str, key: str | None) -> str:
        if key is None:
            return self.say(language, "unknown")
        lang = language if language in self.flow.languages else "en"
        try:
            return self.flow.say(lang, f"category_{key}")
        except KeyError:
            return key

    def queue(
        self, session, *, kind: str, address: str, body: str, now: datetime, tip: Tip | None = None,
        partner: Partner | None = None, reporter: str | None = None, sealed: str | None = None,
        provider: str | None = None,
    ):
        """Queue a message to `address` (plain) or to an already sealed reporter contact.

        `provider` carries it (a reply goes back the way its message came); unset, SMS goes through
        the local gateway when one is configured (channels.provider_for).
        """
        channel = "whatsapp" if address.lower().startswith("whatsapp:") else "sms"
        digits = re.sub(r"\D", "", address)
        return storage.enqueue(
            session, kind=kind, channel=channel, to_sealed=sealed or self.contacts.seal(address),
            # A reporter's number shows no digit anywhere; an organisation's shows its last two.
            to_hint="" if reporter else digits[-2:], body=body, now=now, tip_id=tip.id if tip else None,
            partner_id=partner.id if partner else None, reporter=reporter,
            provider=provider or channels.provider_for(self.settings, channel),
        )


def partner_address(partner: Partner) -> str:
    return f"whatsapp:{partner.phone}" if partner.channel == "whatsapp" else partner.phone


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


PLACE_CODE = re.compile(r"\d+(?:\.\d+)*")  # a code from flows/places.yaml: "32" (a province), "32.01"


def is_place_code(region: str) -> bool:
    return bool(PLACE_CODE.fullmatch(region.strip()))


def covers(partner: Partner, location: str | None, place_code: str | None = None) -> bool:
    """A partner covers "everywhere", a place code the tip's place lies in (32 covers 32.01), or a
    place named as a whole word in the tip's location."""
    regions = [_normal(r) for r in partner.regions or [] if r and r.strip()]
    if EVERYWHERE in regions:
        return True
    codes = [r for r in regions if is_place_code(r)]
    if place_code and any(place_code == code or place_code.startswith(f"{code}.") for code in codes):
        return True
    if not location:
        return False
    where = _normal(location)
    words = [r for r in regions if not is_place_code(r)]
    return any(re.search(rf"(?<!\w){re.escape(region)}(?!\w)", where) for region in words)


def matches(partner: Partner, tip: Tip) -> bool:
    """Place, category (unknown matches all) and urgency rules of one partner for one tip."""
    if not partner.active or (partner.urgent_only and tip.urgency != "immediate"):
        return False
    if partner.categories and tip.category is not None and tip.category not in partner.categories:
        return False
    return covers(partner, tip.location, tip.place_code)


def _clip(text: str | None, width: int) -> str | None:
    if not text:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def _fit(build, text: str) -> str:
    """The longest cut of `text` for which build(text) still fits MAX_SEGMENTS segments."""
    if segments(build(text)) <= MAX_SEGMENTS:
        return build(text)
    low, high = 0, len(text)
    while low < high:  # binary search on the cut
        middle = (low + high + 1) // 2
        if segments(build(text[:middle] + "...")) <= MAX_SEGMENTS:
            low = middle
        else:
            high = middle - 1
    return build(text[:low] + "..." if low else "")


def partner_message(outbound: Outbound, tip: Tip, language: str, *, update: bool = False) -> str:
    """The escalation as a partner reads it: reference, urgency, kind, where, when, how many, what."""
    unknown = outbound.say(language, "unknown")
    urgency = outbound.say(language, f"urgency_{tip.urgency}")
    if update:
        urgency = f"{outbound.say(language, 'update')} {urgency}"
    values = dict(
        reference=tip.reference, urgency=urgency, kind=outbound.category(language, tip.category),
        where=_clip(tip.location, FIELD_WIDTH) or unknown, when=_clip(tip.when_seen, FIELD_WIDTH) or unknown,
        children=_clip(tip.children, FIELD_WIDTH) or unknown,
    )
    what = " ".join((tip.description or "").split()) or unknown
    return _fit(lambda cut: outbound.say(language, "escalation", what=cut, **values), what)


def info_message(outbound: Outbound, session, tip: Tip, language: str) -> str:
    """The whole description and later additions, in at most MAX_SEGMENTS segments."""
    parts = [tip.description or ""]
    parts += [a.text for a in storage.additions_by_tip(session, tip_ids=[tip.id]).get(tip.id, [])]
    what = " / ".join(" ".join(p.split()) for p in parts if p and p.strip())
    if not what:
        return outbound.say(language, "info_none", reference=tip.reference)
    return _fit(lambda cut: outbound.say(language, "info", reference=tip.reference, what=cut), what)


def _deadline(outbound: Outbound, tip: Tip, now: datetime) -> datetime | None:
    if tip.urgency != "immediate":
        return None
    return now + timedelta(minutes=outbound.settings.escalation_timeout_minutes)


def escalate_tip(
    session, tip: Tip, partner: Partner, *, actor: str, now: datetime, outbound: Outbound,
) -> Escalation | None:
    """Send `tip` to `partner` (the dashboard's escalate button); None if it already went there."""
    if storage.escalation_for(session, tip_id=tip.id, partner_id=partner.id) is not None:
        return None
    escalation = storage.add_escalation(
        session, tip=tip, partner=partner, actor=actor, now=now, due_at=_deadline(outbound, tip, now)
    )
    outbound.queue(
        session, kind="escalation", address=partner_address(partner),
        body=partner_message(outbound, tip, partner.language), now=now, tip=tip, partner=partner,
    )
    if tip.status in ("new", "triaged"):
        storage.set_tip_status(session, tip=tip, status="escalated", actor=actor, now=now)
    storage.add_event(session, tip=tip, kind="escalated", at=now, actor=actor, detail={"partner": partner.name})
    return escalation


def _alert_oncall(session, outbound: Outbound, tip: Tip, key: str, now: datetime, **values) -> None:
    number = outbound.settings.oncall_number
    if not number:
        log.warning("tip %s: %s, and no TIPLINE_ONCALL_NUMBER is set", tip.reference, key)
        return
    body = outbound.say("en", key, reference=tip.reference, **values)
    outbound.queue(session, kind="alert", address=number, body=body, now=now, tip=tip)


def escalate_immediate(session, tip: Tip, *, now: datetime, outbound: Outbound) -> int:
    """A child is in danger now: every matching partner and the on-call number get the tip at once.

    Danger is the first question, so the place is often not known yet: partners covering
    "everywhere" get it now, and partners of the place get it as soon as the reporter names it
    (see `after_save`).
    """
    sent = 0
    for partner in storage.list_partners(session):
        if matches(partner, tip) and escalate_tip(session, tip, partner, actor="system", now=now, outbound=outbound):
            sent += 1
    if outbound.settings.oncall_number:
        outbound.queue(
            session, kind="escalation", address=outbound.settings.oncall_number,
            body=partner_message(outbound, tip, "en"), now=now, tip=tip,
        )
    if not sent:
        # The timeline already says escalation_requested; no escalation rows means nobody got it.
        _alert_oncall(session, outbound, tip, "unrouted_alert", now)
    log.info("tip %s escalated to %d partners", tip.reference, sent)
    return sent


def after_save(session, tip: Tip, *, now: datetime, outbound: Outbound) -> None:
    """An escalated urgent tip learnt more: new matching partners get it, and at completion an update."""
    if tip.urgency != "immediate" or tip.status not in (*OPEN_STATUSES, "acknowledged"):
        return
    earlier = storage.escalations_for_tip(session, tip_id=tip.id)
    # Urgent but no partner matched when danger was reported (the place came later): still pending.
    if not earlier and not storage.has_event(session, tip_id=tip.id, kind="escalation_requested"):
        return
    reached = {e.partner_id for e in earlier}
    for partner in storage.list_partners(session):
        if partner.id not in reached and matches(partner, tip):
            escalate_tip(session, tip, partner, actor="system", now=now, outbound=outbound)
    if earlier and tip.complete and not storage.has_event(session, tip_id=tip.id, kind="escalation_update"):
        for escalation in earlier:
            partner = storage.partner_by_id(session, partner_id=escalation.partner_id)
            if partner is not None and partner.active and escalation.status in ("sent", "acknowledged"):
                outbound.queue(
                    session, kind="update", address=partner_address(partner),
                    body=partner_message(outbound, tip, partner.language, update=True), now=now, tip=tip,
                    partner=partner,
                )
        storage.add_event(session, tip=tip, kind="escalation_update", at=now)


def handle_timeouts(session, *, now: datetime, outbound: Outbound) -> int:
    """Urgent tips nobody acknowledged in time go to the next partner, and operators are alerted."""
    overdue = storage.overdue_escalations(session, now=now)
    by_tip: dict[int, list[Escalation]] = {}
    for escalation in overdue:
        by_tip.setdefault(escalation.tip_id, []).append(escalation)
    minutes = str(outbound.settings.escalation_timeout_minutes)
    for tip_id, escalations in by_tip.items():
        tip = storage.lock_tip(session, tip_id=tip_id)
        for escalation in escalations:
            escalation.status = "timed_out"
            session.add(escalation)
        reached = {e.partner_id for e in storage.escalations_for_tip(session, tip_id=tip_id)}
        candidates = [p for p in storage.list_partners(session) if p.id not in reached]
        # Prefer partners that match the tip; then anyone, by preference: a child is in danger.
        candidates.sort(key=lambda p: (not matches(p, tip), p.preference, p.id))
        storage.add_event(session, tip=tip, kind="escalation_timed_out", at=now,
                          detail={"next": candidates[0].name if candidates else None})
        if candidates:
            escalate_tip(session, tip, candidates[0], actor="system", now=now, outbound=outbound)
            _alert_oncall(session, outbound, tip, "timeout_alert", now, minutes=minutes, partner=candidates[0].name)
        else:
            _alert_oncall(session, outbound, tip, "timeout_alert_none", now, minutes=minutes)
    return len(by_tip)


def partner_command(session, partner: Partner, text: str, *, now: datetime, outbound: Outbound) -> str:
    """ACK, DONE or INFO from a partner's registered number; the answer to send back."""
    words = text.split()
    command = words[0].upper()
    language = partner.language
    reference = parse_reference(words[1]) if len(words) > 1 else None
    if reference is None:
        return outbound.say(language, "usage")
    tip = storage.tip_by_reference(session, reference=reference)
    escalation = storage.escalation_for(session, tip_id=tip.id, partner_id=partner.id) if tip else None
    if escalation is None:  # the same answer whether or not the tip exists: nothing leaks
        return outbound.say(language, "not_yours", reference=reference)
    actor = f"partner:{partner.name}"
    if command == "INFO":
        storage.add_event(session, tip=tip, kind="partner_info", at=now, actor=actor)
        return info_message(outbound, session, tip, language)
    if tip.status in ("closed", "spam"):
        return outbound.say(language, "already_closed", reference=reference)
    if command == "ACK":
        escalation.status, escalation.acknowledged_at = "acknowledged", now
        session.add(escalation)
        storage.add_event(session, tip=tip, kind="partner_acknowledged", at=now, actor=actor)
        if tip.status in OPEN_STATUSES:
            storage.set_tip_status(session, tip=tip, status="acknowledged", actor=actor, now=now)
        return outbound.say(language, "ack_done", reference=reference)
    note = text.split(None, 2)[2].strip() if len(words) > 2 else ""
    escalation.status, escalation.done_at, escalation.note = "done", now, note[:2000] or None
    escalation.acknowledged_at = escalation.acknowledged_at or now
    session.add(escalation)
    storage.add_event(session, tip=tip, kind="partner_done", at=now, actor=actor)
    storage.close_tip(session, tip=tip, now=now, actor=actor)
    return outbound.say(language, "done_done", reference=reference)


def is_partner_command(text: str) -> bool:
    words = text.split()
    return bool(words) and words[0].upper() in PARTNER_COMMANDS
