"""The escalation timer (issue 9): it belongs to the escalation, not to the tip's status; a timeout moves
on to the next partner matching place and kind, then to the on-call number, never to an unrelated one."""

from __future__ import annotations

import pytest

from tests.conftest import Reporter, make_settings
from tipline import storage
from tipline.worker import Worker

from .dashboard_support import post
from .routing_support import (
    BANDUNG,
    EVERYWHERE,
    JABAR,
    JAKARTA,
    JATENG,
    ONCALL,
    add_partner,
    provinces,
    queued,
    reached,
    stored,
    timeline,
    urgent_tip,
)

TIP = "/dashboard/tips/TEST-2222"


@pytest.fixture
def settings(tmp_path, sqlite_url):
    return make_settings(tmp_path, sqlite_url, oncall_number=ONCALL)


def timers(tipline, clock, minutes: int) -> None:
    clock.advance(minutes=minutes)
    Worker(tipline, sleep=lambda seconds: None).run_timers()


def test_after_a_manual_status_change_the_timeout_moves_on_to_matching_partners_then_on_call(
        app, tipline, operator, clock):
    provinces(tipline)  # Jakarta and Central Java are preferred (1) over West Java (2)
    urgent_tip(tipline, "TEST-2222", place_code="32.73", location="Kota Bandung")
    assert reached(tipline, "TEST-2222") == {"P2TP2A Jawa Barat": "sent"}
    # Registered after the tip went out: the next partner in line, though the least preferred.
    add_partner(tipline, "Bandung NGO", BANDUNG, ["32.73"], preference=50)
    add_partner(tipline, "Online NGO", EVERYWHERE, ["everywhere"], categories=["online"], preference=0)
    with storage.writing(tipline.db) as session:
        tip = storage.tip_by_reference(session, reference="TEST-2222")
        tip.category = "begging"  # the reporter said what kind: an online-only partner is unrelated
        session.add(tip)

    # An operator moves the escalated tip back to triaged: the escalation's timer must not care.
    response = post(operator, f"{TIP}/status", {"status": "triaged", "reason": "calling the partner ourselves"},
                    token_from=TIP)
    assert response.status_code == 302 and stored(tipline, "TEST-2222").status == "triaged"

    before = len(queued(tipline))
    timers(tipline, clock, 14)
    assert len(queued(tipline)) == before  # not yet
    timers(tipline, clock, 2)
    assert reached(tipline, "TEST-2222") == {"P2TP2A Jawa Barat": "timed_out", "Bandung NGO": "sent"}
    moved = queued(tipline)[before:]
    assert [(address, kind) for address, kind, _ in moved] == [(BANDUNG, "escalation"), (ONCALL, "alert")]
    assert "Sent on to Bandung NGO" in moved[1][2]
    assert stored(tipline, "TEST-2222").status == "escalated"  # sent again: escalated again

    timers(tipline, clock, 16)
    assert reached(tipline, "TEST-2222") == {"P2TP2A Jawa Barat": "timed_out", "Bandung NGO": "timed_out"}
    last = queued(tipline)[before + 2:]
    assert [(address, kind) for address, kind, _ in last] == [(ONCALL, "alert")]
    assert "no other partner is left" in last[0][2]
    addresses = {address for address, _, _ in queued(tipline)}
    assert not addresses & {JAKARTA, JATENG, EVERYWHERE}  # never an unrelated partner
    events = [e.detail for e in timeline(tipline, "TEST-2222") if e.kind == "escalation_timed_out"]
    assert events == [{"partners": ["P2TP2A Jawa Barat"], "next": "Bandung NGO", "oncall": True},
                      {"partners": ["Bandung NGO"], "next": None, "oncall": True}]
    assert stored(tipline, "TEST-2222").routing == "oncall"  # nobody acknowledged: only on-call has it now
    timers(tipline, clock, 60)
    assert len(queued(tipline)) == before + 3  # each timer fires once


def test_without_on_call_a_tip_nobody_acknowledged_is_pinned_as_unrouted(app, tipline, operator, clock):
    object.__setattr__(tipline.settings, "oncall_number", None)
    provinces(tipline)
    urgent_tip(tipline, "TEST-2222", place_code="32.73", location="Kota Bandung")
    timers(tipline, clock, 16)
    assert stored(tipline, "TEST-2222").routing == "unrouted"
    assert "TEST-2222" in operator.get("/dashboard/").get_data(as_text=True).partition('id="pinned-title"')[0]


def test_an_ack_stops_every_timer_of_the_tip(app, client, tipline, clock):
    provinces(tipline)
    add_partner(tipline, "Bandung NGO", BANDUNG, ["32.73"])
    urgent_tip(tipline, "TEST-2222", place_code="32.73", location="Kota Bandung")
    Reporter(client, BANDUNG).send("ACK TEST-2222")
    before = len(queued(tipline))
    timers(tipline, clock, 30)
    assert len(queued(tipline)) == before
    assert reached(tipline, "TEST-2222") == {"P2TP2A Jawa Barat": "sent", "Bandung NGO": "acknowledged"}


@pytest.mark.parametrize("status", ["closed", "spam"])
def test_closing_a_tip_stops_its_timer(app, tipline, operator, clock, status):
    provinces(tipline)
    urgent_tip(tipline, "TEST-2222", place_code="32.73", location="Kota Bandung")
    post(operator, f"{TIP}/status", {"status": status}, token_from=TIP)
    before = len(queued(tipline))
    timers(tipline, clock, 30)
    assert len(queued(tipline)) == before
    assert reached(tipline, "TEST-2222") == {"P2TP2A Jawa Barat": "cancelled"}
    assert "TEST-2222" not in operator.get("/dashboard/").get_data(as_text=True).partition('id="all-title"')[0]


def test_a_late_ack_after_a_timeout_is_still_taken(app, client, tipline, clock):
    provinces(tipline)
    urgent_tip(tipline, "TEST-2222", place_code="32.73", location="Kota Bandung")
    timers(tipline, clock, 16)
    [reply] = Reporter(client, JABAR).send("ACK TEST-2222")
    assert "acknowledged" in reply
    assert reached(tipline, "TEST-2222") == {"P2TP2A Jawa Barat": "acknowledged"}
    assert stored(tipline, "TEST-2222").status == "acknowledged" and stored(tipline, "TEST-2222").routing == "partner"
