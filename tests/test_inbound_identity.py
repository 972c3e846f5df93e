"""Who sent a message and which message it is: only Twilio's sid shapes, and a sid once seen is
never processed again for 30 days, while the answer it got (which can echo a reporter's words)
is dropped within hours, and at once after EXIT.

Twilio's signature joins the sorted name+value pairs with no separator, so one signed request
can be resent with its boundaries shifted and the same signature still fits.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from tipline import storage
from tipline.models import ProcessedMessage, TipAddition
from tipline.worker import purge

from .conftest import AUTH_TOKEN, WEBHOOK, Reporter, inbound_fields, signed_post, twiml_messages

SENDER = "+15550100031"
STATUS_URL = "http://localhost/twilio/status"
STORY = "Ada anak-anak kerja di pabrik sampai malam, dokumen mereka dipegang mandor"
PLACE = "gudang dekat pasar Melati, Batam"


def signature_of(fields: dict, url: str = WEBHOOK) -> str:
    return RequestValidator(AUTH_TOKEN).compute_signature(url, fields)


def post_signed_as(client, fields: dict, signature: str, path: str = "/twilio/messages"):
    """A request carrying a signature computed for other fields (a replay)."""
    return client.post(path, data=urlencode(fields), content_type="application/x-www-form-urlencoded",
                       headers={"X-Twilio-Signature": signature})


def report(client, sender: str = SENDER) -> tuple[Reporter, str]:
    """A finished report, in informal Indonesian, with the place typed in."""
    reporter = Reporter(client, sender)
    for text in ("halo", "1", "2", STORY, "1", PLACE, "minggu lalu", "0", "2"):
        reporter.send(text)
    reporter.send("1")
    return reporter, "TEST-2322"


def additions(tipline) -> int:
    with storage.reading(tipline.db) as session:
        return session.exec(sa.select(sa.func.count()).select_from(TipAddition)).one()[0]


def processed(tipline) -> list[ProcessedMessage]:
    with storage.reading(tipline.db) as session:
        return list(session.exec(sa.select(ProcessedMessage)).scalars())


# ---- the shifted-boundary replay --------------------------------------------------------------------

def shift_next_pair_into_sid(fields: dict) -> dict:
    """MessageSid=SM...&NumMedia=0 resent as MessageSid=SM...NumMedia0."""
    shifted = dict(fields)
    shifted["MessageSid"] = fields["MessageSid"] + "NumMedia" + shifted.pop("NumMedia")
    return shifted


def shift_sid_into_previous_value(fields: dict) -> dict:
    """From=+1555...&MessageSid=SM... resent as From=+1555...MessageSidSM..., SmsMessageSid left alone."""
    shifted = dict(fields)
    shifted["From"] = fields["From"] + "MessageSid" + shifted.pop("MessageSid")
    return shifted


def shift_alias_into_alias(fields: dict) -> dict:
    """SmsMessageSid=SM...&SmsSid=SM... resent as SmsMessageSid=SM...SmsSidSM..."""
    shifted = dict(fields)
    shifted["SmsMessageSid"] = fields["SmsMessageSid"] + "SmsSid" + shifted.pop("SmsSid")
    return shifted


@pytest.mark.parametrize("shift", [shift_next_pair_into_sid, shift_sid_into_previous_value, shift_alias_into_alias])
def test_a_replay_with_shifted_boundaries_is_refused_and_changes_nothing(client, tipline, shift):
    _reporter, reference = report(client)
    fields = inbound_fields(f"TAMBAH {reference} mandornya naik motor merah", sender=SENDER)
    fields["SmsMessageSid"] = fields["SmsSid"] = fields["MessageSid"]  # as Twilio sends them
    signature = signature_of(fields)
    first = post_signed_as(client, fields, signature)
    assert first.status_code == 200 and reference in first.get_data(as_text=True)
    assert additions(tipline) == 1

    shifted = shift(fields)
    assert signature_of(shifted) == signature  # the same signature fits the shifted request
    again = post_signed_as(client, shifted, signature)
    assert again.status_code == 400, again.get_data(as_text=True)
    assert "MessageSid" in again.get_data(as_text=True)
    assert additions(tipline) == 1


@pytest.mark.parametrize("sid, accepted", [
    ("SM" + "0123456789abcdef" * 2, True),
    ("MM" + "0123456789ABCDEF" * 2, True),  # media messages
    ("SM" + "0" * 31, False),
    ("SM" + "0" * 33, False),
    ("SM" + "0" * 31 + "g", False),
    ("MG" + "0" * 32, False),  # a messaging service, not a message
    ("sm" + "0" * 32, False),
    ("SM" + "0" * 32 + "\n", False),
    ("CLI" + "0" * 32, False),
])
def test_only_twilio_message_sid_shapes_are_accepted(client, tipline, sid, accepted):
    response = signed_post(client, inbound_fields("halo", sid=sid, sender=SENDER))
    assert response.status_code == (200 if accepted else 400), response.get_data(as_text=True)
    assert len(processed(tipline)) == (1 if accepted else 0)


@pytest.mark.parametrize("change, reason", [
    (lambda f: f.update(SmsMessageSid="SM" + "f" * 32), "SmsMessageSid does not match"),
    (lambda f: f.update(SmsSid="SM" + "f" * 32), "SmsSid does not match"),
    (lambda f: f.update(SmsMessageSid=f.pop("MessageSid")), "MessageSid"),  # no MessageSid at all
])
def test_sid_aliases_must_repeat_message_sid(client, tipline, change, reason):
    fields = inbound_fields("halo", sender=SENDER)
    change(fields)
    response = signed_post(client, fields)
    assert response.status_code == 400 and reason in response.get_data(as_text=True)
    assert processed(tipline) == []


def test_a_message_sid_given_twice_is_refused(client, tipline):
    fields = list(inbound_fields("halo", sender=SENDER).items()) + [("MessageSid", "SM" + "e" * 32)]
    signature = RequestValidator(AUTH_TOKEN).compute_signature(WEBHOOK, _multidict(fields))
    response = client.post("/twilio/messages", data=urlencode(fields),
                           content_type="application/x-www-form-urlencoded", headers={"X-Twilio-Signature": signature})
    assert response.status_code == 400 and processed(tipline) == []


def _multidict(pairs):
    from werkzeug.datastructures import MultiDict

    return MultiDict(pairs)


@pytest.mark.parametrize("fields", [
    {"MessageSid": "SM" + "0" * 32 + "MessageStatusdelivered"},
    {"MessageSid": "XX" + "0" * 32, "MessageStatus": "delivered"},
    {"MessageSid": "SM" + "0" * 32, "SmsSid": "SM" + "1" * 32, "MessageStatus": "delivered"},
])
def test_status_callbacks_take_the_same_sid_shapes(client, fields):
    response = signed_post(client, fields, url=STATUS_URL)
    assert response.status_code == 400 and "MessageSid" in response.get_data(as_text=True)


# ---- how long a sid and its answer are kept -------------------------------------------------------------

def test_a_processed_sid_is_refused_for_30_days_while_its_answer_is_dropped_within_hours(client, tipline, clock):
    _reporter, reference = report(client)
    fields = inbound_fields(f"TAMBAH {reference} mandornya naik motor merah", sender=SENDER)
    first = signed_post(client, fields)
    assert reference in first.get_data(as_text=True) and additions(tipline) == 1
    sent_at = clock.now

    clock.advance(hours=2)  # Twilio's retries are long over
    purge(tipline, now=clock.now, dry_run=False)
    rows = processed(tipline)
    assert rows and all(row.twiml is None and row.reporter is None for row in rows)  # no words, no one's
    again = signed_post(client, fields)
    assert again.status_code == 200 and again.get_data(as_text=True) == storage.NO_REPLY_TWIML
    assert twiml_messages(again.get_data(as_text=True)) == []

    for days in (3, 15, 29):  # the old rule forgot a sid after 2 days: the replay was processed again
        clock.now = sent_at + timedelta(days=days)
        purge(tipline, now=clock.now, dry_run=False)
        assert signed_post(client, fields).status_code == 200
        assert additions(tipline) == 1

    clock.now = sent_at + timedelta(days=31)  # past 30 days the bare sid goes too
    purge(tipline, now=clock.now, dry_run=False)
    assert fields["MessageSid"] not in {row.message_sid for row in processed(tipline)}


def test_exit_drops_the_summary_from_the_kept_answers(client, tipline):
    reporter = Reporter(client, SENDER)
    for text in ("halo", "1", "2", STORY, "1", PLACE, "minggu lalu", "0", "2"):
        reporter.send(text)
    summary = [row for row in processed(tipline) if row.twiml and "Melati" in row.twiml]
    assert summary, "the confirmation summary echoes the place"
    exit_fields = inbound_fields("KELUAR", sender=SENDER)
    answer = signed_post(client, exit_fields)
    assert answer.status_code == 200
    kept = [row.twiml for row in processed(tipline) if row.twiml]
    assert kept == [answer.get_data(as_text=True)]  # only the answer to EXIT itself, for Twilio's retry
    assert not any(word in text for text in kept for word in ("Melati", "pabrik", "mandor"))
    assert signed_post(client, exit_fields).get_data() == answer.get_data()


def test_the_answers_of_other_reporters_are_kept_after_someone_exits(client, tipline):
    other = Reporter(client, "+15550100032")
    other.send("halo")
    Reporter(client, SENDER).send("halo")
    Reporter(client, SENDER).send("KELUAR")
    kept = [row for row in processed(tipline) if row.twiml]
    assert len(kept) == 2  # the other reporter's welcome and the EXIT answer


def test_retention_counts_dropped_answers_apart_from_forgotten_sids(client, tipline, clock):
    Reporter(client, SENDER).send("halo")
    dry = purge(tipline, now=clock.now + timedelta(hours=2), dry_run=True)
    assert dry["processed_replies"] == 1 and dry["processed_messages"] == 0
    later = purge(tipline, now=clock.now + timedelta(days=31), dry_run=True)
    assert later["processed_replies"] == 0 and later["processed_messages"] == 1
