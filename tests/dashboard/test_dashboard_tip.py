"""A tip's page and the case work on it: status, notes, assignment, duplicates, spam; who may do what."""

from __future__ import annotations

import pytest

from tipline import storage

from ..dashboard_support import add_tip, at, audit_log, escalate, post

TIP = "/dashboard/tips/ABCD-EFGH"


@pytest.fixture
def tip(app, clock):
    add_tip(
        app, "ABCD-EFGH", at=at(clock, hours=2), urgency="immediate", category="forced_labour",
        description="Three girls <b>kept</b> at a karaoke bar", location="Jalan Melati 5", when="every night",
        children="three", contact_consent=True, contact_sealed="sealed-contact", media_count=1,
    )
    tipline = app.extensions["tipline"]
    with storage.writing(tipline.db) as session:
        storage.add_to_tip(session, reference="ABCD-EFGH", text="They moved them to a boarding house", now=clock.now)
    add_tip(app, "WXYZ-2345", at=at(clock, hours=1))


def stored(app, reference="ABCD-EFGH"):
    with storage.reading(app.extensions["tipline"].db) as session:
        found = storage.tip_by_reference(session, reference=reference)
        return found, storage.tip_case(session, tip=found), storage.tip_timeline(session, tip=found), \
            storage.tip_notes(session, tip=found)


def test_detail_shows_every_answer_additions_and_timeline(app, operator, tip):
    html = operator.get(TIP).get_data(as_text=True)
    for words in ("Three girls &lt;b&gt;kept&lt;/b&gt; at a karaoke bar", "Jalan Melati 5", "every night", "three",
                  "forced labour", "They moved them to a boarding house", "immediate danger", "The report began.",
                  "The reporter added words to the report."):
        assert words in html
    assert "<b>kept</b>" not in html  # a reporter's words are never markup
    assert "sealed-contact" not in html


def test_every_detail_view_is_audited(app, operator, partner, tip):
    operator.get(TIP)
    operator.get(TIP.lower())
    viewed = audit_log(app, action="tip_viewed")
    assert [(e.actor, e.target) for e in viewed] == [("operator@example.org", "ABCD-EFGH")] * 2


def test_status_change_is_saved_timed_and_audited(app, clock, operator, tip):
    clock.advance(minutes=7)
    response = post(operator, f"{TIP}/status", {"status": "triaged"}, token_from=TIP)
    assert response.status_code == 302 and response.headers["Location"] == TIP
    found, case, timeline, _ = stored(app)
    assert found.status == "triaged"
    assert case.triaged_at == clock.now
    assert timeline[-1].kind == "status_changed" and timeline[-1].actor == "operator@example.org"
    assert timeline[-1].detail == {"from": "new", "to": "triaged"}
    entry = audit_log(app, action="status_changed")[0]
    assert (entry.actor, entry.target, entry.detail) == ("operator@example.org", "ABCD-EFGH",
                                                         {"from": "new", "to": "triaged"})
    assert "status_changed" in operator.get(TIP).get_data(as_text=True)


@pytest.mark.parametrize("status", ["new", "triaged", "closed", "spam"])
def test_every_status_an_operator_chooses_can_be_set_from_new(app, operator, tip, status):
    # escalated and acknowledged are acts (a send to a partner, a partner's ACK): tests/test_tip_status.py
    post(operator, f"{TIP}/status", {"status": status}, token_from=TIP)
    assert stored(app)[0].status == status


def test_unknown_status_is_a_400(app, operator, tip):
    response = post(operator, f"{TIP}/status", {"status": "deleted"}, token_from=TIP)
    assert response.status_code == 400
    assert stored(app)[0].status == "new"


def test_closing_deletes_the_contact_address(app, operator, tip):
    assert stored(app)[0].contact_sealed == "sealed-contact"
    post(operator, f"{TIP}/status", {"status": "closed"}, token_from=TIP)
    assert stored(app)[0].contact_sealed is None


def test_note_is_kept_shown_and_audited(app, operator, tip):
    response = post(operator, f"{TIP}/notes", {"text": "Called the <police> hotline"}, token_from=TIP)
    assert response.status_code == 302
    notes = stored(app)[3]
    assert [(n.author, n.text) for n in notes] == [("operator@example.org", "Called the <police> hotline")]
    assert "Called the &lt;police&gt; hotline" in operator.get(TIP).get_data(as_text=True)
    assert audit_log(app, action="note_added")[0].target == "ABCD-EFGH"


def test_empty_note_is_a_400(app, operator, tip):
    assert post(operator, f"{TIP}/notes", {"text": "   "}, token_from=TIP).status_code == 400
    assert stored(app)[3] == []


def test_assignment_to_an_operator(app, operator, accounts, tip):
    response = post(operator, f"{TIP}/assign", {"assignee": accounts["admin"].id}, token_from=TIP)
    assert response.status_code == 302
    assert stored(app)[1].assignee_id == accounts["admin"].id
    assert "admin@example.org" in operator.get(TIP).get_data(as_text=True).partition("Case work")[2]
    assert audit_log(app, action="assigned")[0].detail == {"to": "admin@example.org"}
    post(operator, f"{TIP}/assign", {"assignee": ""}, token_from=TIP)
    assert stored(app)[1].assignee_id is None


def test_tips_cannot_be_assigned_to_a_partner(app, operator, accounts, tip):
    response = post(operator, f"{TIP}/assign", {"assignee": accounts["partner"].id}, token_from=TIP)
    assert response.status_code == 400
    assert stored(app)[1] is None


def test_marking_a_duplicate_closes_it_and_links_both(app, operator, tip):
    response = post(operator, f"{TIP}/duplicate", {"original": "wxyz2345"}, token_from=TIP)
    assert response.status_code == 302
    found, case, timeline, _ = stored(app)
    assert found.status == "closed"
    original = stored(app, "WXYZ-2345")[0]
    assert case.duplicate_of_id == original.id
    assert "marked_duplicate" in [e.kind for e in timeline]
    assert 'href="/dashboard/tips/ABCD-EFGH"' in operator.get("/dashboard/tips/WXYZ-2345").get_data(as_text=True)
    assert audit_log(app, action="marked_duplicate")[0].detail == {"of": "WXYZ-2345"}


@pytest.mark.parametrize("original", ["ABCD-EFGH", "ZZZZ-ZZZZ", "not a reference"])
def test_duplicate_of_itself_or_of_nothing_is_a_400(app, operator, tip, original):
    assert post(operator, f"{TIP}/duplicate", {"original": original}, token_from=TIP).status_code == 400
    assert stored(app)[0].status == "new"


def test_spam_button(app, operator, tip):
    assert post(operator, f"{TIP}/spam", token_from=TIP).status_code == 302
    assert stored(app)[0].status == "spam"
    assert audit_log(app, action="status_changed")[0].detail == {"from": "new", "to": "spam"}


def test_unknown_tip_is_a_404(operator, tip):
    assert operator.get("/dashboard/tips/ZZZZ-ZZZZ").status_code == 404
    assert post(operator, "/dashboard/tips/ZZZZ-ZZZZ/status", {"status": "closed"}).status_code == 404


# ---- partners -----------------------------------------------------------------------------------------

def test_partner_cannot_open_a_tip_escalated_to_another_partner(app, partner, tip):
    escalate(app, "ABCD-EFGH", "Other NGO")
    response = partner.get(TIP)
    assert response.status_code == 404
    assert "karaoke" not in response.get_data(as_text=True)
    denied = audit_log(app, action="tip_view_denied")
    assert [(e.actor, e.target) for e in denied] == [("ngo@example.org", "ABCD-EFGH")]
    assert audit_log(app, action="tip_viewed") == []


def test_partner_sees_only_what_it_needs_to_act(app, partner, tip):
    escalate(app, "ABCD-EFGH", "Rumah Aman")
    html = partner.get(TIP).get_data(as_text=True)
    assert "karaoke bar" in html and "Jalan Melati 5" in html and "boarding house" in html
    assert "pseudonym-1" not in html and "Reporter" not in html and "May be contacted" not in html
    assert "Internal notes" not in html and "Timeline" not in html and "Case work" not in html
    assert audit_log(app, action="tip_viewed")[0].actor == "ngo@example.org"


@pytest.mark.parametrize("action, data", [
    ("status", {"status": "closed"}), ("notes", {"text": "x"}), ("assign", {"assignee": ""}),
    ("duplicate", {"original": "WXYZ-2345"}), ("spam", {}),
])
def test_partner_cannot_do_case_work(app, partner, tip, action, data):
    escalate(app, "ABCD-EFGH", "Rumah Aman")
    response = post(partner, f"{TIP}/{action}", data, token_from=TIP)
    assert response.status_code == 403
    found, case, _, notes = stored(app)
    assert found.status == "new" and case is None and notes == []
