"""A truthful outbox (issue 9): without a Twilio account nothing is sent, and nothing says it was: rows
read "not sent (no account)" everywhere, never count as sent, and every dashboard page says sending is off."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from tests.conftest import AUTH_TOKEN, make_settings
from tests.fake_twilio import FakeTwilio
from tipline import create_app, storage
from tipline.cli import main
from tipline.storage import upgrade
from tipline.worker import Worker

from .dashboard_support import client_for, make_user, post
from .routing_support import ONCALL, provinces, stored, urgent_tip

BANNER = "Outbound sending is off."


@pytest.fixture
def settings(tmp_path, sqlite_url):
    return make_settings(tmp_path, sqlite_url, oncall_number=ONCALL)  # no TWILIO_ACCOUNT_SID


@pytest.fixture
def logged(app, tipline, clock):
    """An urgent tip whose messages the worker could only write to its log."""
    provinces(tipline)
    urgent_tip(tipline, "TEST-2222", place_code="32.73", location="Kota Bandung")
    Worker(tipline, sleep=lambda seconds: None).run_once()
    return tipline


def test_rows_read_not_sent_and_the_urgent_tip_reached_nobody(logged):
    with storage.reading(logged.db) as session:
        rows = storage.list_outbox(session)
    assert {(r.status, r.sent_at, r.twilio_sid) for r in rows} == {("not_sent", None, None)}
    assert all("no Twilio account" in r.error for r in rows)
    assert stored(logged, "TEST-2222").routing == "failed"  # nobody received it: pinned for operators


def test_outbox_list_says_not_sent(logged, monkeypatch):
    for name, value in {"TIPLINE_DATABASE_URL": logged.settings.database_url,
                        "TIPLINE_INSTANCE_PATH": str(logged.settings.instance_path)}.items():
        monkeypatch.setenv(name, value)
    text = CliRunner().invoke(main, ["outbox", "list", "--status", "not_sent"]).output
    assert text.count("not sent (no account)") == 2 and not re.search(r"Z  sent ", text)
    rows = json.loads(CliRunner().invoke(main, ["outbox", "list", "--json"]).output)
    assert [r["status"] for r in rows] == ["escalation_failed", "not_sent", "not_sent"]


def test_the_outbox_page_says_not_sent_and_never_counts_it_as_sent(logged, operator):
    html = operator.get("/dashboard/outbox").get_data(as_text=True)
    assert re.search(r"not sent \(no account\): <strong>2</strong>", html)
    assert re.search(r"<li>sent: <strong>0</strong>", html)
    assert html.count('<span class="status not_sent">not sent (no account)</span>') == 2
    assert "Urgent tips nobody received" in html and "TEST-2222" in html
    indonesian = operator.get("/dashboard/outbox", headers={"Accept-Language": "id"}).get_data(as_text=True)
    assert "tidak terkirim (tanpa akun)" in indonesian


@pytest.mark.parametrize("page", ["/dashboard/", "/dashboard/outbox", "/dashboard/tips/TEST-2222",
                                  "/dashboard/partners", "/dashboard/statistics"])
def test_every_page_says_sending_is_off(logged, operator, page):
    html = operator.get(page).get_data(as_text=True)
    assert BANNER in html and "TWILIO_ACCOUNT_SID" in html


def test_a_broadcast_without_an_account_counts_nothing_as_sent(app, tipline, operator, clock):
    from .community_support import draft, volunteer

    volunteer(tipline, "+15550100081", language="en", place_code="32.04")
    broadcast_id = draft(operator, en="Watch the bus station this week.", id_="Awasi terminal bus.", places=["32"])
    url = f"/dashboard/community/broadcasts/{broadcast_id}"
    assert post(operator, f"{url}/send", {"action": "now"}, token_from=url).status_code == 302
    runner = Worker(tipline, sleep=lambda seconds: clock.advance(seconds=seconds))
    runner.run_once()
    clock.advance(minutes=5)
    runner.run_once()
    with storage.reading(tipline.db) as session:
        [outcome] = storage.broadcast_outcomes(session, broadcast_ids=[broadcast_id]).values()
    assert (outcome["sent"], outcome["delivered"], outcome["not_sent"]) == (0, 0, 1)
    page = operator.get(url).get_data(as_text=True)
    assert re.search(r"Sent: <strong>0</strong>", page)
    assert re.search(r"Not sent: no Twilio account is set: <strong>1</strong>", page)


def test_no_banner_while_sending_is_on(tmp_path, sqlite_url, clock, references):
    with FakeTwilio("AC" + "5" * 32, AUTH_TOKEN) as fake:
        settings = make_settings(tmp_path, sqlite_url, twilio_account_sid="AC" + "5" * 32,
                                 twilio_api_base_url=fake.base_url, twilio_sms_from="+15550100090")
        upgrade(settings.database_url)
        app = create_app(settings, clock=clock, reference_maker=references)
        make_user(app, "operator@example.org", "operator")
        html = client_for(app, "operator@example.org").get("/dashboard/").get_data(as_text=True)
        app.extensions["tipline"].db.dispose()
    assert BANNER not in html
