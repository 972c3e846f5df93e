"""The volunteers page: how many community watch volunteers there are, where, in which language.

Counts only: never a volunteer's number, pseudonym or the words they used for their place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import gettext as _

from ... import storage
from ..stats.page import place_map
from ..stats.tile_map import tile_map


@dataclass
class ProvinceCount:
    """Volunteers in one province: in all, and per regency or city they named (or the province only)."""

    code: str
    name: str
    count: int = 0
    whole: int = 0  # named the province, no regency
    places: list[tuple[str, int]] = field(default_factory=list)


def volunteers_context(db, *, flow, flows_path: Path) -> dict:
    """The template's context: the total, per language, per province (with its places), the map."""
    with storage.reading(db) as session:
        by_code = storage.volunteers_by_place(session)
        languages = storage.volunteer_languages(session, place_codes=[])
    names = {place.code: place.name for top in flow.places for place in (top, *top.children)}
    provinces = {top.code: ProvinceCount(code=top.code, name=top.name) for top in flow.places}
    unmatched = 0
    for code, count in by_code:
        province = provinces.get((code or "").split(".")[0])
        if province is None:
            unmatched += count
            continue
        province.count += count
        if "." in code:
            province.places.append((names.get(code, code), count))
        else:
            province.whole += count
    listed = sorted((p for p in provinces.values() if p.count), key=lambda p: (-p.count, p.name))
    for province in listed:
        province.places.sort(key=lambda item: (-item[1], item[0]))
    return {
        "total": sum(count for _code, count in by_code),
        "languages": sorted(((flow.languages[code].name if code in flow.languages else code, n)
                             for code, n in languages.items()), key=lambda item: (-item[1], item[0])),
        "provinces": listed,
        "unmatched": unmatched,
        "volunteer_map": tile_map(
            place_map(flows_path, flow.places), {p.code: p.count for p in listed}, names,
            describe=lambda name, count: _("%(place)s: %(count)s volunteers", place=name, count=count),
        ),
    }
