"""Defence in depth (issue 9): the emergency reply never depends on what comes after it. When building or
queueing an escalation breaks, or every message carrying it fails, the reporter still has the numbers,
the tip is kept and shown as "escalation failed" to operators, and the log holds no personal data."""

from __future__ import annotations

import random
import shutil

import pytest
from click.testing import CliRunner

from tests.conftest import AUTH_TOKEN, Reporter, make_settings
from tests.fake_twilio import FakeTwilio
from tipline import create_app, escalation, storage
from tipline.cli import main
from tipline.storage import upgrade
from tipline.worker import Worker

from .conftest import FLOWS
from .routing_support import JABAR, ONCALL, provinces, queued, stored, timeline

NUMBER = "+15550100001"
WORDS = "Tolong, ada anak perempuan diseret ke mobil di Jl. Melati 4"


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(tmp_path, database_url, oncall_number=ONCALL)


def say_danger(client) -> list[str]:
    person = Reporter(client, NUMBER)
    person.send("halo")
    person.send("1")
    return person.send("1")  # yes, a child is in danger right now


def assert_failed_and_kept(tipline, caplog, replies):
    numbers = tipline.flow.numbers
    assert any(numbers["emergency"] in r and numbers["police"] in r for r in replies)  # the numbers, first
    tip = stored(tipline, "TEST-2322")
    assert tip is not None and tip.urgency == "immediate" and tip.routing == "failed"
    routing = [e.detail for e in timeline(tipline, "TEST-2322") if e.kind == "routing"]
    assert routing and routing[-1]["to"] == "failed"
    assert NUMBER.lstrip("+") not in caplog.text and "Melati" not in caplog.text and "diseret" not in caplog.text
    assert "TEST-2322: escalation failed" in caplog.text


def test_an_exception_in_routing_still_sends_the_numbers_and_marks_the_tip(client, tipline, monkeypatch, caplog):
    provinces(tipline)

    def broken(*args, **kwargs):
        raise RuntimeError(f"boom: {WORDS}")  # an error whose text holds a reporter's words

    monkeypatch.setattr(escalation, "route_urgent", broken)
    with caplog.at_level("INFO"):
        replies = say_danger(client)
    assert_failed_and_kept(tipline, caplog, replies)
    assert stored(tipline, "TEST-2322").status == "new"  # what the broken part began is undone
    assert [(address, kind) for address, kind, body in queued(tipline)] == [(ONCALL, "alert")]
    assert "could not be sent to partners" in queued(tipline)[0][2]
    # The conversation went on: the next answer is taken as the report's next answer (where the child is now).
    Reporter(client, NUMBER).send(WORDS)
    assert stored(tipline, "TEST-2322").location == WORDS


def test_a_broken_queue_still_sends_the_numbers(client, tipline, monkeypatch, caplog):
    provinces(tipline)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(storage, "enqueue", broken)  # not even the on-call alert can be queued
    with caplog.at_level("INFO"):
        replies = say_danger(client)
    assert_failed_and_kept(tipline, caplog, replies)
    assert queued(tipline) == [] and "failed too" in caplog.text


def test_a_typo_in_the_partners_words_fails_the_check_and_never_the_reporter(tmp_path, sqlite_url, clock,
                                                                            references, caplog):
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS, flows)
    words = (flows / "outbound.yaml").read_text(encoding="utf-8")
    (flows / "outbound.yaml").write_text(words.replace("{children}", "{chldren}"), encoding="utf-8")
    settings = make_settings(tmp_path, sqlite_url, oncall_number=ONCALL, flows_path=str(flows))
    check = CliRunner().invoke(main, ["flows", "check"], env={"TIPLINE_FLOWS_PATH": str(flows),
                                                              "TIPLINE_INSTANCE_PATH": str(tmp_path / "instance")})
    assert check.exit_code == 1 and "escalation: uses unknown placeholder(s) ['chldren']" in check.output
    upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references)
    tipline = app.extensions["tipline"]
    provinces(tipline)
    with caplog.at_level("INFO"):
        replies = say_danger(app.test_client())
    assert_failed_and_kept(tipline, caplog, replies)
    assert "FlowError: outbound.yaml: en.escalation" in caplog.text
    assert [(address, kind) for address, kind, _ in queued(tipline)] == [(ONCALL, "alert")]
    tipline.db.dispose()


def test_the_failure_is_pinned_for_operators_and_listed_by_outbox_list(app, client, tipline, operator, monkeypatch):
    monkeypatch.setattr(escalation, "route_urgent", lambda *a, **k: 1 / 0)
    say_danger(client)
    html = operator.get("/dashboard/").get_data(as_text=True).partition('id="pinned-title"')[0]
    assert 'class="pinned nobody"' in html and "TEST-2322" in html and "ESCALATION FAILED" in html
    page = operator.get("/dashboard/tips/TEST-2322").get_data(as_text=True)
    assert "ESCALATION FAILED: nobody received this urgent tip" in page.partition('id="timeline-title"')[2]
    for name, value in {"TIPLINE_DATABASE_URL": tipline.settings.database_url,
                        "TIPLINE_INSTANCE_PATH": str(tipline.settings.instance_path)}.items():
        monkeypatch.setenv(name, value)
    listed = CliRunner().invoke(main, ["outbox", "list"])
    assert listed.output.startswith("WARNING: 1 urgent tip(s) reached nobody") and "escalation_failed" in listed.output


# ---- every message failed ----------------------------------------------------------------------------

ACCOUNT = "AC" + "4" * 32


@pytest.fixture
def fake_twilio():
    with FakeTwilio(ACCOUNT, AUTH_TOKEN) as fake:
        yield fake


def test_when_every_message_fails_the_tip_shows_escalation_failed(tmp_path, sqlite_url, fake_twilio, clock,
                                                                  references):
    settings = make_settings(tmp_path, sqlite_url, oncall_number=ONCALL, twilio_account_sid=ACCOUNT,
                             twilio_api_base_url=fake_twilio.base_url, twilio_sms_from="+15550100090",
                             send_rate_per_second=1000.0)
    upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references)
    tipline = app.extensions["tipline"]
    provinces(tipline)
    from .routing_support import urgent_tip

    urgent_tip(tipline, "TEST-2222", place_code="32.73", location="Kota Bandung")
    assert stored(tipline, "TEST-2222").routing == "partner"
    fake_twilio.fail(400, 21211, to=JABAR)  # an invalid number: refused at once
    fake_twilio.fail(400, 21211, to=ONCALL)
    Worker(tipline, sleep=lambda seconds: None, rng=random.Random(1)).run_once()
    assert fake_twilio.sent() == [] and stored(tipline, "TEST-2222").routing == "failed"
    routing = [e.detail["to"] for e in timeline(tipline, "TEST-2222") if e.kind == "routing"]
    assert routing == ["partner", "oncall", "failed"]  # said at each step, in words on the tip page
    tipline.db.dispose()


def test_routing_is_tried_again_with_the_reporters_next_answer(client, tipline, monkeypatch):
    provinces(tipline)
    from .routing_support import EVERYWHERE, add_partner

    add_partner(tipline, "Everywhere NGO", EVERYWHERE, ["everywhere"])
    real, calls = escalation.route_urgent, []

    def once_broken(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise TimeoutError("the database hiccuped")
        return real(*args, **kwargs)

    monkeypatch.setattr(escalation, "route_urgent", once_broken)
    say_danger(client)
    assert stored(tipline, "TEST-2322").routing == "failed"
    Reporter(client, NUMBER).send(WORDS)  # the next answer saves the tip: routing runs again
    tip = stored(tipline, "TEST-2322")
    assert tip.routing == "partner" and tip.status == "escalated"
    sent = [(address, kind) for address, kind, _ in queued(tipline)]
    assert sent == [(ONCALL, "alert"), (EVERYWHERE, "escalation"), (ONCALL, "escalation")]  # the copy too
