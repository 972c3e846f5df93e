"""Tips: every act that changes a tip's status or an escalation, and the tip's status machine.

Each act takes who does it (an Actor) and checked input, makes the change, and writes the tip's
timeline and the audit trail in the caller's transaction, so a change never exists without its
record. The dashboard, the partners' SMS commands and the command line are adapters over these
functions; none of them changes a tip's status any other way.

The status is a python-statemachine chart (like the conversation): only its transitions happen.
Operators triage, close, mark spam, and go back a step only with a reason (kept in the timeline and
the audit trail). "acknowledged" is a partner's act (ACK); "escalated" follows from sending the tip
to a partner. A partner's DONE is an outcome waiting for an operator: one SMS, whose sender may be
spoofed, never closes a tip, never unpins it and never stops its escalation timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from statemachine import State, StateMachine

from .. import storage
from ..models import Escalation, Partner, Tip, User
from ..statuses import CLOSED_STATUSES, STAFF_ROLES
from .base import REPORTER, Actor, Refused, audit

MAX_REASON = 500
MAX_NOTE = 2000


class CaseworkRefused(Refused):
    """A change to a tip the rules do not allow (a status the machine does not allow from here, a step back
    without a reason, an outcome that is not there)."""


class TipStatus(StateMachine):
    """Where a tip stands. Entering closed or spam settles what was still open on the tip."""

    new = State(initial=True)
    triaged = State()
    escalated = State()
    acknowledged = State()
    closed = State()
    spam = State()

    triage = new.to(triaged)
    escalate = new.to(escalated) | triaged.to(escalated)  # the tip was sent to a partner
    acknowledge = new.to(acknowledged) | triaged.to(acknowledged) | escalated.to(acknowledged)  # a partner's ACK
    close = closed.from_(new, triaged, escalated, acknowledged)
    mark_spam = spam.from_(new, triaged, escalated, acknowledged)
    back_to_new = triaged.to(new)
    back_to_triaged = triaged.from_(escalated, acknowledged, closed, spam)  # closed and spam: reopened
    back_to_escalated = acknowledged.to(escalated)

    def on_exit_new(self, session, now) -> None:
        storage.note_triaged(session, tip=self.model, now=now)

    def on_enter_closed(self, session, now) -> None:
        _settle_closed(session, self.model, now, confirmed=True)

    def on_enter_spam(self, session, now) -> None:
        _settle_closed(session, self.model, now, confirmed=False)


OPERATOR_EVENTS = ("triage", "close", "mark_spam", "back_to_new", "back_to_triaged", "back_to_escalated")
BACKWARD_EVENTS = ("back_to_new", "back_to_triaged", "back_to_escalated")


@dataclass(frozen=True)
class Step:
    """A status an operator may move a tip to; going back needs a reason."""

    to: str
    event: str
    backwards: bool


def operator_steps(status: str) -> list[Step]:
    """Where an operator may move a tip that is in `status`, forward steps first."""
    state = TipStatus.states_map[status]
    steps = [Step(t.target.id, str(t.event), str(t.event) in BACKWARD_EVENTS)
             for t in state.transitions if str(t.event) in OPERATOR_EVENTS]
    return sorted(steps, key=lambda s: s.backwards)


def _settle_closed(session, tip: Tip, now: datetime, *, confirmed: bool) -> None:
    """A closed tip keeps no contact address, sends its reporter nothing more, and stops its timers.

    Closing (not spam) counts an outcome a partner reported as confirmed by the operator who closed it.
    """
    tip.contact_sealed = None
    storage.withdraw_reporter_messages(session, tip_id=tip.id, now=now)
    for escalation in storage.escalations_for_tip(session, tip_id=tip.id):
        if confirmed and escalation.done_at is not None and escalation.status != "done":
            escalation.status = "done"
        elif escalation.status == "sent":
            escalation.status = "cancelled"
        escalation.due_at = None
        session.add(escalation)
    tip.outcome_reported_at = None


def _record(session, tip: Tip, actor: Actor, kind: str, now: datetime, detail: dict | None = None) -> None:
    """The same fact in the tip's timeline and in the audit trail."""
    storage.add_event(session, tip=tip, kind=kind, at=now, actor=actor.name, detail=detail)
    audit(session, actor, kind, now=now, target=tip.reference, detail=detail)


def _move(session, tip: Tip, event: str, *, actor: Actor, now: datetime, reason: str | None = None) -> None:
    before = tip.status
    TipStatus(model=tip, state_field="status").send(event, session=session, now=now)
    tip.updated_at = now
    session.add(tip)
    change = {"from": before, "to": tip.status} | ({"reason": reason} if reason else {})
    _record(session, tip, actor, "status_changed", now, change)


def _move_if_allowed(session, tip: Tip, event: str, *, actor: Actor, now: datetime) -> bool:
    if not any(str(t.event) == event for t in TipStatus.states_map[tip.status].transitions):
        return False
    _move(session, tip, event, actor=actor, now=now)
    return True


def _reason(text: str | None) -> str | None:
    return " ".join((text or "").split())[:MAX_REASON] or None


# ---- operators -------------------------------------------------------------------------------------

def change_status(session, tip: Tip, *, actor: Actor, to: str, reason: str | None = None, now: datetime) -> bool:
    """An operator moves the tip; False when it is there already. Refused: a status the machine does
    not allow from here, or a step back without a reason."""
    if to == tip.status:
        return False
    step = next((s for s in operator_steps(tip.status) if s.to == to), None)
    if step is None:
        raise CaseworkRefused("not_allowed", status=tip.status, to=to)
    reason = _reason(reason)
    if step.backwards and not reason:
        raise CaseworkRefused("reason_required", status=tip.status, to=to)
    _move(session, tip, step.event, actor=actor, now=now, reason=reason)
    return True


def confirm_outcome(session, tip: Tip, *, actor: Actor, now: datetime) -> None:
    """The operator confirms the outcome a partner reported, and the tip closes."""
    if tip.outcome_reported_at is None or tip.status in CLOSED_STATUSES:
        raise CaseworkRefused("no_outcome", status=tip.status)
    _record(session, tip, actor, "outcome_confirmed", now)
    _move(session, tip, "close", actor=actor, now=now)


def reject_outcome(session, tip: Tip, *, actor: Actor, reason: str | None, now: datetime) -> None:
    """The outcome a partner reported does not hold (a spoofed DONE, a mistake): the tip stays open."""
    if tip.outcome_reported_at is None or tip.status in CLOSED_STATUSES:
        raise CaseworkRefused("no_outcome", status=tip.status)
    reason = _reason(reason)
    if not reason:
        raise CaseworkRefused("reason_required", status=tip.status, to=tip.status)
    tip.outcome_reported_at, tip.updated_at = None, now
    session.add(tip)
    for escalation in storage.escalations_for_tip(session, tip_id=tip.id):
        if escalation.done_at is not None and escalation.status != "done":
            escalation.done_at = None  # the partner's note stays, for the record
            session.add(escalation)
    _record(session, tip, actor, "outcome_rejected", now, {"reason": reason})


def mark_duplicate(session, tip: Tip, original: Tip, *, actor: Actor, now: datetime) -> None:
    """Close `tip` as a duplicate of `original`; the original keeps being worked."""
    if original.id == tip.id:
        raise CaseworkRefused("own_duplicate")
    storage.link_duplicate(session, tip=tip, original=original)
    _record(session, tip, actor, "marked_duplicate", now, {"of": original.reference})
    _move_if_allowed(session, tip, "close", actor=actor, now=now)


def set_place(session, tip: Tip, place_code: str, *, actor: Actor, now: datetime) -> bool:
    """An operator picks the tip's place from the places list (the reporter's words matched none), so
    partners that cover it match; False when it is that place already. The words stay as they were."""
    if tip.place_code == place_code:
        return False
    before = tip.place_code
    tip.place_code, tip.updated_at = place_code, now
    session.add(tip)
    _record(session, tip, actor, "place_set", now, {"place": place_code} | ({"from": before} if before else {}))
    return True


# ---- escalation and partners ------------------------------------------------------------------------

def tip_escalated(session, tip: Tip, partner: Partner, *, actor: Actor, now: datetime, matching: bool) -> None:
    """The tip went to a partner (the outbox row is written by the caller): a new tip is escalated."""
    _record(session, tip, actor, "escalated", now, {"partner": partner.name, "matching": matching})
    _move_if_allowed(session, tip, "escalate", actor=actor, now=now)


def partner_acknowledges(session, tip: Tip, escalation: Escalation, partner: Partner, *, now: datetime,
                         actor: Actor | None = None) -> None:
    """ACK: the partner takes the tip. Someone has it now, so no timer moves it on to the next partner.

    `actor`: the partner's person on the dashboard; by SMS, the partner (its registered number)."""
    if escalation.status == "acknowledged":
        return
    escalation.status, escalation.acknowledged_at = "acknowledged", escalation.acknowledged_at or now
    for other in storage.escalations_for_tip(session, tip_id=tip.id):
        if other.due_at is not None:
            other.due_at = None
            session.add(other)
    session.add(escalation)
    actor = actor or Actor.partner(partner)
    _record(session, tip, actor, "partner_acknowledged", now, {"partner": partner.name})
    _move_if_allowed(session, tip, "acknowledge", actor=actor, now=now)


def partner_reads(session, tip: Tip, partner: Partner, *, now: datetime, actor: Actor | None = None) -> None:
    """INFO: the partner asked for the whole description (a view of the tip, so it is audited)."""
    _record(session, tip, actor or Actor.partner(partner), "partner_info", now, {"partner": partner.name})


def partner_asks(session, tip: Tip, partner: Partner, *, question: str, actor: Actor, now: datetime) -> None:
    """A partner asks the tip line's team for information (on the dashboard): the operators see the
    question in the tip's timeline and can ask the reporter; the partner never reaches the reporter."""
    question = " ".join(question.split())[:MAX_NOTE]
    if tip.status in CLOSED_STATUSES:
        raise CaseworkRefused("closed", status=tip.status)
    if not question:
        raise CaseworkRefused("question_required")
    _record(session, tip, actor, "partner_question", now, {"partner": partner.name, "question": question})


def partner_reports_outcome(session, tip: Tip, escalation: Escalation, partner: Partner, *, note: str,
                            now: datetime, actor: Actor | None = None) -> None:
    """DONE: the partner's outcome is kept and waits for an operator; the tip's status, its place in
    the queue and its escalation timer stay as they are."""
    escalation.done_at, escalation.note = now, " ".join(note.split())[:MAX_NOTE] or None
    session.add(escalation)
    tip.outcome_reported_at, tip.updated_at = now, now
    session.add(tip)
    _record(session, tip, actor or Actor.partner(partner), "partner_outcome", now, {"partner": partner.name})


# ---- reporters ----------------------------------------------------------------------------------

def reporter_added(session, tip: Tip, *, now: datetime) -> None:
    """The reporter added words (ADD) to a closed tip: it goes back to operators, never silently
    filled. A tip marked spam stays spam, flagged in its timeline (issue 8)."""
    if tip.status == "closed":
        _move(session, tip, "back_to_triaged", actor=REPORTER, now=now, reason="the reporter added information")
    elif tip.status == "spam":
        _record(session, tip, REPORTER, "addition_after_close", now)


# ---- operators' case file ---------------------------------------------------------------------------

def add_note(session, tip: Tip, *, actor: Actor, text: str, now: datetime) -> None:
    """An internal note (never sent to anyone), in the tip's timeline and the audit trail."""
    text = (text or "").strip()
    if not text:
        raise CaseworkRefused("empty_note")
    storage.add_note(session, tip=tip, author=actor.name, text=text, now=now)
    audit(session, actor, "note_added", now=now, target=tip.reference)


def assign(session, tip: Tip, *, actor: Actor, assignee: User | None, now: datetime) -> bool:
    """Give the tip to an operator, or to nobody (None); False when it is theirs already."""
    if assignee is not None and assignee.role not in STAFF_ROLES:
        raise CaseworkRefused("not_staff")
    if not storage.assign_tip(session, tip=tip, assignee_id=assignee.id if assignee else None, actor=actor.name,
                              now=now):
        return False
    audit(session, actor, "assigned", now=now, target=tip.reference,
          detail={"to": assignee.email if assignee else None})
    return True
