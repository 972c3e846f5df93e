"""Accounts: change your own password, an admin's reset that forces a change, disable and enable,
`tipline users passwd`. Each is in the audit trail and each ends the account's sessions, so a
leaked password or a stolen cookie can be cut off at once."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from tipline import storage
from tipline.cli import main
from tipline.dashboard.security import verify_password

from ..dashboard_support import PASSWORD, audit_log, client_for, login, post

NEW_PASSWORD = "kopi tubruk di warung pojok"
PAGE = "/dashboard/account/password"


def signed_in(client) -> bool:
    return client.get("/dashboard/").status_code == 200


def change(client, current=PASSWORD, new=NEW_PASSWORD, confirm=None):
    return post(client, PAGE, {"current": current, "new": new, "confirm": new if confirm is None else confirm},
                token_from=PAGE)


def password_hash(app, email: str) -> str:
    with storage.reading(app.extensions["tipline"].db) as session:
        return storage.user_by_email(session, email=email).password_hash


# ---- your own password -----------------------------------------------------------------------------

def test_changing_your_password_ends_your_other_sessions_and_keeps_this_one(app, accounts):
    laptop = client_for(app, "operator@example.org")
    phone = client_for(app, "operator@example.org")  # say, left signed in on a lost phone
    response = change(laptop)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    assert "signed out everywhere else" in laptop.get("/dashboard/").get_data(as_text=True)
    assert signed_in(laptop) and not signed_in(phone)
    assert login(app.test_client(), "operator@example.org").status_code == 401
    assert login(app.test_client(), "operator@example.org", NEW_PASSWORD).status_code == 302
    [entry] = audit_log(app, action="password_changed")
    assert entry.actor == entry.target == "operator@example.org"


@pytest.mark.parametrize("fields, message", [
    ({"current": "not my password"}, "current password is not right"),
    ({"confirm": "something else entirely"}, "differ"),
    ({"new": PASSWORD}, "different from the current one"),
    ({"new": "short"}, "at least 12 characters"),
])
def test_a_password_change_that_does_not_fit_changes_nothing(app, operator, fields, message):
    before = password_hash(app, "operator@example.org")
    response = change(operator, **fields)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert password_hash(app, "operator@example.org") == before and signed_in(operator)


def test_guessing_the_current_password_is_limited_and_audited(app, operator):
    codes = [change(operator, current=f"guess {n}").status_code for n in range(6)]
    assert codes == [400] * 5 + [429]
    assert len(audit_log(app, action="password_change_failed")) == 5
    assert change(operator).status_code == 429  # even the right one waits now


def test_the_password_page_needs_a_login(client, accounts):
    assert client.get(PAGE).status_code == 302


# ---- an admin's reset --------------------------------------------------------------------------------

def temporary_password(response) -> str:
    found = re.search(r'<code class="secret">([^<]+)</code>', response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)
    return found.group(1)


def test_an_admin_reset_ends_the_sessions_and_forces_a_new_password(app, admin, accounts):
    operator = client_for(app, "operator@example.org")
    response = post(admin, "/dashboard/users/password", {"user_id": accounts["operator"].id},
                    token_from="/dashboard/users")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    temporary = temporary_password(response)
    assert len(temporary) >= 16
    assert not signed_in(operator)
    assert login(app.test_client(), "operator@example.org").status_code == 401  # the old password is gone
    [entry] = audit_log(app, action="password_reset")
    assert entry.actor == "admin@example.org" and entry.target == "operator@example.org"
    assert temporary not in str(entry.detail)

    fresh = app.test_client()
    assert login(fresh, "operator@example.org", temporary).status_code == 302
    for page in ("/dashboard/", "/dashboard/statistics", "/dashboard/tips/ABCD-EFGH"):
        assert fresh.get(page).headers["Location"] == PAGE  # nothing else until a new one is chosen
    assert "reset your password" in fresh.get(PAGE).get_data(as_text=True)
    assert change(fresh, current=temporary).status_code == 302
    assert signed_in(fresh)


def test_admins_reset_others_not_themselves_and_only_admins_reset(app, admin, operator, accounts):
    own = post(admin, "/dashboard/users/password", {"user_id": accounts["admin"].id}, token_from="/dashboard/users")
    assert own.status_code == 400 and "Change password" in own.get_data(as_text=True)
    refused = post(operator, "/dashboard/users/password", {"user_id": accounts["admin"].id})
    assert refused.status_code == 403
    missing = post(admin, "/dashboard/users/password", {"user_id": 999999}, token_from="/dashboard/users")
    assert missing.status_code == 404
    assert audit_log(app, action="password_reset") == []


def test_the_accounts_page_offers_a_reset_for_others(admin):
    page = admin.get("/dashboard/users").get_data(as_text=True)
    assert page.count('action="/dashboard/users/password"') == 3  # everyone but the admin


# ---- disable, enable, second factor reset -------------------------------------------------------------------

def test_disabling_ends_every_session_and_enabling_lets_them_back(app, admin, accounts):
    phone, laptop = client_for(app, "operator@example.org"), client_for(app, "operator@example.org")
    user_id = accounts["operator"].id
    post(admin, "/dashboard/users", {"user_id": user_id, "active": ""}, token_from="/dashboard/users")
    assert not signed_in(phone) and not signed_in(laptop)
    post(admin, "/dashboard/users", {"user_id": user_id, "active": "y"}, token_from="/dashboard/users")
    assert not signed_in(phone)  # ended sessions stay ended
    assert signed_in(client_for(app, "operator@example.org"))
    assert [e.detail for e in audit_log(app, action="user_changed")] == [{"active": True}, {"active": False}]


def test_resetting_the_second_factor_ends_the_sessions(app, admin, accounts, clock):
    from ..dashboard_support import enrol_two_factor

    operator = client_for(app, "operator@example.org")
    enrol_two_factor(operator, clock)
    post(admin, "/dashboard/users", {"user_id": accounts["operator"].id, "active": "y", "reset_totp": "y"},
         token_from="/dashboard/users")
    assert not signed_in(operator)


# ---- tipline users passwd ------------------------------------------------------------------------------

def test_users_passwd_sets_the_password_ends_sessions_and_is_audited(cli_env, app, accounts):
    signed = client_for(app, "operator@example.org")
    result = CliRunner().invoke(main, ["users", "passwd", "Operator@Example.org", "--password-stdin"],
                                input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "1 session ended" in result.output
    assert not signed_in(signed)
    assert verify_password(password_hash(app, "operator@example.org"), NEW_PASSWORD)
    [entry] = audit_log(app, action="password_reset")
    assert entry.actor == "cli" and entry.target == "operator@example.org" and entry.detail == {"must_change": False}
    assert signed_in(_login_new(app))


def _login_new(app):
    client = app.test_client()
    assert login(client, "operator@example.org", NEW_PASSWORD).status_code == 302
    return client


def test_users_passwd_temporary_forces_a_change(cli_env, app, accounts):
    result = CliRunner().invoke(main, ["users", "passwd", "operator@example.org", "--password-stdin", "--temporary"],
                                input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0 and "new one must be chosen" in result.output
    client = _login_new(app)
    assert client.get("/dashboard/").headers["Location"] == PAGE


def test_users_passwd_asks_twice(cli_env, app, accounts):
    result = CliRunner().invoke(main, ["users", "passwd", "operator@example.org"],
                                input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "confirmation" in result.output.lower()


@pytest.mark.parametrize("args, stdin, message", [
    (["nobody@example.org", "--password-stdin"], NEW_PASSWORD + "\n", "no account"),
    (["operator@example.org", "--password-stdin"], "short\n", "at least 12"),
])
def test_users_passwd_refuses_bad_input(cli_env, app, accounts, args, stdin, message):
    before = password_hash(app, "operator@example.org")
    result = CliRunner().invoke(main, ["users", "passwd", *args], input=stdin)
    assert result.exit_code != 0 and message in result.output
    assert password_hash(app, "operator@example.org") == before


# ---- in Indonesian --------------------------------------------------------------------------------------

def test_the_password_pages_speak_indonesian(app, admin, accounts):
    client = client_for(app, "operator@example.org")
    post(client, "/dashboard/language", {"lang": "id", "next": PAGE})
    page = client.get(PAGE).get_data(as_text=True)
    assert "Ganti kata sandi" in page and "Kata sandi sekarang" in page
    wrong = change(client, current="salah")
    assert "Kata sandi Anda sekarang tidak benar." in wrong.get_data(as_text=True)
