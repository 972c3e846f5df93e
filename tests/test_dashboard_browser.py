"""The dashboard in a real browser (Debian's Chromium through Playwright), with no JavaScript of ours.

Skips when Chromium is not installed, except under TIPLINE_CI=1, where that is a failure.
"""

from __future__ import annotations

import pytest

from tipline import storage

from .browser_support import browser, log_in, page, server  # noqa: F401  (fixtures)
from .dashboard_support import accounts, add_tip, at, fast_passwords  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


@pytest.fixture
def tips(app, clock):
    add_tip(app, "AAAA-2222", at=at(clock, days=3), category="begging", location="Pasar Minggu")
    add_tip(app, "BBBB-2222", at=at(clock, days=2), description="boys locked in a boat at the harbour")
    add_tip(app, "CCCC-2222", at=at(clock, hours=1), urgency="immediate", description="girl taken into a van")


def stored_tip(app, reference: str):
    with storage.reading(app.extensions["tipline"].db) as session:
        tip = storage.tip_by_reference(session, reference=reference)
        return tip, storage.tip_notes(session, tip=tip)


def test_login(page, accounts, tips):
    log_in(page)
    assert page.get_by_role("heading", name="Queue").is_visible()
    assert page.locator("section.pinned").get_by_text("CCCC-2222").is_visible()


def test_filter_the_queue(page, accounts, tips):
    log_in(page)
    page.get_by_text("Filter and search").click()
    page.get_by_label("Search description and place").fill("boat")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**q=boat**")
    links = page.locator("table.tips a").all_inner_texts()
    assert links == ["BBBB-2222"]
    page.get_by_role("link", name="Clear").click()
    page.get_by_text("Filter and search").click()
    page.get_by_label("Category").select_option("begging")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**category=begging**")
    assert page.locator("table.tips a").all_inner_texts() == ["AAAA-2222"]


def test_change_a_status(app, page, accounts, tips):
    log_in(page)
    page.get_by_role("link", name="BBBB-2222").click()
    page.wait_for_url("**/dashboard/tips/BBBB-2222")
    page.get_by_label("Status", exact=True).select_option("triaged")
    page.get_by_role("button", name="Save status").click()
    page.get_by_text("Status saved.").wait_for()
    assert stored_tip(app, "BBBB-2222")[0].status == "triaged"
    assert page.locator("ol.timeline").get_by_text("Status changed from new to triaged.").is_visible()


def test_add_a_note(app, page, accounts, tips):
    log_in(page)
    page.goto("/dashboard/tips/CCCC-2222")
    page.get_by_role("textbox", name="Internal note").fill("Police informed, case number 12/III")
    page.get_by_role("button", name="Add note").click()
    page.get_by_text("Note added.").wait_for()
    assert page.get_by_text("Police informed, case number 12/III").is_visible()
    assert [n.text for n in stored_tip(app, "CCCC-2222")[1]] == ["Police informed, case number 12/III"]
