"""Admins' pages: export, audit trail; everyone's statistics and practice chat; the two languages."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from click.testing import CliRunner
from markupsafe import escape

from tipline import storage
from tipline.cli import EXPORT_COLUMNS, main

from ..dashboard_support import add_tip, at, audit_log, post

DASHBOARD = Path(__file__).resolve().parents[2] / "tipline" / "dashboard"


@pytest.fixture
def tips(app, clock):
    add_tip(app, "AAAA-2222", at=at(clock, days=3), category="begging", location="Pasar Minggu", language="id")
    add_tip(app, "BBBB-2222", at=at(clock, days=1), urgency="immediate", location=" pasar minggu",
            description='He said "come, work" — 50,000 rupiah\nper day')
    add_tip(app, "CCCC-2222", at=at(clock, hours=2), channel="whatsapp", category="online",
            location="<script>alert(1)</script>")
    with storage.writing(app.extensions["tipline"].db) as session:
        storage.add_to_tip(session, reference="BBBB-2222", text="two more boys", now=clock.now)


# ---- export --------------------------------------------------------------------------------------

def cli_export(app, fmt: str, monkeypatch) -> str:
    settings = app.extensions["tipline"].settings
    for name, value in (("TIPLINE_DATABASE_URL", settings.database_url),
                        ("TIPLINE_INSTANCE_PATH", str(settings.instance_path)),
                        ("TIPLINE_SECRET_KEY", settings.secret_key), ("TIPLINE_PSEUDONYM_KEY", settings.pseudonym_key),
                        ("TIPLINE_CONTACT_KEY", settings.contact_key)):
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["tips", "export", "--format", fmt])
    assert result.exit_code == 0, result.output
    return result.output


def test_json_export_has_the_commands_fields_and_more(app, admin, tips, monkeypatch):
    response = post(admin, "/dashboard/export", {"format": "json"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    exported = json.loads(response.get_data(as_text=True))
    command = {tip["reference"]: tip for tip in json.loads(cli_export(app, "json", monkeypatch))}
    assert [t["reference"] for t in exported] == ["CCCC-2222", "BBBB-2222", "AAAA-2222"]  # newest first, as queued
    for tip in exported:  # the command's fields, unchanged, and case work beside them
        assert {k: tip[k] for k in command[tip["reference"]]} == command[tip["reference"]]
        assert {"routing", "assignee", "escalations", "notes"} <= set(tip)
    assert audit_log(app, action="export")[0].detail == {"format": "json", "filters": {}}


def test_csv_export_starts_with_a_byte_order_mark(app, admin, tips, monkeypatch):
    response = post(admin, "/dashboard/export", {"format": "csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8's byte order mark: Excel reads the words right
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert tuple(rows[0])[:len(EXPORT_COLUMNS)] == EXPORT_COLUMNS
    assert rows[1]["additions"] == "two more boys"
    assert not cli_export(app, "csv", monkeypatch).startswith("\ufeff")  # the command's output stays as it was
    assert audit_log(app, action="export")[0].detail == {"format": "csv", "filters": {}}


def test_only_admins_export(app, operator, partner, tips):
    for client in (operator, partner):
        assert post(client, "/dashboard/export", {"format": "csv"}).status_code == 403
    assert audit_log(app, action="export") == []


def test_export_of_an_unknown_format_is_a_400(admin, tips):
    assert post(admin, "/dashboard/export", {"format": "xml"}).status_code == 400


# ---- audit trail ---------------------------------------------------------------------------------

def test_audit_trail_is_filtered_for_admins(app, admin, operator, tips):
    operator.get("/dashboard/tips/AAAA-2222")
    operator.get("/dashboard/tips/BBBB-2222")
    admin.get("/dashboard/tips/BBBB-2222")
    page = admin.get("/dashboard/audit?action=tip_viewed&actor=operator@example.org")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "2 entries" in html
    assert "AAAA-2222" in html and "BBBB-2222" in html
    by_target = admin.get("/dashboard/audit?target=bbbb-2222").get_data(as_text=True)
    assert "2 entries" in by_target
    logins = admin.get("/dashboard/audit?action=login_success&since=2026-03-02&until=2026-03-02")
    assert "2 entries" in logins.get_data(as_text=True)
    none = admin.get("/dashboard/audit?action=login_success&since=2026-03-03")
    assert "0 entries" in none.get_data(as_text=True)
    assert admin.get("/dashboard/audit?since=nonsense&page=x").status_code == 200


def test_only_admins_read_the_audit_trail(operator, partner):
    assert operator.get("/dashboard/audit").status_code == 403
    assert partner.get("/dashboard/audit").status_code == 403


def test_audit_entries_cannot_be_changed(app, admin):
    with pytest.raises(sa.exc.DatabaseError):
        with storage.writing(app.extensions["tipline"].db) as session:
            session.exec(sa.text("UPDATE audit_entry SET actor = 'someone else'"))
    assert {e.actor for e in audit_log(app)} == {"admin@example.org"}


# ---- statistics -------------------------------------------------------------------------------------

def test_statistics_draw_svg_charts_without_script(app, clock, operator, tips):
    post(operator, "/dashboard/tips/BBBB-2222/status", {"status": "triaged"}, token_from="/dashboard/tips/BBBB-2222")
    response = operator.get("/dashboard/statistics?since=2026-02-20&until=2026-03-02")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count("<svg") == 7  # per day, status, open urgent, category, language, channel, the map
    assert "<script" not in html and "alert(1)" not in html  # a reporter's free-text place is never shown
    assert "Tips per day by urgency" in html and "By regency or city" in html
    median = html.partition("median-triage\">")[2].partition("<")[0]
    assert " ".join(median.split()) == "24 hours"
    assert "3</strong> tips from 2026-02-20 to 2026-03-02" in html


def test_statistics_count_picked_places_per_province(app, clock, operator):
    add_tip(app, "CCCC-2222", at=clock.now, place_code="32.01", location="Kab. Bogor, Jawa Barat")
    add_tip(app, "DDDD-2222", at=clock.now, place_code="32", location="Jawa Barat")
    add_tip(app, "EEEE-2222", at=clock.now, place_code="51.71", location="Kota Denpasar, Bali")
    html = operator.get("/dashboard/statistics").get_data(as_text=True)
    table = html.partition('class="provinces"')[2].partition("</table>")[0]
    assert "Jawa Barat</th><td>2<" in table and "Bali</th><td>1<" in table and "Kab. Bogor" not in table


def test_statistics_date_range_narrows_the_counts(operator, tips):
    html = operator.get("/dashboard/statistics?since=2026-03-02&until=2026-03-02").get_data(as_text=True)
    assert "1</strong> tips from 2026-03-02 to 2026-03-02" in html
    assert "no tip triaged yet" in html
    assert operator.get("/dashboard/statistics?since=junk&until=2026-13-45").status_code == 200


def test_partners_do_not_see_statistics(partner):
    assert partner.get("/dashboard/statistics").status_code == 403


# ---- practice chat ----------------------------------------------------------------------------------

def chat(client, text: str) -> str:
    response = post(client, "/dashboard/practice", {"text": text}, token_from="/dashboard/practice")
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get("/dashboard/practice").get_data(as_text=True)


def tip_count(app) -> int:
    with storage.reading(app.extensions["tipline"].db) as session:
        return len(list(storage.export_tips(session, shown=())))


@pytest.mark.parametrize("language", ["en", "id"])
def test_practice_talks_through_the_real_engine_and_never_makes_a_tip(app, operator, language):
    welcome = str(escape(app.extensions["tipline"].flow.say(language, "welcome")))
    page = operator.get("/dashboard/practice").get_data(as_text=True)
    assert "PRACTICE" in page or "LATIHAN" in page
    response = post(operator, "/dashboard/practice/start", {"start-language": language, "start-channel": "sms"},
                    token_from="/dashboard/practice")
    assert response.status_code == 302
    assert welcome in chat(operator, "hello")
    for answer in ("1", "1"):  # report a concern; yes, a child is in danger right now
        html = chat(operator, answer)
    assert "112" in html  # the emergency numbers come at once
    # shown as what a real conversation would do, in the interface's words, and not done
    assert "send the tip to partners and the on-call number at once" in html
    assert "Escalate" not in html  # never the engine's own name for it
    assert tip_count(app) == 0
    with storage.reading(app.extensions["tipline"].db) as session:
        assert session.exec(sa.text("SELECT count(*) FROM conversation")).one()[0] == 0
    assert audit_log(app, action="status_changed") == []


def test_practice_can_start_over(operator):
    post(operator, "/dashboard/practice/start", {"start-language": "en", "start-channel": "whatsapp"},
         token_from="/dashboard/practice")
    chat(operator, "hello")
    post(operator, "/dashboard/practice/reset", token_from="/dashboard/practice")
    assert "Start practice" in operator.get("/dashboard/practice").get_data(as_text=True)


def test_practice_refuses_an_unknown_language(operator):
    response = post(operator, "/dashboard/practice/start", {"start-language": "xx", "start-channel": "sms"},
                    token_from="/dashboard/practice")
    assert response.status_code == 400


def test_partners_do_not_practice(partner):
    assert partner.get("/dashboard/practice").status_code == 403


# ---- languages --------------------------------------------------------------------------------------

def test_interface_in_bahasa_indonesia(app, operator, tips):
    page = operator.get("/dashboard/", headers={"Accept-Language": "id-ID,id;q=0.9"}).get_data(as_text=True)
    assert '<html lang="id">' in page and "Antrean" in page and "Keluar" in page
    response = post(operator, "/dashboard/language", {"lang": "en", "next": "/dashboard/?status=new"})
    assert response.headers["Location"] == "/dashboard/?status=new"
    assert "Queue" in operator.get("/dashboard/", headers={"Accept-Language": "id"}).get_data(as_text=True)


def test_language_switch_never_redirects_off_site(operator):
    for target in ("https://evil.example/", "//evil.example/dashboard", "/dashboard\\..\\x"):
        response = post(operator, "/dashboard/language", {"lang": "id", "next": target})
        assert response.headers["Location"] == "/dashboard/"


def test_every_interface_text_is_translated_and_compiled():
    """The Indonesian catalog covers every message in the code, and the committed .mo matches the .po."""
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    found = {message for _file, _line, message, _comments, _context in
             extract_from_dir(str(DASHBOARD), method_map, keywords={"_": None, "gettext": None, "_l": None})}
    folder = DASHBOARD / "translations" / "id" / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as handle:
        po = read_po(handle)
    with open(folder / "messages.mo", "rb") as handle:
        mo = read_mo(handle)
    def strings(catalog) -> dict:  # a plural's forms: tuples in the .po, lists in the .mo
        def same(value):
            return tuple(value) if isinstance(value, (list, tuple)) else value

        return {same(m.id): same(m.string) for m in catalog if m.id}

    translated = strings(po)
    missing = sorted(m for m in found if isinstance(m, str) and not translated.get(m))
    assert missing == []
    assert strings(mo) == translated
