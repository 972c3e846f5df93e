"""Delivery status callbacks are idempotent: one SMS copy per failed WhatsApp message, whatever arrives.

Twilio may send a callback more than once, and both `undelivered` and `failed` can come for one
message; each SMS copy costs money and a partner reading the same escalation three times learns
to ignore it.
"""

from __future__ import annotations

import pytest

from tipline import storage

from .conftest import signed_post
from .outbox_support import PARTNER, STATUS_URL, add_shelter, queue, row, worker


@pytest.fixture
def app(sending_app):
    """This module's app sends through the fake Twilio server."""
    return sending_app


def sms_copies(tipline, message_id: int) -> list:
    with storage.reading(tipline.db) as session:
        return [r for r in storage.list_outbox(session) if r.fallback_of_id == message_id]


@pytest.fixture
def sent_on_whatsapp(client, tipline, fake_twilio, clock):
    """An escalation sent on WhatsApp, and its sid."""
    partner_id = add_shelter(tipline, channel="whatsapp", last_inbound_at=clock.now)
    message_id = queue(tipline, address=f"whatsapp:{PARTNER}", partner_id=partner_id, kind="escalation")
    worker(tipline, clock).run_once()
    return message_id, row(tipline, message_id).twilio_sid


@pytest.mark.parametrize("callbacks", [
    [("undelivered", "63016")] * 3,
    [("undelivered", "63016"), ("failed", "63016")],
    [("failed", "63003"), ("undelivered", "63016"), ("failed", "63003")],
], ids=["three-identical", "undelivered-then-failed", "mixed"])
def test_one_sms_copy_per_failed_whatsapp_message(client, tipline, fake_twilio, clock, sent_on_whatsapp, callbacks):
    message_id, sid = sent_on_whatsapp
    for status, code in callbacks:
        response = signed_post(client, {"MessageSid": sid, "MessageStatus": status, "ErrorCode": code}, url=STATUS_URL)
        assert response.status_code == 204
    assert len(sms_copies(tipline, message_id)) == 1
    worker(tipline, clock).run_once()
    assert [r["form"]["To"] for r in fake_twilio.sent()] == [f"whatsapp:{PARTNER}", PARTNER]


def test_a_repeated_callback_changes_nothing(client, tipline, clock, sent_on_whatsapp):
    message_id, sid = sent_on_whatsapp
    signed_post(client, {"MessageSid": sid, "MessageStatus": "delivered"}, url=STATUS_URL)
    before = row(tipline, message_id)
    clock.advance(minutes=3)
    signed_post(client, {"MessageSid": sid, "MessageStatus": "delivered"}, url=STATUS_URL)
    after = row(tipline, message_id)
    assert (after.delivery_status, after.updated_at) == (before.delivery_status, before.updated_at)


def test_a_failure_after_delivery_is_still_recorded_once(client, tipline, sent_on_whatsapp):
    message_id, sid = sent_on_whatsapp
    for status in ("sent", "delivered", "failed", "failed"):
        signed_post(client, {"MessageSid": sid, "MessageStatus": status, "ErrorCode": "30008"}, url=STATUS_URL)
    assert row(tipline, message_id).delivery_status == "failed"
    assert sms_copies(tipline, message_id) == []  # 30008 is not "not on WhatsApp": no copy
