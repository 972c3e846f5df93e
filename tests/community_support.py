"""Volunteers, broadcasts and polls against a local Twilio-compatible server, on SQLite and PostgreSQL.

Its fixtures reach every test (tests/conftest.py registers this module as a plugin); a test module whose
`app` and `operator` should be these says so: `@pytest.fixture def app(watch_app): return watch_app`.
"""

from __future__ import annotations

import random

import pytest

from tipline import storage
from tipline.worker import Worker

from .conftest import Reporter
from .dashboard_support import client_for, csrf_token, make_user
from .outbox_support import twilio_app

BANDUNG = "+15550100061"  # Jawa Barat, Kab. Bandung (32.04), speaks English
BOGOR = "+15550100062"  # Jawa Barat, the whole province (32), speaks Indonesian
LEFT = "+15550100063"  # Jawa Barat, sent STOP
SEMARANG = "+15550100064"  # Jawa Tengah (33.74): another province
REPORTER_ONLY = "+15550100065"  # only reported: never a recipient

QUESTION = {
    "question_en": "Where do children work at night in your area?",
    "options_en": "Markets\nPorts\nKaraoke bars",
    "question_id": "Di mana anak bekerja malam hari di daerah Anda?",
    "options_id": "Pasar\nPelabuhan\nTempat karaoke",
}


@pytest.fixture
def watch_app(tmp_path, database_url, fake_twilio, clock, references):
    """An app on SQLite and on PostgreSQL whose outbox sends through the fake Twilio server."""
    app = twilio_app(tmp_path, database_url, fake_twilio, clock, references)
    yield app
    app.extensions["tipline"].db.dispose()


@pytest.fixture
def watch_operator(app):
    """An operator signed in (no other accounts), on the module's app."""
    make_user(app, "operator@example.org", "operator")
    return client_for(app, "operator@example.org")


def volunteer(tipline, address: str, *, language: str, place_code: str | None, channel: str = "sms") -> None:
    with storage.writing(tipline.db) as session:
        storage.subscribe_volunteer(
            session, reporter=tipline.reporter_of(address), address_sealed=tipline.contacts.seal(address),
            channel=channel, language=language, place=None, place_code=place_code,
            consent_wording="test consent", now=tipline.clock(),
        )


@pytest.fixture
def watch(app, tipline):
    """Three volunteers in Jawa Barat (one of whom left), one in Jawa Tengah, and a mere reporter."""
    volunteer(tipline, BANDUNG, language="en", place_code="32.04")
    volunteer(tipline, BOGOR, language="id", place_code="32")
    volunteer(tipline, LEFT, language="en", place_code="32.01")
    volunteer(tipline, SEMARANG, language="id", place_code="33.74")
    client = app.test_client()
    assert Reporter(client, LEFT).send("STOP") == []
    reporter = Reporter(client, REPORTER_ONLY)
    for text in ("hi", "1", "2", "A boy sells at night near the market", "1", "0", "0", "0", "1", "1"):
        reporter.send(text)


@pytest.fixture
def volunteers(tipline):
    volunteer(tipline, BANDUNG, language="en", place_code="32.04")
    volunteer(tipline, BOGOR, language="id", place_code="32")
    volunteer(tipline, SEMARANG, language="id", place_code="33.74")


def run_worker(tipline, clock) -> Worker:
    runner = Worker(tipline, clock=clock, sleep=lambda seconds: clock.advance(seconds=seconds), rng=random.Random(3))
    runner.run_once()
    clock.advance(minutes=5)  # a broadcast's rows are spread out in time
    runner.run_once()
    runner.run_timers()  # a broadcast is marked sent on the pass after its last message
    return runner


def post(client, path: str, data: dict, *, token_from: str):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_from)})


def draft(operator, *, en: str, id_: str, places: list[str]) -> int:
    response = post(operator, "/dashboard/community/broadcasts/new",
                    {"text_en": en, "text_id": id_, "places": places}, token_from="/dashboard/community/broadcasts/new")
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def send_poll(operator, tipline, clock, **extra) -> tuple[int, int]:
    response = post(operator, "/dashboard/community/polls/new", {**QUESTION, **extra},
                    token_from="/dashboard/community/polls/new")
    assert response.status_code == 302, response.get_data(as_text=True)
    broadcast_path = response.headers["Location"]
    post(operator, f"{broadcast_path}/send", {"action": "now"}, token_from=broadcast_path)
    run_worker(tipline, clock)
    with storage.reading(tipline.db) as session:
        [poll] = storage.list_polls(session)
    return poll.id, int(broadcast_path.rsplit("/", 1)[1])


def tally(tipline, poll_id) -> dict[int, int]:
    with storage.reading(tipline.db) as session:
        return storage.poll_tally(session, poll_id=poll_id)
