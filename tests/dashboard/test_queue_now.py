"""The queue answers "what do I do now?" (issue 11, item 1): urgent tips nobody received, then urgent tips a
partner has not acknowledged (overdue first, time left shown), then urgent tips not sent on yet, then the
rest; each row says where its escalation stands and who has it; the page reloads itself."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tipline import models, storage

from ..dashboard_support import add_tip, at, visible_text

# Real reporters' words (informal Indonesian); fictional numbers only.
WORDS = {
    "NBDY-2345": "tolong ada anak dikunci di gudang belakang pasar, nangis terus dari pagi",
    "LATE-2345": "anak cewek 13 thn dibawa om2 ke hotel, katanya mau dikerjain",
    "WAIT-2345": "bocah2 disuruh ngemis di perempatan sampe malem, dipukulin kalo ga dapet",
    "FRSH-2345": "skrg ada anak dijual di terminal, ciri2 baju merah",
    "ACKD-2345": "ada anak kecil dipaksa kerja di pabrik kerupuk",
    "NORM-2345": "tetangga nikahin anaknya yg baru 14 thn bulan depan",
}


@pytest.fixture
def queue(app, clock, accounts):
    tipline = app.extensions["tipline"]
    for n, (reference, words) in enumerate(WORDS.items()):
        add_tip(app, reference, at=at(clock, hours=6 - n), description=words, location="Bekasi",
                urgency="normal" if reference == "NORM-2345" else "immediate",
                status="acknowledged" if reference == "ACKD-2345" else "new")
    with storage.writing(tipline.db) as session:
        rumah = models.Partner(name="Rumah Aman", phone="+15550100071")
        lbh = models.Partner(name="LBH Anak", phone="+15550100072")
        session.add_all([rumah, lbh])
        session.flush()

        def tip(reference):
            return storage.tip_by_reference(session, reference=reference)

        tip("NBDY-2345").routing = "unrouted"
        session.add(models.Escalation(tip_id=tip("LATE-2345").id, partner_id=rumah.id,
                                      due_at=clock.now - timedelta(minutes=7)))
        session.add(models.Escalation(tip_id=tip("WAIT-2345").id, partner_id=lbh.id,
                                      due_at=clock.now + timedelta(minutes=10)))
        session.add(models.Escalation(tip_id=tip("ACKD-2345").id, partner_id=rumah.id, status="acknowledged",
                                      acknowledged_at=clock.now))
        for reference in ("LATE-2345", "WAIT-2345"):
            tip(reference).status = "escalated"
        storage.assign_tip(session, tip=tip("WAIT-2345"), assignee_id=accounts["operator"].id,
                           actor="admin@example.org", now=clock.now)
    return tipline


def section(html: str, title_id: str) -> str:
    start = html.index(f'id="{title_id}"')
    return html[start:html.index("</section>", start)]


def test_sections_in_the_order_an_operator_acts(operator, queue):
    html = operator.get("/dashboard/").get_data(as_text=True)
    order = [html.index(f'id="{name}"') for name in ("nobody-title", "waiting-title", "new-urgent-title",
                                                       "all-title")]
    assert order == sorted(order)
    assert "NBDY-2345" in section(html, "nobody-title")
    waiting = section(html, "waiting-title")
    assert waiting.index("LATE-2345") < waiting.index("WAIT-2345")  # overdue first
    assert "FRSH-2345" in section(html, "new-urgent-title")
    pinned = html[:html.index('id="all-title"')]
    assert "ACKD-2345" not in pinned and "NORM-2345" not in pinned  # a partner has it; not urgent


def test_rows_say_where_the_escalation_stands_and_who_has_it(operator, queue):
    text = visible_text(operator.get("/dashboard/").get_data(as_text=True))
    assert "sent to Rumah Aman: acknowledgement overdue by 7 minutes" in text
    assert "sent to LBH Anak: 10 minutes left to acknowledge" in text
    assert "acknowledged by Rumah Aman" in text
    assert "not sent to a partner yet" in text
    assert "operator@example.org" in text  # WAIT-2345's assignee


def test_rows_in_indonesian(operator, queue):
    text = visible_text(operator.get("/dashboard/", headers={"Accept-Language": "id"}).get_data(as_text=True))
    assert "dikirim ke LBH Anak: sisa 10 menit untuk menerima" in text
    assert "diterima oleh Rumah Aman" in text


def test_a_new_urgent_tip_is_impossible_to_miss(operator, queue):
    response = operator.get("/dashboard/")
    html = response.get_data(as_text=True)
    assert "<title>(3) Queue" in html  # nobody received one, one is overdue, one was sent to nobody yet
    assert 'role="alert"' in html and "3 urgent tips need someone now." in html
    assert response.headers["Refresh"] == "60"  # reloads itself while open, with no script


def test_the_reload_can_be_turned_off_and_on(operator, queue):
    off = operator.get("/dashboard/?refresh=off&urgency=immediate")
    assert "Refresh" not in off.headers and "Reload this page every minute" in off.get_data(as_text=True)
    assert "Refresh" not in operator.get("/dashboard/").headers  # kept for the session
    assert 'href="/dashboard/?refresh=on&amp;urgency=immediate"' in off.get_data(as_text=True)  # filters kept
    assert operator.get("/dashboard/?refresh=on").headers["Refresh"] == "60"


def test_assigned_to_me(operator, queue):
    html = operator.get("/dashboard/?mine=y").get_data(as_text=True)
    rest = html[html.index('id="all-title"'):]
    assert "WAIT-2345" in rest and "FRSH-2345" not in rest and "NORM-2345" not in rest


def test_language_and_place_are_choices(operator, queue):
    html = operator.get("/dashboard/").get_data(as_text=True)
    assert '<select id="language" name="language">' in html and '<option value="id">Bahasa Indonesia</option>' in html
    assert '<select id="place" name="place">' in html


def test_a_partner_sees_its_own_urgent_tip_waiting(partner, queue):
    html = partner.get("/dashboard/").get_data(as_text=True)
    assert "LATE-2345" in section(html, "waiting-title")
    assert "NBDY-2345" not in html and "WAIT-2345" not in html  # not theirs
