"""Whole conversations as golden transcripts, through the signed webhook, with a fixed clock.

Each tests/golden/*.yaml holds what a reporter sends; `out` (the bot's replies), `events` (what
the engine asked the tip line to do in that turn: keep a tip, escalate it, forget a contact..., as
goflow's runner files record them) and `tips` (the export afterwards) are what we promise. A turn
may come from another phone (`sender`), and `{reference}` / `{reference_loose}` stand for the last
reference (as printed, or in lower case with a space instead of the dash, as people type it). After a
deliberate change to flows/, regenerate:
    make test PYTEST_ARGS="--regen-golden tests/test_golden.py"
and read the diff before committing it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from tipline import storage

from .conftest import inbound_fields, signed_post, twiml_messages

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = sorted(GOLDEN.glob("*.yaml"))


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _event(event) -> dict:
    """An engine event as the transcript records it: its type and its values (a PIN only as given)."""
    values = dataclasses.asdict(event)
    if values.get("pin") is not None:
        values["pin"] = "given"
    return {type(event).__name__: values} if values else type(event).__name__


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_transcript(path, client, tipline, clock, request, monkeypatch):
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    applied = []  # the events of the engine, in the order the tip line applies them
    apply = tipline._apply

    def recording(session, event, **context):
        applied.append(_event(event))
        return apply(session, event, **context)

    monkeypatch.setattr(tipline, "_apply", recording)
    sender = case["sender"]
    reference = None
    transcript = []
    for turn in case["script"]:
        clock.advance(minutes=turn.get("wait_minutes", 1))
        loose = (reference or "").lower().replace("-", " ")
        text = turn["in"].replace("{reference}", reference or "").replace("{reference_loose}", loose)
        fields = inbound_fields(text, sender=turn.get("sender", sender), **turn.get("fields", {}))
        response = signed_post(client, fields)
        assert response.status_code == 200
        replies = twiml_messages(response.get_data(as_text=True))
        with storage.reading(tipline.db) as session:
            refs = [t["reference"] for t in storage.export_tips(session, shown=tipline.flow.shown_fields)]
        reference = refs[-1] if refs else reference
        transcript.append({**turn, "out": replies, "events": list(applied)})
        applied.clear()
    with storage.reading(tipline.db) as session:
        tips = list(storage.export_tips(session, shown=tipline.flow.shown_fields))

    if request.config.getoption("--regen-golden"):
        header = "".join(line + "\n" for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#"))
        body = {"sender": sender, "script": transcript, "tips": tips}
        text = yaml.dump(body, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
        path.write_text(header + text, encoding="utf-8")
        return

    assert "tips" in case, f"{path.name} has no expected output yet: run with --regen-golden"
    for number, (expected, actual) in enumerate(zip(case["script"], transcript, strict=True), start=1):
        assert actual["out"] == expected["out"], f"{path.name} turn {number}: {expected['in']!r}"
        assert actual["events"] == expected.get("events"), f"{path.name} turn {number} events: {expected['in']!r}"
    assert tips == case["tips"]
