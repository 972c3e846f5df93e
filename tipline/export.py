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
# The dashboard's export adds what the queue shows about case work (the CLI's fields stay as they are).
CASEWORK_COLUMNS = ("routing", "assignee", "escalations", "notes")
BOM = "\ufeff"  # so a spreadsheet (Excel) reads the file as UTF-8, not as the machine's own code page
# A cell a spreadsheet would run as a formula (a reporter's words can start with any of these).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def json_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array of objects, one tip per piece."""
    yield "["
    for index, row in enumerate(rows):
        yield (",\n" if index else "\n") + json.dumps(row, ensure_ascii=False)
    yield "\n]\n"


def columns(shown: Iterable[FieldSpec], *, casework: bool = False) -> tuple[str, ...]:
    """The export's columns: the tip's own, with the flow's shown report fields in between; with
    `casework`, the dashboard's routing, assignee, escalations and notes after them."""
    return (*BEFORE_ANSWERS, *(field.name for field in shown), *AFTER_ANSWERS,
            *(CASEWORK_COLUMNS if casework else ()))


def csv_chunks(rows: Iterable[dict[str, Any]], shown: Iterable[FieldSpec], *, casework: bool = False,
               bom: bool = False) -> Iterator[str]:
    """CSV with a header, lists (additions, escalations, notes) one item a line in their cell,
    formula-like text defused with a leading '; with `bom`, a UTF-8 byte order mark first."""
    buffer = io.StringIO()
    if bom:
        buffer.write(BOM)
    writer = csv.DictWriter(buffer, fieldnames=columns(shown, casework=casework), lineterminator="\n",
                            extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        row = {key: _lines(key, value) if isinstance(value, list) else value for key, value in row.items()}
        writer.writerow({key: _cell(value) for key, value in row.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _lines(key: str, items: list[dict[str, Any]]) -> str:
    """A list field as lines of text in one cell."""
    if key == "escalations":
        return "\n".join(
            f"{e['partner']}: {e['status']}, sent {e['sent_at']}"
            + (f", acknowledged {e['acknowledged_at']}" if e.get("acknowledged_at") else "")
            + (f", outcome {e['done_at']}: {e['outcome'] or ''}".rstrip(": ") if e.get("done_at") else "")
            for e in items
        )
    if key == "notes":
        return "\n".join(f"{n['at']} {n['author']}: {n['text']}" for n in items)
    return "\n".join(item["text"] for item in items)


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
