"""Partners act on the web (issue 11, item 3): acknowledge, report an outcome, ask the team; they see the
deadline and why the tip reached them. The same rules and record as ACK and DONE by SMS."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tipline import models, storage

from ..dashboard_support import add_tip, at, audit_log, post, visible_text

TIP = "/dashboard/tips/KST7-2345"
OUTCOME = "Sudah kami datangi bersama Polsek, 3 anak dibawa ke rumah aman, orang tuanya sudah dihubungi"


@pytest.fixture
def escalated(app, clock):
    """An urgent Bekasi tip the routing sent to Rumah Aman (the partner account's organisation)."""
    tipline = app.extensions["tipline"]
    add_tip(app, "KST7-2345", at=at(clock, minutes=5), urgency="immediate", category="sexual_exploitation",
            description="ada 3 anak cewek dikurung di rumah kos, katanya mau dikirim ke batam",
            location="Kota Bekasi", place_code="32.75", status="escalated")
    add_tip(app, "LNJT-2345", at=at(clock, minutes=9), urgency="immediate", description="anak dipaksa ngemis",
            status="escalated")
    with storage.writing(tipline.db) as session:
        rumah = models.Partner(name="Rumah Aman", phone="+15550100081", regions=["32"])
        other = models.Partner(name="Other NGO", phone="+15550100082")
        session.add_all([rumah, other])
        session.flush()
        mine = storage.tip_by_reference(session, reference="KST7-2345")
        session.add(models.Escalation(tip_id=mine.id, partner_id=rumah.id, due_at=clock.now + timedelta(minutes=10)))
        theirs = storage.tip_by_reference(session, reference="LNJT-2345")
        session.add(models.Escalation(tip_id=theirs.id, partner_id=other.id, due_at=clock.now + timedelta(minutes=3)))
    return tipline


def escalation(tipline, reference="KST7-2345"):
    with storage.reading(tipline.db) as session:
        tip = storage.tip_by_reference(session, reference=reference)
        return tip, storage.escalations_for_tip(session, tip_id=tip.id)[0]


def test_the_partner_sees_the_deadline_and_why_it_came(partner, escalated):
    text = visible_text(partner.get(TIP).get_data(as_text=True))
    assert "Acknowledge by 2026-03-02 16:10 WIB (10 minutes left)." in text
    assert ("The tip line sent it to you because it is urgent and matches you. Rumah Aman: matches (covers Kota "
            "Bekasi, Jawa Barat; takes every kind)") in text


def test_acknowledge_on_the_web_is_the_same_act_as_ack_by_sms(app, partner, escalated, clock):
    response = post(partner, f"{TIP}/acknowledge", {}, token_from=TIP)
    assert response.status_code == 302 and response.headers["Location"] == f"{TIP}#escalation"
    tip, row = escalation(escalated)
    assert (tip.status, row.status, row.acknowledged_at, row.due_at) == ("acknowledged", "acknowledged", clock.now,
                                                                         None)
    [entry] = audit_log(app, action="partner_acknowledged")
    assert (entry.actor, entry.target, entry.detail) == ("ngo@example.org", "KST7-2345", {"partner": "Rumah Aman"})
    page = visible_text(partner.get(TIP).get_data(as_text=True))
    assert "You acknowledged KST7-2345" in page and "Acknowledge by" not in page


def test_an_outcome_goes_to_the_operators_to_confirm_and_closes_nothing(app, partner, operator, escalated, clock):
    response = post(partner, f"{TIP}/report-outcome", {"note": OUTCOME}, token_from=TIP)
    assert response.status_code == 302
    tip, row = escalation(escalated)
    assert tip.status == "escalated" and tip.outcome_reported_at == clock.now and row.note == OUTCOME
    assert row.due_at is not None  # a reported outcome stops no timer, as by SMS
    queue = operator.get("/dashboard/").get_data(as_text=True)
    assert "KST7-2345" in queue.partition('id="confirm-title"')[2].partition('id="all-title"')[0]
    assert OUTCOME in operator.get(TIP).get_data(as_text=True)
    assert "Your outcome is waiting for the team to confirm it." in partner.get(TIP).get_data(as_text=True)
    assert audit_log(app, action="partner_outcome")[0].actor == "ngo@example.org"


def test_a_question_to_the_team_shows_on_the_tip_for_operators(app, partner, operator, escalated):
    question = "Apakah pelapor tahu nomor kamar kosnya? Kami mau ke sana malam ini."
    response = post(partner, f"{TIP}/ask-team", {"question": question}, token_from=TIP)
    assert response.status_code == 302
    assert f"Rumah Aman asked the team: {question}" in visible_text(operator.get(TIP).get_data(as_text=True))
    assert audit_log(app, action="partner_question")[0].detail["question"] == question


def test_a_partner_acts_only_on_its_own_tips(app, partner, escalated):
    token_page = TIP
    for action, data in (("acknowledge", {}), ("report-outcome", {"note": OUTCOME}), ("ask-team", {"question": "?"})):
        response = post(partner, f"/dashboard/tips/LNJT-2345/{action}", data, token_from=token_page)
        assert response.status_code == 404
        assert post(partner, f"/dashboard/tips/ZZZZ-2345/{action}", data, token_from=token_page).status_code == 404
    tip, row = escalation(escalated, "LNJT-2345")
    assert row.status == "sent" and tip.outcome_reported_at is None


def test_a_closed_tip_takes_no_answer(app, partner, escalated):
    with storage.writing(escalated.db) as session:
        storage.tip_by_reference(session, reference="KST7-2345").status = "closed"
    response = post(partner, f"{TIP}/acknowledge", {}, token_from=TIP)
    assert response.status_code == 409
    assert escalation(escalated)[1].status == "sent"
    assert "This tip is closed: it takes no more answers." in partner.get(TIP).get_data(as_text=True)


def test_only_partner_accounts_answer_as_partners(operator, escalated):
    assert post(operator, f"{TIP}/acknowledge", {}, token_from=TIP).status_code == 403


def test_a_deactivated_partner_cannot_answer(app, partner, escalated):
    with storage.writing(escalated.db) as session:
        storage.partner_by_name(session, name="Rumah Aman").active = False
    assert post(partner, f"{TIP}/acknowledge", {}, token_from=TIP).status_code == 403
    assert escalation(escalated)[1].status == "sent"
