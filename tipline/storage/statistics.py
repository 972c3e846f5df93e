"""The statistics and volunteers pages' queries: counts only, never a reporter's or volunteer's words.

Days are the deployment's local days (an operator in WIB counts a tip sent at 23:30 on the day it
arrived there), so the grouping shifts the stored UTC times into the zone before taking the date.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import Escalation, Partner, Tip, TipCase, Volunteer
from ..statuses import OPEN_STATUSES
from .db import day_of

# Ages an open urgent tip may have, as (key, up to this long); the last one has no end.
AGE_BANDS: tuple[tuple[str, timedelta | None], ...] = (
    ("under_1h", timedelta(hours=1)),
    ("1h_6h", timedelta(hours=6)),
    ("6h_24h", timedelta(hours=24)),
    ("1d_3d", timedelta(days=3)),
    ("3d_7d", timedelta(days=7)),
    ("over_7d", None),
)


@dataclass(frozen=True)
class PartnerResponse:
    """How fast one partner acknowledged the escalations it was sent in a period."""

    partner: str
    sent: int
    acknowledged: int
    median_seconds: float | None
    p90_seconds: float | None


def tip_figures(
    session: Session, *, since: datetime, until: datetime, zone: tzinfo = UTC,
) -> dict[str, Any]:
    """Counts over tips that arrived in [since, until): per local day and urgency, per status,
    category, language, channel and place code; how many matched no listed place; triage time."""
    dialect = session.get_bind().dialect.name
    in_range = [Tip.created_at >= since, Tip.created_at < until]
    day = day_of(Tip.created_at, dialect, zone=zone, at=until).label("day")

    def grouped(column) -> list[tuple[Any, int]]:
        count = sa.func.count()
        return [(value, n) for value, n in session.exec(
            select(column, count).where(*in_range).group_by(column).order_by(count.desc(), column)
        )]

    per_day: dict[str, dict[str, int]] = {}
    for when, urgency, count in session.exec(
        select(day, Tip.urgency, sa.func.count()).where(*in_range).group_by(day, Tip.urgency).order_by(day)
    ):
        per_day.setdefault(str(when), {})[urgency] = count
    waits = [
        (triaged - created).total_seconds()
        for created, triaged in session.exec(
            select(Tip.created_at, TipCase.triaged_at).join(TipCase, TipCase.tip_id == Tip.id)
            .where(*in_range, TipCase.triaged_at.is_not(None))
        )
    ]
    by_place_code = grouped(Tip.place_code)
    return {
        "total": session.exec(select(sa.func.count()).select_from(Tip).where(*in_range)).one(),
        "per_day": per_day,
        "by_status": grouped(Tip.status),
        "by_urgency": grouped(Tip.urgency),
        "by_category": grouped(Tip.category),
        "by_language": grouped(Tip.language),
        "by_channel": grouped(Tip.channel),
        "by_place_code": [(code, n) for code, n in by_place_code if code is not None],
        "no_place_code": sum(n for code, n in by_place_code if code is None),
        "median_triage_seconds": statistics.median(waits) if waits else None,
        "triaged": len(waits),
    }


def percentile(values: list[float], fraction: float) -> float | None:
    """The value below which this fraction of values lie (linear between the two nearest)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def partner_response_times(session: Session, *, since: datetime, until: datetime) -> list[PartnerResponse]:
    """Per partner, over escalations sent in [since, until): how many, how many acknowledged, and
    the median and 90th percentile time from sending to acknowledgement. Slowest first: a partner that
    acknowledged none at all heads the list."""
    times: dict[str, list[float]] = {}
    sent: dict[str, int] = {}
    for name, created, acknowledged in session.exec(
        select(Partner.name, Escalation.created_at, Escalation.acknowledged_at)
        .join(Partner, Partner.id == Escalation.partner_id)
        .where(Escalation.created_at >= since, Escalation.created_at < until)
    ):
        sent[name] = sent.get(name, 0) + 1
        times.setdefault(name, [])
        if acknowledged is not None:
            times[name].append(max(0.0, (acknowledged - created).total_seconds()))
    rows = [
        PartnerResponse(partner=name, sent=sent[name], acknowledged=len(times[name]),
                        median_seconds=percentile(times[name], 0.5), p90_seconds=percentile(times[name], 0.9))
        for name in sent
    ]
    return sorted(rows, key=lambda row: (row.median_seconds is not None, -(row.median_seconds or 0), row.partner))


def open_urgent_by_age(session: Session, *, now: datetime) -> list[tuple[str, int]]:
    """Open immediate-danger tips (new, triaged, escalated) now, counted per age band, youngest first."""
    counts = {key: 0 for key, _limit in AGE_BANDS}
    for created in session.exec(
        select(Tip.created_at).where(Tip.urgency == "immediate", Tip.status.in_(OPEN_STATUSES))
    ):
        age = now - created
        for key, limit in AGE_BANDS:
            if limit is None or age < limit:
                counts[key] += 1
                break
    return list(counts.items())


def volunteers_by_place(session: Session) -> list[tuple[str | None, int]]:
    """Active volunteers counted per place code (None: a place that matched no listed place)."""
    count = sa.func.count()
    return [(code, n) for code, n in session.exec(
        select(Volunteer.place_code, count)
        .where(Volunteer.active.is_(True), Volunteer.address_sealed.is_not(None))
        .group_by(Volunteer.place_code).order_by(count.desc(), Volunteer.place_code)
    )]
