"""Statistics: tips over a date range as charts drawn on the server (charts.py)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, render_template, request
from flask_babel import format_timedelta

from ... import storage
from ..common import day_end, day_start, in_range, now, staff_required, tipline
from .charts import statistics_charts

bp = Blueprint("stats", __name__)
STATS_DEFAULT_DAYS = 30


@bp.route("/statistics")
@staff_required
def stats():
    """Charts over a date range: per day by urgency, category, place, language, channel; triage time."""
    args = request.args
    today = now().astimezone(tipline().zone).date()  # the day it is where the operators are

    def parse_day(name: str, default: date) -> date:
        try:
            return in_range(date.fromisoformat(args.get(name, "")))
        except ValueError:
            return default

    until = parse_day("until", today)
    since = parse_day("since", until - timedelta(days=STATS_DEFAULT_DAYS - 1))
    if since > until:
        since, until = until, since
    since = max(since, until - timedelta(days=366))  # one chart bar a day: a year at most
    with storage.reading(tipline().db) as db_session:
        numbers = storage.tip_statistics(db_session, since=day_start(since), until=day_end(until))
    median = numbers["median_triage_seconds"]
    return render_template(
        "dashboard/stats.html", since=since, until=until, numbers=numbers,
        charts=statistics_charts(numbers, since, until, provinces=_by_province(numbers["by_place_code"])),
        median=format_timedelta(timedelta(seconds=median), threshold=1.5) if median is not None else None,
    )


def _by_province(by_code: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Tips whose place was picked from the list, counted per top-level place (province)."""
    counts: dict[str, int] = {}
    for code, count in by_code:
        top = tipline().flow.place(code.split(".")[0])
        name = top.name if top else code
        counts[name] = counts.get(name, 0) + count
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
