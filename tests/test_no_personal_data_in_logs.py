"""No log line ever carries a reporter's number, words, place or name, even with every logger at DEBUG.

Whole conversations run over the signed webhook on SMS and WhatsApp, with every field Twilio
sends that locates or names a person, media, ADD/STATUS, EXIT, STOP, refused requests and a
forced database error; then every captured record (message and exception text) is searched.
"""

from __future__ import annotations

import logging
import re

import pytest
from click.testing import CliRunner

from tests.conftest import FLOWS, REPORTER, inbound_fields, make_settings, signed_post, twiml_messages

SMS_SENDER = REPORTER  # +15550100001
WHATSAPP_NUMBER = "+15550100002"
FAILING_SENDERS = ["+15550100003", "+15550100004"]
NUMBER_FORMS = [
    f(n)
    for n in (SMS_SENDER, WHATSAPP_NUMBER, *FAILING_SENDERS)
    for f in (lambda n: n, lambda n: n[1:], lambda n: n[2:], lambda n: f"{n[2:5]}-{n[5:8]}-{n[8:]}")
]

# What Twilio adds about a sender. Fictional values, distinctive enough to search for.
TWILIO_PLACE = {"FromCity": "Cirebonville", "FromState": "Jawa Baratland", "FromZip": "45119", "FromCountry": "XQ"}
WHATSAPP_PERSON = {"ProfileName": "Siti Rahmawati Dewanti", "WaId": WHATSAPP_NUMBER[1:]}
SHARED_PLACE = {
    "Latitude": "-6.708123", "Longitude": "108.557134",
    "Address": "Jalan Kenanga Duabelas", "Label": "Warung Bu Sriyati",
}
MEDIA = {
    "NumMedia": "1",
    "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC00/Messages/MM00/Media/ME5ecretmediaid",
    "MediaContentType0": "image/jpeg",
}

SMS_WORDS = [
    "Hello, I need to tell you something",
    "Three girls locked in the Marigold warehouse behind the rice mill",
    "Desa Sukamaju near the old mosque",
    "Tuesday around midnight",
    "maybe four or five",
    "the van had a green stripe",
    "photo of the van plates",
    "A second story about a boy at the harbour",
]
WHATSAPP_WORDS = [
    "Halo selamat pagi",
    "Seorang anak bekerja di kapal nelayan tanpa bayaran",
    "kemarin sore sekali",
    "dua anak kecil",
    "gambar kapal nelayan",
]
FAILING_WORDS = ["A tall man collects the children from the bus terminal at dawn"]


@pytest.fixture
def settings(tmp_path, database_url):
    """Overrides conftest's SQLite-only settings: conftest's app then runs on every store."""
    return make_settings(tmp_path, database_url)


@pytest.fixture
def debug_logs(caplog, app):
    """Every logger at DEBUG, every record captured, once the app has set up its own logging."""
    caplog.set_level(logging.DEBUG)
    added = []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)
            if not logger.propagate:
                logger.addHandler(caplog.handler)
                added.append(logger)
    yield caplog
    for logger in added:
        logger.removeHandler(caplog.handler)


def log_text(caplog) -> str:
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


def assert_nothing_personal(caplog) -> None:
    text = log_text(caplog)
    assert "message SM" in text, "the capture works: processed messages are logged by id"
    assert any(r.levelno == logging.DEBUG for r in caplog.records), "DEBUG records are captured"
    secrets = (
        NUMBER_FORMS + SMS_WORDS + WHATSAPP_WORDS + FAILING_WORDS
        + list(TWILIO_PLACE.values()) + list(WHATSAPP_PERSON.values()) + list(SHARED_PLACE.values())
        + [MEDIA["MediaUrl0"], "5ecretmediaid", "-6.70812", "108.55713"]
    )
    leaked = [secret for secret in secrets if secret in text]
    assert not leaked, f"personal data in the log: {leaked}"
    for word in ("Marigold", "Sukamaju", "nelayan", "Rahmawati", "Kenanga", "Cirebonville"):
        assert word not in text


class Sender:
    def __init__(self, client, address: str, **always):
        self.client, self.address, self.always = client, address, always

    def post(self, body: str, **extra):
        return signed_post(self.client, inbound_fields(body, sender=self.address, **self.always, **extra))

    def send(self, body: str, **extra) -> list[str]:
        response = self.post(body, **extra)
        assert response.status_code == 200, response.get_data(as_text=True)
        return twiml_messages(response.get_data(as_text=True))


def reference_in(replies: list[str]) -> str:
    found = re.search(r"TEST-[0-9A-Z]{4}", " ".join(replies))
    assert found, replies
    return found.group(0)


def sms_conversation(client) -> None:
    sms = Sender(client, SMS_SENDER, **TWILIO_PLACE)
    words = iter(SMS_WORDS)
    sms.send(next(words))
    sms.send("1")
    assert "112" in sms.send("1")[0]  # danger now: emergency numbers, escalation
    sms.send(next(words))  # where the child is now
    sms.send(next(words))  # what is happening
    sms.send("2")  # kind
    sms.send(next(words))  # how many
    sms.send("1")  # contact: yes, so the number is sealed and kept
    reference = reference_in(sms.send("1"))
    assert reference in sms.send(f"ADD {reference} {next(words)}")[0]
    sms.send(f"STATUS {reference}")
    sms.send(next(words), **MEDIA)
    sms.send("1")
    sms.send("2")
    sms.send(next(words))
    sms.send("EXIT")
    assert sms.send("STOP") == []
    sms.send("START")
    # refused and malformed requests carrying the number
    fields = inbound_fields(SMS_WORDS[1], sender=SMS_SENDER, **TWILIO_PLACE)
    assert client.post("/twilio/messages", data=fields).status_code == 403
    assert client.post("/twilio/messages", data=fields, headers={"X-Twilio-Signature": "forged"}).status_code == 403
    no_sid = {k: v for k, v in fields.items() if k != "MessageSid"}
    assert signed_post(client, no_sid).status_code == 400
    assert signed_post(client, inbound_fields(SMS_WORDS[1] * 1200, sender=SMS_SENDER)).status_code == 413


def whatsapp_conversation(client) -> None:
    wa = Sender(client, f"whatsapp:{WHATSAPP_NUMBER}", **TWILIO_PLACE, **WHATSAPP_PERSON)
    words = iter(WHATSAPP_WORDS)
    wa.send(next(words))
    wa.send("1")
    wa.send("2")
    wa.send(next(words))
    wa.send("1")
    wa.send("", **SHARED_PLACE)  # a location shared instead of words
    wa.send(next(words))
    wa.send(next(words))
    wa.send("2")
    reference_in(wa.send("1"))
    wa.send(next(words), **MEDIA)
    wa.send("", **SHARED_PLACE)
    assert wa.send("STOP") == ["Anda tidak akan menerima pesan lagi dari kami. Kirim MULAI untuk kembali."]


FORCED_FAILURES = {  # per store: (break it, mend it)
    "postgresql": [
        # PostgreSQL's DETAIL quotes the whole failing row.
        (
            "ALTER TABLE tip ADD CONSTRAINT forced_failure CHECK (description IS NULL) NOT VALID",
            "ALTER TABLE tip DROP CONSTRAINT forced_failure",
        ),
        # A data exception (SQLSTATE class 22) quotes the value in its very message.
        (
            "CREATE FUNCTION forced_failure() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'forced failure: ' || NEW.description; "
            "END $$; CREATE TRIGGER forced_failure BEFORE INSERT ON tip FOR EACH ROW "
            "WHEN (NEW.description IS NOT NULL) EXECUTE FUNCTION forced_failure()",
            "DROP TRIGGER forced_failure ON tip; DROP FUNCTION forced_failure()",
        ),
    ],
    "sqlite": [
        (
            "CREATE TRIGGER forced_failure BEFORE INSERT ON tip WHEN NEW.description IS NOT NULL "
            "BEGIN SELECT RAISE(ABORT, 'forced failure'); END",
            "DROP TRIGGER forced_failure",
        ),
    ],
}


def forced_database_error(client, tipline, number: str, break_it: str, mend_it: str) -> None:
    """The store refuses the tip with the reporter's words in it; Twilio's retry then goes through."""
    sender = Sender(client, number, **TWILIO_PLACE)
    sender.send("Hi")
    sender.send("1")
    sender.send("2")
    with tipline.db.begin() as conn:
        conn.exec_driver_sql(break_it)
    fields = inbound_fields(FAILING_WORDS[0], sender=number, **TWILIO_PLACE)
    refused = signed_post(client, fields)
    assert refused.status_code == 503, refused.get_data(as_text=True)
    with tipline.db.begin() as conn:
        conn.exec_driver_sql(mend_it)
    assert signed_post(client, fields).status_code == 200


def test_sms_conversation_logs_nothing_personal(debug_logs, client):
    sms_conversation(client)
    assert_nothing_personal(debug_logs)


def test_whatsapp_conversation_logs_nothing_personal(debug_logs, client):
    whatsapp_conversation(client)
    assert_nothing_personal(debug_logs)


def test_database_error_logs_nothing_personal(debug_logs, client, tipline):
    for number, (break_it, mend_it) in zip(FAILING_SENDERS, FORCED_FAILURES[tipline.db.dialect.name], strict=False):
        forced_database_error(client, tipline, number, break_it, mend_it)
    text = log_text(debug_logs)
    assert "database unavailable for message SM" in text, "the failure itself is logged for operators"
    assert_nothing_personal(debug_logs)


def test_unreachable_database_logs_nothing_personal(tmp_path, caplog):
    from tipline import create_app

    app = create_app(make_settings(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"))
    caplog.set_level(logging.DEBUG)
    for name in ("tipline", "sqlalchemy", "psycopg"):
        caplog.set_level(logging.DEBUG, logger=name)
    try:
        response = signed_post(app.test_client(), inbound_fields(SMS_WORDS[1], sender=SMS_SENDER, **TWILIO_PLACE))
        assert response.status_code == 503
    finally:
        app.extensions["tipline"].db.dispose()
    text = log_text(caplog)
    assert "database" in text
    assert not [s for s in NUMBER_FORMS + SMS_WORDS + list(TWILIO_PLACE.values()) if s in text]


def test_terminal_chat_logs_nothing_personal(tmp_path, sqlite_url, caplog):
    """`tipline chat` goes through the same engine and storage, and keeps the same silence."""
    from tipline.cli import main

    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    settings = make_settings(tmp_path, sqlite_url)
    env = {
        "TIPLINE_INSTANCE_PATH": str(settings.instance_path),
        "TIPLINE_DATABASE_URL": sqlite_url,
        "TIPLINE_SECRET_KEY": settings.secret_key,
        "TIPLINE_PSEUDONYM_KEY": settings.pseudonym_key,
        "TIPLINE_CONTACT_KEY": settings.contact_key,
        "TIPLINE_FLOWS_PATH": str(FLOWS),
    }
    typed = ["Hello", "1", "2", SMS_WORDS[1], "2", SMS_WORDS[2], SMS_WORDS[3], SMS_WORDS[4], "2", "1"]
    result = CliRunner().invoke(main, ["chat"], input="\n".join(typed) + "\n", env=env)
    assert result.exit_code == 0, result.output
    assert "Report code:" in result.output
    text = log_text(caplog)
    assert not [w for w in SMS_WORDS if w in text]


# ---- the SMS gateway channel (issue 14) ----------------------------------------------------------

GATEWAY_LOCAL, GATEWAY_E164 = "0812-0000-0103", "+6281200000103"
GATEWAY_WORDS = [
    "halo sy mau lapor",
    "ada anak2 dipaksa kerja di gudang Kenari blakang terminal",
    "kampung Cempakawangi rt 3",
    "tadi mlm jam 11an",
]
GATEWAY_NUMBER_FORMS = [GATEWAY_LOCAL, GATEWAY_LOCAL.replace("-", ""), GATEWAY_E164, GATEWAY_E164[1:], "81200000103"]


def test_gateway_conversation_logs_nothing_personal(debug_logs, tmp_path, database_url, clock, references):
    """Inbound deliveries, the worker's sends, an outage, delivery states and refused requests."""
    from sqlmodel import select

    from tests.fake_smsgate import FakeGateway, received, status
    from tests.gateway_support import Phone, gateway_app, post_event
    from tipline import storage
    from tipline.models import OutboxMessage

    with FakeGateway() as fake:
        app = gateway_app(tmp_path, database_url, fake, clock, references)
        tipline, client = app.extensions["tipline"], app.test_client()
        try:
            phone = Phone(client, tipline, fake, clock, sender=GATEWAY_LOCAL, number=GATEWAY_E164)
            words = iter(GATEWAY_WORDS)
            phone.text(next(words))
            phone.text("1")
            phone.text("gak")
            phone.text(next(words))
            phone.text("1")
            fake.fail(503)
            phone.text(next(words))  # the reply waits for the gateway to come back
            clock.advance(minutes=5)
            phone.worker.run_once()
            phone.text(next(words))
            with storage.reading(tipline.db) as session:
                rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id))
                sent = [r.twilio_sid for r in rows if r.twilio_sid]
            post_event(client, status("sms:delivered", sent[0], GATEWAY_E164), clock=clock)
            failed = status("sms:failed", sent[1], GATEWAY_E164, reason="RESULT_ERROR_NO_SERVICE")
            post_event(client, failed, clock=clock)
            post_event(client, received(GATEWAY_LOCAL, GATEWAY_WORDS[1]), clock=clock, key="forged-key")
            post_event(client, received(GATEWAY_LOCAL, GATEWAY_WORDS[1]), clock=clock, skew=-3600)
            client.post("/smsgate/events", data=received(GATEWAY_LOCAL, GATEWAY_WORDS[1]),
                        content_type="application/json")
        finally:
            tipline.db.dispose()
    text = log_text(debug_logs)
    assert "message GWEv" in text and "outbox" in text, "the capture works: messages and sends are logged by id"
    assert "refused request to /smsgate/events" in text
    leaked = [s for s in GATEWAY_NUMBER_FORMS + GATEWAY_WORDS if s in text]
    assert not leaked, f"personal data in the log: {leaked}"
    for word in ("Kenari", "Cempakawangi", "00000103"):
        assert word not in text
