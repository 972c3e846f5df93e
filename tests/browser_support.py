"""Fixtures for the dashboard's browser tests: Debian's Chromium through Playwright, the app on a socket.

Skips when Chromium is not installed, except under TIPLINE_CI=1, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from .dashboard_support import PASSWORD

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
PHONE = {"width": 390, "height": 844}


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("TIPLINE_CI") == "1":
            pytest.fail("TIPLINE_CI=1 but chromium is not installed (apt-get install -y chromium)")
        pytest.skip("browser tests need Debian's chromium (apt-get install -y chromium)")
    return path


@pytest.fixture
def server(app):
    """The app on a real socket, one thread per request, stopped after the test."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module: starting it is the slow part."""
    executable = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A phone with scripts off, as the dashboard must work without any."""
    context = browser.new_context(base_url=server, java_script_enabled=False, viewport=PHONE)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def log_in(page, email: str = "operator@example.org") -> None:
    """Through the login form, from the queue's address (which sends a stranger to log in)."""
    page.goto("/dashboard/")
    assert "/dashboard/login" in page.url
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard/")
