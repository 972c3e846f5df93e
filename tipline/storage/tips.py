"""Tips: the report a conversation writes, its timeline, additions, PIN, case file and export."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ..engine.flow import FieldSpec
from ..models import Escalation, Tip, TipAddition, TipCase, TipEvent, TipNote
from ..report_fields import REPORT_COLUMNS, TIP_OWN, answer_of
from ..statuses import PASSED_ON, STAFF_ROLES
from .accounts import user_by_id
from .db import for_update

# What save_tip writes: the report's columns and the tip's own values (report_fields.tip_values).
TIP_FIELDS = (*REPORT_COLUMNS, *TIP_OWN)


def tip_by_reference(session: Session, *, reference: str) -> Tip | None:
    return session.exec(select(Tip).where(Tip.reference == reference)).first()


def tip_status(session: Session, *, reference: str) -> str | None:
    return session.exec(select(Tip.status).where(Tip.reference == reference)).first()


def tip_columns(values: dict[str, Any]) -> dict[str, Any]:
    """The tip's columns that report_fields.tip_values gives, its answers (a JSON column) whole.

    The engine's SaveTip carries the whole report so far, so its answers replace those kept: an
    answer the reporter took back (a skipped question) is not left behind."""
    return {column: values[column] for column in (*TIP_FIELDS, "answers") if column in values}


def save_tip(
    session: Session, *, reference: str, reporter: str, fields: dict[str, Any], now: datetime,
    contact_sealed: str | None, pin_hash: str | None = None,
) -> Tip:
    """Create or update the reporter's tip from the report so far; a PIN comes once, hashed.

    `fields` are the tip's values as report_fields.tip_values makes them: its columns, and the
    answers kept as JSON (replacing those it had: the report so far comes whole)."""
    tip = tip_by_reference(session, reference=reference)
    created = tip is None
    if created:
        tip = Tip(reference=reference, reporter=reporter, created_at=now, updated_at=now)
    elif tip.reporter != reporter:
        raise PermissionError("a tip can only be written by its own reporter")
    was_complete = tip.complete
    for column, value in tip_columns(fields).items():
        setattr(tip, column, value)
    tip.complete = was_complete or bool(fields.get("complete"))
    if pin_hash is not None:
        tip.pin_hash, tip.pin_failures, tip.pin_failed_at = pin_hash, 0, None
    if not tip.contact_consent:
        tip.contact_sealed = None  # a no keeps nothing
    elif contact_sealed is not None:
        tip.contact_sealed = contact_sealed
    tip.updated_at = now
    session.add(tip)
    session.flush()
    if created:
        add_event(session, tip=tip, kind="created", at=now, detail={"urgency": tip.urgency})
    if tip.complete and not was_complete:
        add_event(session, tip=tip, kind="completed", at=now)
    return tip


# Timeline events that mean staff (or a partner) acted on a tip: EXIT or Delete then keeps it.
STAFF_EVENTS = (
    "status_changed", "assigned", "note_added", "escalated", "marked_duplicate", "follow_up_asked",
    "partner_acknowledged", "partner_outcome", "partner_info", "outcome_confirmed", "outcome_rejected",
)


PIN_TRIES = 5  # wrong PINs in a row before a tip's PIN stops working for PIN_LOCK


PIN_LOCK = timedelta(hours=24)


def tip_handling(session: Session, *, tip: Tip) -> str:
    """"passed_on" (a partner or the on-call number has it), "in_hand" (staff acted) or "none".

    An urgent tip is passed on by its routing ("partner", "oncall"; not "unrouted" or "failed"); a tip
    an operator sent to a partner by its escalation.
    """
    if tip.routing in PASSED_ON:
        return "passed_on"
    escalated = session.exec(select(Escalation.id).where(Escalation.tip_id == tip.id).limit(1)).first()
    if escalated is not None and tip.routing is None:
        return "passed_on"
    acted = session.exec(
        select(TipEvent.id).where(TipEvent.tip_id == tip.id, TipEvent.kind.in_(STAFF_EVENTS)).limit(1)
    ).first()
    return "in_hand" if acted is not None or tip.status != "new" else "none"


def withdraw_tip(session: Session, *, tip: Tip, now: datetime) -> None:
    """The reporter asked to delete a tip that was passed on or acted on: kept, and marked so."""
    if not has_event(session, tip_id=tip.id, kind="reporter_withdrew"):
        add_event(session, tip=tip, kind="reporter_withdrew", at=now, actor="reporter")
    tip.contact_sealed, tip.contact_consent, tip.updated_at = None, False, now
    session.add(tip)


def discard_tip(session: Session, *, reference: str, reporter: str, now: datetime | None = None) -> bool:
    """Delete an unfinished tip of this reporter (quick exit) that nobody has acted on.

    Finished tips are never dropped; one that was passed on or that staff touched is kept and
    marked "reporter withdrew" instead. Returns whether it was deleted.
    """
    tip = tip_by_reference(session, reference=reference)
    if tip is None or tip.reporter != reporter or tip.complete:
        return False
    if tip.urgency == "immediate" or tip_handling(session, tip=tip) != "none":
        withdraw_tip(session, tip=tip, now=now or tip.updated_at)
        return False
    session.exec(sa.delete(TipEvent).where(TipEvent.tip_id == tip.id))
    session.exec(sa.delete(TipAddition).where(TipAddition.tip_id == tip.id))
    session.delete(tip)
    return True


def try_tip_pin(session: Session, *, tip: Tip, correct: bool, now: datetime) -> bool:
    """A PIN typed from another phone: right and not locked opens the tip; wrong counts a try.

    After PIN_TRIES wrong ones the PIN opens nothing until PIN_LOCK has passed since the last.
    """
    recent = tip.pin_failed_at is not None and now - tip.pin_failed_at < PIN_LOCK
    failures = tip.pin_failures if recent else 0
    if correct and failures < PIN_TRIES:
        tip.pin_failures, tip.pin_failed_at = 0, None
        session.add(tip)
        return True
    tip.pin_failures, tip.pin_failed_at = failures + 1, now
    session.add(tip)
    return False


def add_to_tip(session: Session, *, reference: str, text: str, now: datetime) -> Tip | None:
    """The reporter's later words (a closed tip goes back to operators: actions.tips.reporter_added)."""
    tip = tip_by_reference(session, reference=reference)
    if tip is None:
        return None
    session.add(TipAddition(tip_id=tip.id, text=text, created_at=now))
    tip.updated_at = now
    session.add(tip)
    add_event(session, tip=tip, kind="addition", at=now)
    return tip


def add_event(
    session: Session, *, tip: Tip, kind: str, at: datetime, actor: str = "system", detail: dict | None = None
) -> None:
    session.add(TipEvent(tip_id=tip.id, kind=kind, at=at, actor=actor, detail=detail or {}))


def forget_contacts(session: Session, *, reporter: str) -> int:
    """Delete every contact address this reporter left (STOP, EXIT)."""
    result = session.exec(
        sa.update(Tip)
        .where(Tip.reporter == reporter, Tip.contact_sealed.is_not(None))
        .values(contact_sealed=None, contact_consent=False)
    )
    return result.rowcount or 0


def additions_by_tip(session: Session, *, tip_ids: list[int]) -> dict[int, list[TipAddition]]:
    found: dict[int, list[TipAddition]] = {}
    if not tip_ids:
        return found
    rows = session.exec(
        select(TipAddition).where(TipAddition.tip_id.in_(tip_ids)).order_by(TipAddition.created_at, TipAddition.id)
    )
    for row in rows:
        found.setdefault(row.tip_id, []).append(row)
    return found


def export_tip(tip: Tip, additions: list[TipAddition], *, shown: tuple[FieldSpec, ...]) -> dict[str, Any]:
    """A tip as the contract's export fields (plus a few more); never the contact address.

    The report's answers are the flow's shown fields (`flow.shown_fields`), in its order, null when
    not given."""
    answers = {field.name: answer_of(tip, field) for field in shown}
    return {
        "reference": tip.reference,
        "created_at": tip.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": tip.updated_at.isoformat().replace("+00:00", "Z"),
        "status": tip.status,
        "urgency": tip.urgency,
        **answers,
        "channel": tip.channel,
        "language": tip.language,
        "reporter": tip.reporter,
        "contact_consent": tip.contact_consent,
        "complete": tip.complete,
        "media_count": tip.media_count,
        "place_code": tip.place_code,
        "additions": [
            {"created_at": a.created_at.isoformat().replace("+00:00", "Z"), "text": a.text} for a in additions
        ],
    }


def export_tips(session: Session, *, shown: tuple[FieldSpec, ...], batch_size: int = 500,
                ) -> Iterator[dict[str, Any]]:
    """Every tip in arrival order, in batches, so a large export never sits in memory whole."""
    last_id = 0
    while True:
        batch = list(session.exec(select(Tip).where(Tip.id > last_id).order_by(Tip.id).limit(batch_size)))
        if not batch:
            return
        additions = additions_by_tip(session, tip_ids=[t.id for t in batch])
        for tip in batch:
            yield export_tip(tip, additions.get(tip.id, []), shown=shown)
        last_id = batch[-1].id


def tip_case(session: Session, *, tip: Tip):
    return session.get(TipCase, tip.id)


def _case_to_change(session: Session, tip: Tip):
    case = session.get(TipCase, tip.id)
    if case is None:
        case = TipCase(tip_id=tip.id)
        session.add(case)
    return case


def tip_timeline(session: Session, *, tip: Tip) -> list[TipEvent]:
    return list(session.exec(select(TipEvent).where(TipEvent.tip_id == tip.id).order_by(TipEvent.at, TipEvent.id)))


def tip_notes(session: Session, *, tip: Tip) -> list:
    return list(session.exec(select(TipNote).where(TipNote.tip_id == tip.id).order_by(TipNote.at, TipNote.id)))


def duplicates_of(session: Session, *, tip: Tip) -> list[str]:
    return list(session.exec(
        select(Tip.reference).join(TipCase, TipCase.tip_id == Tip.id).where(TipCase.duplicate_of_id == tip.id)
        .order_by(Tip.created_at)
    ))


def tip_reference_by_id(session: Session, *, tip_id: int) -> str | None:
    return session.exec(select(Tip.reference).where(Tip.id == tip_id)).first()


def note_triaged(session: Session, *, tip: Tip, now: datetime) -> None:
    """The first time anyone moves a tip on from "new" (the statistics' time to triage)."""
    case = _case_to_change(session, tip)
    if case.triaged_at is None:
        case.triaged_at = now


def assign_tip(session: Session, *, tip: Tip, assignee_id: int | None, actor: str, now: datetime) -> bool:
    case = _case_to_change(session, tip)
    if case.assignee_id == assignee_id:
        return False
    assignee = user_by_id(session, user_id=assignee_id) if assignee_id is not None else None
    if assignee_id is not None and (assignee is None or assignee.role not in STAFF_ROLES):
        raise ValueError("tips are assigned to operators only")
    case.assignee_id = assignee_id
    add_event(session, tip=tip, kind="assigned", at=now, actor=actor,
              detail={"to": assignee.email if assignee else None})
    return True


def link_duplicate(session: Session, *, tip: Tip, original: Tip) -> None:
    _case_to_change(session, tip).duplicate_of_id = original.id


def add_note(session: Session, *, tip: Tip, author: str, text: str, now: datetime) -> None:
    session.add(TipNote(tip_id=tip.id, author=author, text=text, at=now))
    add_event(session, tip=tip, kind="note_added", at=now, actor=author)


def lock_tip(session: Session, *, tip_id: int) -> Tip | None:
    query = for_update(session, select(Tip).where(Tip.id == tip_id))
    return session.exec(query.execution_options(populate_existing=True)).first()


def tip_by_id(session: Session, *, tip_id: int) -> Tip | None:
    return session.get(Tip, tip_id)


def has_event(session: Session, *, tip_id: int, kind: str) -> bool:
    query = select(TipEvent.id).where(TipEvent.tip_id == tip_id, TipEvent.kind == kind).limit(1)
    return session.exec(query).first() is not None


def tip_references(session: Session, *, tip_ids: list[int]) -> dict[int, str]:
    if not tip_ids:
        return {}
    return dict(session.exec(select(Tip.id, Tip.reference).where(Tip.id.in_(tip_ids))).all())
