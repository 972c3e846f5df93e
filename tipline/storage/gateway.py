"""SMS Gateway for Android: the webhook deliveries already handled (a retry changes nothing)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import GatewayEvent
from .db import insert_for


def gateway_event_seen(session: Session, *, event_id: str) -> bool:
    return session.get(GatewayEvent, event_id) is not None


def record_gateway_event(session: Session, *, event_id: str, event: str, now: datetime) -> bool:
    """Remember a handled webhook delivery; False when it was remembered already (a retry)."""
    insert = insert_for(session)
    result = session.execute(
        insert(GatewayEvent).values(event_id=event_id, event=event, received_at=now)
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    return bool(result.rowcount)


def purge_gateway_events(session: Session, *, before: datetime, dry_run: bool) -> int:
    condition = GatewayEvent.received_at < before
    count = session.exec(select(sa.func.count()).select_from(GatewayEvent).where(condition)).one()
    if count and not dry_run:
        session.exec(sa.delete(GatewayEvent).where(condition))
    return count
