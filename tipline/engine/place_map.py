"""flows/place_map.yaml: where each top-level place (province) sits on the statistics page's tile map.

A tile grid instead of a drawn map: every province gets one equal square, so a small province with
many tips (DKI Jakarta) is as visible as a large one, and nothing (no tiles, no shapes) is fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .flow import FlowError, _read_yaml
from .places import Place

FILE = "place_map.yaml"
MAX_SHORT = 10  # a tile label longer than this no longer fits its square


@dataclass(frozen=True)
class Tile:
    code: str
    col: int
    row: int
    short: str


def load_place_map(folder: str | Path, places: tuple[Place, ...]) -> dict[str, Tile]:
    """The tiles by place code; FlowError names the fault. No file (a deployment without a map): {}."""
    path = Path(folder) / FILE
    if not path.exists():
        return {}
    raw = _read_yaml(path)
    tiles = raw.get("tiles") if isinstance(raw, dict) else None
    if not isinstance(tiles, dict) or not tiles:
        raise FlowError(f"{path}: 'tiles' maps each top-level place code to {{col, row, short}}")
    found: dict[str, Tile] = {}
    taken: dict[tuple[int, int], str] = {}
    for code, spec in tiles.items():
        code = str(code)
        tile = _tile(path, code, spec)
        if (tile.col, tile.row) in taken:
            raise FlowError(f"{path}: {code} and {taken[tile.col, tile.row]} share the square "
                            f"col {tile.col}, row {tile.row}")
        taken[tile.col, tile.row] = code
        found[code] = tile
    tops = {place.code for place in places}
    if places and set(found) != tops:
        missing, unknown = sorted(tops - set(found)), sorted(set(found) - tops)
        raise FlowError(f"{path}: every top-level place of places.yaml needs one tile"
                        + (f"; missing: {', '.join(missing)}" if missing else "")
                        + (f"; not in places.yaml: {', '.join(unknown)}" if unknown else ""))
    return found


def _tile(path: Path, code: str, spec: Any) -> Tile:
    if not isinstance(spec, dict):
        raise FlowError(f"{path}: {code} must be {{col, row, short}}")
    col, row, short = spec.get("col"), spec.get("row"), spec.get("short")
    if not (isinstance(col, int) and isinstance(row, int) and col >= 0 and row >= 0):
        raise FlowError(f"{path}: {code} needs whole numbers col and row, 0 or more")
    if not isinstance(short, str) or not short.strip() or len(short) > MAX_SHORT:
        raise FlowError(f"{path}: {code} needs a short label of 1 to {MAX_SHORT} characters")
    return Tile(code=code, col=col, row=row, short=short.strip())
