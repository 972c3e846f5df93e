"""Tips as JSON or CSV, streamed in pieces: one writer for `tipline tips export` and the dashboard."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

EXPORT_COLUMNS = (
    "reference", "created_at", "updated_at", "status", "urgency", "category", "description", "location",
    "when", "children", "channel", "language", "reporter", "contact_consent", "complete", "media_count",
    "place_code", "additions",
)
# A cell a spreadsheet would run as a formula (a reporter's words can start with any of these).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def json_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array of objects, one tip per piece."""
    yield "["
    for index, row in enumerate(rows):
        yield (",\n" if index else "\n") + json.dumps(row, ensure_ascii=False)
    yield "\n]\n"


def csv_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV with a header, additions joined by newlines, formula-like text defused with a leading '."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        row = {**row, "additions": "\n".join(a["text"] for a in row["additions"])}
        writer.writerow({key: _cell(value) for key, value in row.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
