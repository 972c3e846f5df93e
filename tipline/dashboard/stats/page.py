"""What the statistics page shows, computed for the view: figures, charts with their tables, the map.

Everything is counted over the deployment's local days (the `since`/`until` a person picks are days
where they work), except the open urgent tips, which are counted as they stand now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import cache
from pathlib import Path

from flask_babel import format_timedelta
from flask_babel import gettext as _

from ... import storage
from ...engine.place_map import Tile, load_place_map
from ...engine.places import Place
from ...statuses import TIP_STATUSES
from .. import display
from ..common import day_start, in_range
from .charts import Chart, bar_chart, per_day_chart
from .tile_map import tile_map

DEFAULT_DAYS = 30
LONGEST_DAYS = 366  # one chart bar a day: a year at most
TOP_PLACES = 10

@dataclass(frozen=True)
class ResponseRow:
    partner: str
    sent: int
    acknowledged: int
    median: str
    p90: str


def age_words() -> dict[str, str]:
    return {
        "under_1h": _("under 1 hour"), "1h_6h": _("1 to 6 hours"), "6h_24h": _("6 to 24 hours"),
        "1d_3d": _("1 to 3 days"), "3d_7d": _("3 to 7 days"), "over_7d": _("over 7 days"),
    }


def period(args: Mapping[str, str], today: date) -> tuple[date, date]:
    """The days asked for (inclusive), defaulting to the last DEFAULT_DAYS, a year at most, in order."""

    def day(name: str, default: date) -> date:
        try:
            return in_range(date.fromisoformat(args.get(name, "")))
        except ValueError:
            return default

    until = day("until", today)
    since = day("since", until - timedelta(days=DEFAULT_DAYS - 1))
    if since > until:
        since, until = until, since
    return max(since, until - timedelta(days=LONGEST_DAYS)), until


@cache
def place_map(folder: Path, places: tuple[Place, ...]) -> dict[str, Tile]:
    return load_place_map(folder, places)


def province_counts(by_code: list[tuple[str, int]], places: tuple[Place, ...]) -> dict[str, int]:
    """Tips whose place was matched to the list, counted per top-level place (province)."""
    tops = {place.code for place in places}
    counts: dict[str, int] = {}
    for code, count in by_code:
        top = code.split(".")[0]
        if top in tops:
            counts[top] = counts.get(top, 0) + count
    return counts


def in_lifecycle_order(rows: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Statuses as a tip moves through them (new first), not by count."""
    order = {status: n for n, status in enumerate(TIP_STATUSES)}
    return sorted(rows, key=lambda row: order.get(row[0], len(order)))


def duration(seconds: float | None) -> str:
    return format_timedelta(timedelta(seconds=seconds), threshold=1.5) if seconds is not None else "–"


def statistics_context(
    db, *, flow, flows_path: Path, args: Mapping[str, str], now: datetime, zone: tzinfo,
) -> dict:
    """The template's context: the period, the figures, the charts (each with a table) and the map."""
    since, until = period(args, now.astimezone(zone).date())
    start, end = day_start(since), day_start(until + timedelta(days=1))  # the deployment's days
    with storage.reading(db) as session:
        figures = storage.tip_figures(session, since=start, until=end, zone=zone)
        responses = storage.partner_response_times(session, since=start, until=end)
        ages = storage.open_urgent_by_age(session, now=now)
    unknown = _("not given")

    def words(say: Callable[[str], str], rows: list[tuple[str | None, int]]) -> list[tuple[str, int]]:
        return [(say(key) if key not in (None, "") else unknown, count) for key, count in rows]

    names = {place.code: place.name for top in flow.places for place in (top, *top.children)}
    provinces = province_counts(figures["by_place_code"], flow.places)
    regencies = sorted(((names.get(code, code), n) for code, n in figures["by_place_code"] if "." in code),
                       key=lambda row: (-row[1], row[0]))[:TOP_PLACES]
    labels = age_words()
    charts: dict[str, Chart] = {
        "per_day": per_day_chart(figures["per_day"], since, until, display.urgency),
        "status": bar_chart(_("By status"), words(display.status, in_lifecycle_order(figures["by_status"])),
                            column=_("Status"), style=True),
        "category": bar_chart(_("By category"), words(display.category, figures["by_category"]),
                              column=_("Category")),
        "regency": bar_chart(_("By regency or city (%(count)s most frequent)", count=TOP_PLACES), regencies,
                             column=_("Place")),
        "language": bar_chart(_("By language"), words(display.language, figures["by_language"]),
                              column=_("Language")),
        "channel": bar_chart(_("By channel"), words(display.channel, figures["by_channel"]), column=_("Channel")),
        "open_urgent": bar_chart(_("Open urgent tips by age, now"), [(labels[k], n) for k, n in ages],
                                 column=_("Waiting")),
    }
    return {
        "since": since, "until": until, "figures": figures, "charts": charts,
        "median": duration(figures["median_triage_seconds"]) if figures["triaged"] else None,
        "responses": [_response_row(row) for row in responses],
        "province_map": tile_map(place_map(flows_path, flow.places), provinces, names),
        "provinces": sorted(((names.get(code, code), n) for code, n in provinces.items() if n),
                            key=lambda row: (-row[1], row[0])),
        "unmatched_places": figures["no_place_code"],
        "open_urgent": sum(n for _key, n in ages),
    }


def _response_row(row: storage.PartnerResponse) -> ResponseRow:
    return ResponseRow(partner=row.partner, sent=row.sent, acknowledged=row.acknowledged,
                       median=duration(row.median_seconds), p90=duration(row.p90_seconds))
