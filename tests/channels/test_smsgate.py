"""SMS through an Android phone with a local SIM (issue 14), against a local stand-in for the gateway.

What it proves: a whole report by SMS in informal Indonesian with replies in order; forged,
unsigned, stale and repeated deliveries refused or ignored; delivery states reaching the outbox;
an outage retried without loss or duplicates; one reporter whatever the number's form.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import select

from tests.conftest import Reporter, make_settings
from tests.fake_smsgate import (
    PASSWORD,
    SIGNING_KEY,
    USERNAME,
    FakeGateway,
    delivery,
    received,
    sign,
    status,
)
from tests.gateway_support import (
    E164,
    EVENTS,
    LOCAL,
    Phone,
    gateway_app,
    make_worker,
    post_event,
)
from tipline import storage
from tipline.channels import reply_bodies
from tipline.models import ConversationRow, GatewayEvent, OutboxMessage, Tip
from tipline.privacy import normalize_address, pseudonym
from tipline.settings import SettingsError


@pytest.fixture
def fake():
    with FakeGateway() as gateway:
        yield gateway


@pytest.fixture
def app(tmp_path, database_url, fake, clock, references):
    app = gateway_app(tmp_path, database_url, fake, clock, references)
    yield app
    app.extensions["tipline"].db.dispose()


@pytest.fixture
def phone(client, tipline, fake, clock):
    return Phone(client, tipline, fake, clock)


def rows(tipline, model, *where):
    with storage.reading(tipline.db) as session:
        return list(session.exec(select(model).where(*where)))


# ---- a whole report, in order ---------------------------------------------------------------------

def test_whole_report_in_informal_indonesian_by_sms(phone, tipline, fake):
    """Every reply comes back through the gateway, one SMS per message, in the order the engine said."""
    assert "Balas angka" in phone.text("halo sy mau lapor")[0]
    assert "bahaya sekarang" in phone.text("1")[0]
    assert "Apa yang terjadi" in phone.text("gak")[0]
    assert "Masalahnya tentang apa" in phone.text("ada anak2 kerja di pabrik sampai mlm, dokumennya dipegang mandor")[0]
    assert "Di mana" in phone.text("1")[0]
    assert "Kapan" in phone.text("desa sukamaju dekat pasar")[0]
    assert "Berapa anak" in phone.text("udh seminggu yg lalu")[0]
    assert "kirim pesan ke nomor ini" in phone.text("kira2 5")[0]
    summary = phone.text("iya")
    assert len(summary) == 1 and summary[0].startswith("Periksa dulu") and "Boleh dikirimi pesan: ya" in summary[0]
    [thanks] = phone.text("1")
    reference = re.search(r"TEST-[0-9A-Z]{4}", thanks).group(0)
    assert "Terima kasih" in thanks

    sent = fake.sent()
    assert len(sent) == 10  # one SMS per message the reporter sent
    assert all(m["phoneNumbers"] == [E164] for m in sent), "sent to E.164 though the phone reported 0812..."
    assert all(m["priority"] >= 100 and 0 < m["ttl"] <= 6 * 3600 for m in sent), "replies skip the app's delays"
    assert [m["id"] for m in sent] == [f"tipline-{row.id}" for row in rows(tipline, OutboxMessage)]
    [tip] = rows(tipline, Tip)
    assert tip.reference == reference and tip.channel == "sms" and tip.language == "id" and tip.complete
    assert tip.reporter == pseudonym(E164, tipline.settings.pseudonym_key)
    assert tip.location == "desa sukamaju dekat pasar" and tip.category == "forced_labour"
    outbox = rows(tipline, OutboxMessage)
    assert {(r.provider, r.kind, r.status) for r in outbox} == {("smsgate", "reply", "sent")}
    assert all(r.to_sealed == "" for r in outbox), "a reporter's address is wiped once the reply is sent"


def test_a_turn_with_several_replies_is_one_sms_in_the_engines_order(phone, client):
    """A child in danger now: the emergency numbers, then the next question, in one SMS in that order.

    The engine itself joins the replies of a turn when that costs no more segments, so Twilio gets
    the same one message to compare with; the gateway joins whatever the engine left apart.
    """
    twilio = Reporter(client)
    for words in ("halo", "1"):
        assert phone.text(words) == ["\n\n".join(twilio.send(words))]
    inline = twilio.send("iya")
    [urgent] = phone.text("iya")
    assert len(inline) == 1 and inline[0].index("112") < inline[0].index("Di mana anak itu sekarang?")
    assert re.sub(r"TEST-\w{4}", "REF", urgent) == re.sub(r"TEST-\w{4}", "REF", "\n\n".join(inline))


def test_reply_bodies_join_in_order_and_number_what_must_be_split():
    assert reply_bodies(["satu", " ", "dua"]) == ["satu\n\ndua"]
    long = "x" * 150
    bodies = reply_bodies([long] * 10)
    assert len(bodies) > 1
    assert [b[:5] for b in bodies] == [f"({n}/{len(bodies)})"[:5] for n in range(1, len(bodies) + 1)]
    assert "".join(bodies).count(long) == 10


def test_twilio_still_answers_inline_and_queues_nothing(client, tipline):
    replies = Reporter(client).send("Halo")
    assert "Balas angka" in replies[0]
    assert rows(tipline, OutboxMessage) == []


# ---- refused and ignored deliveries --------------------------------------------------------------

def assert_nothing_kept(tipline):
    assert rows(tipline, ConversationRow) == [] and rows(tipline, OutboxMessage) == []


def test_unsigned_forged_wrong_key_and_stale_deliveries_are_refused(client, tipline, clock):
    body = received(LOCAL, "halo")
    unsigned = client.post(EVENTS, data=body, content_type="application/json")
    assert unsigned.status_code == 403 and "missing X-Signature" in unsigned.get_data(as_text=True)
    forged = post_event(client, body, clock=clock, headers={"X-Signature": "0" * 64})
    assert forged.status_code == 403 and "invalid X-Signature" in forged.get_data(as_text=True)
    assert post_event(client, body, clock=clock, key="someone-elses-key").status_code == 403
    tampered = post_event(client, body, clock=clock, headers={"X-Timestamp": str(int(clock().timestamp()) + 1)})
    assert tampered.status_code == 403, "the timestamp is part of what is signed"
    for skew in (-301, 301):
        stale = post_event(client, body, clock=clock, skew=skew)
        assert stale.status_code == 403 and "stale" in stale.get_data(as_text=True)
    assert post_event(client, body, clock=clock, skew=-290).status_code == 200, "a little clock drift is fine"


def test_without_a_signing_key_everything_is_refused(tmp_path, sqlite_url, fake, clock, references):
    app = gateway_app(tmp_path, sqlite_url, fake, clock, references, smsgate_signing_key=None)
    tipline = app.extensions["tipline"]
    response = post_event(app.test_client(), received(LOCAL, "halo"), clock=clock)
    assert response.status_code == 403 and "SMSGATE_SIGNING_KEY is not set" in response.get_data(as_text=True)
    assert_nothing_kept(tipline)
    tipline.db.dispose()


@pytest.mark.parametrize("body, content_type, code", [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b'{"event": "sms:received", "payload": {}}', "application/json", 400),
    (b'{"id": "x y", "event": "sms:received", "payload": {}}', "application/json", 400),
    (b'{"id": "Ev1", "event": "sms:received", "payload": {"message": "halo"}}', "application/json", 400),
    (b'{"id": "Ev1", "event": "sms:received", "payload": []}', "application/json", 400),
    (b'\xff\xfe', "application/json", 400),
    (b'{"id": "Ev1", "event": "sms:received", "payload": {}}', "text/plain", 415),
])
def test_malformed_deliveries_get_a_plain_4xx(client, tipline, clock, body, content_type, code):
    response = client.post(EVENTS, data=body, content_type=content_type, headers=sign(body, int(clock().timestamp())))
    assert response.status_code == code and response.mimetype == "text/plain"
    assert_nothing_kept(tipline)


def test_a_repeated_delivery_changes_nothing(client, tipline, fake, clock):
    body = received(LOCAL, "halo")
    assert post_event(client, body, clock=clock).status_code == 200
    clock.advance(minutes=3)
    again = post_event(client, body, clock=clock)  # the app's retry: same id, signed afresh
    assert again.status_code == 200 and "already handled" in again.get_data(as_text=True)
    assert len(rows(tipline, OutboxMessage)) == 1
    # A retry that arrives before the delivery id was written (a crash in between) is still answered once.
    with storage.writing(tipline.db) as session:
        session.exec(GatewayEvent.__table__.delete())
    assert post_event(client, body, clock=clock).status_code == 200
    assert len(rows(tipline, OutboxMessage)) == 1
    make_worker(tipline, clock).run_once()
    assert len(fake.sent()) == 1


def test_two_people_sending_the_same_words_are_two_messages(client, tipline, clock):
    """The payload's messageId comes from the content; the delivery id tells them apart."""
    first, second = received(LOCAL, "1"), received("0812-0000-0102", "1")
    assert post_event(client, first, clock=clock).status_code == 200
    assert post_event(client, second, clock=clock).status_code == 200
    assert len(rows(tipline, ConversationRow)) == 2 and len(rows(tipline, OutboxMessage)) == 2


def test_other_events_are_acknowledged_and_ignored(client, tipline, clock):
    ping = delivery("system:ping", {"health": {"status": "pass"}})
    assert post_event(client, ping, clock=clock).status_code == 200
    assert_nothing_kept(tipline)
    assert [e.event for e in rows(tipline, GatewayEvent)] == ["system:ping"]


def test_handled_delivery_ids_are_kept_past_the_apps_retries_then_purged(client, tipline, clock):
    from tipline.worker import purge

    post_event(client, received(LOCAL, "halo"), clock=clock)
    clock.advance(days=3)  # the app's default 14 retries end after about 45 hours
    assert purge(tipline, now=clock(), dry_run=False)["gateway_events"] == 0
    clock.advance(days=5)
    assert purge(tipline, now=clock(), dry_run=False)["gateway_events"] == 1
    assert rows(tipline, GatewayEvent) == []


# ---- delivery states ------------------------------------------------------------------------------

def test_delivery_states_reach_the_outbox(client, tipline, fake, clock):
    post_event(client, received(LOCAL, "halo"), clock=clock)
    make_worker(tipline, clock).run_once()
    [row] = rows(tipline, OutboxMessage)
    assert row.status == "sent" and row.delivery_status == "queued" and row.twilio_sid == f"tipline-{row.id}"
    for event, expected in (("sms:sent", "sent"), ("sms:delivered", "delivered"), ("sms:sent", "delivered")):
        assert post_event(client, status(event, row.twilio_sid, E164), clock=clock).status_code == 200
        assert rows(tipline, OutboxMessage)[0].delivery_status == expected, "the furthest state is kept"
    failed = status("sms:failed", row.twilio_sid, E164, reason="RESULT_ERROR_GENERIC_FAILURE")
    assert post_event(client, failed, clock=clock).status_code == 200
    [row] = rows(tipline, OutboxMessage)
    assert row.delivery_status == "failed" and row.error == "RESULT_ERROR_GENERIC_FAILURE"
    unknown = post_event(client, status("sms:delivered", "not-ours-123", E164), clock=clock)
    assert unknown.status_code == 200


def test_a_state_reported_before_the_worker_settled_is_asked_again(client, tipline, clock):
    post_event(client, received(LOCAL, "halo"), clock=clock)
    [row] = rows(tipline, OutboxMessage)
    early = post_event(client, status("sms:sent", f"tipline-{row.id}", E164), clock=clock)
    assert early.status_code == 503, "the app retries; the state is not lost"
    make_worker(tipline, clock).run_once()
    assert post_event(client, status("sms:sent", f"tipline-{row.id}", E164), clock=clock).status_code == 200
    assert rows(tipline, OutboxMessage)[0].delivery_status == "sent"


# ---- outages, timeouts, dead letters ----------------------------------------------------------------

def test_a_gateway_outage_is_retried_without_loss(client, tipline, fake, clock):
    post_event(client, received(LOCAL, "halo"), clock=clock)
    fake.fail(503, times=2)
    fake.fail(0)  # then the phone drops off the network
    worker = make_worker(tipline, clock)
    for attempt in range(1, 4):
        worker.run_once()
        [row] = rows(tipline, OutboxMessage)
        assert row.status == "pending" and row.attempts == attempt and row.to_sealed, "kept for the next try"
        assert fake.sent() == []
        clock.now = row.next_attempt_at
    worker.run_once()
    [row] = rows(tipline, OutboxMessage)
    assert row.status == "sent" and row.to_sealed == ""
    assert len(fake.sent()) == 1 and "Balas angka" in fake.sent()[0]["textMessage"]["text"]


def test_a_send_that_timed_out_after_the_phone_took_it_is_not_sent_twice(client, tipline, fake, clock):
    post_event(client, received(LOCAL, "halo"), clock=clock)
    worker = make_worker(tipline, clock)
    worker.gateway.client.http._session.timeout = 0.3
    fake.fail(202, delay=1.0)  # accepted, but the answer comes too late
    with fake._lock:  # the phone did queue it
        fake.messages["tipline-1"] = {"id": "tipline-1", "phoneNumbers": [E164],
                                      "state": {"id": "tipline-1", "state": "Sent", "recipients": []}}
    worker.run_once()
    [row] = rows(tipline, OutboxMessage)
    assert row.status == "pending"
    clock.now = row.next_attempt_at
    worker.run_once()
    [row] = rows(tipline, OutboxMessage)
    assert row.status == "sent" and row.delivery_status == "sent", "the 409 is read as 'already there'"
    assert [r["answered"] for r in fake.requests if r["method"] == "POST"] == [202, 409]


def test_refusals_fail_at_once_and_retries_run_out_into_dead_letters(client, tipline, fake, clock):
    post_event(client, received(LOCAL, "halo"), clock=clock)
    fake.fail(400)
    make_worker(tipline, clock).run_once()
    [row] = rows(tipline, OutboxMessage)
    assert row.status == "failed" and "400" in row.error and row.to_sealed == ""

    post_event(client, received("0812-0000-0102", "halo"), clock=clock)
    fake.fail(500, times=100)
    worker = make_worker(tipline, clock)
    for _ in range(tipline.settings.outbox_max_attempts):
        clock.advance(hours=2)
        worker.run_once()
    dead = [r for r in rows(tipline, OutboxMessage) if r.status == "dead"]
    assert len(dead) == 1 and dead[0].to_sealed == ""


def test_wrong_credentials_keep_the_message_for_retry(tmp_path, sqlite_url, fake, clock, references):
    app = gateway_app(tmp_path, sqlite_url, fake, clock, references, smsgate_password="mistyped-password")
    tipline = app.extensions["tipline"]
    post_event(app.test_client(), received(LOCAL, "halo"), clock=clock)
    make_worker(tipline, clock).run_once()
    [row] = rows(tipline, OutboxMessage)
    assert row.status == "pending" and "401" in row.error
    tipline.db.dispose()


def test_the_sims_allowance_is_shared_and_paced(tmp_path, sqlite_url, fake, clock, references):
    """SMSGATE_SEND_LIMIT segments go at once, then one every 30 min / limit, whichever worker sends."""
    app = gateway_app(tmp_path, sqlite_url, fake, clock, references, smsgate_send_limit=3)
    tipline, client = app.extensions["tipline"], app.test_client()
    for n in range(4):
        post_event(client, received(f"0812-0000-01{10 + n}", "cek"), clock=clock)  # a 1-segment answer (how to CEK)
    make_worker(tipline, clock).run_once()
    make_worker(tipline, clock).run_once()  # a second worker sees the same allowance
    assert len(fake.sent()) == 3
    [waiting] = [r for r in rows(tipline, OutboxMessage) if r.status == "pending"]
    assert waiting.next_attempt_at - clock() == timedelta(minutes=10)
    clock.now = waiting.next_attempt_at
    make_worker(tipline, clock).run_once()
    assert len(fake.sent()) == 4
    tipline.db.dispose()


# ---- one reporter whatever the number's form ----------------------------------------------------------

def test_local_and_international_forms_are_one_reporter(client, tipline, clock):
    key = tipline.settings.pseudonym_key
    assert tipline.reporter_of("0812-0000-0101") == tipline.reporter_of("+6281200000101") == pseudonym(E164, key)
    assert tipline.reporter_of("081200000101") == tipline.reporter_of("6281200000101")
    post_event(client, received("081200000101", "halo"), clock=clock)
    post_event(client, received("+6281200000101", "1"), clock=clock)
    [conversation] = rows(tipline, ConversationRow)
    assert conversation.state.startswith("report_"), "the second message continued the same conversation"


def test_international_numbers_keep_the_pseudonym_they_always_had():
    key = "pseudonym-key-for-tests-only-0123456789"
    for number in ("+15550100001", "+6281200000101", "whatsapp:+15550100002", "15550100001", "chat:abc123"):
        assert pseudonym(number, key, "ID") == pseudonym(number, key)
    assert normalize_address("0812-0000-0101", "ID") == E164
    assert normalize_address("0812-0000-0101") == "0812-0000-0101", "no region: read as before"
    assert normalize_address("3636", "ID") == normalize_address("3636"), "a short code is not a local number"


def test_the_country_comes_from_deployment_yaml_or_the_setting(tmp_path, sqlite_url, fake, clock, references):
    app = gateway_app(tmp_path, sqlite_url, fake, clock, references)
    assert app.extensions["tipline"].region == "ID"
    app.extensions["tipline"].db.dispose()
    other = gateway_app(tmp_path, sqlite_url, fake, clock, references, country="gb")
    assert other.extensions["tipline"].region == "GB"
    local, international = "0121 234 5678", "+441212345678"  # phonenumbers' own example number for GB
    assert other.extensions["tipline"].reporter_of(local) == other.extensions["tipline"].reporter_of(international)
    other.extensions["tipline"].db.dispose()
    with pytest.raises(SettingsError):
        make_settings(tmp_path, sqlite_url, country="Indonesia")


# ---- answers outside the conversation ------------------------------------------------------------------

def test_a_partner_answers_through_the_gateway(client, tipline, fake, clock):
    with storage.writing(tipline.db) as session:
        storage.add_partner(session, name="Unit PPA", phone="+6281200000150", channel="sms", language="id",
                            regions=["everywhere"], categories=[], urgent_only=False, preference=1, now=clock())
    partner = Phone(client, tipline, fake, clock, sender="0812-0000-0150", number="+6281200000150")
    [answer] = partner.text("ACK 7KQ2-9PXM")
    assert "7KQ2-9PXM" in answer and "Tidak ada laporan" in answer
    [row] = rows(tipline, OutboxMessage)
    assert row.provider == "smsgate" and row.partner_id is not None and row.reporter is None


def test_what_the_tip_line_starts_itself_goes_by_the_gateway_too(phone, tipline, fake, clock):
    """An urgent report escalates to the partner by SMS from the local SIM, as urgently as the replies."""
    with storage.writing(tipline.db) as session:
        storage.add_partner(session, name="Unit PPA", phone="+6281200000150", channel="sms", language="id",
                            regions=["everywhere"], categories=[], urgent_only=False, preference=1, now=clock())
    for words in ("tolong", "1", "iya"):
        phone.text(words)
    [escalation] = [r for r in rows(tipline, OutboxMessage) if r.kind == "escalation"]
    assert escalation.provider == "smsgate" and escalation.status == "sent"
    [sms] = [m for m in fake.sent() if m["phoneNumbers"] == ["+6281200000150"]]
    assert sms["priority"] >= 100 and "DARURAT" in sms["textMessage"]["text"]


def test_a_follow_up_answer_is_thanked_through_the_gateway(phone, tipline, fake, clock):
    from tipline.actions import Actor, followups

    for words in ("halo", "1", "gak", "ada anak disuruh ngemis di lampu merah", "6", "0", "0", "0", "iya", "1"):
        phone.text(words)
    [tip] = rows(tipline, Tip)
    with storage.writing(tipline.db) as session:
        followups.ask_reporter(session, Actor.operator("op@example.org"), storage.tip_by_id(session, tip_id=tip.id),
                               "Jam berapa biasanya?", now=clock(), outbound=tipline.outbound)
    phone.worker.run_once()
    assert "Jam berapa biasanya?" in fake.texts_to(E164)[-1], "the operator's question goes by the gateway too"
    [thanks] = phone.text("biasanya sore jam 4an")
    assert tip.reference in thanks and "Terima kasih" in thanks


def test_stop_cancels_what_was_queued_and_only_the_confirmation_goes(client, tipline, fake, clock):
    """No carrier answers STOP on a gateway SIM: the bot confirms it (issue 8), and nothing else goes."""
    post_event(client, received(LOCAL, "halo"), clock=clock)
    post_event(client, received(LOCAL, "STOP"), clock=clock)
    welcome, confirmation = sorted(rows(tipline, OutboxMessage), key=lambda r: r.id)
    assert welcome.status == "cancelled" and welcome.to_sealed == ""
    assert confirmation.status == "pending"
    make_worker(tipline, clock).run_once()
    assert [m["textMessage"]["text"] for m in fake.sent()] == [
        "Anda tidak akan menerima pesan lagi dari kami. Kirim MULAI untuk kembali."]


# ---- settings and the check command ----------------------------------------------------------------

def test_gateway_settings_are_checked_at_start(tmp_path, sqlite_url):
    with pytest.raises(SettingsError, match="SMSGATE_USERNAME"):
        make_settings(tmp_path, sqlite_url, smsgate_url="http://127.0.0.1:9")
    with pytest.raises(SettingsError, match="SMSGATE_URL"):
        make_settings(tmp_path, sqlite_url, smsgate_url="192.168.1.20:8080", smsgate_username="u", smsgate_password="p")
    with pytest.raises(SettingsError, match="SMSGATE_SIM_NUMBER"):
        make_settings(tmp_path, sqlite_url, smsgate_sim_number=4)


def gateway_env(tipline, **extra) -> dict:
    s = tipline.settings
    return {"TIPLINE_DATABASE_URL": s.database_url, "TIPLINE_INSTANCE_PATH": str(s.instance_path),
            "TIPLINE_SECRET_KEY": s.secret_key, "TIPLINE_PSEUDONYM_KEY": s.pseudonym_key,
            "TIPLINE_CONTACT_KEY": s.contact_key, "SMSGATE_URL": s.smsgate_url, "SMSGATE_USERNAME": USERNAME,
            "SMSGATE_PASSWORD": PASSWORD, "SMSGATE_SIGNING_KEY": SIGNING_KEY,
            "TIPLINE_PUBLIC_URL": "https://tips.example.org", **extra}


def test_gateway_check_reports_health_credentials_and_webhooks(tipline, fake):
    from tipline.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["gateway", "check"], env=gateway_env(tipline))
    assert result.exit_code == 1 and "NOT REGISTERED" in result.output and "battery:level" in result.output
    assert "health pass" in result.output and PASSWORD not in result.output
    fake.webhooks = [{"id": f"w{n}", "event": event, "url": "https://tips.example.org/smsgate/events"}
                     for n, event in enumerate(("sms:received", "sms:sent", "sms:delivered", "sms:failed"))]
    result = runner.invoke(main, ["gateway", "check"], env=gateway_env(tipline))
    assert result.exit_code == 0, result.output
    assert "gateway: ok" in result.output
    fake.health["status"] = "fail"
    fake.health["checks"]["battery:level"].update(observedValue=5, status="fail")
    result = runner.invoke(main, ["gateway", "check"], env=gateway_env(tipline))
    assert result.exit_code == 1 and "failing health check" in result.output
    wrong = runner.invoke(main, ["gateway", "check"], env=gateway_env(tipline, SMSGATE_PASSWORD="nope"))
    assert wrong.exit_code == 1 and "refuses SMSGATE_USERNAME/SMSGATE_PASSWORD" in wrong.output
    away = runner.invoke(main, ["gateway", "check"], env=gateway_env(tipline, SMSGATE_URL="http://127.0.0.1:9"))
    assert away.exit_code == 1 and "does not answer" in away.output
    unset = runner.invoke(main, ["gateway", "check"], env=gateway_env(tipline, SMSGATE_URL=""))
    assert unset.exit_code == 1 and "SMSGATE_URL is not set" in unset.output
