"""The dashboard in a real browser (Debian's Chromium through Playwright), with no JavaScript of ours.

Skips when Chromium is not installed, except under TIPLINE_CI=1, where that is a failure.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tipline import models, storage

from ..browser_support import log_in
from ..dashboard_support import add_tip, at

pytestmark = pytest.mark.slow


@pytest.fixture
def laptop(browser, server):
    """A 1366x768 laptop screen, no script."""
    context = browser.new_context(base_url=server, java_script_enabled=False, viewport={"width": 1366, "height": 768})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


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
    page.get_by_label("Search: reference, description or place").fill("boat")
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


# ---- what needs doing now (issue 11) -----------------------------------------------------------------

@pytest.fixture
def busy_queue(app, clock):
    """An urgent tip a partner has not acknowledged in time, an urgent one sent to nobody yet, and a
    day's worth of ordinary tips, in reporters' words."""
    words = ["anak tetangga ga sekolah, disuruh jualan tisu di lampu merah", "ada bocah kerja di bengkel sampe malem",
             "anak kecil ngamen tiap hari di terminal, kayaknya disuruh orang",
             "cewek 15 thn mau dinikahin sama juragan"]
    for n in range(14):
        add_tip(app, f"R{'ABCDEFGHJKMNPQ'[n]}R2-2345", at=at(clock, hours=20 - n), description=words[n % len(words)],
                location="Kab. Bogor")
    add_tip(app, "LT7X-2345", at=at(clock, minutes=40), urgency="immediate", status="escalated",
            description="anak cewek dibawa om2 ke hotel, katanya mau dikerjain", location="Kota Bekasi")
    add_tip(app, "NW7X-2345", at=at(clock, minutes=2), urgency="immediate",
            description="skrg ada anak dijual di terminal, baju merah", location="Terminal Bekasi", place_code="32.75")
    tipline = app.extensions["tipline"]
    with storage.writing(tipline.db) as session:
        partner = storage.add_partner(session, name="P2TP2A Jawa Barat", phone="+15550100091", channel="sms",
                                      language="id", regions=["32"], categories=[], urgent_only=False,
                                      preference=1, now=clock.now)
        late = storage.tip_by_reference(session, reference="LT7X-2345")
        session.add(models.Escalation(tip_id=late.id, partner_id=partner.id, due_at=clock.now - timedelta(minutes=5)))
    return tipline


def rows_in_view(page) -> int:
    """Tip rows wholly on the first screen."""
    height = page.viewport_size["height"]
    boxes = [row.bounding_box() for row in page.locator("table.tips tbody tr").all()]
    return sum(1 for box in boxes if box and box["y"] >= 0 and box["y"] + box["height"] <= height)


def test_the_queue_shows_what_to_do_now_on_a_laptop(laptop, accounts, busy_queue):
    log_in(laptop)
    assert laptop.title().startswith("(2) Queue")  # in the browser's tab, too
    assert laptop.get_by_role("alert").filter(has_text="2 urgent tips need someone now.").is_visible()
    waiting = laptop.locator("section.waiting")
    new = laptop.locator("section.new-urgent")
    assert waiting.get_by_text("LT7X-2345").is_visible() and new.get_by_text("NW7X-2345").is_visible()
    assert waiting.bounding_box()["y"] < new.bounding_box()["y"] < laptop.locator("#all-title").bounding_box()["y"]
    assert waiting.get_by_text("acknowledgement overdue by 5 minutes").is_visible()
    assert new.get_by_text("not sent to a partner yet").is_visible()
    assert rows_in_view(laptop) >= 10


def test_two_clicks_from_login_to_escalating_a_matched_urgent_tip(app, laptop, accounts, busy_queue):
    log_in(laptop)  # lands on the queue
    clicks = 0
    laptop.locator("section.new-urgent").get_by_role("link", name="NW7X-2345").click()
    clicks += 1
    laptop.wait_for_url("**/dashboard/tips/NW7X-2345")
    chosen = laptop.get_by_label("Escalate to a partner")
    assert chosen.evaluate("select => select.selectedOptions[0].text").startswith("P2TP2A Jawa Barat: matches")
    laptop.get_by_role("button", name="Escalate", exact=True).click()
    clicks += 1
    laptop.get_by_text("Escalated to P2TP2A Jawa Barat: the message is in the outbox.").wait_for()
    assert clicks == 2
    with storage.reading(busy_queue.db) as session:
        tip = storage.tip_by_reference(session, reference="NW7X-2345")
        assert [e.partner_id for e in storage.escalations_for_tip(session, tip_id=tip.id)] != []


def test_a_partner_acknowledges_and_reports_an_outcome_on_a_phone(app, page, accounts, clock):
    add_tip(app, "KST7-2345", at=at(clock, minutes=5), urgency="immediate", status="escalated",
            description="ada 3 anak cewek dikurung di rumah kos", location="Kota Bekasi", place_code="32.75")
    with storage.writing(app.extensions["tipline"].db) as session:
        rumah = storage.add_partner(session, name="Rumah Aman", phone="+15550100092", channel="sms", language="id",
                                    regions=["32"], categories=[], urgent_only=False, preference=1, now=clock.now)
        tip = storage.tip_by_reference(session, reference="KST7-2345")
        session.add(models.Escalation(tip_id=tip.id, partner_id=rumah.id, due_at=clock.now + timedelta(minutes=10)))
    log_in(page, "ngo@example.org")
    page.get_by_role("link", name="KST7-2345").first.click()
    page.wait_for_url("**/dashboard/tips/KST7-2345")
    assert page.get_by_text("(10 minutes left)").is_visible()
    assert page.get_by_text("because it is urgent and matches you").is_visible()
    page.get_by_role("button", name="Acknowledge: we act on it").click()
    page.get_by_text("You acknowledged KST7-2345").wait_for()
    page.get_by_label("What was done, and what happened").fill("Sudah didatangi bersama Polsek, anak-anak aman")
    page.get_by_role("button", name="Report the outcome").click()
    page.get_by_text("Your outcome for KST7-2345 is recorded.").wait_for()
    assert page.get_by_text("Your outcome is waiting for the team to confirm it.").is_visible()
    with storage.reading(app.extensions["tipline"].db) as session:
        tip = storage.tip_by_reference(session, reference="KST7-2345")
        assert tip.status == "acknowledged" and tip.outcome_reported_at is not None
