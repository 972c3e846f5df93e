"""Tips as JSON or CSV, streamed in pieces: one writer for `tipline tips export` and the dashboard."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from .engine.flow import FieldSpec

# The tip's own columns around the report's answers, whose fields and order flows/flow.yaml declares.
BEFORE_ANSWERS = ("reference", "created_at", "updated_at", "status", "urgency")
AFTER_ANSWERS = ("channel", "language", "reporter", "contact_consent", "complete", "media_count", "place_code",
                 "additions")
# The CSV columns with today's flow (the contract's fields); `columns(flow.shown_fields)` is the rule.
EXPORT_COLUMNS = (*BEFORE_ANSWERS, "category", "description", "location", "when", "children", *AFTER_ANSWERS)
# A cell a spreadsheet would run as a formula (a reporter's words can start with any of these).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def json_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array of objects, one tip per piece."""
    yield "["
    for index, row in enumerate(rows):
        yield (",\n" if index else "\n") + json.dumps(row, ensure_ascii=False)
    yield "\n]\n"


def columns(shown: Iterable[FieldSpec]) -> tuple[str, ...]:
    """The export's columns: the tip's own, with the flow's shown report fields in between."""
    return (*BEFORE_ANSWERS, *(field.name for field in shown), *AFTER_ANSWERS)


def csv_chunks(rows: Iterable[dict[str, Any]], shown: Iterable[FieldSpec]) -> Iterator[str]:
    """CSV with a header, additions joined by newlines, formula-like text defused with a leading '."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(shown), lineterminator="\n", extrasaction="ignore")
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
