"""Statistics as SVG drawn on the server by pygal: no JavaScript, small, readable on a phone."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from xml.etree import ElementTree

import pygal
from flask_babel import gettext as _
from markupsafe import Markup
from pygal.style import Style

# pygal appends an import hook for its map plugins (unused here) that has no find_spec, so every
# failed import afterwards, anywhere in the process, raises an ImportWarning. Take it out again.
sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__name__ != "PluginImportFixer"]


STYLE = Style(
    background="white", plot_background="white", foreground="#222", foreground_strong="#111",
    foreground_subtle="#666", colors=("#1f5fa8", "#b3261e", "#2e7d32", "#8e5a00", "#6a1b9a", "#00838f", "#555"),
    font_family="system-ui, sans-serif", label_font_size=12, major_label_font_size=12, value_font_size=12,
    legend_font_size=13, title_font_size=15,
)
COMMON = dict(
    style=STYLE, js=(), disable_xml_declaration=True, width=720, height=320, explicit_size=False,
    legend_at_bottom=True, print_values=False, margin=8, spacing=8, no_data_text=None, no_prefix=True,
)


def _render(chart, *, with_style: bool = True) -> Markup:
    """The chart's SVG without pygal's script (tooltips need JavaScript, which the page never runs).

    pygal builds the SVG as an XML tree, so every label (a reporter's place name) is escaped. The
    charts share one style sheet (no per-chart prefix), so only the first on a page carries it.
    """
    tree = chart.render_tree()
    for child in list(tree):
        if child.tag is ElementTree.Comment:
            tree.remove(child)
    for defs in tree.iter("defs"):
        for child in list(defs):
            if child.tag == "script" or (not with_style and child.tag == "style"):
                defs.remove(child)
    return Markup(ElementTree.tostring(tree, encoding="unicode"))


def _days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def per_day_chart(per_day: dict[str, dict[str, int]], since: date, until: date) -> Markup:
    days = _days(since, until)
    chart = pygal.StackedBar(
        **COMMON, title=_("Tips per day by urgency"), x_label_rotation=-45, show_minor_x_labels=False,
        x_labels_major_every=max(1, len(days) // 10),
    )
    chart.no_data_text = _("No tips in this period")
    chart.x_labels = [d.isoformat() for d in days]
    names = {"immediate": _("immediate danger"), "normal": _("normal")}
    for urgency in ("normal", "immediate"):  # normal in the first colour (blue), immediate in red
        chart.add(names.get(urgency, urgency), [per_day.get(d.isoformat(), {}).get(urgency, 0) for d in days])
    return _render(chart)


def bar_chart(title: str, rows: list[tuple[str | None, int]], unknown: str) -> Markup:
    """Counts per value, largest first, as horizontal bars (long place names stay readable)."""
    chart = pygal.HorizontalBar(**{**COMMON, "legend_at_bottom": False, "show_legend": False,
                                   "print_values": True}, title=title)
    chart.no_data_text = _("No tips in this period")
    chart.width = 420  # drawn smaller, so its words stay legible in a half-width column
    chart.max_scale = 5  # a few ticks on the count axis, not one per number
    chart.height = max(140, 60 + 30 * len(rows))
    labels = [(value if value not in (None, "") else unknown)[:40] for value, _count in rows]
    chart.x_labels = list(reversed(labels))
    chart.add(title, list(reversed([count for _value, count in rows])))
    return _render(chart, with_style=False)


def statistics_charts(
    numbers: dict, since: date, until: date, provinces: list[tuple[str, int]] = ()
) -> dict[str, Markup]:
    unknown = _("not given")
    return {
        "province": bar_chart(_("By province (places picked from the list)"), list(provinces), unknown),
        "per_day": per_day_chart(numbers["per_day"], since, until),
        "category": bar_chart(_("By category"), numbers["by_category"], unknown),
        "place": bar_chart(_("By place (10 most frequent)"), numbers["by_place"], unknown),
        "language": bar_chart(_("By language"), numbers["by_language"], unknown),
        "channel": bar_chart(_("By channel"), numbers["by_channel"], unknown),
    }
