"""The same conversations on SQLite and PostgreSQL: what is kept, dropped and exported."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tipline import create_app, storage
from tipline.models import TipEvent

from ..conftest import Reporter, make_settings


@pytest.fixture
def store(tmp_path, database_url, clock, references):
    settings = make_settings(tmp_path, database_url)
    storage.upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references)
    yield app.test_client(), app.extensions["tipline"]
    app.extensions["tipline"].db.dispose()


def export(tipline):
    with storage.reading(tipline.db) as session:
        return list(storage.export_tips(session, shown=tipline.flow.shown_fields))


def test_report_add_status_and_export(store, clock):
    client, tipline = store
    reporter = Reporter(client, "+15550100031")
    for text in ("hi", "1", "1", "Pelabuhan Sunda Kelapa"):
        reporter.send(text)
    tips = export(tipline)
    assert len(tips) == 1 and tips[0]["urgency"] == "immediate" and tips[0]["complete"] is False
    for text in ("Children carry sacks at the harbour at night", "4", "about 6", "2"):
        reporter.send(text)
    submitted = reporter.send("1")[0]
    reference = submitted.split("Report code: ")[1][:9]
    pin = submitted.split(" PIN ")[1][:4]
    clock.advance(hours=2)
    assert reporter.send(f"ADD {reference} they left on a blue truck") == [
        f'Added to {reference}: "they left on a blue truck". Thank you.']
    other = Reporter(client, "+15550100032")
    # Another phone needs the PIN; a first message of shared words gets the default language.
    assert "tidak bisa dibuka dari HP ini" in other.send(f"STATUS {reference}")[0]
    assert other.send(f"STATUS {reference} {pin}") == [
        f"Laporan {reference} sudah diterima dan menunggu diperiksa tim kami."]
    [tip] = export(tipline)
    assert tip["reference"] == reference and tip["complete"] is True
    assert tip["category"] == "online" and tip["location"] == "Pelabuhan Sunda Kelapa" and tip["place_code"] is None
    assert tip["children"] == "about 6" and tip["when"] is None  # not asked when a child is in danger now
    assert tip["additions"][0]["text"] == "they left on a blue truck"
    assert tip["reporter"] == tipline.reporter_of("+15550100031")
    with storage.reading(tipline.db) as session:
        events = list(session.exec(select(TipEvent).order_by(TipEvent.id)))
        stored = storage.tip_by_reference(session, reference=reference)
    # No partner and no on-call number here: the timeline says nobody received it, never "sent"; the
    # typed place names no place in the list.
    assert [e.kind for e in events] == ["created", "escalation_requested", "routing", "place_not_matched",
                                        "completed", "addition"]
    assert events[2].detail == {"to": "unrouted"}
    assert stored.pin_hash and pin not in stored.pin_hash and len(stored.pin_hash) == 64  # only a keyed hash


def test_exit_discards_and_menu_keeps_unfinished(store):
    client, tipline = store
    dropped = Reporter(client, "+15550100033")
    for text in ("hi", "1", "2", "I am not sure, maybe nothing", "EXIT"):
        dropped.send(text)
    kept = Reporter(client, "+15550100034")
    for text in ("hi", "1", "2", "A girl never leaves the employer's house", "MENU"):
        kept.send(text)
    tips = export(tipline)
    assert [t["description"] for t in tips] == ["A girl never leaves the employer's house"]
    assert tips[0]["complete"] is False


def test_unicode_and_long_messages_are_kept_whole(store):
    client, tipline = store
    reporter = Reporter(client, "+15550100035")
    text = ("Anak-anak bekerja \U0001F622 di kebun sawit — ꦲꦤꦏ꧀ " * 40)[:1600]
    for message in ("halo", "1", "2", text):
        reporter.send(message)
    assert export(tipline)[0]["description"] == " ".join(text.split())
