"""Every dashboard page in a real browser at a phone's width (390 px): no horizontal overflow, a
screenshot of each, and axe-core's accessibility rules, for an admin (in English and Indonesian), an
operator with a second factor and a partner; and once more for an admin on a laptop's screen. The pages
are taken from the app's own routes, so a new page is checked without asking.

Screenshots and axe's findings (axe-summary.json) go to $TIPLINE_SCREENSHOTS, or to a temporary
folder whose path the test prints. axe-core comes from the axe-playwright-python package (dev extra).
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest

from tipline import models, storage

from ..browser_support import PHONE, log_in
from ..dashboard_support import PASSWORD, add_tip, at

pytestmark = pytest.mark.slow

# GET routes that are not pages a person reads (files, the JSON health check), or only in the middle of
# logging in.
NOT_PAGES = {"/dashboard/static/<path:filename>", "/static/<path:filename>", "/healthz",
             "/dashboard/login/code"}  # checked on the way in, by the account with a second factor
SERIOUS = ("serious", "critical")
LAPTOP = {"width": 1366, "height": 768}
ERROR_PAGES = ("/dashboard/tips/ZZZZ-9999", "/dashboard/no-such-page")  # what a mistyped link shows
OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .map(e => e.tagName.toLowerCase()
              + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '')
              + ' ' + Math.round(e.getBoundingClientRect().right) + 'px');
  return {scroll: document.scrollingElement.scrollWidth, inner: width, wide: wide.slice(0, 5)};
}"""


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("TIPLINE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots and axe results: {folder}")
    return folder


@pytest.fixture
def world(app, clock, accounts) -> dict[str, str]:
    """Something on every page: tips (urgent, escalated, unrouted, with long words), a partner and its
    escalation, notes, an outbox message, volunteers, an idea, a broadcast and a poll. Returns the
    values for the routes' variables."""
    tipline = app.extensions["tipline"]
    add_tip(app, "AAAA-2222", at=at(clock, days=3), category="begging", place_code="32.73", language="id",
            location="kota bandung, deket alun2", description="ada anak2 kecil disuruh ngemis tiap malem di "
            "lampu merah, katanya disetorin ke bosnya https://contoh.example/laporan/panjang-sekali-tanpa-spasi")
    add_tip(app, "BBBB-2222", at=at(clock, hours=5), urgency="immediate", status="escalated", place_code="31.74",
            category="sexual_exploitation", location="jaksel", description="tolong ada anak perempuan dibawa "
            "om2 pake mobil van item plat B, anaknya nangis2")
    add_tip(app, "CCCC-2222", at=at(clock, minutes=30), urgency="immediate", routing="unrouted",
            description="anak laki2 dikurung di kapal ikan, ga boleh pulang")
    with storage.writing(tipline.db) as session:
        partner = models.Partner(name="Rumah Aman", phone="+15550100123", regions=["31"], categories=[])
        session.add(partner)
        session.flush()
        tip = storage.tip_by_reference(session, reference="BBBB-2222")
        session.add(models.Escalation(tip_id=tip.id, partner_id=partner.id, created_at=at(clock, hours=5),
                                      due_at=at(clock, hours=5) + timedelta(minutes=15),
                                      acknowledged_at=at(clock, hours=4)))
        session.add(models.TipNote(tip_id=tip.id, at=at(clock, hours=4), author="operator@example.org",
                                   text="Sudah telepon Rumah Aman, mereka ke lokasi"))
        storage.enqueue(session, kind="escalation", channel="sms", to_sealed=tipline.contacts.seal("+15550100123"),
                        to_hint="23", body="URGENT tip BBBB-2222 ...", now=at(clock, hours=5), tip_id=tip.id,
                        partner_id=partner.id)
        for number, place in (("+15550100124", "32.73"), ("+15550100125", "32"), ("+15550100126", None)):
            storage.subscribe_volunteer(session, reporter=tipline.reporter_of(number),
                                        address_sealed=tipline.contacts.seal(number), channel="sms", language="id",
                                        place=None, place_code=place, consent_wording="setuju", now=clock.now)
        storage.add_idea(session, reporter="pseudonym-9", language="id",
                         text="bikin poster di terminal biar orang tau nomor ini", now=clock.now)
        broadcast = storage.add_broadcast(session, kind="awareness", texts={"id": "Waspada tawaran kerja",
                                          "en": "Beware of job offers"}, place_codes=["32"],
                                          created_by="operator@example.org", now=clock.now)
        poll = storage.add_poll(session, questions={"id": "Pernah lihat anak ngemis?", "en": "Seen children begging?"},
                                options={"id": ["ya", "tidak"], "en": ["yes", "no"]}, place_codes=[],
                                created_by="operator@example.org", now=clock.now)
        ids = {"broadcast_id": str(broadcast.id), "poll_id": str(poll.id), "partner_id": str(partner.id)}
    return {"reference": "BBBB-2222", **ids}


def pages(app, values: dict[str, str]) -> list[str]:
    """Every GET route of the app that is a page, with its variables filled in."""
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule in NOT_PAGES:
            continue
        missing = set(rule.arguments) - set(values)
        assert not missing, f"{rule.rule}: give a value for {missing} in world() so the page is checked"
        found.append(re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: values[m.group(1)], rule.rule))
    return sorted(found) + list(ERROR_PAGES)


def check_pages(browser, server, shots: Path, urls: list[str], *, email: str, language: str, axe: bool,
                code: str | None = None, viewport: dict = PHONE):
    """Visit every page as this account (giving the second factor's code, if it has one, after checking
    that page too); return overflow faults and axe's violations per page."""
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(base_url=server, viewport=viewport, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    checker = Axe()
    overflow, violations, missing = {}, {}, []
    name = email.split("@")[0] + ("" if viewport == PHONE else f" {viewport['width']}px")

    def inspect(url: str) -> None:
        key = f"{name} {language} {url}"
        found = page.evaluate(OVERFLOW)
        if found["scroll"] > found["inner"]:
            overflow[key] = found
        screenshot(page, shots / (re.sub(r"\W+", "_", key).strip("_") + ".png"), missing)
        if axe:
            result = checker.run(page)
            violations[key] = [
                {"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"]),
                 "where": [n["target"] for n in v["nodes"][:3]]}
                for v in result.response["violations"]
            ]

    try:
        page.goto("/dashboard/login")
        inspect("/dashboard/login")
        if code is None:
            log_in(page, email)
        else:
            page.get_by_label("Email").fill(email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url("**/dashboard/login/code")
            inspect("/dashboard/login/code")
            page.get_by_label("6-digit code").fill(code)
            page.locator("main form button").click()
            page.wait_for_url("**/dashboard/")
        if language != "en":
            page.locator("footer select").select_option(language)
            page.locator("footer button").click()
            page.wait_for_load_state()
        for url in urls:
            if url != "/dashboard/login":
                page.goto(url)
                inspect(url)
    finally:
        context.close()
    if missing:
        violations[f"{name} {language} (screenshots not taken)"] = missing
    return overflow, violations


def screenshot(page, path: Path, missing: list) -> None:
    """The page as a picture for people to look at: an artefact, not the check. A loaded machine's
    Chromium sometimes cannot capture one; try once more, then note it instead of failing the checks."""
    from playwright.sync_api import Error

    for attempt in range(2):
        try:
            page.screenshot(path=path, full_page=True)
            return
        except Error as error:
            if attempt:
                missing.append({"id": "screenshot", "impact": "none", "nodes": 0,
                                "where": [path.name, str(error)[:200]]})


@pytest.fixture(scope="module")
def axe_summary(shots):
    """axe's findings from every test of the module, written once at the end for people to read."""
    found: dict[str, list] = {}
    yield found
    (shots / "axe-summary.json").write_text(json.dumps(found, indent=2, ensure_ascii=False))
    print("\naxe-core violations per page:")
    for key, items in sorted(found.items()):
        print(f"  {key}: {len(items)}" + "".join(f"\n    {v['impact']}: {v['id']} ({v['nodes']})" for v in items))


@pytest.mark.parametrize("email, language, axe, viewport", [
    ("admin@example.org", "en", True, PHONE),
    ("admin@example.org", "id", False, PHONE),
    ("operator@example.org", "id", True, PHONE),  # with a second factor: its page is checked on the way in
    ("ngo@example.org", "en", True, PHONE),
    ("admin@example.org", "en", True, LAPTOP),  # tables show their headers only on a wider screen
])
def test_every_page_fits_and_passes_axe(app, clock, browser, server, world, shots, axe_summary,
                                        email, language, axe, viewport):
    urls = pages(app, world)
    assert "/dashboard/statistics" in urls and "/dashboard/tips/BBBB-2222" in urls
    code = None
    if email.startswith("operator"):
        secret = pyotp.random_base32()
        with storage.writing(app.extensions["tipline"].db) as session:
            user = storage.user_by_email(session, email=email)
            storage.update_user(session, user_id=user.id, totp_sealed=app.extensions["tipline"].contacts.seal(secret))
        code = pyotp.TOTP(secret).at(clock.now)
    overflow, violations = check_pages(browser, server, shots, urls, email=email, language=language, axe=axe,
                                       code=code, viewport=viewport)
    axe_summary.update(violations)
    wide = "\n".join(f"{k}: {v}" for k, v in overflow.items())
    assert not overflow, f"wider than the screen ({viewport['width']} px):\n{wide}"
    serious = {key: [v for v in found if v["impact"] in SERIOUS] for key, found in violations.items()}
    serious = {key: found for key, found in serious.items() if found}
    assert not serious, "axe-core: serious or critical:\n" + json.dumps(serious, indent=1)
