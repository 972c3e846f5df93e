"""The map of provinces: one square per province (flows/place_map.yaml), shaded by its count, as SVG.

Drawn on the server with ElementTree, so every label is escaped and nothing is fetched or scripted.
The page puts a table with the same numbers beside it, which is what screen readers read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from xml.etree import ElementTree

from flask_babel import gettext as _
from markupsafe import Markup

from ...engine.place_map import Tile

SIZE, GAP, LEGEND = 58, 4, 44
# Light to dark blue; the dark ones carry white text, each pair at a contrast of 4.5:1 or more.
SHADES = (("#c6dbef", "#111111"), ("#6baed6", "#111111"), ("#2171b5", "#ffffff"), ("#08306b", "#ffffff"))
NONE = ("#f2f2f2", "#333333")


def bands(most: int) -> list[tuple[int, int]]:
    """Up to four ranges of whole counts from 1 to `most`, lowest first: [(1, 2), (3, 5), ...]."""
    if most <= 0:
        return []
    ends = sorted({math.ceil(most * k / len(SHADES)) for k in range(1, len(SHADES) + 1)})
    return [(start, end) for start, end in zip([1, *(e + 1 for e in ends[:-1])], ends, strict=False)]


def _band_label(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}–{high}"


def tile_map(tiles: Mapping[str, Tile], counts: Mapping[str, int], names: Mapping[str, str],
             describe: Callable[[str, int], str] | None = None) -> Markup:
    """The SVG map: each tile labelled with its short name and count, a hover title with the full name
    (`describe(name, count)`, by default "Jawa Barat: 2 tips")."""
    describe = describe or (lambda name, count: _("%(place)s: %(count)s tips", place=name, count=count))
    if not tiles:
        return Markup("")
    ranges = bands(max(counts.values(), default=0))

    def shade(count: int) -> tuple[str, str]:
        for (low, high), colours in zip(ranges, SHADES[len(SHADES) - len(ranges):], strict=False):
            if low <= count <= high:
                return colours
        return NONE

    cols = max(tile.col for tile in tiles.values()) + 1
    rows = max(tile.row for tile in tiles.values()) + 1
    width, height = cols * (SIZE + GAP), rows * (SIZE + GAP) + LEGEND
    svg = ElementTree.Element("svg", {
        "xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {width} {height}", "class": "tile-map",
        "role": "img", "aria-label": _("Map of provinces; the table beside it gives the same numbers."),
        "font-family": "system-ui, sans-serif",
    })
    for code, tile in sorted(tiles.items(), key=lambda item: (item[1].row, item[1].col)):
        count = counts.get(code, 0)
        fill, ink = shade(count)
        x, y = tile.col * (SIZE + GAP), tile.row * (SIZE + GAP)
        group = ElementTree.SubElement(svg, "g", {"data-code": code})
        ElementTree.SubElement(group, "title").text = describe(names.get(code, code), count)
        ElementTree.SubElement(group, "rect", {"x": str(x), "y": str(y), "width": str(SIZE), "height": str(SIZE),
                                               "rx": "3", "fill": fill, "stroke": "#777", "stroke-width": "0.5"})
        label = {"x": str(x + SIZE / 2), "text-anchor": "middle", "fill": ink}
        short = ElementTree.SubElement(group, "text", {**label, "y": str(y + 21), "font-size": "12"})
        short.text = tile.short
        if len(tile.short) > 7:  # squeeze the longest names into the square
            short.attrib.update({"textLength": str(SIZE - 6), "lengthAdjust": "spacingAndGlyphs"})
        number = ElementTree.SubElement(group, "text", {**label, "y": str(y + 45), "font-size": "19",
                                                        "font-weight": "bold"})
        number.text = str(count)
    _legend(svg, ranges, rows * (SIZE + GAP) + 8)
    return Markup(ElementTree.tostring(svg, encoding="unicode"))


def _legend(svg: ElementTree.Element, ranges: list[tuple[int, int]], top: int) -> None:
    """Swatches for no tips and each range, left to right, under the tiles."""
    x = 0
    for (fill, _ink), label in [(NONE, "0"), *zip(SHADES[len(SHADES) - len(ranges):],
                                                  (_band_label(*r) for r in ranges), strict=False)]:
        ElementTree.SubElement(svg, "rect", {"x": str(x), "y": str(top), "width": "18", "height": "18",
                                             "fill": fill, "stroke": "#777", "stroke-width": "0.5"})
        text = ElementTree.SubElement(svg, "text", {"x": str(x + 24), "y": str(top + 15), "font-size": "15",
                                                    "fill": "#222222"})
        text.text = label
        x += 36 + 10 * len(label)
