"""A database that stops answering (accepts connections, never replies) fails fast, never hangs.

Twilio waits 15 seconds and retries a 5xx, so the webhook must answer 503 within seconds; a load
balancer's health check must answer sooner still; and the server recovers when the database does.
The bounds below are generous on purpose: they catch a hang, not a slow machine.
"""

from __future__ import annotations

import functools
import time

import pytest
from sqlalchemy.engine import make_url

from tipline import create_app, storage
from tipline.settings import Settings, SettingsError

from ..conftest import inbound_fields, make_settings, signed_post, twiml_messages
from ..silent_proxy import SilentProxy

WEBHOOK_BOUND = 10  # seconds; the engine's own limits make it about 5
HEALTH_BOUND = 5  # seconds; /healthz waits 1.5


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.fixture
def proxied(tmp_path, postgres_url):
    """An app whose PostgreSQL is reached through a proxy the test can silence."""
    storage.upgrade(postgres_url)
    real = make_url(postgres_url)
    with SilentProxy((real.host or "127.0.0.1", real.port or 5432)) as proxy:
        url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        app = create_app(make_settings(tmp_path, url))
        app.config["TESTING"] = True
        yield app, proxy
        app.extensions["tipline"].db.dispose()


@pytest.mark.postgres
def test_webhook_answers_503_within_seconds_when_the_database_goes_silent(proxied):
    app, proxy = proxied
    client = app.test_client()
    first = signed_post(client, inbound_fields("Hi", sender="+15550100011"))
    assert first.status_code == 200  # the pool now holds a live connection
    proxy.silence()

    for body in ("1", "2"):  # a pooled connection first, then a fresh one
        response, elapsed = timed(functools.partial(signed_post, client, inbound_fields(body, sender="+15550100011")))
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.mimetype == "text/plain" and "retry" in response.get_data(as_text=True)
        assert elapsed < WEBHOOK_BOUND

    health, elapsed = timed(lambda: client.get("/healthz"))
    assert health.status_code == 503 and elapsed < HEALTH_BOUND

    proxy.speak()  # the database is back: nothing stays broken
    fields = inbound_fields("1", sender="+15550100011")
    recovered = signed_post(client, fields)
    assert recovered.status_code == 200 and twiml_messages(recovered.get_data(as_text=True))
    assert client.get("/healthz").status_code == 200


@pytest.mark.postgres
def test_dashboard_answers_503_within_seconds_when_the_database_goes_silent(proxied):
    app, proxy = proxied
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    proxy.silence()
    page = client.get("/dashboard/login")  # no database needed to show the form
    token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    response, elapsed = timed(lambda: client.post("/dashboard/login", data={
        "email": "op@example.org", "password": "correct horse battery staple", "csrf_token": token}))
    assert response.status_code == 503 and elapsed < WEBHOOK_BOUND
    assert "database" in response.get_data(as_text=True)


@pytest.mark.postgres
def test_statement_and_lock_timeouts_reach_the_server(tmp_path, postgres_url):
    settings = make_settings(tmp_path, postgres_url, db_statement_timeout=7, db_lock_timeout=3)
    engine = storage.make_engine(postgres_url, **settings.database_timeouts)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "7s"
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "3s"
            # the URL's own options (the test schema) are kept beside them
            assert conn.exec_driver_sql("SHOW search_path").scalar().startswith("t_")
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_statement_longer_than_the_timeout_is_cancelled_and_the_connection_reused(tmp_path, postgres_url):
    import sqlalchemy as sa

    engine = storage.make_engine(postgres_url, connect_timeout=3, statement_timeout=1, lock_timeout=1)
    try:
        with pytest.raises(sa.exc.OperationalError, match="statement timeout"):
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT pg_sleep(5)")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()


def test_sqlite_busy_timeout_is_the_lock_timeout(tmp_path):
    engine = storage.make_engine(f"sqlite:///{tmp_path / 'x.db'}", lock_timeout=4)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 4000
    finally:
        engine.dispose()


@pytest.mark.parametrize("name, value, message", [
    ("TIPLINE_DB_CONNECT_TIMEOUT", "1", "at least 2"),
    ("TIPLINE_DB_STATEMENT_TIMEOUT", "0", "at least 1"),
    ("TIPLINE_DB_LOCK_TIMEOUT", "soon", "whole number"),
])
def test_unfit_timeouts_are_refused_at_start(tmp_path, sqlite_url, name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"TIPLINE_INSTANCE_PATH": str(tmp_path / "instance"), "TIPLINE_DATABASE_URL": sqlite_url,
                           name: value})
