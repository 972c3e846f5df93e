"""Shared fixtures: a fixed clock, fixed references, an app per test on SQLite or PostgreSQL.

PostgreSQL tests use TIPLINE_TEST_DATABASE_URL, each test in a schema of its own. Without it
they skip, except under TIPLINE_CI=1, where a missing service is a failure.
"""

from __future__ import annotations

import itertools
import os
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from twilio.request_validator import RequestValidator

from tipline import create_app
from tipline.settings import Settings
from tipline.storage import upgrade

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "flows"
AUTH_TOKEN = "test-auth-token-not-a-real-secret"
WEBHOOK = "http://localhost/twilio/messages"
REPORTER = "+15550100001"
CI = os.environ.get("TIPLINE_CI") == "1"

# What groups of tests share, as fixtures every test can ask for by name (no imports, so no name is
# shadowed): accounts and signed-in clients, the fake Twilio server, volunteers, partners and the
# on-call number, the browser. A folder's own fixtures are in its conftest.py (tests/engine: the
# flow). A module that wants another `app` (one that sends through the fake Twilio server) defines it
# from `sending_app` or `watch_app`.
pytest_plugins = [
    "tests.browser_support",
    "tests.community_support",
    "tests.dashboard_support",
    "tests.escalation_support",
    "tests.outbox_support",
]
pytest.register_assert_rewrite(*pytest_plugins)  # they import one another; each keeps pytest's assert messages


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true", help="rewrite tests/golden/*.yaml from the engine")


class FakeClock:
    def __init__(self):
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


class FixedReferences:
    """References in a known order, so transcripts and assertions can name them."""

    ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

    def __init__(self):
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        n = next(self._counter)
        return f"TEST-{self.ALPHABET[n // 32 % 32]}{self.ALPHABET[n % 32]}{self.ALPHABET[0]}{self.ALPHABET[0]}"


TEST_PIN = "4821"  # every report's PIN in tests: transcripts stay the same run after run


def require_postgres() -> str:
    url = os.environ.get("TIPLINE_TEST_DATABASE_URL")
    if not url:
        if CI:
            pytest.fail("TIPLINE_CI=1 but TIPLINE_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL tests need TIPLINE_TEST_DATABASE_URL")
    return url


@pytest.fixture
def postgres_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    base = require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:
        engine.dispose()
        if CI:
            pytest.fail(f"PostgreSQL does not answer: {exc}")
        pytest.skip(f"PostgreSQL does not answer: {exc}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each test that takes this runs on both stores."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tipline.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'tipline.db'}"


def make_settings(tmp_path: Path, database_url: str, **overrides) -> Settings:
    env = {
        "TIPLINE_INSTANCE_PATH": str(tmp_path / "instance"),
        "TIPLINE_DATABASE_URL": database_url,
        "TIPLINE_SECRET_KEY": secrets.token_urlsafe(32),
        "TIPLINE_PSEUDONYM_KEY": "pseudonym-key-for-tests-only-0123456789",
        "TIPLINE_CONTACT_KEY": Fernet.generate_key().decode(),
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TIPLINE_FLOWS_PATH": str(FLOWS),
    }
    return Settings.from_env(env, **overrides)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def references():
    return FixedReferences()


@pytest.fixture
def settings(tmp_path, sqlite_url):
    return make_settings(tmp_path, sqlite_url)


@pytest.fixture
def app(settings, clock, references):
    upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references, pin_maker=lambda: TEST_PIN)
    app.config["TESTING"] = True
    yield app
    app.extensions["tipline"].db.dispose()


@pytest.fixture
def make_app(tmp_path, clock, references):
    """Apps on SQLite with settings overridden per test (each on its own file); disposed afterwards."""
    made = []

    def make(**overrides):
        name = f"app{len(made)}"
        settings = make_settings(tmp_path / name, f"sqlite:///{tmp_path / f'{name}.db'}", **overrides)
        upgrade(settings.database_url)
        app = create_app(settings, clock=clock, reference_maker=references, pin_maker=lambda: TEST_PIN)
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["tipline"].db.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def tipline(app):
    return app.extensions["tipline"]


def signed_post(
    client, fields: dict, *, url: str = WEBHOOK, sent_to: str | None = None, token: str = AUTH_TOKEN,
    headers: dict | None = None,
):
    """POST form fields the way Twilio does, with a valid X-Twilio-Signature for url.

    `sent_to` is where the request reaches the app when that differs (behind a TLS proxy).
    """
    signature = RequestValidator(token).compute_signature(url, fields)
    parts = urlsplit(sent_to or url)
    return client.post(
        parts.path + (f"?{parts.query}" if parts.query else ""),
        base_url=f"{parts.scheme}://{parts.netloc}",
        data=urlencode(fields),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature, **(headers or {})},
    )


_sids = itertools.count(1)


def inbound_fields(body: str, *, sender: str = REPORTER, sid: str | None = None, **extra) -> dict:
    channel_to = "whatsapp:+15550100099" if sender.startswith("whatsapp:") else "+15550100099"
    fields = {
        "MessageSid": sid or f"SM{next(_sids):032x}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": channel_to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
    }
    fields.update({k: str(v) for k, v in extra.items()})
    return fields


class Reporter:
    """A person texting the tip line through the signed webhook."""

    def __init__(self, client, sender: str = REPORTER):
        self.client = client
        self.sender = sender

    def send(self, body: str, **extra) -> list[str]:
        response = signed_post(self.client, inbound_fields(body, sender=self.sender, **extra))
        assert response.status_code == 200, response.get_data(as_text=True)
        return twiml_messages(response.get_data(as_text=True))


def twiml_messages(twiml: str) -> list[str]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return [(m.text or "") for m in root.iter("Message")]


@pytest.fixture
def reporter(client):
    return Reporter(client)


@pytest.fixture
def cli_env(settings, monkeypatch):
    """The environment `tipline` commands read, pointing at this test's (migrated) database."""
    upgrade(settings.database_url)
    monkeypatch.setenv("TIPLINE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TIPLINE_INSTANCE_PATH", str(settings.instance_path))
    monkeypatch.setenv("TIPLINE_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("TIPLINE_PSEUDONYM_KEY", settings.pseudonym_key)
    monkeypatch.setenv("TIPLINE_CONTACT_KEY", settings.contact_key)
    return settings
