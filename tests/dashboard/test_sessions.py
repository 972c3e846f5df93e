"""Dashboard sessions end: on logout (on the server, so a copied cookie opens nothing), after
8 hours without use, 12 hours after login whatever the use, and their contents never sit in the
browser's cookie (which is signed, not encrypted)."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa

from tipline import create_app, storage
from tipline.dashboard.sessions import COOKIE_KEY
from tipline.models import DashboardSession
from tipline.worker import purge

from ..conftest import make_settings
from ..dashboard_support import client_for, login, make_user, post

QUEUE = "/dashboard/"


def signed_in(client) -> bool:
    response = client.get(QUEUE)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def session_cookie(client):
    return client.get_cookie("session")


def cookie_contents(app, client) -> dict:
    """What the browser holds, decoded as anyone holding the cookie can (it is signed, not encrypted)."""
    value = session_cookie(client).value
    payload = value.split(".")[0] if not value.startswith(".") else value.split(".")[1]
    import base64
    import zlib

    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if value.startswith("."):
        raw = zlib.decompress(raw)
    return app.session_interface.serializer.loads(raw.decode())


def rows(app) -> list[DashboardSession]:
    with storage.reading(app.extensions["tipline"].db) as session:
        return list(session.exec(sa.select(DashboardSession)).scalars())


# ---- logout and replay -----------------------------------------------------------------------------

def test_a_cookie_copied_before_logout_opens_nothing_after_it(app, operator):
    copied = session_cookie(operator).value
    assert signed_in(operator)
    assert post(operator, "/dashboard/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get(QUEUE)
    assert response.status_code == 302 and response.headers["Location"].startswith("/dashboard/login")
    assert rows(app) == []


def test_logging_in_again_gives_a_new_key_and_ends_the_half_way_session(app, accounts, clock):
    client = client_for(app, "operator@example.org")
    first = cookie_contents(app, client)[COOKIE_KEY]
    post(client, "/dashboard/logout")
    assert login(client, "operator@example.org").status_code == 302
    assert cookie_contents(app, client)[COOKIE_KEY] != first
    assert len(rows(app)) == 1


# ---- nothing secret in the cookie ------------------------------------------------------------------------

def test_the_cookie_of_a_signed_in_browser_holds_only_a_random_key(app, operator):
    assert set(cookie_contents(app, operator)) == {COOKIE_KEY}
    [row] = rows(app)
    assert row.key_hash != cookie_contents(app, operator)[COOKIE_KEY]  # the table holds a hash, not the key


def test_the_practice_chat_stays_on_the_server(app, operator):
    post(operator, "/dashboard/practice/start", {"start-language": "id", "start-channel": "sms"},
         token_from="/dashboard/practice")
    post(operator, "/dashboard/practice", {"text": "ada anak dikurung di gudang pasar Melati"},
         token_from="/dashboard/practice")
    page = operator.get("/dashboard/practice").get_data(as_text=True)
    assert "pasar Melati" in page  # the transcript is there
    assert "Melati" not in str(cookie_contents(app, operator))
    [row] = rows(app)
    assert "Melati" in row.data


def test_the_totp_secret_being_set_up_stays_on_the_server(app, operator, clock):
    page = operator.get("/dashboard/account/2fa").get_data(as_text=True)
    secret = page.split('<code class="secret">', 1)[1].split("<", 1)[0]
    assert secret not in str(cookie_contents(app, operator))
    again = operator.get("/dashboard/account/2fa").get_data(as_text=True)
    assert secret in again  # the same secret until it is confirmed
    response = post(operator, "/dashboard/account/2fa", {"code": pyotp.TOTP(secret).at(clock.now)},
                    token_from="/dashboard/account/2fa")
    assert response.status_code == 302
    assert secret not in rows(app)[0].data  # sealed on the account now, gone from the session


def test_a_visitor_cookie_holds_no_account(app, accounts):
    client = app.test_client()
    client.get("/dashboard/login")
    assert set(cookie_contents(app, client)) <= {"csrf_token", "lang", "after_login", "next"}


# ---- expiry ---------------------------------------------------------------------------------------------

def test_a_session_ends_after_8_hours_without_use(app, accounts, clock):
    idle = client_for(app, "operator@example.org")
    busy = client_for(app, "admin@example.org")
    clock.advance(hours=4)
    assert signed_in(busy)
    clock.advance(hours=4, minutes=1)  # 8 hours and a minute after login, well within 12
    assert not signed_in(idle)
    assert signed_in(busy)  # used 4 hours ago
    assert [row.user_id for row in rows(app)] == [accounts["admin"].id]


def test_a_session_ends_12_hours_after_login_however_busy(app, operator, clock):
    for _ in range(5):
        clock.advance(hours=2, minutes=20)
        assert signed_in(operator)
    clock.advance(hours=0, minutes=20)  # 12 hours after login
    assert not signed_in(operator)


def test_the_cookie_expires_with_the_session_not_after_31_days(app, accounts):
    client = app.test_client()
    response = login(client, "operator@example.org")
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert "Max-Age=43200" in cookie  # 12 hours, counted by the browser's own clock
    assert app.permanent_session_lifetime == timedelta(hours=12)


def test_session_lifetimes_are_settings(tmp_path, sqlite_url, clock, references):
    settings = make_settings(tmp_path, sqlite_url, session_idle_hours=1, session_max_hours=2)
    storage.upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references)
    make_user(app, "operator@example.org", "operator")
    client = client_for(app, "operator@example.org")
    clock.advance(minutes=59)
    assert signed_in(client)
    clock.advance(minutes=61)
    assert not signed_in(client)
    app.extensions["tipline"].db.dispose()


@pytest.mark.parametrize("env, message", [
    ({"TIPLINE_SESSION_IDLE_HOURS": "13"}, "must not be more than"),
    ({"TIPLINE_SESSION_MAX_HOURS": "0"}, "at least 1"),
])
def test_unfit_session_lifetimes_are_refused_at_start(tmp_path, sqlite_url, env, message):
    from tipline.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"TIPLINE_INSTANCE_PATH": str(tmp_path / "i"), "TIPLINE_DATABASE_URL": sqlite_url, **env})


def test_retention_removes_ended_sessions(app, operator, clock):
    tipline = app.extensions["tipline"]
    assert purge(tipline, now=clock.now + timedelta(hours=1), dry_run=True)["dashboard_sessions"] == 0
    assert purge(tipline, now=clock.now + timedelta(hours=9), dry_run=False)["dashboard_sessions"] == 1
    assert rows(app) == []


def test_a_half_way_login_ends_after_5_minutes(app, accounts, clock):
    from ..dashboard_support import enrol_two_factor

    enrol_two_factor(client_for(app, "operator@example.org"), clock)
    client = app.test_client()
    assert login(client, "operator@example.org").headers["Location"] == "/dashboard/login/code"
    assert client.get("/dashboard/login/code").status_code == 200
    clock.advance(minutes=6)
    assert client.get("/dashboard/login/code").headers["Location"] == "/dashboard/login"


def test_a_silent_database_is_a_503_not_a_signed_out_browser(app, operator, monkeypatch):
    """A session that cannot be read is not taken as ended: the page says the database is down."""
    from sqlalchemy.exc import OperationalError

    def down(*_args, **_kwargs):
        raise OperationalError("SELECT", {}, Exception("no answer"))

    monkeypatch.setattr(storage, "dashboard_session", down)
    response = operator.get(QUEUE)
    assert response.status_code == 503
    monkeypatch.undo()
    assert signed_in(operator)
