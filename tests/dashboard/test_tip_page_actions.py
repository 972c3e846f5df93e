"""The tip page for acting (issue 11, item 2): escalation first for urgent tips, partners in order of fit
with the reason, nothing chosen when nothing matches, the place set from the list."""

from __future__ import annotations

import re

import pytest

from tipline import storage

from ..dashboard_support import add_tip, at, audit_log, post, visible_text
from ..routing_support import add_partner, provinces

URGENT = "/dashboard/tips/BKS2-DRRT"


@pytest.fixture
def bekasi(app, clock):
    """Typed as people type it; 'bks' matched no place in the list."""
    tipline = app.extensions["tipline"]
    provinces(tipline)
    add_tip(app, "BKS2-DRRT", at=at(clock, minutes=20), urgency="immediate", category="sexual_exploitation",
            description="ada 3 anak cewek dikurung di rumah kos, katanya mau dikirim ke batam",
            location="deket stasiun bks")
    add_tip(app, "NRML-2345", at=at(clock, hours=3), description="anak tetangga ga sekolah, disuruh jualan tisu",
            location="Kota Bekasi", place_code="32.75")
    return tipline


def options(page: str) -> list[tuple[str, bool]]:
    found = re.search(r'<select id="escalate-partner"[^>]*>(.*?)</select>', page, re.S).group(1)
    return [(label, bool(selected)) for selected, label in
            re.findall(r'<option (selected )?value="[^"]*">([^<]+)</option>', found)]


def test_an_urgent_tip_has_its_escalation_controls_first(operator, bekasi):
    page = operator.get(URGENT).get_data(as_text=True)
    assert page.index('id="escalation-title"') < page.index('id="report-title"')
    normal = operator.get("/dashboard/tips/NRML-2345").get_data(as_text=True)
    assert normal.index('id="report-title"') < normal.index('id="escalation-title"')


def test_nothing_is_chosen_when_no_partner_matches(operator, bekasi):
    found = options(operator.get(URGENT).get_data(as_text=True))
    assert found[0] == ("Choose a partner", True)
    assert all(not selected for _label, selected in found[1:])
    assert all("does not match (does not cover deket stasiun bks)" in label for label, _selected in found[1:])


def test_setting_the_place_makes_the_covering_partner_match_and_chosen(app, operator, bekasi):
    page = operator.get(URGENT).get_data(as_text=True)
    assert "matched no place in the list" in page
    response = post(operator, f"{URGENT}/place", {"place": "32.75"}, token_from=URGENT)
    assert response.status_code == 302
    found = options(operator.get(URGENT).get_data(as_text=True))
    assert found[1] == ("P2TP2A Jawa Barat: matches (covers Kota Bekasi, Jawa Barat; takes every kind)", True)
    assert [label.split(":")[0] for label, _selected in found[2:]] == ["Polda Jawa Tengah", "Polda Metro Jaya"]
    [entry] = audit_log(app, action="place_set")
    assert (entry.actor, entry.target, entry.detail) == ("operator@example.org", "BKS2-DRRT", {"place": "32.75"})
    text = visible_text(operator.get(URGENT).get_data(as_text=True))
    assert "The place was set to Kota Bekasi, Jawa Barat from the places list." in text
    assert "matched no place in the list" not in text  # set once; the words stay as the reporter wrote them
    assert "deket stasiun bks" in text


def test_a_place_not_in_the_list_is_refused(app, operator, bekasi):
    response = post(operator, f"{URGENT}/place", {"place": "99.99"}, token_from=URGENT)
    assert response.status_code == 400
    with storage.reading(app.extensions["tipline"].db) as session:
        assert storage.tip_by_reference(session, reference="BKS2-DRRT").place_code is None


def test_the_reason_names_the_kind_a_partner_does_not_take(app, operator, bekasi):
    add_partner(app.extensions["tipline"], "Rumah Singgah", "+15550100079", ["32"], categories=["begging"])
    post(operator, f"{URGENT}/place", {"place": "32.75"}, token_from=URGENT)
    labels = [label for label, _selected in options(operator.get(URGENT).get_data(as_text=True))]
    assert "Rumah Singgah: does not match (does not take sexual exploitation)" in labels
    assert labels.index("Rumah Singgah: does not match (does not take sexual exploitation)") == 2  # covers the place


def test_status_changes_follow_the_status_machine(operator, bekasi):
    page = operator.get(URGENT).get_data(as_text=True)
    status = re.search(r'<select id="status" name="status"[^>]*>(.*?)</select>', page, re.S).group(1)
    offered = re.findall(r'value="([a-z]+)"', status)
    assert offered == ["new", "triaged", "closed", "spam"]  # never "acknowledged" or "escalated" by hand
