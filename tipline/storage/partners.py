"""Partners (the organisations that act on tips), the escalations that send tips to them, and
operators' follow-up questions to reporters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import Escalation, FollowUp, Partner, Tip, User
from ..statuses import CLOSED_STATUSES
from .db import for_update


def add_partner(
    session: Session, *, name: str, phone: str, channel: str, language: str, regions: list[str],
    categories: list[str], urgent_only: bool, preference: int, now: datetime,
) -> Partner:
    partner = Partner(
        name=name, phone=phone, channel=channel, language=language, regions=list(regions),
        categories=list(categories), urgent_only=urgent_only, preference=preference, created_at=now,
    )
    session.add(partner)
    session.flush()
    return partner


def partner_by_name(session: Session, *, name: str) -> Partner | None:
    return session.exec(select(Partner).where(Partner.name == name)).first()


def partner_by_phone(session: Session, *, phone: str, active_only: bool = True,
                     lock: bool = False) -> Partner | None:
    """The partner registered with this E.164 number (unique over all partners, active or not).

    `lock` holds the row until the transaction ends, so one partner's replies are handled one at a time.
    """
    query = select(Partner).where(Partner.phone == phone)
    if active_only:
        query = query.where(Partner.active.is_(True))
    if lock:
        query = for_update(session, query)
    return session.exec(query).first()


def list_partners(session: Session, *, active_only: bool = True) -> list[Partner]:
    query = select(Partner).order_by(Partner.preference, Partner.id)
    if active_only:
        query = query.where(Partner.active.is_(True))
    return list(session.exec(query))


def escalations_for_tip(session: Session, *, tip_id: int) -> list[Escalation]:
    return list(session.exec(select(Escalation).where(Escalation.tip_id == tip_id).order_by(Escalation.id)))


def escalation_for(session: Session, *, tip_id: int, partner_id: int) -> Escalation | None:
    return session.exec(
        select(Escalation).where(Escalation.tip_id == tip_id, Escalation.partner_id == partner_id)
    ).first()


def add_escalation(
    session: Session, *, tip: Tip, partner: Partner, actor: str, now: datetime, due_at: datetime | None,
) -> Escalation:
    escalation = Escalation(tip_id=tip.id, partner_id=partner.id, actor=actor, created_at=now, due_at=due_at)
    session.add(escalation)
    session.flush()
    return escalation


def overdue_escalations(session: Session, *, now: datetime, limit: int = 100) -> list[Escalation]:
    """Escalations still waiting for their partner's ACK past their deadline, whatever the tip's status.

    The timer is the escalation's own: an ACK (from any partner of the tip) or the tip's closing
    clears it, a status an operator sets does not. On PostgreSQL the rows are locked and rows another
    worker holds are skipped, so two workers never move the same tip to the next partner twice.
    """
    query = (
        select(Escalation)
        .where(Escalation.status == "sent", Escalation.due_at.is_not(None), Escalation.due_at <= now)
        .order_by(Escalation.due_at, Escalation.id)
        .limit(limit)
    )
    query = for_update(session, query, skip_locked=True)
    return list(session.exec(query))


def reported_outcomes(session: Session, *, tip: Tip) -> list[tuple[str, Escalation]]:
    """Partners' outcomes (DONE) on this tip that wait for an operator: (partner name, escalation)."""
    rows = session.exec(
        select(Partner.name, Escalation).join(Partner, Partner.id == Escalation.partner_id)
        .where(Escalation.tip_id == tip.id, Escalation.done_at.is_not(None), Escalation.status != "done")
        .order_by(Escalation.done_at, Escalation.id)
    )
    return [(name, escalation) for name, escalation in rows]


def partner_by_id(session: Session, *, partner_id: int) -> Partner | None:
    return session.get(Partner, partner_id)


def add_follow_up(session: Session, *, tip: Tip, question: str, actor: str, now: datetime) -> FollowUp:
    follow_up = FollowUp(tip_id=tip.id, reporter=tip.reporter, question=question, actor=actor, asked_at=now)
    session.add(follow_up)
    session.flush()
    return follow_up


def pending_follow_up(session: Session, *, reporter: str, since: datetime) -> FollowUp | None:
    """The newest unanswered question to this reporter asked after `since`, on a tip still open."""
    return session.exec(
        select(FollowUp)
        .join(Tip, Tip.id == FollowUp.tip_id)
        .where(FollowUp.reporter == reporter, FollowUp.answered_at.is_(None), FollowUp.asked_at >= since,
               Tip.status.not_in(CLOSED_STATUSES))
        .order_by(FollowUp.asked_at.desc(), FollowUp.id.desc())
    ).first()


def forget_follow_ups(session: Session, *, reporter: str, now: datetime) -> None:
    """No pending question may capture this reporter's next message any more."""
    session.exec(
        sa.update(FollowUp).where(FollowUp.reporter == reporter, FollowUp.answered_at.is_(None)).values(answered_at=now)
    )


def follow_ups_for_tip(session: Session, *, tip_id: int) -> list[FollowUp]:
    query = select(FollowUp).where(FollowUp.tip_id == tip_id).order_by(FollowUp.asked_at, FollowUp.id)
    return list(session.exec(query))


def update_partner(session: Session, *, partner: Partner, **values: Any) -> Partner:
    """Change a partner; a new name follows to the partner's dashboard accounts (they are tied by name)."""
    allowed = {"name", "phone", "channel", "language", "regions", "categories", "urgent_only", "preference", "active"}
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"cannot set {', '.join(sorted(unknown))}")
    old_name = partner.name
    for name, value in values.items():
        setattr(partner, name, list(value) if name in ("regions", "categories") else value)
    session.add(partner)
    if partner.name != old_name:
        session.exec(sa.update(User).where(User.partner == old_name).values(partner=partner.name))
    session.flush()
    return partner


def partner_names(session: Session, *, partner_ids: list[int]) -> dict[int, str]:
    if not partner_ids:
        return {}
    return dict(session.exec(select(Partner.id, Partner.name).where(Partner.id.in_(partner_ids))).all())
