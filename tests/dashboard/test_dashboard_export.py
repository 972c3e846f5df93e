"""The dashboard's export (issue 11 item 8): what the queue shows with its filters, with notes and
escalations, as CSV with a UTF-8 byte order mark (so Excel reads Indonesian words right) or JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from tipline import models, storage
from tipline.export import BOM, CASEWORK_COLUMNS, EXPORT_COLUMNS, csv_chunks
from tipline.storage import queue_export

from ..dashboard_support import add_tip, at, audit_log, post


@pytest.fixture
def app(store_app):
    """Every test here on SQLite and on PostgreSQL: the queries group by day, zone and partner."""
    return store_app


@pytest.fixture
def casework(app, clock, accounts):
    add_tip(app, "AAAA-2222", at=at(clock, days=3), category="begging", place_code="32.73",
            description="ada anak2 ngemis tiap malem di lampu merah dago")
    add_tip(app, "BBBB-2222", at=at(clock, hours=5), urgency="immediate", status="escalated", place_code="31.74",
            description="=HYPERLINK(\"http://x\") anak perempuan dibawa pake mobil van")
    add_tip(app, "CCCC-2222", at=at(clock, hours=1), category="begging", description="anak jualan tisu")
    with storage.writing(app.extensions["tipline"].db) as session:
        rumah = models.Partner(name="Rumah Aman", phone="+15550100141")
        other = models.Partner(name="Other NGO", phone="+15550100142")
        session.add_all([rumah, other])
        session.flush()
        tip = storage.tip_by_reference(session, reference="BBBB-2222")
        sent = at(clock, hours=5)
        session.add(models.Escalation(tip_id=tip.id, partner_id=rumah.id, created_at=sent, status="acknowledged",
                                      acknowledged_at=sent + timedelta(minutes=12)))
        session.add(models.Escalation(tip_id=tip.id, partner_id=other.id, created_at=sent, status="timed_out"))
        session.add(models.TipNote(tip_id=tip.id, at=at(clock, hours=4), author="operator@example.org",
                                   text="Sudah telepon Rumah Aman, mereka ke lokasi"))


def shown(app):
    return app.extensions["tipline"].flow.shown_fields


def rows(app, filters=None, role="admin", partner=None) -> list[dict]:
    with storage.reading(app.extensions["tipline"].db) as session:
        return list(queue_export(session, filters=filters or storage.QueueFilter(), role=role, partner=partner,
                                 shown=shown(app), batch_size=2))


def test_export_follows_the_queue_filters_newest_first(app, casework):
    assert [r["reference"] for r in rows(app)] == ["CCCC-2222", "BBBB-2222", "AAAA-2222"]  # across batches of 2
    begging = rows(app, storage.QueueFilter(category="begging"))
    assert [r["reference"] for r in begging] == ["CCCC-2222", "AAAA-2222"]
    assert [r["reference"] for r in rows(app, storage.QueueFilter(place_code="32"))] == ["AAAA-2222"]


def test_export_carries_notes_and_escalations(app, casework):
    row = next(r for r in rows(app) if r["reference"] == "BBBB-2222")
    assert set(EXPORT_COLUMNS) <= set(row)  # the CLI export's fields, unchanged
    assert [n["text"] for n in row["notes"]] == ["Sudah telepon Rumah Aman, mereka ke lokasi"]
    assert [(e["partner"], e["status"]) for e in row["escalations"]] == [("Rumah Aman", "acknowledged"),
                                                                         ("Other NGO", "timed_out")]
    assert row["escalations"][0]["acknowledged_at"] == "2026-03-02T04:12:00Z"


def test_a_partner_exports_only_its_own_escalations_and_no_notes(app, casework):
    found = rows(app, role="partner", partner="Rumah Aman")
    assert [r["reference"] for r in found] == ["BBBB-2222"]
    assert "notes" not in found[0]
    assert [e["partner"] for e in found[0]["escalations"]] == ["Rumah Aman"]


def test_csv_with_a_byte_order_mark_reads_back(app, casework):
    text = "".join(csv_chunks(rows(app), shown(app), casework=True, bom=True))
    assert text.startswith(BOM) and text.count(BOM) == 1
    data = list(csv.DictReader(io.StringIO(text.removeprefix(BOM))))
    assert list(data[0]) == [*EXPORT_COLUMNS, *CASEWORK_COLUMNS]
    urgent = next(r for r in data if r["reference"] == "BBBB-2222")
    assert urgent["description"].startswith("'=HYPERLINK")  # a formula stays text
    assert urgent["escalations"].splitlines() == [
        "Rumah Aman: acknowledged, sent 2026-03-02T04:00:00Z, acknowledged 2026-03-02T04:12:00Z",
        "Other NGO: timed_out, sent 2026-03-02T04:00:00Z",
    ]
    assert urgent["notes"] == "2026-03-02T05:00:00Z operator@example.org: Sudah telepon Rumah Aman, mereka ke lokasi"
    assert "anak2 ngemis" in text.encode("utf-8").decode("utf-8-sig")


def test_the_cli_export_has_no_byte_order_mark(app, casework):
    with storage.reading(app.extensions["tipline"].db) as session:
        text = "".join(csv_chunks(storage.export_tips(session, shown=shown(app)), shown(app)))
    assert not text.startswith(BOM) and text.splitlines()[0] == ",".join(EXPORT_COLUMNS)
    assert json.loads(json.dumps(rows(app)))  # every field is plain JSON


# ---- the queue's export button ------------------------------------------------------------------

def test_the_queue_offers_to_export_what_it_shows(admin, casework):
    html = admin.get("/dashboard/?category=begging&since=2026-02-01").get_data(as_text=True)
    form = html.partition('action="/dashboard/export"')[2].partition("</form>")[0]
    assert '<input type="hidden" name="category" value="begging">' in form
    assert '<input type="hidden" name="since" value="2026-02-01">' in form
    assert "Export these tips" in html
    assert "Export all tips" in admin.get("/dashboard/").get_data(as_text=True)


def test_the_export_takes_the_queues_filters(app, admin, casework):
    response = post(admin, "/dashboard/export", {"format": "csv", "category": "begging", "q": "lampu merah"})
    text = response.get_data().decode("utf-8-sig")
    assert [row["reference"] for row in csv.DictReader(io.StringIO(text))] == ["AAAA-2222"]
    entry = audit_log(app, action="export")[0]
    assert entry.detail["filters"] == {"category": "begging"} and entry.detail["format"] == "csv"
    assert "lampu" not in json.dumps(entry.detail)  # searched words only as a fingerprint
    assert entry.detail["search"]["words"] == 2


def test_a_filter_that_does_not_parse_is_ignored_not_a_500(admin, casework):
    response = post(admin, "/dashboard/export", {"format": "json", "since": "kemarin", "status": "nonsense"})
    assert response.status_code == 200
    assert len(json.loads(response.get_data(as_text=True))) == 3
