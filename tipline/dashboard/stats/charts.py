"""Statistics as SVG drawn on the server by pygal: no JavaScript, small, readable on a phone.

Each chart comes with the same numbers as a table (for screen readers, and for anyone who wants the
exact figures); an empty chart is not drawn at all, the page says so in a sentence instead. Counts
are whole numbers, so every count axis has whole-number ticks.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
    legend_at_bottom=True, print_values=False, margin=8, spacing=8, no_data_text="", no_prefix=True,
    value_formatter=lambda value: f"{value:.0f}",
)
MAX_TICKS = 6


@dataclass
class Chart:
    """One chart for the page: its title, the SVG (None when there is nothing to draw) and its table."""

    title: str
    svg: Markup | None
    columns: Sequence[str] = ()
    rows: list[Sequence] = field(default_factory=list)


def integer_ticks(most: int | float) -> list[int]:
    """Whole-number ticks from 0 to at least `most`, a round step apart, at most MAX_TICKS of them."""
    most = max(1, math.ceil(most))
    step = 1
    while most / step > MAX_TICKS - 1:
        step = next(s * 10 ** e for e in range(10) for s in (1, 2, 5) if s * 10 ** e > step)
    return list(range(0, step * math.ceil(most / step) + 1, step))


def _render(chart, *, with_style: bool = True) -> Markup:
    """The chart's SVG without pygal's script (tooltips need JavaScript, which the page never runs).

    pygal builds the SVG as an XML tree, so every label is escaped. The charts share one style sheet
    (no per-chart prefix), so only the first on a page carries it. The SVG is hidden from screen
    readers: the table under it says the same.
    """
    tree = chart.render_tree()
    tree.set("aria-hidden", "true")
    tree.set("focusable", "false")
    if not tree.get("id"):
        tree.attrib.pop("id", None)
    for child in list(tree):
        if child.tag is ElementTree.Comment or (child.tag == "title" and child.text == "Pygal"):
            tree.remove(child)
    for defs in tree.iter("defs"):
        for child in list(defs):
            if child.tag == "script" or (not with_style and child.tag == "style"):
                defs.remove(child)
    return Markup(ElementTree.tostring(tree, encoding="unicode"))


def _days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def per_day_chart(per_day: dict[str, dict[str, int]], since: date, until: date,
                  urgency_word: Callable[[str], str]) -> Chart:
    """Tips per local day, stacked by urgency (normal in blue, immediate danger in red)."""
    days = _days(since, until)
    urgencies = ("normal", "immediate")
    series = {u: [per_day.get(d.isoformat(), {}).get(u, 0) for d in days] for u in urgencies}
    totals = [sum(values) for values in zip(*series.values(), strict=False)]
    title = _("Tips per day by urgency")
    rows = [(d.isoformat(), *(series[u][n] for u in urgencies)) for n, d in enumerate(days) if totals[n]]
    columns = (_("Day"), *(urgency_word(u) for u in urgencies))
    if not rows:
        return Chart(title, None, columns)
    chart = pygal.StackedBar(
        **COMMON, x_label_rotation=-45, show_minor_x_labels=False, x_labels_major_every=max(1, len(days) // 10),
        y_labels=integer_ticks(max(totals)),
    )
    chart.x_labels = [d.isoformat() for d in days]
    for urgency in urgencies:
        chart.add(urgency_word(urgency), series[urgency])
    return Chart(title, _render(chart), columns, rows)


def bar_chart(title: str, rows: list[tuple[str, int]], *, column: str, style: bool = False) -> Chart:
    """Counts per value (already words), largest first, as horizontal bars (long names stay readable)."""
    columns = (column, _("Tips"))
    if not any(count for _label, count in rows):
        return Chart(title, None, columns)
    chart = pygal.HorizontalBar(**{**COMMON, "show_legend": False, "print_values": True},
                                y_labels=integer_ticks(max(count for _label, count in rows)))
    chart.width = 420  # drawn smaller, so its words stay legible in a half-width column
    chart.height = max(140, 60 + 30 * len(rows))
    chart.x_labels = [label[:40] for label, _count in reversed(rows)]
    chart.add(title, [count for _label, count in reversed(rows)])
    return Chart(title, _render(chart, with_style=style), columns, [tuple(row) for row in rows])
