"""The triage queue: order, pinning, filters, search, pagination, and what a partner may see."""

from __future__ import annotations

import re

import pytest

from tipline import storage

from ..dashboard_support import add_tip, at, escalate

REF = re.compile(r'href="/dashboard/tips/([A-Z0-9]{4}-[A-Z0-9]{4})"')


def refs(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return REF.findall(response.get_data(as_text=True))


def pinned_and_rest(response) -> tuple[list[str], list[str]]:
    html = response.get_data(as_text=True)
    pinned, _, rest = html.partition('id="all-title"')
    return (REF.findall(pinned) if 'class="pinned' in pinned else []), REF.findall(rest)


@pytest.fixture
def tips(app, clock):
    add_tip(app, "AAAA-2222", at=at(clock, days=3), category="begging", location="Pasar Minggu", language="id")
    add_tip(app, "BBBB-2222", at=at(clock, days=2), urgency="immediate", description="boys locked in a boat")
    add_tip(app, "CCCC-2222", at=at(clock, days=1), channel="whatsapp", category="online", complete=False)
    add_tip(app, "DDDD-2222", at=at(clock, hours=5), urgency="immediate", status="closed")
    add_tip(app, "EEEE-2222", at=at(clock, hours=1), urgency="immediate", location="Terminal Kampung Rambutan")
    add_tip(app, "FFFF-2222", at=at(clock, minutes=5), status="triaged", description="50% of the girls")


def test_open_immediate_tips_are_pinned_longest_waiting_first_then_newest_first(operator, tips):
    pinned, rest = pinned_and_rest(operator.get("/dashboard/"))
    assert pinned == ["BBBB-2222", "EEEE-2222"]  # a closed emergency is not pinned
    assert rest == ["FFFF-2222", "EEEE-2222", "DDDD-2222", "CCCC-2222", "BBBB-2222", "AAAA-2222"]


def test_pinned_tips_show_their_age(operator, tips):
    html = operator.get("/dashboard/").get_data(as_text=True)
    pinned = html.partition('id="all-title"')[0]
    assert "2 days ago" in pinned and "60 minutes ago" in pinned


@pytest.mark.parametrize("query, expected", [
    ("status=triaged", ["FFFF-2222"]),
    ("status=closed", ["DDDD-2222"]),
    ("urgency=immediate", ["EEEE-2222", "DDDD-2222", "BBBB-2222"]),
    ("category=begging", ["AAAA-2222"]),
    ("language=id", ["AAAA-2222"]),
    ("q=CCCC-2222", ["CCCC-2222"]),  # a reference finds its tip
    ("q=cccc+2222", ["CCCC-2222"]),  # as people type it
    ("channel=whatsapp", ["CCCC-2222"]),
    ("complete=no", ["CCCC-2222"]),
    ("complete=yes&urgency=normal", ["FFFF-2222", "AAAA-2222"]),
    ("since=2026-02-28&until=2026-02-28", ["BBBB-2222"]),
    ("since=2026-03-01", ["FFFF-2222", "EEEE-2222", "DDDD-2222", "CCCC-2222"]),
    ("q=BOAT", ["BBBB-2222"]),
    ("q=rambutan", ["EEEE-2222"]),
    ("q=pasar+minggu", ["AAAA-2222"]),
    ("q=50%25", ["FFFF-2222"]),
    ("q=%25", ["FFFF-2222"]),
    ("q=_", []),
])
def test_filters_and_search(operator, tips, query, expected):
    assert pinned_and_rest(operator.get(f"/dashboard/?{query}"))[1] == expected


def test_a_filter_that_does_not_parse_is_ignored_with_a_message(operator, tips):
    response = operator.get("/dashboard/?since=yesterday&status=bogus&page=-4")
    assert response.status_code == 200
    assert len(pinned_and_rest(response)[1]) == 6
    assert "Not a valid date value." in response.get_data(as_text=True)


def test_pagination_keeps_the_filters(app, clock, operator):
    for n in range(55):
        add_tip(app, f"P{n:03d}-2222".replace("0", "Z").replace("1", "Y"), at=at(clock, minutes=n), channel="whatsapp")
    add_tip(app, "SMSS-2222", at=at(clock, seconds=1))
    first = operator.get("/dashboard/?channel=whatsapp")
    assert len(refs(first)) == 50
    html = first.get_data(as_text=True)
    assert "55 found" in html and "Page 1 of 2" in html
    assert 'href="/dashboard/?page=2&amp;channel=whatsapp"' in html
    second = operator.get("/dashboard/?channel=whatsapp&page=2")
    assert len(refs(second)) == 5 and "SMSS-2222" not in refs(second)
    assert set(refs(first)).isdisjoint(refs(second))
    beyond = operator.get("/dashboard/?channel=whatsapp&page=99")
    assert refs(beyond) == refs(second)


def test_queue_scales_with_an_index_for_each_filter(app):
    with storage.reading(app.extensions["tipline"].db) as session:
        indexes = {row[1] for row in session.connection().exec_driver_sql("PRAGMA index_list('tip')")}
    for column in ("created_at", "status_created", "urgency_created", "category_created", "language_created",
                   "channel_created"):
        assert f"ix_tip_{column}" in indexes


def test_partner_sees_only_tips_escalated_to_its_organisation(app, partner, tips):
    assert refs(partner.get("/dashboard/")) == []
    escalate(app, "BBBB-2222", "Rumah Aman")
    escalate(app, "AAAA-2222", "Rumah Aman")
    escalate(app, "CCCC-2222", "Other NGO")
    pinned, rest = pinned_and_rest(partner.get("/dashboard/"))
    assert pinned == ["BBBB-2222"] and rest == ["BBBB-2222", "AAAA-2222"]
    html = partner.get("/dashboard/").get_data(as_text=True)
    assert "pseudonym-1" not in html
    assert 'data-label="Channel"' not in html  # partners get what they need to act, no more


def test_many_open_emergencies_are_never_hidden(app, clock, operator, monkeypatch):
    for n in range(4):
        add_tip(app, f"EMG{n}-2222".replace("0", "Z").replace("1", "Y"), at=at(clock, minutes=n), urgency="immediate")
    import tipline.dashboard.tips.routes as views

    real = storage.tip_queue
    monkeypatch.setattr(views.storage, "tip_queue", lambda session, **kw: real(session, **kw, pinned_limit=3))
    response = operator.get("/dashboard/")
    pinned, rest = pinned_and_rest(response)
    assert len(pinned) == 3 and len(rest) == 4
    assert "1 more open emergencies are not shown here." in response.get_data(as_text=True)


def test_partner_without_escalations_sees_nothing(partner, tips):
    response = partner.get("/dashboard/?status=new")
    assert refs(response) == []
    assert "No tips match." in response.get_data(as_text=True)


def test_counting_stops_at_a_cap_and_paging_goes_on(app, clock, operator, monkeypatch):
    monkeypatch.setattr(storage.queue, "QUEUE_COUNT_CAP", 60)  # read where tip_queue lives
    for n in range(75):
        add_tip(app, f"Q{n:03d}-2222".replace("0", "Z").replace("1", "Y"), at=at(clock, minutes=n))
    html = operator.get("/dashboard/").get_data(as_text=True)
    assert "more than 60 found" in html and 'rel="next"' in html
    second = operator.get("/dashboard/?page=2").get_data(as_text=True)
    assert len(REF.findall(second)) == 25 and "Page 2" in second and 'rel="next"' not in second
