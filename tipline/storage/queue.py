"""What operators and partners see of the tips: the triage queue, who may see which tip, its export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ..engine.flow import FieldSpec
from ..engine.reference import parse_reference
from ..models import Escalation, Partner, Tip, TipCase, TipNote, User
from ..statuses import CLOSED_STATUSES, NOBODY, OPEN_STATUSES, STAFF_ROLES
from .db import in_places, rarely
from .tips import additions_by_tip, export_tip


def visible_tips(*, role: str, partner: str | None):
    """The SQL condition for the tips an account may see.

    Staff see every tip. A partner account sees only tips escalated to its own organisation; an
    account that names no partner sees nothing.
    """
    if role in STAFF_ROLES:
        return sa.true()
    if role != "partner" or not partner:
        return sa.false()
    escalated = (
        select(Escalation.tip_id).join(Partner, Partner.id == Escalation.partner_id).where(Partner.name == partner)
    )
    return Tip.id.in_(escalated)


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows; None means any. `since` and `until` are the moments a day starts and the
    next day starts where the operators are (the caller's time zone)."""

    status: str | None = None
    urgency: str | None = None
    category: str | None = None
    language: str | None = None
    channel: str | None = None
    complete: bool | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    search: str | None = None
    place_code: str | None = None  # a province or regency: the tips there and under it
    assignee_id: int | None = None  # the tips assigned to this account ("assigned to me")

    def conditions(self) -> list:
        found = []
        for column, value in (
            (Tip.status, self.status), (Tip.urgency, self.urgency), (Tip.category, self.category),
            (Tip.language, self.language), (Tip.channel, self.channel), (Tip.complete, self.complete),
        ):
            if value is not None:
                found.append(column == value)
        if self.since is not None:
            found.append(Tip.created_at >= self.since)
        if self.until is not None:
            found.append(Tip.created_at < self.until)
        if self.search:
            pattern = "%" + self.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            words = sa.or_(Tip.description.ilike(pattern, escape="\\"), Tip.location.ilike(pattern, escape="\\"))
            # 7kq2 9pxm, 7KQ2-9PXM: the tip itself, and the words too
            reference = parse_reference("".join(self.search.split()))
            found.append(sa.or_(Tip.reference == reference, words) if reference else words)
        if self.assignee_id is not None:
            found.append(Tip.id.in_(select(TipCase.tip_id).where(TipCase.assignee_id == self.assignee_id)))
        if self.place_code:
            found.append(in_places(Tip.place_code, [self.place_code]))
        return found


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue, in the order an operator acts: the first page starts with what needs a
    person now (nobody received it; a partner has not acknowledged it; nobody has sent it on yet)."""

    nobody: list  # urgent, open, and received by nobody (unrouted, or routing failed): first of all
    waiting: list  # urgent and open, sent to partners, none acknowledged yet: the deadline soonest first
    new_urgent: list  # urgent and open, not sent to any partner: longest waiting first
    to_confirm: list  # a partner reported an outcome (DONE) that no operator confirmed yet
    pinned_total: int  # urgent open tips (waiting and new) matching; more than shown when there are very many
    tips: list  # every matching tip, newest first (pinned ones too: nothing is ever only pinned)
    total: int  # tips matching; a lower bound when `more` is true
    more: bool  # more than QUEUE_COUNT_CAP match: counting them all would cost more than it tells
    page: int
    pages: int
    per_page: int

    @property
    def pinned(self) -> list:
        """The urgent open tips shown above the rest (waiting, then new)."""
        return [*self.waiting, *self.new_urgent]

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or (self.more and len(self.tips) == self.per_page)


QUEUE_COUNT_CAP = 10_000


def tip_queue(
    session: Session, *, filters: QueueFilter, role: str, partner: str | None, page: int = 1,
    per_page: int = 50, pinned_limit: int = 50,
) -> QueuePage:
    """The triage queue: on the first page, urgent tips nobody received, urgent tips waiting for a
    partner's ACK (deadline soonest first), urgent tips not sent on yet and partners' outcomes to confirm;
    then all tips newest first.

    Counting stops at QUEUE_COUNT_CAP, so a broad filter over many tips stays fast.
    """
    visible = visible_tips(role=role, partner=partner)
    wanted = [visible, *filters.conditions()]
    staff = role in STAFF_ROLES  # a partner's queue has no routing or confirming to do
    nobody_received = received_by_nobody(session)
    is_pinned = sa.and_(Tip.urgency == "immediate", Tip.status.in_(OPEN_STATUSES))
    if staff:  # listed once: above the other emergencies
        is_pinned = sa.and_(is_pinned, sa.or_(Tip.routing.is_(None), Tip.routing.not_in(NOBODY)))
    to_confirm = sa.and_(Tip.outcome_reported_at.is_not(None), Tip.status.not_in(CLOSED_STATUSES))
    nobody, confirm, waiting, new_urgent = [], [], [], []
    if page == 1 and staff:
        nobody = list(session.exec(
            select(Tip).where(*wanted, nobody_received).order_by(Tip.created_at, Tip.id).limit(pinned_limit)
        ))
        confirm = list(session.exec(
            select(Tip).where(*wanted, to_confirm).order_by(Tip.outcome_reported_at, Tip.id).limit(pinned_limit)
        ))
    if page == 1:
        sent_on = Tip.id.in_(select(Escalation.tip_id))
        waiting = list(session.exec(
            select(Tip).where(*wanted, is_pinned, sent_on).order_by(Tip.created_at, Tip.id).limit(pinned_limit)
        ))
        waiting.sort(key=_deadline(session, waiting))
        new_urgent = list(session.exec(
            select(Tip).where(*wanted, is_pinned, sa.not_(sent_on)).order_by(Tip.created_at, Tip.id)
            .limit(pinned_limit)
        ))
    shown = len(waiting) + len(new_urgent)
    pinned_total = shown if len(waiting) < pinned_limit and len(new_urgent) < pinned_limit else session.exec(
        select(sa.func.count()).select_from(Tip).where(*wanted, is_pinned)
    ).one()
    matching = session.exec(
        select(sa.func.count()).select_from(select(Tip.id).where(*wanted).limit(QUEUE_COUNT_CAP + 1).subquery())
    ).one()
    more = matching > QUEUE_COUNT_CAP
    total = min(matching, QUEUE_COUNT_CAP)
    pages = max(1, -(-total // per_page))
    page = max(1, page) if more else min(max(1, page), pages)
    tips = list(session.exec(
        select(Tip).where(*wanted).order_by(Tip.created_at.desc(), Tip.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    ))
    return QueuePage(nobody=nobody, waiting=waiting, new_urgent=new_urgent, to_confirm=confirm,
                     pinned_total=pinned_total, tips=tips, total=total, more=more, page=page, pages=pages,
                     per_page=per_page)


def _deadline(session: Session, tips: list[Tip]):
    """Order tips waiting for an ACK: a timer already run out first, then the nearest deadline."""
    summaries = escalation_summaries(session, tip_ids=[t.id for t in tips])
    far = datetime.max.replace(tzinfo=UTC)

    def key(tip: Tip):
        summary = summaries.get(tip.id)
        if summary is None or summary.due_at is None:
            return (0, far, tip.created_at)  # no timer left: nobody acknowledged in time
        return (1, summary.due_at, tip.created_at)

    return key


@dataclass(frozen=True)
class EscalationSummary:
    """Where a tip's escalation stands, for a row of the queue."""

    partners: tuple[str, ...]  # who it was sent to, in order
    waiting: tuple[str, ...]  # who still has to acknowledge (their timer runs)
    due_at: datetime | None  # the nearest deadline of those still waiting
    acknowledged_by: str | None  # the partner that took it (ACK)
    timed_out: bool  # some partner did not acknowledge in time


def escalation_summaries(session: Session, *, tip_ids: list[int]) -> dict[int, EscalationSummary]:
    """Per tip (only tips that were sent to a partner): who has it, who is late, the next deadline."""
    if not tip_ids:
        return {}
    rows = session.exec(
        select(Escalation, Partner.name).join(Partner, Partner.id == Escalation.partner_id)
        .where(Escalation.tip_id.in_(tip_ids)).order_by(Escalation.id)
    ).all()
    grouped: dict[int, list] = {}
    for escalation, name in rows:
        grouped.setdefault(escalation.tip_id, []).append((escalation, name))
    summaries = {}
    for tip_id, pairs in grouped.items():
        waiting = [(e, name) for e, name in pairs if e.status == "sent"]
        dues = [e.due_at for e, _name in waiting if e.due_at is not None]
        summaries[tip_id] = EscalationSummary(
            partners=tuple(name for _e, name in pairs),
            waiting=tuple(name for _e, name in waiting),
            due_at=min(dues) if dues else None,
            acknowledged_by=next((name for e, name in pairs if e.acknowledged_at is not None), None),
            timed_out=any(e.status == "timed_out" for e, _name in pairs),
        )
    return summaries


def assignees(session: Session, *, tip_ids: list[int]) -> dict[int, str]:
    """Who each tip is assigned to (their email), for the tips that are assigned."""
    if not tip_ids:
        return {}
    rows = session.exec(
        select(TipCase.tip_id, User.email).join(User, User.id == TipCase.assignee_id)
        .where(TipCase.tip_id.in_(tip_ids))
    ).all()
    return dict(rows)


def received_by_nobody(session: Session):
    """The condition "an open urgent tip that reached nobody (unrouted) or whose routing failed"."""
    return sa.and_(Tip.urgency == "immediate", rarely(session, Tip.routing.in_(NOBODY)),
                   Tip.status.not_in(CLOSED_STATUSES))


def visible_tip(session: Session, *, reference: str, role: str, partner: str | None) -> Tip | None:
    """The tip if this account may see it; None both when it is missing and when it is not theirs."""
    return session.exec(
        select(Tip).where(Tip.reference == reference, visible_tips(role=role, partner=partner))
    ).first()


def tips_received_by_nobody(session: Session, *, limit: int = 100) -> list[Tip]:
    """Open urgent tips that reached nobody ("unrouted") or whose routing failed, longest waiting first."""
    return list(session.exec(
        select(Tip).where(received_by_nobody(session)).order_by(Tip.created_at, Tip.id).limit(limit)
    ))


# ---- the dashboard's export of what the queue shows ---------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def queue_export(
    session: Session, *, filters: QueueFilter, role: str, partner: str | None, shown: tuple[FieldSpec, ...],
    batch_size: int = 500,
) -> Iterator[dict[str, Any]]:
    """Every tip the queue shows with these filters to this account, newest first, in batches (a large
    export never sits in memory whole): the CLI export's fields, plus routing, assignee, escalations
    and, for staff, the internal notes (never for a partner: notes are the operators' own)."""
    wanted = [visible_tips(role=role, partner=partner), *filters.conditions()]
    staff = role in STAFF_ROLES
    last: tuple[datetime, int] | None = None
    while True:
        query = select(Tip).where(*wanted)
        if last is not None:
            query = query.where(sa.or_(Tip.created_at < last[0], sa.and_(Tip.created_at == last[0], Tip.id < last[1])))
        batch = list(session.exec(query.order_by(Tip.created_at.desc(), Tip.id.desc()).limit(batch_size)))
        if not batch:
            return
        ids = [tip.id for tip in batch]
        additions = additions_by_tip(session, tip_ids=ids)
        notes = _notes(session, ids) if staff else {}
        escalations = _escalations(session, ids, partner=None if staff else partner)
        assignees = dict(session.exec(
            select(TipCase.tip_id, User.email).join(User, User.id == TipCase.assignee_id).where(TipCase.tip_id.in_(ids))
        ).all()) if staff else {}
        for tip in batch:
            row = export_tip(tip, additions.get(tip.id, []), shown=shown)
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
