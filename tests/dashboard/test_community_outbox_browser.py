"""The outbox and the community pages in a real browser, on a phone, with scripts off (issue 11 item 9):
an operator finds a dead letter and sends it again, writes an awareness message to the volunteers of one
province and sends it, closes a poll, and marks a volunteer's idea done."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tipline import models, storage

from ..browser_support import log_in
from ..dashboard_support import add_tip, at

pytestmark = pytest.mark.slow

PARTNER_PHONE = "+15550100131"
VOLUNTEERS = {"+15550100132": "32.73", "+15550100133": "32", "+15550100134": "33.74"}


@pytest.fixture
def dead_letter(app, clock) -> int:
    """An escalation to a partner that failed every try."""
    tipline = app.extensions["tipline"]
    add_tip(app, "DDDD-2222", at=at(clock, hours=2), urgency="immediate", status="escalated",
            description="anak2 dipaksa kerja di pabrik malem2")
    with storage.writing(tipline.db) as session:
        partner = models.Partner(name="Rumah Aman", phone=PARTNER_PHONE)
        session.add(partner)
        session.flush()
        tip = storage.tip_by_reference(session, reference="DDDD-2222")
        message = storage.enqueue(session, kind="escalation", channel="sms",
                                  to_sealed=tipline.contacts.seal(PARTNER_PHONE),
                                  to_hint="31", body="URGENT DDDD-2222", now=at(clock, hours=2), tip_id=tip.id,
                                  partner_id=partner.id)
        message.status, message.attempts, message.error = "dead", 8, "Twilio said: unreachable"
        session.add(message)
        session.flush()
        return message.id


@pytest.fixture
def volunteers(app, clock):
    tipline = app.extensions["tipline"]
    with storage.writing(tipline.db) as session:
        for number, place in VOLUNTEERS.items():
            storage.subscribe_volunteer(session, reporter=tipline.reporter_of(number),
                                        address_sealed=tipline.contacts.seal(number), channel="sms", language="id",
                                        place=None, place_code=place, consent_wording="setuju", now=clock.now)


def stored(app, model, **where):
    with storage.reading(app.extensions["tipline"].db) as session:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return session.exec(query).first()


def test_a_dead_letter_is_found_and_sent_again(app, page, accounts, dead_letter):
    log_in(page)
    page.get_by_role("link", name="Outbox").click()
    page.get_by_label("Status").select_option("dead")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=dead**")
    row = page.locator("table.outbox tbody tr")
    assert row.count() == 1 and "DDDD-2222" in row.inner_text() and "unreachable" in row.inner_text()
    assert PARTNER_PHONE not in page.content()  # the number shows only its last two digits
    row.get_by_role("button", name="Retry").click()
    page.get_by_text(f"Message {dead_letter} is queued again.").wait_for()
    assert stored(app, models.OutboxMessage, id=dead_letter).status == "pending"
    assert page.locator("table.outbox tbody tr").count() == 0  # no dead letter left under this filter


def test_an_awareness_message_reaches_one_province(app, page, accounts, volunteers):
    log_in(page)
    page.get_by_role("link", name="Community").click()
    page.get_by_role("link", name="Write a new message").click()
    page.get_by_label("(Bahasa Indonesia)").fill("Hati2 tawaran kerja ke kota yg gajinya terlalu besar. Tanya dulu.")
    page.get_by_label("(English)").fill("Beware of city jobs that pay too much. Ask first.")
    page.locator("fieldset.places summary", has_text="Jawa Barat").click()
    page.get_by_label("The whole of Jawa Barat").check()
    page.get_by_role("button", name="See recipients and cost").click()
    page.wait_for_url("**/community/broadcasts/*")
    assert "2 volunteers would receive it now." in page.locator("#recipients").inner_text()  # not Jawa Tengah's
    page.get_by_role("button", name="Send now").click()
    page.get_by_text("Scheduled.").wait_for()
    broadcast = stored(app, models.Broadcast, kind="awareness")
    assert broadcast.status == "scheduled" and broadcast.place_codes == ["32"]


def test_a_poll_is_closed(app, page, accounts, clock):
    with storage.writing(app.extensions["tipline"].db) as session:
        poll = storage.add_poll(session, questions={"id": "Pernah lihat anak ngemis di lampu merah?", "en": "Seen "
                                "children begging at traffic lights?"}, options={"id": ["ya", "tidak"],
                                "en": ["yes", "no"]}, place_codes=[], created_by="operator@example.org", now=clock.now)
        poll_id = poll.id
    log_in(page)
    page.goto("/dashboard/community/polls")
    page.get_by_role("link", name=f"{poll_id}", exact=True).first.click()
    page.get_by_role("button", name="Close the poll").click()
    page.wait_for_load_state()
    assert stored(app, models.Poll, id=poll_id).status == "closed"


def test_an_idea_is_marked_done(app, page, accounts, clock):
    with storage.writing(app.extensions["tipline"].db) as session:
        storage.add_idea(session, reporter="pseudonym-7", language="id",
                         text="tempel poster nomor ini di terminal bis", now=clock.now)
    log_in(page)
    page.goto("/dashboard/community/ideas")
    assert page.get_by_text("tempel poster nomor ini di terminal bis").is_visible()
    item = page.locator("li, tr", has_text="tempel poster nomor ini").last
    item.get_by_role("combobox").select_option("done")
    item.get_by_role("button").click()
    page.wait_for_load_state()
    assert stored(app, models.Idea, reporter="pseudonym-7").status == "done"
