"""Forwarded addresses are believed only from a proxy that cannot be bypassed.

With TIPLINE_TRUSTED_PROXIES=1 and gunicorn reachable directly, anyone could send their own
X-Forwarded-For: a fresh address for every guess (no per-address limit) and any address they
like in the audit trail. `tipline serve` refuses that setup, and the app believes the header only
from a peer on this machine unless TIPLINE_ALLOW_REMOTE_PROXY says the proxy is elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tipline import create_app, is_loopback, storage
from tipline.cli import main

from .conftest import make_settings
from .dashboard_support import audit_log, csrf_token, make_user

OUTSIDE = "198.51.100.7"  # a documentation address: someone on the internet
FORGED = "203.0.113.99"


@pytest.fixture
def proxied_app(tmp_path, sqlite_url, clock, references):
    """Builds the app behind one trusted proxy (once per test), with the operator's account."""

    def build(**overrides):
        settings = make_settings(tmp_path, sqlite_url, trusted_proxies=1, **overrides)
        storage.upgrade(settings.database_url)
        app = create_app(settings, clock=clock, reference_maker=references)
        make_user(app, "operator@example.org", "operator")
        built.append(app)
        return app

    built: list = []
    yield build
    for app in built:
        app.extensions["tipline"].db.dispose()


def failed_login(app, *, peer: str, forwarded: str | None):
    client = app.test_client()
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    token = csrf_token(client)
    return client.post("/dashboard/login", data={"email": "operator@example.org", "password": "guess",
                                                 "csrf_token": token},
                       environ_base={"REMOTE_ADDR": peer}, headers=headers)


def test_a_client_reaching_the_server_directly_cannot_forge_its_address(proxied_app):
    app = proxied_app()
    assert failed_login(app, peer=OUTSIDE, forwarded=FORGED).status_code == 401
    assert [e.address for e in audit_log(app, action="login_failed")] == [OUTSIDE]


def test_forged_addresses_do_not_reset_the_per_address_limit(proxied_app):
    app = proxied_app()
    codes = [failed_login(app, peer=OUTSIDE, forwarded=f"203.0.113.{n}").status_code for n in range(25)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}  # the account limit, then the address's


def test_the_proxy_on_this_machine_is_believed(proxied_app):
    app = proxied_app()
    failed_login(app, peer="127.0.0.1", forwarded=OUTSIDE)
    failed_login(app, peer="::1", forwarded=FORGED)
    assert sorted(e.address for e in audit_log(app, action="login_failed")) == sorted([FORGED, OUTSIDE])


def test_a_proxy_elsewhere_is_believed_when_the_setting_says_so(proxied_app):
    app = proxied_app(allow_remote_proxy=True)
    failed_login(app, peer="10.0.0.5", forwarded=OUTSIDE)
    assert [e.address for e in audit_log(app, action="login_failed")] == [OUTSIDE]


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.1.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("::ffff:127.0.0.1", True), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("tips.example.org", False),
])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


# ---- tipline serve ------------------------------------------------------------------------------------

@pytest.fixture
def no_serving(cli_env, monkeypatch):
    from gunicorn.app.base import BaseApplication

    monkeypatch.setattr(BaseApplication, "run", lambda self: None)  # check and print, serve nothing
    monkeypatch.setenv("TIPLINE_FLOWS_PATH", str(Path(__file__).resolve().parent.parent / "flows"))
    return monkeypatch


def test_serve_refuses_trusted_proxies_on_a_public_host(no_serving):
    no_serving.setenv("TIPLINE_TRUSTED_PROXIES", "1")
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"])
    assert result.exit_code != 0
    assert "--host 127.0.0.1" in result.output and "TIPLINE_ALLOW_REMOTE_PROXY=1" in result.output
    assert "forge" in result.output


@pytest.mark.parametrize("host, env", [
    ("127.0.0.1", {"TIPLINE_TRUSTED_PROXIES": "1"}),
    ("::1", {"TIPLINE_TRUSTED_PROXIES": "2"}),
    ("0.0.0.0", {"TIPLINE_TRUSTED_PROXIES": "1", "TIPLINE_ALLOW_REMOTE_PROXY": "1"}),
    ("0.0.0.0", {}),  # no proxy trusted: nothing to forge
])
def test_serve_starts_when_forwarded_addresses_cannot_be_forged(no_serving, host, env):
    for name, value in env.items():
        no_serving.setenv(name, value)
    result = CliRunner().invoke(main, ["serve", "--host", host, "--port", "8000", "--no-worker"])
    assert result.exit_code == 0, result.output
