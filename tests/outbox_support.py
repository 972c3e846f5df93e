"""The outbox against a local Twilio-compatible server: an app that sends to it, and helpers to queue and read rows.

Its fixtures reach every test (tests/conftest.py registers this module as a plugin); a test module whose
`app` should send through the fake server says so: `@pytest.fixture def app(sending_app): return sending_app`.
"""

from __future__ import annotations

import random

import pytest

from tipline import create_app, storage
from tipline.storage import upgrade
from tipline.worker import Worker

from .conftest import AUTH_TOKEN, make_settings
from .fake_twilio import FakeTwilio

ACCOUNT = "AC" + "1" * 32
PARTNER = "+15550100050"
STATUS_URL = "http://localhost/twilio/status"


@pytest.fixture
def fake_twilio():
    with FakeTwilio(ACCOUNT, AUTH_TOKEN) as fake:
        yield fake


def twilio_app(tmp_path, database_url, fake, clock, references, **overrides):
    settings = make_settings(
        tmp_path, database_url, twilio_account_sid=ACCOUNT, twilio_api_base_url=fake.base_url,
        twilio_sms_from="+15550100090", twilio_whatsapp_from="+15550100091", send_rate_per_second=1000.0,
        **overrides,
    )
    upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def sending_app(tmp_path, sqlite_url, fake_twilio, clock, references):
    """An app on SQLite whose outbox sends through the fake Twilio server."""
    app = twilio_app(tmp_path, sqlite_url, fake_twilio, clock, references)
    yield app
    app.extensions["tipline"].db.dispose()


def queue(tipline, *, address=PARTNER, body="Test message", kind="alert", partner_id=None):
    with storage.writing(tipline.db) as session:
        row = tipline.outbound.queue(session, kind=kind, address=address, body=body, now=tipline.clock())
        if partner_id is not None:
            row.partner_id = partner_id
        return row.id


def row(tipline, message_id):
    with storage.reading(tipline.db) as session:
        return storage.outbox_message(session, message_id=message_id)


def worker(tipline, clock):
    return Worker(tipline, clock=clock, sleep=lambda seconds: clock.advance(seconds=seconds), rng=random.Random(7))


def add_shelter(tipline, *, channel, last_inbound_at=None):
    """The one partner these tests send to, on `channel`; its id."""
    with storage.writing(tipline.db) as session:
        partner = storage.add_partner(
            session, name="Shelter", phone=PARTNER, channel=channel, language="en", regions=["everywhere"],
            categories=[], urgent_only=False, preference=1, now=tipline.clock(),
        )
        partner.last_inbound_at = last_inbound_at
        return partner.id
