"""The webhook's promises at the door: only Twilio gets in, retries change nothing, bad input gets a 4xx.

Every request here goes through the real Flask app and the real signature check; a URL Twilio
signed is computed with twilio's own RequestValidator, as Twilio does.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from tests.conftest import AUTH_TOKEN, REPORTER, WEBHOOK, inbound_fields, make_settings, signed_post, twiml_messages
from tipline import create_app, storage
from tipline.models import ConversationRow

PUBLIC_WEBHOOK = "https://tips.example.org/twilio/messages"
INTERNAL_BASE = "http://internal:8000"


def post_signed_for(client, fields: dict, *, signed_url: str, sent_to: str, headers: dict | None = None):
    """Twilio signs `signed_url`; the request reaches the app as `sent_to` (e.g. behind a proxy)."""
    return signed_post(client, fields, url=signed_url, sent_to=sent_to, headers=headers)


def assert_plain_refusal(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True).strip()
    assert text, "a refusal says why"
    assert "<" not in text  # a plain reason, not an HTML error page
    return text


def conversation_count(tipline) -> int:
    with storage.reading(tipline.db) as session:
        return session.exec(sa.select(sa.func.count()).select_from(ConversationRow)).one()[0]


# ---- the signature ---------------------------------------------------------------------------------

def test_valid_signature_is_accepted(client):
    response = signed_post(client, inbound_fields("Hi"))
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert "1 Report a concern" in twiml_messages(response.get_data(as_text=True))[0]


def test_forged_signature_is_refused(client, tipline):
    fields = inbound_fields("Hi")
    forged = RequestValidator("not-the-auth-token").compute_signature(WEBHOOK, fields)
    response = client.post("/twilio/messages", data=fields, headers={"X-Twilio-Signature": forged})
    assert "signature" in assert_plain_refusal(response, 403).lower()
    assert conversation_count(tipline) == 0


def test_signature_over_other_fields_is_refused(client, tipline):
    """A valid signature for one message does not carry another message's words."""
    fields = inbound_fields("Hi")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(WEBHOOK, fields)
    tampered = {**fields, "Body": "1"}
    response = client.post("/twilio/messages", data=tampered, headers={"X-Twilio-Signature": signature})
    assert_plain_refusal(response, 403)
    assert conversation_count(tipline) == 0


def test_missing_signature_is_refused(client, tipline):
    response = client.post("/twilio/messages", data=inbound_fields("Hi"))
    assert "X-Twilio-Signature" in assert_plain_refusal(response, 403)
    assert conversation_count(tipline) == 0


def test_without_auth_token_every_request_is_refused(make_app):
    app = make_app(twilio_auth_token=None)
    client = app.test_client()
    fields = inbound_fields("Hi")
    for signature in (None, "", RequestValidator(AUTH_TOKEN).compute_signature(WEBHOOK, fields),
                      RequestValidator("").compute_signature(WEBHOOK, fields)):
        headers = {} if signature is None else {"X-Twilio-Signature": signature}
        response = client.post("/twilio/messages", data=fields, headers=headers)
        assert "TWILIO_AUTH_TOKEN" in assert_plain_refusal(response, 403)
    assert conversation_count(app.extensions["tipline"]) == 0


def test_percent_encoded_query_string_is_signed_as_sent(client):
    """Twilio signs the URL as configured; Werkzeug's decoded request.url would not match."""
    url = "http://localhost/twilio/messages?token=a%2Fb%20c&x=%E2%9C%93+y"
    response = signed_post(client, inbound_fields("Hi"), url=url)
    assert response.status_code == 200, response.get_data(as_text=True)


def test_decoded_query_string_is_not_accepted_for_an_encoded_one(client):
    """The check is over the raw query: a signature for the decoded form must not pass."""
    fields = inbound_fields("Hi")
    response = post_signed_for(
        client, fields, signed_url="http://localhost/twilio/messages?token=a/b c",
        sent_to="http://localhost/twilio/messages?token=a%2Fb%20c",
    )
    assert_plain_refusal(response, 403)


# ---- behind a TLS-terminating proxy ------------------------------------------------------------------

def test_behind_proxy_public_url_is_what_twilio_signed(make_app):
    client = make_app(public_url="https://tips.example.org").test_client()
    response = post_signed_for(
        client, inbound_fields("Hi"), signed_url=PUBLIC_WEBHOOK, sent_to=f"{INTERNAL_BASE}/twilio/messages"
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_behind_proxy_public_url_keeps_raw_query(make_app):
    client = make_app(public_url="https://tips.example.org/").test_client()
    response = post_signed_for(
        client, inbound_fields("Hi"), signed_url=f"{PUBLIC_WEBHOOK}?k=a%2Fb",
        sent_to=f"{INTERNAL_BASE}/twilio/messages?k=a%2Fb",
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_behind_proxy_public_url_refuses_a_signature_for_the_internal_url(make_app):
    client = make_app(public_url="https://tips.example.org").test_client()
    internal = f"{INTERNAL_BASE}/twilio/messages"
    response = post_signed_for(client, inbound_fields("Hi"), signed_url=internal, sent_to=internal)
    assert_plain_refusal(response, 403)


def test_behind_proxy_without_public_url_is_refused(make_app):
    client = make_app().test_client()
    response = post_signed_for(
        client, inbound_fields("Hi"), signed_url=PUBLIC_WEBHOOK, sent_to=f"{INTERNAL_BASE}/twilio/messages"
    )
    assert_plain_refusal(response, 403)


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "tips.example.org", "X-Forwarded-For": "203.0.113.9"}


def test_behind_trusted_proxy_forwarded_headers_give_the_signed_url(make_app):
    client = make_app(trusted_proxies=1).test_client()
    response = post_signed_for(
        client, inbound_fields("Hi"), signed_url=PUBLIC_WEBHOOK, sent_to=f"{INTERNAL_BASE}/twilio/messages",
        headers=FORWARDED,
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_behind_trusted_proxy_with_forwarded_port(make_app):
    client = make_app(trusted_proxies=1).test_client()
    response = post_signed_for(
        client, inbound_fields("Hi"), signed_url=PUBLIC_WEBHOOK, sent_to=f"{INTERNAL_BASE}/twilio/messages",
        headers={**FORWARDED, "X-Forwarded-Port": "443"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_forwarded_headers_are_ignored_without_trusted_proxies(make_app):
    """Anyone can send X-Forwarded-*: they count only when TIPLINE_TRUSTED_PROXIES says so."""
    client = make_app().test_client()
    response = post_signed_for(
        client, inbound_fields("Hi"), signed_url=PUBLIC_WEBHOOK, sent_to=f"{INTERNAL_BASE}/twilio/messages",
        headers=FORWARDED,
    )
    assert_plain_refusal(response, 403)


# ---- retries ------------------------------------------------------------------------------------------

def snapshot(tipline) -> tuple:
    """Everything a message can change: the conversation, every tip as exported, processed sids."""
    with storage.reading(tipline.db) as session:
        conversations = [
            (row.reporter, row.state, row.language, row.channel, json.dumps(row.data, sort_keys=True),
             row.opted_out, row.last_seen_at)
            for row in session.exec(sa.select(ConversationRow).order_by(ConversationRow.id)).scalars()
        ]
        tips = json.dumps(list(storage.export_tips(session, shown=tipline.flow.shown_fields)), sort_keys=True)
        processed = session.exec(sa.text("SELECT count(*) FROM processed_message")).one()[0]
    return conversations, tips, processed


@pytest.mark.parametrize("retried", ["Hi", "1", "A man keeps three girls locked in a shop"])
def test_retry_of_a_message_sid_gets_identical_twiml_and_changes_nothing(reporter, client, tipline, clock, retried):
    path = ["Hi", "1", "2", "A man keeps three girls locked in a shop"]
    for body in path[: path.index(retried)]:
        reporter.send(body)
    fields = inbound_fields(retried)
    first = signed_post(client, fields)
    assert first.status_code == 200
    before = snapshot(tipline)
    clock.advance(minutes=5)  # a real retry comes later; a reprocessed message would move last_seen
    for _ in range(2):
        again = signed_post(client, fields)
        assert again.status_code == 200
        assert again.get_data() == first.get_data()
        assert again.mimetype == first.mimetype
    assert snapshot(tipline) == before


def test_retry_after_the_conversation_moved_on_still_gets_the_first_answer(reporter, client, tipline):
    first_fields = inbound_fields("Hi")
    first = signed_post(client, first_fields)
    reporter.send("1")
    before = snapshot(tipline)
    again = signed_post(client, first_fields)
    assert again.get_data() == first.get_data()
    assert snapshot(tipline) == before


def test_retry_with_the_sms_message_sid_alias_repeating_message_sid(client, tipline):
    """Twilio sends SmsMessageSid and SmsSid equal to MessageSid; with them, a retry is still a retry."""
    fields = inbound_fields("Hi")
    fields["SmsMessageSid"] = fields["SmsSid"] = fields["MessageSid"]
    first = signed_post(client, fields)
    assert first.status_code == 200
    before = snapshot(tipline)
    assert signed_post(client, fields).get_data() == first.get_data()
    assert snapshot(tipline) == before


# ---- health --------------------------------------------------------------------------------------------

def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("unreachable", ["sqlite-file-replaced", "postgresql-closed-port"])
def test_healthz_503_and_webhook_503_when_database_unreachable(tmp_path, unreachable):
    database = tmp_path / "tipline.db"
    url = {
        "sqlite-file-replaced": f"sqlite:///{database}",
        # Port 1 on localhost: connection refused at once.
        "postgresql-closed-port": "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2",
    }[unreachable]
    app = create_app(make_settings(tmp_path, url))
    tipline = app.extensions["tipline"]
    if unreachable == "sqlite-file-replaced":
        # The disk went away under a running server: the path is now a directory SQLite cannot open.
        tipline.db.dispose()
        for leftover in tmp_path.glob("tipline.db*"):
            leftover.unlink()
        database.mkdir()
    try:
        client = app.test_client()
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.get_json()["status"] != "ok"
        posted = signed_post(client, inbound_fields("Hi"))
        assert "database" in assert_plain_refusal(posted, 503)
    finally:
        tipline.db.dispose()


# ---- malformed requests ----------------------------------------------------------------------------------

def without(fields: dict, *names: str) -> dict:
    return {k: v for k, v in fields.items() if k not in names}


@pytest.mark.parametrize(
    "fields, reason",
    [
        (without(inbound_fields("Hi"), "From"), "From"),
        (inbound_fields("Hi", From=""), "From"),
        (inbound_fields("Hi", From="   "), "From"),
        (inbound_fields("Hi", From="whatsapp:"), "From"),
        (without(inbound_fields("Hi"), "MessageSid"), "MessageSid"),
        (inbound_fields("Hi", sid="SM" + "a" * 200), "MessageSid"),
        (inbound_fields("Hi", sid="SM-not/a sid"), "MessageSid"),
        ({}, "MessageSid"),
    ],
    ids=["no-from", "empty-from", "blank-from", "bare-whatsapp-prefix", "no-sid", "huge-sid", "odd-sid", "empty"],
)
def test_malformed_signed_form_gets_400_with_reason(client, tipline, fields, reason):
    response = signed_post(client, fields)
    assert reason in assert_plain_refusal(response, 400)
    assert conversation_count(tipline) == 0


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/json", json.dumps(inbound_fields("Hi"))),
        ("text/plain", "Hi"),
        ("application/xml", "<Body>Hi</Body>"),
        ("application/octet-stream", b"\x00\xff\xfe garbage"),
    ],
)
def test_non_form_body_gets_4xx_with_reason(client, tipline, content_type, body):
    """Signed or not, a body that is not a form is refused with a reason (Twilio always sends a form)."""
    signature = RequestValidator(AUTH_TOKEN).compute_signature(WEBHOOK, {})
    response = client.post(
        "/twilio/messages", data=body, content_type=content_type, headers={"X-Twilio-Signature": signature}
    )
    assert 400 <= response.status_code < 500
    assert_plain_refusal(response, response.status_code)
    assert conversation_count(tipline) == 0


def test_form_body_that_is_not_utf8_gets_4xx(client, tipline):
    signature = RequestValidator(AUTH_TOKEN).compute_signature(WEBHOOK, {})
    response = client.post(
        "/twilio/messages", data=b"MessageSid=SM1&From=%2B15550100001&Body=\xff\xfe",
        content_type="application/x-www-form-urlencoded", headers={"X-Twilio-Signature": signature},
    )
    assert 400 <= response.status_code < 500
    assert_plain_refusal(response, response.status_code)
    assert conversation_count(tipline) == 0


@pytest.mark.parametrize("signed", [True, False])
def test_oversized_body_gets_413(client, tipline, signed):
    fields = inbound_fields("x" * (64 * 1024 + 1))
    if signed:
        response = signed_post(client, fields)
    else:
        response = client.post("/twilio/messages", data=fields, headers={"X-Twilio-Signature": "bogus"})
    assert_plain_refusal(response, 413)
    assert conversation_count(tipline) == 0


def test_get_on_the_webhook_is_405_plain(client):
    assert_plain_refusal(client.get("/twilio/messages"), 405)


# ---- what the reporter gets ------------------------------------------------------------------------------

@pytest.mark.parametrize("word", ["STOP", "stop", "Unsubscribe", " Stop "])
def test_stop_gets_an_empty_response(reporter, client, word):
    reporter.send("Hi")
    response = signed_post(client, inbound_fields(word))
    assert response.status_code == 200
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    assert list(root) == []  # nothing at all: Twilio itself answers STOP


def test_advanced_opt_out_stop_gets_an_empty_response(reporter, client):
    reporter.send("Hi")
    response = signed_post(client, inbound_fields("please stop", OptOutType="STOP"))
    assert response.status_code == 200
    assert list(ET.fromstring(response.get_data())) == []


def test_unknown_fields_are_accepted(client):
    """Twilio adds fields without notice."""
    response = signed_post(client, inbound_fields("Hi", SomeNewTwilioField="x", ReferralBody="y"))
    assert response.status_code == 200


def test_whatsapp_sender_gets_twiml(client):
    response = signed_post(client, inbound_fields("Hi", sender="whatsapp:" + REPORTER, ProfileName="Ana"))
    assert response.status_code == 200
    assert twiml_messages(response.get_data(as_text=True))
