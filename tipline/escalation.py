"""Getting a tip to people who can act: who receives an urgent tip, escalation, partners' answers, the timer.

Everything here runs inside the caller's transaction and only queues messages in the outbox,
so an escalation exists exactly when its messages do. Partner messages carry what, where, when,
how urgent and how many; never anything about the reporter.

Routing never fails silently. An urgent tip goes to every partner matching its place, category and
urgency, and to the on-call number; with no partner it goes to the on-call number alone; with neither,
or when building or sending it breaks, the tip is marked "unrouted" or "failed" (Tip.routing), says so
in its timeline, and is pinned at the top of the operators' queue and listed by `tipline outbox list`.
A partner that does not acknowledge in time hands the tip on to the next matching partner, then to
the on-call number: never to a partner of another place or kind.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from . import channels, storage
from .actions import SYSTEM, Actor
from .actions import tips as tip_actions
from .engine import Flow, FlowError, parse_reference
from .engine.flow import FieldSpec
from .engine.gsm import segments
from .engine.words import Words
from .models import Escalation, Partner, Tip
from .privacy import ContactBox
from .report_fields import answer_of
from .settings import Settings
from .statuses import CLOSED_STATUSES, NOBODY

log = logging.getLogger(__name__)

MAX_SEGMENTS = 3
EVERYWHERE = "everywhere"
PARTNER_COMMANDS = ("ACK", "DONE", "INFO")


@dataclass
class Outbound:
    """What composing and queueing outbound messages needs: words, keys, settings, the flow."""

    settings: Settings
    contacts: ContactBox
    flow: Flow
    words: Words

    @classmethod
    def load(cls, settings: Settings, contacts: ContactBox, flow: Flow) -> Outbound:
        return cls(settings=settings, contacts=contacts, flow=flow,
                   words=Words.load(settings.flows_path, "outbound.yaml", flow))

    def say(self, language: str, key: str, **values: str) -> str:
        return self.words.say(language, key, **values)

    def category(self, language: str, key: str | None) -> str:
        if key is None:
            return self.say(language, "unknown")
        return self.flow.word(language, f"category_{key}", key)

    def answer(self, language: str, field: FieldSpec, answer: Any) -> str:
        """A report answer as a partner reads it: a choice or a yes/no in words, text clipped to the field's
        `partner` width (so the description keeps room in the message)."""
        if answer is None or answer == "":
            return self.say(language, "unknown")
        if answer is True or answer is False:
            return self.flow.word(language, "summary_yes" if answer else "summary_no", str(answer))
        if field.kind == "choice":
            return self.flow.word(language, f"{field.name}_{answer}", str(answer))
        return _clip(str(answer), field.partner) or self.say(language, "unknown")

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


def place_names(flow: Flow, code: str | None) -> tuple[str, ...]:
    """The official names of a place and of every place it lies in: 32.73 is Kota Bandung, Jawa Barat."""
    parts = (code or "").split(".")
    found = (flow.place(".".join(parts[:end])) for end in range(len(parts), 0, -1))
    return tuple(place.name for place in found if place is not None)


def _names(region: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(region)}(?!\w)", _normal(text)) is not None


def covers(partner: Partner, location: str | None, place_code: str | None = None,
           names: tuple[str, ...] = ()) -> bool:
    """Whether a partner's places take a tip's place.

    "everywhere" takes every tip. A tip with a place code (picked from the list, or typed words matched
    to it) goes by the code: a partner's code takes its own place and what lies in it (32 takes 32.73),
    a partner's word takes it when it names the place or one it lies in (`names`: "Bandung" or "Jawa
    Barat" for Kota Bandung); what else the reporter typed does not count. Only a tip without a code
    falls back to words: a partner's word named as a whole word in the tip's location.
    """
    regions = [_normal(r) for r in partner.regions or [] if r and r.strip()]
    if EVERYWHERE in regions:
        return True
    words = [r for r in regions if not is_place_code(r)]
    if place_code:
        codes = [r for r in regions if is_place_code(r)]
        if any(place_code == code or place_code.startswith(f"{code}.") for code in codes):
            return True
        return any(_names(word, name) for word in words for name in names)
    return bool(location) and any(_names(word, location) for word in words)


@dataclass(frozen=True)
class Fit:
    """How one partner fits one tip, rule by rule, so a page can say why it matches or not."""

    active: bool
    urgency: bool  # not an "immediate danger only" partner, or the tip is urgent
    kind: bool  # the partner takes every kind, or this one (an unknown kind matches all)
    place: bool  # the partner covers the tip's place

    @property
    def matches(self) -> bool:
        return self.active and self.urgency and self.kind and self.place


def fit(partner: Partner, tip: Tip, flow: Flow) -> Fit:
    """Place, category and urgency rules of one partner for one tip, each on its own."""
    return Fit(
        active=bool(partner.active),
        urgency=not (partner.urgent_only and tip.urgency != "immediate"),
        kind=not (partner.categories and tip.category is not None and tip.category not in partner.categories),
        place=covers(partner, tip.location, tip.place_code, place_names(flow, tip.place_code)),
    )


def matches(partner: Partner, tip: Tip, flow: Flow) -> bool:
    """Place, category (unknown matches all) and urgency rules of one partner for one tip."""
    return fit(partner, tip, flow).matches


@dataclass(frozen=True)
class Receivers:
    """Who an urgent tip goes to: matching partners by preference, and the on-call number."""

    partners: tuple[Partner, ...]
    oncall: str | None

    @property
    def anyone(self) -> bool:
        return bool(self.partners or self.oncall)


def urgent_receivers(session, tip: Tip, *, outbound: Outbound, exclude: set[int] = frozenset()) -> Receivers:
    """The one routing rule, for sending an urgent tip and for telling its reporter the truth: every
    active partner matching the tip (except those in `exclude`), by preference, and the on-call number."""
    partners = tuple(p for p in storage.list_partners(session)
                     if p.id not in exclude and matches(p, tip, outbound.flow))
    return Receivers(partners=partners, oncall=outbound.settings.oncall_number or None)


def urgent_receivers_exist(
    session, *, outbound: Outbound, location: str | None, place_code: str | None, category: str | None,
) -> bool:
    """Whether an urgent tip like this reaches a person now (by the one routing rule above): the
    reporter is told "passed on" only then (issue 8). Asked before the tip is stored."""
    probe = Tip(reference="", reporter="", urgency="immediate", category=category, location=location,
                place_code=place_code)
    return urgent_receivers(session, probe, outbound=outbound).anyone


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
    """The escalation as a partner reads it: reference, urgency, kind, what, and each report field the
    flow shows partners (where, when, how many...), clipped to its width so the description keeps room."""
    unknown = outbound.say(language, "unknown")
    urgency = outbound.say(language, f"urgency_{tip.urgency}")
    if update:
        urgency = f"{outbound.say(language, 'update')} {urgency}"
    values = dict(reference=tip.reference, urgency=urgency, kind=outbound.category(language, tip.category))
    for field in outbound.flow.fields.values():
        if field.partner:
            values[field.name] = outbound.answer(language, field, answer_of(tip, field))
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
    session, tip: Tip, partner: Partner, *, actor: Actor, now: datetime, outbound: Outbound,
) -> Escalation | None:
    """Send `tip` to `partner` (routing, or the dashboard's escalate button); None if it already went there."""
    if storage.escalation_for(session, tip_id=tip.id, partner_id=partner.id) is not None:
        return None
    escalation = storage.add_escalation(
        session, tip=tip, partner=partner, actor=actor.name, now=now, due_at=_deadline(outbound, tip, now)
    )
    outbound.queue(
        session, kind="escalation", address=partner_address(partner),
        body=partner_message(outbound, tip, partner.language), now=now, tip=tip, partner=partner,
    )
    matching = matches(partner, tip, outbound.flow)
    tip_actions.tip_escalated(session, tip, partner, actor=actor, now=now, matching=matching)
    if tip.routing in NOBODY:
        settle_routing(session, tip, now=now)  # someone has it now: no longer pinned as received by nobody
    return escalation


def _alert_oncall(session, outbound: Outbound, tip: Tip, key: str, now: datetime, **values) -> None:
    number = outbound.settings.oncall_number
    if not number:
        log.warning("tip %s: %s, and no TIPLINE_ONCALL_NUMBER is set", tip.reference, key)
        return
    body = outbound.say("en", key, reference=tip.reference, **values)
    outbound.queue(session, kind="alert", address=number, body=body, now=now, tip=tip)


# ---- urgent tips: routing that cannot fail silently -------------------------------------------

def route_urgent(session, tip: Tip, *, now: datetime, outbound: Outbound) -> str:
    """Send an urgent tip to every matching partner it has not reached, and the first time to the
    on-call number too (with an alert when no partner takes it); returns the tip's routing.

    Danger is the first question, so the place is often not known yet: partners covering
    "everywhere" get the tip at once, partners of the place as soon as the reporter names it.
    """
    first = tip.routing in (None, "failed")  # the first try, or a try again after a failure
    reached = {e.partner_id for e in storage.escalations_for_tip(session, tip_id=tip.id)}
    receivers = urgent_receivers(session, tip, outbound=outbound, exclude=reached)
    for partner in receivers.partners:
        escalate_tip(session, tip, partner, actor=SYSTEM, now=now, outbound=outbound)
    if first and receivers.oncall:
        outbound.queue(session, kind="escalation", address=receivers.oncall,
                       body=partner_message(outbound, tip, "en"), now=now, tip=tip)
        if not reached and not receivers.partners:
            _alert_oncall(session, outbound, tip, "unrouted_alert", now)
    routing = settle_routing(session, tip, now=now)
    if receivers.partners:
        log.info("tip %s: urgent, sent to %d more partners", tip.reference, len(receivers.partners))
    return routing


def settle_routing(session, tip: Tip, *, now: datetime, failure: str | None = None) -> str:
    """Store who the urgent tip reached, from what is stored, and say so in its timeline when it changes.

    "partner": a partner acknowledged it, or its message is queued or went out; "oncall": only the
    on-call number's did; "failed": routing broke (`failure` says how) or every message failed;
    "unrouted": nobody was there to send it to.
    """
    detail: dict = {}
    if failure is not None:
        routing, detail = "failed", {"error": failure}
    else:
        carried = storage.tip_messages_carried(session, tip_id=tip.id)
        holding = [e for e in storage.escalations_for_tip(session, tip_id=tip.id)
                   if e.status in ("acknowledged", "done") or (e.status == "sent" and e.partner_id in carried)]
        if holding:
            names = storage.partner_names(session, partner_ids=[e.partner_id for e in holding])
            routing, detail = "partner", {"partners": sorted(names.values()), "oncall": None in carried}
        elif None in carried:
            routing = "oncall"
        elif storage.tip_messages_failed(session, tip_id=tip.id):
            routing = "failed"
        else:
            routing = "unrouted"
    if routing != tip.routing:
        tip.routing = routing
        session.add(tip)
        storage.add_event(session, tip=tip, kind="routing", at=now, detail={"to": routing, **detail})
        if routing in NOBODY:
            log.warning("tip %s: urgent and nobody received it (%s)", tip.reference, routing)
    return routing


def _describe(error: Exception) -> str:
    """What broke, for a log line and the timeline: never a value from a tip or a message."""
    if isinstance(error, sa.exc.DBAPIError):
        return storage.describe_database_error(error)
    if isinstance(error, FlowError):
        return f"FlowError: {error}"  # names a file, a message and a placeholder
    return type(error).__name__


def guarded(session, tip: Tip, work, *, now: datetime, outbound: Outbound) -> bool:
    """Run routing `work` in a savepoint. If it breaks, what came before it (the reporter's emergency
    reply, the tip, the conversation) still commits: the tip is marked "failed" for operators, and the
    on-call number is alerted if that still works. Nothing after the emergency reply can take it back."""
    try:
        with session.begin_nested():
            work()
        return True
    except Exception as error:  # noqa: BLE001 - nothing may stop the reporter's emergency reply
        failure = _describe(error)
    log.error("tip %s: escalation failed (%s); the tip is kept and marked for operators", tip.reference, failure)
    for step in (lambda: settle_routing(session, tip, now=now, failure=failure),
                 lambda: _alert_oncall(session, outbound, tip, "failed_alert", now)):
        try:
            with session.begin_nested():
                step()
        except Exception as error:  # noqa: BLE001
            log.error("tip %s: after the escalation failure, %s failed too", tip.reference, _describe(error))
    return False


def escalate_immediate(session, tip: Tip, *, now: datetime, outbound: Outbound) -> bool:
    """A child is in danger now (the reporter just said so): route the tip; never raises."""
    return guarded(session, tip, lambda: route_urgent(session, tip, now=now, outbound=outbound),
                   now=now, outbound=outbound)


def after_save(session, tip: Tip, *, now: datetime, outbound: Outbound) -> None:
    """An urgent tip learnt more: partners that match now get it, and at completion an update goes to
    those that had it. Never raises (see `guarded`)."""
    if tip.urgency != "immediate" or tip.status in CLOSED_STATUSES:
        return
    if not storage.has_event(session, tip_id=tip.id, kind="escalation_requested"):
        return  # routing starts with the reporter's "yes, a child is in danger now"

    def work() -> None:
        earlier = storage.escalations_for_tip(session, tip_id=tip.id)
        route_urgent(session, tip, now=now, outbound=outbound)
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

    guarded(session, tip, work, now=now, outbound=outbound)


def handle_timeouts(session, *, now: datetime, outbound: Outbound) -> int:
    """Urgent escalations nobody acknowledged in time: the tip goes to the next partner that matches
    it, else the on-call number is told nobody is left. Each tip in its own savepoint."""
    by_tip: dict[int, list[Escalation]] = {}
    for escalation in storage.overdue_escalations(session, now=now):
        by_tip.setdefault(escalation.tip_id, []).append(escalation)
    for tip_id, escalations in by_tip.items():
        tip = storage.lock_tip(session, tip_id=tip_id)
        for escalation in escalations:  # timed out whatever happens next: the timer fires once
            escalation.status = "timed_out"
            session.add(escalation)
        move_on = functools.partial(_move_on, session, tip, escalations, now=now, outbound=outbound)
        guarded(session, tip, move_on, now=now, outbound=outbound)
    return len(by_tip)


def _move_on(session, tip: Tip, late: list[Escalation], *, now: datetime, outbound: Outbound) -> None:
    reached = {e.partner_id for e in storage.escalations_for_tip(session, tip_id=tip.id)}
    receivers = urgent_receivers(session, tip, outbound=outbound, exclude=reached)
    following = receivers.partners[0] if receivers.partners else None
    names = storage.partner_names(session, partner_ids=[e.partner_id for e in late])
    storage.add_event(session, tip=tip, kind="escalation_timed_out", at=now, detail={
        "partners": sorted(names.values()), "next": following.name if following else None,
        "oncall": receivers.oncall is not None})
    minutes = str(outbound.settings.escalation_timeout_minutes)
    if following is not None:
        escalate_tip(session, tip, following, actor=SYSTEM, now=now, outbound=outbound)
        _alert_oncall(session, outbound, tip, "timeout_alert", now, minutes=minutes, partner=following.name)
    else:
        _alert_oncall(session, outbound, tip, "timeout_alert_none", now, minutes=minutes)
    settle_routing(session, tip, now=now)


# ---- partners' answers by SMS ------------------------------------------------------------------

def partner_command(session, partner: Partner, text: str, *, now: datetime, outbound: Outbound) -> str:
    """ACK, DONE or INFO from a partner's registered number; the answer to send back.

    DONE keeps the partner's outcome for an operator to confirm: it closes nothing by itself.
    """
    words = text.split()
    command = words[0].upper()
    language = partner.language
    reference = parse_reference(words[1]) if len(words) > 1 else None
    if reference is None:
        return outbound.say(language, "usage")
    note = text.split(None, 2)[2] if command == "DONE" and len(words) > 2 else ""
    outcome = partner_act(session, partner, reference, command, note=note, now=now)
    if outcome == "info":
        return info_message(outbound, session, storage.tip_by_reference(session, reference=reference), language)
    return outbound.say(language, outcome, reference=reference)


def partner_act(session, partner: Partner, reference: str, command: str, *, note: str = "", now: datetime,
                actor: Actor | None = None) -> str:
    """One partner's ACK, DONE or INFO on one tip, by SMS or on the dashboard: the same rules and record.

    What happened, as the key of its answer: "not_yours" (the same whether or not the tip exists: nothing
    leaks), "already_closed", "ack_done", "done_done" or "info". `actor` is the person on the dashboard;
    by SMS it is the partner's number.
    """
    tip = storage.tip_by_reference(session, reference=reference)
    escalation = storage.escalation_for(session, tip_id=tip.id, partner_id=partner.id) if tip else None
    if escalation is None:
        return "not_yours"
    if command == "INFO":
        tip_actions.partner_reads(session, tip, partner, now=now, actor=actor)
        return "info"
    if tip.status in CLOSED_STATUSES:
        return "already_closed"
    if command == "ACK":
        tip_actions.partner_acknowledges(session, tip, escalation, partner, now=now, actor=actor)
        if tip.routing is not None:
            settle_routing(session, tip, now=now)  # a partner has it, even after its timer ran out
        return "ack_done"
    tip_actions.partner_reports_outcome(session, tip, escalation, partner, note=note, now=now, actor=actor)
    return "done_done"


def is_partner_command(text: str) -> bool:
    words = text.split()
    return bool(words) and words[0].upper() in PARTNER_COMMANDS
