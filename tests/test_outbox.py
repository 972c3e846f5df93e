"""The outbox worker against a local Twilio-compatible server: sends, retries, dead letters, callbacks."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from tipline import create_app
from tipline.models import utcnow
from tipline.settings import Settings
from tipline.storage import upgrade
from tipline.worker import Worker

from .conftest import make_settings, signed_post
from .outbox_support import PARTNER, STATUS_URL, add_shelter, queue, row, twilio_app, worker


@pytest.fixture
def app(sending_app):
    """This module's app sends through the fake Twilio server."""
    return sending_app


def test_send_goes_through_the_real_client_and_keeps_the_sid(tipline, fake_twilio, clock):
    message_id = queue(tipline)
    assert worker(tipline, clock).run_once() == 1
    [request] = fake_twilio.sent()
    assert request["form"] == {"To": PARTNER, "From": "+15550100090", "Body": "Test message"}
    sent = row(tipline, message_id)
    assert sent.status == "sent" and sent.twilio_sid.startswith("SM") and sent.delivery_status == "queued"


def test_transient_failures_retry_with_backoff_then_send(tipline, fake_twilio, clock):
    message_id = queue(tipline)
    fake_twilio.fail(503)
    fake_twilio.fail(429, 20429)
    runner = worker(tipline, clock)
    runner.run_once()
    first = row(tipline, message_id)
    assert first.status == "pending" and first.attempts == 1
    delay = first.next_attempt_at - clock.now
    assert timedelta(seconds=15) <= delay <= timedelta(seconds=30)
    assert runner.run_once() == 0  # not due yet
    clock.now = first.next_attempt_at
    runner.run_once()
    second = row(tipline, message_id)
    assert second.status == "pending" and second.error_code == 20429
    assert timedelta(seconds=30) <= second.next_attempt_at - clock.now <= timedelta(seconds=60)
    clock.now = second.next_attempt_at
    runner.run_once()
    assert row(tipline, message_id).status == "sent"
    assert len(fake_twilio.requests) == 3


def test_timeout_is_transient(tmp_path, sqlite_url, fake_twilio, clock, references):
    app = twilio_app(tmp_path, sqlite_url, fake_twilio, clock, references)
    tipline = app.extensions["tipline"]
    message_id = queue(tipline)
    fake_twilio.fail(201, delay=1.0)
    runner = worker(tipline, clock)
    runner.sender.client.http_client.timeout = 0.2
    runner.run_once()
    assert row(tipline, message_id).status == "pending"
    tipline.db.dispose()


@pytest.mark.parametrize("code", [21610, 21211, 21614])
def test_permanent_failures_fail_at_once(tipline, fake_twilio, clock, code):
    message_id = queue(tipline)
    fake_twilio.fail(400, code)
    worker(tipline, clock).run_once()
    failed = row(tipline, message_id)
    assert failed.status == "failed" and failed.error_code == code and failed.attempts == 1
    assert len(fake_twilio.requests) == 1


def test_retries_run_out_into_a_visible_dead_letter(tipline, fake_twilio, clock, monkeypatch):
    from click.testing import CliRunner

    from tipline.cli import main

    message_id = queue(tipline)
    fake_twilio.fail(500, times=100)
    runner = worker(tipline, clock)
    for _ in range(tipline.settings.outbox_max_attempts):
        clock.advance(hours=2)
        runner.run_once()
    assert row(tipline, message_id).status == "dead"
    assert len(fake_twilio.requests) == tipline.settings.outbox_max_attempts
    for name, value in {
        "TIPLINE_DATABASE_URL": tipline.settings.database_url,
        "TIPLINE_INSTANCE_PATH": str(tipline.settings.instance_path),
        "TIPLINE_CONTACT_KEY": tipline.settings.contact_key,
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["outbox", "list", "--json"])
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.output)
    assert item["status"] == "dead" and item["to"] == "***50" and PARTNER not in result.output
    assert "dead" in CliRunner().invoke(main, ["outbox", "list"]).output


def test_status_callback_records_delivery(client, tipline, clock):
    message_id = queue(tipline)
    worker(tipline, clock).run_once()
    sid = row(tipline, message_id).twilio_sid
    response = signed_post(client, {"MessageSid": sid, "MessageStatus": "delivered"}, url=STATUS_URL)
    assert response.status_code == 204
    # a late "sent" does not move a delivered message back
    signed_post(client, {"MessageSid": sid, "MessageStatus": "sent"}, url=STATUS_URL)
    assert row(tipline, message_id).delivery_status == "delivered"


def test_status_callback_is_signed_and_checked(client, tipline):
    unsigned = client.post("/twilio/status", data={"MessageSid": "SM" + "0" * 32, "MessageStatus": "sent"})
    assert unsigned.status_code == 403
    bad = signed_post(client, {"MessageSid": "SM" + "0" * 32, "MessageStatus": "bogus"}, url=STATUS_URL)
    assert bad.status_code == 400
    unknown = signed_post(client, {"MessageSid": "SM" + "0" * 32, "MessageStatus": "sent"}, url=STATUS_URL)
    assert unknown.status_code == 204


def test_whatsapp_within_24_hours_is_free_form(tipline, fake_twilio, clock):
    partner_id = add_shelter(tipline, channel="whatsapp", last_inbound_at=clock.now - timedelta(hours=23))
    queue(tipline, address=f"whatsapp:{PARTNER}", partner_id=partner_id)
    worker(tipline, clock).run_once()
    [request] = fake_twilio.sent()
    assert request["form"]["To"] == f"whatsapp:{PARTNER}" and request["form"]["From"] == "whatsapp:+15550100091"


def test_whatsapp_after_24_hours_falls_back_to_sms(tipline, fake_twilio, clock):
    partner_id = add_shelter(tipline, channel="whatsapp", last_inbound_at=clock.now - timedelta(hours=25))
    message_id = queue(tipline, address=f"whatsapp:{PARTNER}", partner_id=partner_id)
    worker(tipline, clock).run_once()
    [request] = fake_twilio.sent()
    assert request["form"]["To"] == PARTNER and request["form"]["From"] == "+15550100090"
    assert row(tipline, message_id).channel == "sms"


def test_whatsapp_after_24_hours_uses_the_template_when_configured(tmp_path, sqlite_url, fake_twilio, clock,
                                                                   references):
    app = twilio_app(tmp_path, sqlite_url, fake_twilio, clock, references, twilio_whatsapp_content_sid="HX" + "2" * 32)
    tipline = app.extensions["tipline"]
    partner_id = add_shelter(tipline, channel="whatsapp")
    queue(tipline, address=f"whatsapp:{PARTNER}", partner_id=partner_id, body="Escalation words")
    worker(tipline, clock).run_once()
    [request] = fake_twilio.sent()
    assert request["form"]["ContentSid"] == "HX" + "2" * 32 and "Body" not in request["form"]
    assert json.loads(request["form"]["ContentVariables"]) == {"1": "Escalation words"}
    tipline.db.dispose()


def test_not_on_whatsapp_falls_back_to_sms(tipline, fake_twilio, clock):
    partner_id = add_shelter(tipline, channel="whatsapp", last_inbound_at=clock.now)
    message_id = queue(tipline, address=f"whatsapp:{PARTNER}", partner_id=partner_id)
    fake_twilio.fail(400, 63003, to=f"whatsapp:{PARTNER}")
    worker(tipline, clock).run_once()
    assert [r["form"]["To"] for r in fake_twilio.requests] == [f"whatsapp:{PARTNER}", PARTNER]
    assert row(tipline, message_id).status == "sent" and row(tipline, message_id).channel == "sms"


def test_undelivered_on_whatsapp_callback_queues_an_sms_copy(client, tipline, fake_twilio, clock):
    partner_id = add_shelter(tipline, channel="whatsapp", last_inbound_at=clock.now)
    message_id = queue(tipline, address=f"whatsapp:{PARTNER}", partner_id=partner_id)
    runner = worker(tipline, clock)
    runner.run_once()
    sid = row(tipline, message_id).twilio_sid
    signed_post(client, {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "63003"}, url=STATUS_URL)
    runner.run_once()
    assert [r["form"]["To"] for r in fake_twilio.sent()] == [f"whatsapp:{PARTNER}", PARTNER]


def test_without_an_account_sends_go_to_the_log_masked(tmp_path, sqlite_url, clock, references, caplog):
    settings = make_settings(tmp_path, sqlite_url)
    upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references)
    tipline = app.extensions["tipline"]
    message_id = queue(tipline, body="words that must not be logged")
    with caplog.at_level("INFO", logger="tipline"):
        worker(tipline, clock).run_once()
    logged = row(tipline, message_id)  # nobody received it: the row never says "sent"
    assert (logged.status, logged.sent_at, logged.twilio_sid) == ("not_sent", None, None)
    assert "***50" in caplog.text and "5550100050" not in caplog.text and "must not be logged" not in caplog.text
    tipline.db.dispose()


def test_rate_per_sender_number_spaces_sends(tmp_path, sqlite_url, fake_twilio, clock, references):
    app = twilio_app(tmp_path, sqlite_url, fake_twilio, clock, references)
    tipline = app.extensions["tipline"]
    object.__setattr__(tipline.settings, "send_rate_per_second", 0.5)  # one segment every 2 s
    for _ in range(3):
        queue(tipline)
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock.advance(seconds=seconds)

    Worker(tipline, clock=clock, sleep=sleep).run_once()
    assert waits == [2.0, 2.0] and len(fake_twilio.sent()) == 3
    tipline.db.dispose()


def test_four_workers_on_postgresql_send_each_message_once(tmp_path, postgres_url, fake_twilio, references):
    start = utcnow()
    app = twilio_app(tmp_path, postgres_url, fake_twilio, lambda: start, references)
    tipline = app.extensions["tipline"]
    ids = [queue(tipline, body=f"message {n}") for n in range(60)]
    settings = tipline.settings  # one contact key: every worker opens what the first one sealed
    apps = [create_app(settings, clock=lambda: start, reference_maker=references) for _ in range(4)]
    workers = [Worker(a.extensions["tipline"], clock=lambda: start, sleep=lambda s: None, batch=3) for a in apps]
    errors = []

    def run(one):
        try:
            one.run_once()
        except Exception as exc:  # surfaced below; a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    bodies = [r["form"]["Body"] for r in fake_twilio.requests]
    assert sorted(bodies) == sorted(f"message {n}" for n in range(60))
    assert all(row(tipline, i).status == "sent" for i in ids)
    for a in [app, *apps]:
        a.extensions["tipline"].db.dispose()


def test_settings_read_from_the_environment(tmp_path):
    settings = Settings.from_env({
        "TIPLINE_INSTANCE_PATH": str(tmp_path), "TIPLINE_SEND_RATE": "2.5", "TIPLINE_ONCALL_NUMBER": "+15550100070",
        "TIPLINE_ESCALATION_TIMEOUT_MINUTES": "10",
    })
    assert settings.send_rate_per_second == 2.5 and settings.escalation_timeout_minutes == 10
    assert settings.oncall_number == "+15550100070"


def test_a_failing_timer_never_holds_back_what_is_due(tipline, fake_twilio, clock, monkeypatch, caplog):
    message_id = queue(tipline, kind="escalation", body="URGENT ref TEST-2222")

    def broken_timers():
        raise RuntimeError("a broadcast timer broke")

    runner = worker(tipline, clock)
    monkeypatch.setattr(runner, "run_timers", broken_timers)
    assert runner.run_once() == 1
    assert row(tipline, message_id).status == "sent"
    assert "worker timers failed" in caplog.text
