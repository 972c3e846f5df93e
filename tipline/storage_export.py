"""The dashboard's export: the tips a queue filter shows, each with its notes and escalations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from . import storage
from .models import Escalation, Partner, Tip, TipCase, TipNote, User


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def queue_export(
    session: Session, *, filters: storage.QueueFilter, role: str, partner: str | None, batch_size: int = 500,
) -> Iterator[dict[str, Any]]:
    """Every tip the queue shows with these filters to this account, newest first, in batches (a large
    export never sits in memory whole): the CLI export's fields, plus routing, assignee, escalations
    and, for staff, the internal notes (never for a partner: notes are the operators' own)."""
    wanted = [storage.visible_tips(role=role, partner=partner), *filters.conditions()]
    staff = role in storage.STAFF_ROLES
    last: tuple[datetime, int] | None = None
    while True:
        query = select(Tip).where(*wanted)
        if last is not None:
            query = query.where(sa.or_(Tip.created_at < last[0], sa.and_(Tip.created_at == last[0], Tip.id < last[1])))
        batch = list(session.exec(query.order_by(Tip.created_at.desc(), Tip.id.desc()).limit(batch_size)))
        if not batch:
            return
        ids = [tip.id for tip in batch]
        additions = storage.additions_by_tip(session, tip_ids=ids)
        notes = _notes(session, ids) if staff else {}
        escalations = _escalations(session, ids, partner=None if staff else partner)
        assignees = dict(session.exec(
            select(TipCase.tip_id, User.email).join(User, User.id == TipCase.assignee_id).where(TipCase.tip_id.in_(ids))
        ).all()) if staff else {}
        for tip in batch:
            row = storage.export_tip(tip, additions.get(tip.id, []))
            row.update(routing=tip.routing, assignee=assignees.get(tip.id), escalations=escalations.get(tip.id, []))
            if staff:
                row["notes"] = notes.get(tip.id, [])
            yield row
        last = (batch[-1].created_at, batch[-1].id)


def _notes(session: Session, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    for note in session.exec(select(TipNote).where(TipNote.tip_id.in_(ids)).order_by(TipNote.at, TipNote.id)):
        found.setdefault(note.tip_id, []).append({"at": _iso(note.at), "author": note.author, "text": note.text})
    return found


def _escalations(session: Session, ids: list[int], *, partner: str | None) -> dict[int, list[dict[str, Any]]]:
    """Escalations per tip, oldest first; for a partner account only its own organisation's."""
    query = (select(Escalation, Partner.name).join(Partner, Partner.id == Escalation.partner_id)
             .where(Escalation.tip_id.in_(ids)))
    if partner is not None:
        query = query.where(Partner.name == partner)
    found: dict[int, list[dict[str, Any]]] = {}
    for escalation, name in session.exec(query.order_by(Escalation.created_at, Escalation.id)):
        found.setdefault(escalation.tip_id, []).append({
            "partner": name, "status": escalation.status, "sent_at": _iso(escalation.created_at),
            "due_at": _iso(escalation.due_at), "acknowledged_at": _iso(escalation.acknowledged_at),
            "done_at": _iso(escalation.done_at), "outcome": escalation.note,
        })
    return found
