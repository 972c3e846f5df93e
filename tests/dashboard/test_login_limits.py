"""Login limits that cannot lock a person out (OWASP's device cookies), a second step limited per
pending login, and a shared Redis store that several workers count in together.

An attacker who fails at an operator's email, again and again, from anywhere, only locks out
clients that never logged in to that account: the operator's own browser keeps its allowance.
"""

from __future__ import annotations

import os
import secrets
import uuid

import pyotp
import pytest

from tipline import create_app, storage

from ..conftest import CI, make_settings
from ..dashboard_support import audit_log, client_for, csrf_token, enrol_two_factor, login, make_user, post

OPERATOR = "operator@example.org"


def known_browser(app, email: str = OPERATOR):
    """A browser that has logged in to the account before, then logged out."""
    client = client_for(app, email)
    assert post(client, "/dashboard/logout").status_code == 302
    assert client.get_cookie("tipline_device", path="/dashboard") is not None
    return client


def attack(app, email: str, times: int, **environ) -> list[int]:
    """Wrong passwords from fresh clients (no cookies), as a script would send them."""
    codes = []
    for n in range(times):
        client = app.test_client()
        response = client.post("/dashboard/login", data={
            "email": email, "password": f"guess {n}", "csrf_token": csrf_token(client)}, environ_base=environ)
        codes.append(response.status_code)
    return codes


def test_an_attacker_cannot_lock_an_operator_out_of_their_own_browser(app, accounts):
    browser = known_browser(app)
    codes = attack(app, OPERATOR, 8)  # the limits' windows are real time: one long attack stands for
    assert codes == [401] * 5 + [429] * 3  # "5 wrong passwords, repeated every 15 minutes"
    assert login(app.test_client(), OPERATOR).status_code == 429  # an unknown client waits
    assert login(browser, OPERATOR).status_code == 302  # the operator's own browser does not
    assert post(browser, "/dashboard/logout").status_code == 302
    assert set(attack(app, OPERATOR, 20)) == {429}  # the address's allowance is gone too
    assert login(browser, OPERATOR).status_code == 302
    assert [e.actor for e in audit_log(app, action="login_success")] == [OPERATOR] * 3


def test_a_flood_from_one_address_does_not_lock_out_a_known_browser_there(app, accounts):
    browser = known_browser(app)
    for n in range(20):
        attack(app, f"someone{n}@example.org", 1)
    assert login(app.test_client(), "admin@example.org").status_code == 429  # unknown clients: per address
    assert login(browser, OPERATOR).status_code == 302


def test_a_known_browser_has_an_allowance_of_its_own(app, accounts):
    browser = known_browser(app)
    for n in range(5):
        assert login(browser, OPERATOR, f"wrong {n}").status_code == 401
    assert login(browser, OPERATOR).status_code == 429  # its own failures count against it
    assert login(app.test_client(), OPERATOR).status_code == 302  # but use nobody else's allowance


def test_a_device_cookie_counts_only_for_its_own_account(app, accounts):
    browser = known_browser(app, "admin@example.org")
    codes = [login(browser, OPERATOR, f"wrong {n}").status_code for n in range(6)]
    assert codes == [401] * 5 + [429]  # known for admin, a stranger to the operator's account


def test_a_forged_device_cookie_is_an_unknown_client(app, accounts):
    attack(app, OPERATOR, 5)
    client = app.test_client()
    client.set_cookie("tipline_device", "W1siYWJjIiwiZGVmIl1d.forged.signature", path="/dashboard")
    assert login(client, OPERATOR).status_code == 429


def test_the_device_cookie_names_no_account_and_stays_on_the_dashboard(app, accounts):
    browser = known_browser(app)
    cookie = browser.get_cookie("tipline_device", path="/dashboard")
    assert "operator" not in cookie.value and cookie.http_only and cookie.path == "/dashboard"


# ---- the second step ----------------------------------------------------------------------------------

@pytest.fixture
def with_totp(app, accounts, clock):
    secret = enrol_two_factor(client_for(app, OPERATOR), clock)
    clock.advance(seconds=30)
    return secret


def code_attempt(client, code: str, **extra):
    return client.post("/dashboard/login/code", data={
        "code": code, "csrf_token": csrf_token(client, "/dashboard/login/code"), **extra})


def test_codes_are_limited_per_pending_login_whatever_the_form_says(app, with_totp, clock):
    client = app.test_client()
    assert login(client, OPERATOR).headers["Location"] == "/dashboard/login/code"
    for _ in range(5):  # a fresh email each time used to give a fresh allowance
        assert code_attempt(client, "000000", email=f"{secrets.token_hex(4)}@example.org").status_code == 401
    right = code_attempt(client, pyotp.TOTP(with_totp).at(clock.now), email="x@example.org")
    assert right.status_code == 429
    assert client.get("/dashboard/").status_code == 302
    assert [e.detail["reason"] for e in audit_log(app, action="login_failed")] == ["wrong code"] * 5


def test_codes_are_limited_per_account_across_pending_logins_for_unknown_clients(app, with_totp, clock):
    for _ in range(5):
        client = app.test_client()
        login(client, OPERATOR)  # the attacker knows the password, not the code
        assert [code_attempt(client, "000000").status_code for _ in range(2)] == [401, 401]
    stranger = app.test_client()
    login(stranger, OPERATOR)
    assert code_attempt(stranger, pyotp.TOTP(with_totp).at(clock.now)).status_code == 429


def test_the_operator_s_browser_gives_its_code_even_then(app, with_totp, clock):
    browser = app.test_client()
    login(browser, OPERATOR)
    assert code_attempt(browser, pyotp.TOTP(with_totp).at(clock.now)).status_code == 302
    post(browser, "/dashboard/logout")
    for _ in range(5):
        client = app.test_client()
        login(client, OPERATOR)
        for _ in range(2):
            code_attempt(client, "000000")
    clock.advance(seconds=30)
    login(browser, OPERATOR)
    assert code_attempt(browser, pyotp.TOTP(with_totp).at(clock.now)).status_code == 302


# ---- a shared store: Redis --------------------------------------------------------------------------------

@pytest.fixture
def redis_store():
    """The machine's Redis (TIPLINE_TEST_REDIS_URL), a key prefix of this test's own, its keys removed after."""
    redis = pytest.importorskip("redis")
    url = os.environ.get("TIPLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        if CI:
            pytest.fail(f"TIPLINE_CI=1 but Redis does not answer at {url}: {exc}")
        pytest.skip(f"Redis does not answer at {url}")
    prefix = f"tipline-test-{uuid.uuid4().hex[:12]}"
    yield url, prefix, client
    for key in client.scan_iter(match=f"*{prefix}*"):
        client.delete(key)
    client.close()


def redis_app(tmp_path, sqlite_url, clock, references, url, prefix):
    settings = make_settings(tmp_path, sqlite_url, ratelimit_storage_uri=url, ratelimit_key_prefix=prefix)
    storage.upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references)
    app.config["TESTING"] = True
    return app


def test_the_redis_store_boots_and_is_shared_between_workers(tmp_path, sqlite_url, clock, references, redis_store):
    url, prefix, client = redis_store
    first = redis_app(tmp_path, sqlite_url, clock, references, url, prefix)
    make_user(first, OPERATOR, "operator")
    assert attack(first, OPERATOR, 3) == [401] * 3
    assert any(prefix in key.decode() for key in client.scan_iter(match=f"*{prefix}*"))
    # A second worker process: its own app and limiter, the same Redis. In memory it would start at 0.
    second = redis_app(tmp_path, sqlite_url, clock, references, url, prefix)
    assert attack(second, OPERATOR, 3) == [401, 401, 429]
    assert login(first.test_client(), OPERATOR).status_code == 429
    for app in (first, second):
        app.extensions["tipline"].db.dispose()


def test_settings_read_the_redis_store_from_the_environment(tmp_path, sqlite_url, redis_store):
    from tipline.settings import Settings

    url, prefix, _client = redis_store
    settings = Settings.from_env({"TIPLINE_INSTANCE_PATH": str(tmp_path / "i"), "TIPLINE_DATABASE_URL": sqlite_url,
                                  "TIPLINE_RATELIMIT_STORAGE_URI": url, "TIPLINE_RATELIMIT_KEY_PREFIX": prefix})
    app = create_app(settings)
    assert app.config["RATELIMIT_STORAGE_URI"] == url
    assert app.config["RATELIMIT_STORAGE_OPTIONS"] == {"key_prefix": prefix}
    app.extensions["tipline"].db.dispose()
