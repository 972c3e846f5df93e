"""Logging in: passwords, rate limits, CSRF, sessions, two-factor, accounts made on the command line."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from click.testing import CliRunner

from tipline import storage
from tipline.cli import main
from tipline.dashboard.security import verify_password

from ..dashboard_support import PASSWORD, audit_log, client_for, csrf_token, enrol_two_factor, login, post

EVERY_PAGE = [
    "/dashboard/", "/dashboard/tips/ABCD-EFGH", "/dashboard/audit", "/dashboard/users", "/dashboard/statistics",
    "/dashboard/practice", "/dashboard/account/2fa",
]
EVERY_FORM = [
    "/dashboard/tips/ABCD-EFGH/status", "/dashboard/tips/ABCD-EFGH/notes", "/dashboard/tips/ABCD-EFGH/assign",
    "/dashboard/tips/ABCD-EFGH/duplicate", "/dashboard/tips/ABCD-EFGH/spam", "/dashboard/export",
    "/dashboard/practice", "/dashboard/practice/start", "/dashboard/practice/reset", "/dashboard/users",
]


@pytest.mark.parametrize("path", EVERY_PAGE)
def test_every_page_needs_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dashboard/login")


@pytest.mark.parametrize("path", EVERY_FORM)
def test_every_form_refuses_a_post_without_login(client, accounts, path):
    token = csrf_token(client)
    response = client.post(path, data={"csrf_token": token})
    assert response.status_code in (302, 401)
    assert "/dashboard/login" in response.headers.get("Location", "/dashboard/login")


def test_good_login_lands_on_the_queue_and_is_audited(app, client, accounts):
    response = login(client, "Admin@Example.org")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    entries = audit_log(app, action="login_success")
    assert [e.actor for e in entries] == ["admin@example.org"]
    assert entries[0].address == "127.0.0.1"


def test_wrong_password_is_refused_and_audited(app, client, accounts):
    response = login(client, "admin@example.org", "not the password at all")
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/dashboard/").status_code == 302
    failed = audit_log(app, action="login_failed")
    assert [(e.actor, e.detail["reason"]) for e in failed] == [("admin@example.org", "wrong password")]


def test_unknown_account_gets_the_same_answer(app, client, accounts):
    response = login(client, "nobody@example.org")
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert audit_log(app, action="login_failed")[0].detail["reason"] == "unknown account"


def test_form_without_csrf_token_is_refused(app, client, accounts):
    response = client.post("/dashboard/login", data={"email": "admin@example.org", "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard/login"
    assert "nothing was done" in client.get("/dashboard/login").get_data(as_text=True)
    assert audit_log(app, action="login_success") == []


def test_logged_in_form_without_csrf_token_is_refused(app, operator):
    from ..dashboard_support import add_tip

    add_tip(app, "ABCD-EFGH", at=app.extensions["tipline"].clock())
    response = operator.post("/dashboard/tips/ABCD-EFGH/status", data={"status": "closed"})
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard/tips/ABCD-EFGH"
    assert "The form had expired, so nothing was done." in operator.get("/dashboard/tips/ABCD-EFGH").get_data(
        as_text=True)
    with storage.reading(app.extensions["tipline"].db) as session:
        assert storage.tip_status(session, reference="ABCD-EFGH") == "new"


def test_failed_logins_are_limited_per_account(app, accounts):
    for n in range(5):
        client = app.test_client()
        assert login(client, "operator@example.org", f"wrong password {n}").status_code == 401
    response = login(app.test_client(), "operator@example.org")  # even the right password now waits
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.get_data(as_text=True)
    assert audit_log(app, action="login_success") == []
    # another account from the same address is not locked by these
    assert login(app.test_client(), "admin@example.org").status_code == 302


def test_failed_logins_are_limited_per_address(app, accounts):
    client = app.test_client()
    for n in range(20):
        assert login(client, f"someone{n}@example.org", "wrong password").status_code == 401
    assert login(client, "admin@example.org").status_code == 429
    elsewhere = app.test_client()
    response = elsewhere.post("/dashboard/login", data={"email": "admin@example.org", "password": PASSWORD,
                                                        "csrf_token": csrf_token(elsewhere)},
                              environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert response.status_code == 302


def test_good_logins_are_never_limited(app, accounts):
    for _ in range(8):
        client = app.test_client()
        assert login(client, "admin@example.org").status_code == 302


def test_session_cookie_is_httponly_samesite_and_secure_over_https(app, accounts):
    client = app.test_client()
    token = csrf_token(client)
    plain = client.post("/dashboard/login", data={"email": "admin@example.org", "password": PASSWORD,
                                                  "csrf_token": token})
    cookie = plain.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https = app.test_client()
    page = https.get("/dashboard/login", base_url="https://localhost")
    assert "Secure" in page.headers["Set-Cookie"]


def test_logout_ends_the_session_and_is_audited(app, admin):
    assert post(admin, "/dashboard/logout").status_code == 302
    assert admin.get("/dashboard/").status_code == 302
    assert [e.actor for e in audit_log(app, action="logout")] == ["admin@example.org"]


def test_pages_are_never_cached_or_framed(admin):
    response = admin.get("/dashboard/")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none': no script


def test_disabled_account_cannot_log_in_and_loses_its_session(app, admin, operator, accounts):
    assert operator.get("/dashboard/").status_code == 200
    user_id = accounts["operator"].id
    response = post(admin, "/dashboard/users", {"user_id": user_id, "totp_required": "", "active": ""},
                    token_from="/dashboard/users")
    assert response.status_code == 302
    assert operator.get("/dashboard/").status_code == 302
    assert login(app.test_client(), "operator@example.org").status_code == 401
    changed = audit_log(app, action="user_changed")
    assert changed[0].target == "operator@example.org" and changed[0].detail == {"active": False}


def test_operators_and_partners_cannot_manage_accounts(operator, partner, accounts):
    for client in (operator, partner):
        assert client.get("/dashboard/users").status_code == 403
        response = post(client, "/dashboard/users", {"user_id": accounts["admin"].id, "active": ""})
        assert response.status_code == 403


# ---- two-factor ------------------------------------------------------------------------------------

def test_two_factor_login(app, clock, accounts):
    client = client_for(app, "operator@example.org")
    secret = enrol_two_factor(client, clock)
    assert audit_log(app, action="totp_enabled")[0].target == "operator@example.org"

    fresh = app.test_client()
    response = login(fresh, "operator@example.org")
    assert response.headers["Location"] == "/dashboard/login/code"
    assert fresh.get("/dashboard/").status_code == 302  # the password alone is not enough
    wrong = post(fresh, "/dashboard/login/code", {"code": "000000"}, token_from="/dashboard/login/code")
    assert wrong.status_code == 401
    clock.advance(seconds=30)
    good = post(fresh, "/dashboard/login/code", {"code": pyotp.TOTP(secret).at(clock.now)},
                token_from="/dashboard/login/code")
    assert good.status_code == 302 and fresh.get("/dashboard/").status_code == 200
    assert audit_log(app, action="login_success")[0].detail == {"second_factor": True}

    # the same code cannot be used twice
    again = app.test_client()
    login(again, "operator@example.org")
    replay = post(again, "/dashboard/login/code", {"code": pyotp.TOTP(secret).at(clock.now)},
                  token_from="/dashboard/login/code")
    assert replay.status_code == 401


def test_admin_can_require_two_factor(app, admin, accounts, clock):
    listing = admin.get("/dashboard/users").get_data(as_text=True)
    assert "operator@example.org" in listing and "Rumah Aman" in listing
    response = post(admin, "/dashboard/users",
                    {"user_id": accounts["operator"].id, "totp_required": "y", "active": "y"},
                    token_from="/dashboard/users")
    assert response.status_code == 302
    client = client_for(app, "operator@example.org")
    blocked = client.get("/dashboard/")
    assert blocked.status_code == 302 and blocked.headers["Location"] == "/dashboard/account/2fa"
    enrol_two_factor(client, clock)
    assert client.get("/dashboard/").status_code == 200


# ---- the command line ----------------------------------------------------------------------------

def test_users_add_hashes_with_argon2id(cli_env):
    result = CliRunner().invoke(main, ["users", "add", "Lead@Example.org", "--role", "admin", "--password-stdin"],
                                input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    engine = storage.make_engine(cli_env.database_url)
    with storage.reading(engine) as session:
        user = storage.user_by_email(session, email="lead@example.org")
        entries, _ = storage.audit_entries(session, action="user_created")
    engine.dispose()
    assert user.role == "admin" and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash and verify_password(user.password_hash, PASSWORD)
    assert entries[0].target == "lead@example.org"


def test_users_add_prompts_twice(cli_env):
    result = CliRunner().invoke(main, ["users", "add", "op@example.org", "--role", "operator"],
                                input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") >= 1 and "confirmation" in result.output


@pytest.mark.parametrize("args, stdin, message", [
    (["x@example.org", "--role", "operator", "--password-stdin"], "short\n", "at least 12"),
    (["x@example.org", "--role", "partner", "--password-stdin"], PASSWORD + "\n", "needs --partner"),
    (["x@example.org", "--role", "operator", "--partner", "A", "--password-stdin"], PASSWORD + "\n", "only for"),
    (["not-an-email", "--role", "operator", "--password-stdin"], PASSWORD + "\n", "email"),
    (["x@example.org", "--role", "partner", "--partner", "Nobody", "--password-stdin"], PASSWORD + "\n",
     "no partner named"),
])
def test_users_add_refuses_bad_input(cli_env, args, stdin, message):
    result = CliRunner().invoke(main, ["users", "add", *args], input=stdin)
    assert result.exit_code != 0
    assert message in result.output


def test_users_add_refuses_a_second_account_with_the_same_email(cli_env):
    runner = CliRunner()
    args = ["users", "add", "a@example.org", "--role", "operator", "--password-stdin"]
    assert runner.invoke(main, args, input=PASSWORD + "\n").exit_code == 0
    again = runner.invoke(main, args, input=PASSWORD + "\n")
    assert again.exit_code != 0 and "already exists" in again.output


def test_login_returns_to_the_page_asked_for_and_never_off_site(app, accounts):
    client = app.test_client()
    asked = client.get("/dashboard/statistics?since=2026-03-01")
    login_url = asked.headers["Location"]
    assert login_url.startswith("/dashboard/login?next=")
    response = client.post(login_url, data={"email": "admin@example.org", "password": PASSWORD,
                                            "csrf_token": csrf_token(client, login_url)})
    assert response.headers["Location"] == "/dashboard/statistics?since=2026-03-01"
    for evil in ("https://evil.example/dashboard", "//evil.example/dashboard", "/dashboard/..//evil"):
        other = app.test_client()
        response = other.post("/dashboard/login", query_string={"next": evil}, data={
            "email": "admin@example.org", "password": PASSWORD, "csrf_token": csrf_token(other)})
        assert response.headers["Location"] == "/dashboard/"


def test_serve_says_where_the_dashboard_is_and_how_to_log_in(cli_env, monkeypatch):
    from gunicorn.app.base import BaseApplication

    monkeypatch.setattr(BaseApplication, "run", lambda self: None)  # print the banner, serve nothing
    monkeypatch.setenv("TIPLINE_FLOWS_PATH", str(Path(__file__).resolve().parents[2] / "flows"))
    result = CliRunner().invoke(main, ["serve", "--port", "5099"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:5099/dashboard/" in result.output
    assert "tipline users add EMAIL --role admin" in result.output
