"""The report's fields, as flows/flow.yaml declares them, mapped onto the tip that keeps them.

A field the tip line filters or routes on has a column of the tip (REPORT_COLUMNS); every other
answer is kept in the tip's `answers` under its field name, so a new question in the flow needs no
column, no migration and no code. The webhook's write path, the export, the tip page and the
partner's message all read a tip's answers through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .engine.flow import FieldSpec

# Fields with a column of their own: searched, filtered and routed on (and named by the contract).
REPORT_COLUMNS = ("category", "description", "location", "contact_consent")
# What the engine reports about the tip itself, besides the answers.
TIP_OWN = ("urgency", "place_code", "media_count", "complete", "channel", "language")


def tip_values(report: Mapping[str, Any], fields: Mapping[str, FieldSpec]) -> dict[str, Any]:
    """The tip's column values for a report (the engine's SaveTip fields): its own values, the
    declared columns, and the other declared answers given so far under "answers" (save_tip merges
    them into those kept). Keys the report lacks are left out."""
    values = {key: report[key] for key in TIP_OWN if key in report}
    answers: dict[str, Any] = {}
    for field in fields.values():
        if field.role == "danger" or field.name not in report:
            continue  # a child in danger now is the tip's urgency
        if field.column:
            values[field.name] = report[field.name]
        elif report[field.name] is not None:  # a skipped question keeps nothing
            answers[field.name] = report[field.name]
    values["answers"] = answers
    return values


def answer_of(tip: Any, field: FieldSpec) -> Any:
    """A tip's answer to one field, from its column or its answers."""
    if field.column:
        return getattr(tip, field.name, None)
    return (tip.answers or {}).get(field.name)


def column_faults(fields: Mapping[str, FieldSpec]) -> list[str]:
    """Fields that claim a column the tip does not have (`tipline flows check` reports them)."""
    return [
        f"flow.yaml: field {f.name!r} is declared a column, but the tip has columns only for "
        f"{', '.join(REPORT_COLUMNS)}; leave `column` out to keep it in the tip's answers"
        for f in fields.values() if f.column and f.name not in REPORT_COLUMNS
    ] + [
        f"flow.yaml: field {f.name!r} has a column of the tip; declare it with `column: true`"
        for f in fields.values() if not f.column and f.name in REPORT_COLUMNS
    ]
