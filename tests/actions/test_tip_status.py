"""A tip's status as a state machine, and the acts that move it (issue 9): allowed transitions only,
"acknowledged" is a partner's ACK, going back needs a reason for the audit trail, and a partner's DONE
waits for an operator to confirm: one SMS never closes an urgent case."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from tests.conftest import Reporter, make_settings
from tipline import storage
from tipline.actions import Actor
from tipline.actions import tips as tip_actions
from tipline.actions.tips import CaseworkRefused, TipStatus, operator_steps
from tipline.cli import main
from tipline.worker import Worker

from ..dashboard_support import add_tip, at, audit_log, post
from ..routing_support import (
    JABAR,
    ONCALL,
    provinces,
    queued,
    reached,
    stored,
    timeline,
    urgent_tip,
)

TIP = "/dashboard/tips/TEST-2222"
OPERATOR = Actor.operator("operator@example.org", "127.0.0.1")


@pytest.fixture
def settings(tmp_path, sqlite_url):
    return make_settings(tmp_path, sqlite_url, oncall_number=ONCALL)


# ---- the machine -----------------------------------------------------------------------------------

@pytest.mark.parametrize("status, forward, backward", [
    ("new", ["triaged", "closed", "spam"], []),
    ("triaged", ["closed", "spam"], ["new"]),
    ("escalated", ["closed", "spam"], ["triaged"]),
    ("acknowledged", ["closed", "spam"], ["triaged", "escalated"]),
    ("closed", [], ["triaged"]),
    ("spam", [], ["triaged"]),
])
def test_what_an_operator_may_choose_from_each_status(status, forward, backward):
    steps = operator_steps(status)
    assert [s.to for s in steps if not s.backwards] == forward
    assert [s.to for s in steps if s.backwards] == backward
    assert "acknowledged" not in [s.to for s in steps]  # a partner's act, never an operator's choice


def test_the_chart_refuses_what_is_not_a_transition():
    class Holder:
        status = "closed"

    with pytest.raises(Exception, match="(?i)can't"):
        TipStatus(model=Holder(), state_field="status").send("acknowledge", session=None, now=None)


def tip_in(app, clock, status="new", **fields):
    add_tip(app, "TEST-2222", at=at(clock, hours=1), status=status, urgency="immediate", **fields)


@pytest.mark.parametrize("status, target, code", [
    ("new", "acknowledged", "not_allowed"),
    ("escalated", "acknowledged", "not_allowed"),
    ("new", "escalated", "not_allowed"),
    ("closed", "new", "not_allowed"),
    ("closed", "triaged", "reason_required"),
    ("escalated", "triaged", "reason_required"),
    ("acknowledged", "escalated", "reason_required"),
    ("triaged", "new", "reason_required"),
])
def test_refused_moves_change_nothing(app, tipline, clock, status, target, code):
    tip_in(app, clock, status)
    with storage.writing(tipline.db) as session:
        tip = storage.tip_by_reference(session, reference="TEST-2222")
        with pytest.raises(CaseworkRefused) as refused:
            tip_actions.change_status(session, tip, actor=OPERATOR, to=target, reason="  ", now=clock.now)
    assert refused.value.code == code and stored(tipline, "TEST-2222").status == status
    assert audit_log(app, action="status_changed") == []


def test_going_back_with_a_reason_is_kept_in_the_timeline_and_the_audit_trail(app, tipline, clock):
    tip_in(app, clock, "closed")
    with storage.writing(tipline.db) as session:
        tip = storage.tip_by_reference(session, reference="TEST-2222")
        tip_actions.change_status(session, tip, actor=OPERATOR, to="triaged", reason="The girl was seen again today",
                               now=clock.now)
    assert stored(tipline, "TEST-2222").status == "triaged"
    change = {"from": "closed", "to": "triaged", "reason": "The girl was seen again today"}
    assert timeline(tipline, "TEST-2222")[-1].detail == change
    [entry] = audit_log(app, action="status_changed")
    assert (entry.actor, entry.target, entry.address, entry.detail) == (
        "operator@example.org", "TEST-2222", "127.0.0.1", change)


# ---- the dashboard adapter ---------------------------------------------------------------------------

def options(html: str) -> list[str]:
    select = html.partition('id="status"')[2].partition("</select>")[0]
    return re.findall(r'<option[^>]*value="([a-z]+)"', select)


def test_the_status_form_offers_only_allowed_moves(app, clock, operator):
    tip_in(app, clock, "escalated")
    html = operator.get(TIP).get_data(as_text=True)
    assert options(html) == ["escalated", "closed", "spam", "triaged"]
    assert "triaged: back, give a reason" in html


@pytest.mark.parametrize("language, words", [
    ("en", "Only a partner acknowledges a tip"),
    ("id", "Hanya mitra yang bisa menerima laporan"),
])
def test_a_refused_move_says_why_in_the_pages_language(app, clock, operator, language, words):
    tip_in(app, clock)
    response = operator.post(f"{TIP}/status", headers={"Accept-Language": language}, data={
        "status": "acknowledged", "csrf_token": _token(operator)})
    assert response.status_code == 409 and words in response.get_data(as_text=True)


def _token(client):
    from ..dashboard_support import csrf_token

    return csrf_token(client, TIP)


def test_going_back_without_a_reason_is_refused_then_accepted_with_one(app, tipline, clock, operator):
    tip_in(app, clock, "escalated")
    refused = post(operator, f"{TIP}/status", {"status": "triaged"}, token_from=TIP)
    assert refused.status_code == 400 and "needs a reason" in refused.get_data(as_text=True)
    assert stored(tipline, "TEST-2222").status == "escalated"
    id_page = operator.post(f"{TIP}/status", headers={"Accept-Language": "id"},
                            data={"status": "triaged", "csrf_token": _token(operator)})
    assert "perlu alasan" in id_page.get_data(as_text=True)
    saved = post(operator, f"{TIP}/status", {"status": "triaged", "reason": "partner cannot act"}, token_from=TIP)
    assert saved.status_code == 302 and stored(tipline, "TEST-2222").status == "triaged"
    assert audit_log(app, action="status_changed")[0].detail["reason"] == "partner cannot act"
    page = operator.get(TIP).get_data(as_text=True)
    assert "Status changed from escalated to triaged. Reason: partner cannot act" in page


def test_the_command_line_is_an_adapter_too(app, tipline, clock, monkeypatch):
    tip_in(app, clock, "closed")
    for name, value in {"TIPLINE_DATABASE_URL": tipline.settings.database_url,
                        "TIPLINE_INSTANCE_PATH": str(tipline.settings.instance_path)}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    refused = runner.invoke(main, ["tips", "status", "test-2222", "triaged"])
    assert refused.exit_code == 1 and "needs --reason" in refused.output
    done = runner.invoke(main, ["tips", "status", "TEST 2222", "triaged", "--reason", "seen again"])
    assert done.exit_code == 0, done.output
    assert stored(tipline, "TEST-2222").status == "triaged"
    assert audit_log(app, action="status_changed")[0].actor == "cli"


# ---- partners' DONE: an outcome for an operator to confirm --------------------------------------------

@pytest.fixture
def escalated(app, tipline):
    provinces(tipline)
    urgent_tip(tipline, "TEST-2222", place_code="32.73", location="Kota Bandung")
    return Reporter(app.test_client(), JABAR)


def test_done_by_sms_records_the_outcome_and_closes_nothing(app, tipline, clock, operator, escalated):
    [reply] = escalated.send("DONE TEST-2222 false alarm, the girl is with her aunt")
    assert reply == "Thank you. The outcome for tip TEST-2222 is recorded; our team will close it."
    tip = stored(tipline, "TEST-2222")
    assert tip.status == "escalated" and tip.outcome_reported_at == clock.now  # not closed
    assert reached(tipline, "TEST-2222") == {"P2TP2A Jawa Barat": "sent"}
    queue = operator.get("/dashboard/").get_data(as_text=True)
    to_confirm = queue.partition('id="confirm-title"')[2].partition('id="all-title"')[0]
    pinned = queue.partition('id="waiting-title"')[2].partition('id="confirm-title"')[0]
    assert "TEST-2222" in to_confirm and "TEST-2222" in pinned  # to confirm, and still pinned
    assert audit_log(app, action="partner_outcome")[0].actor == "partner:P2TP2A Jawa Barat"
    # Its timer still runs: a spoofed DONE must not stop the tip from moving on.
    clock.advance(minutes=16)
    Worker(tipline, sleep=lambda s: None).run_timers()
    assert reached(tipline, "TEST-2222") == {"P2TP2A Jawa Barat": "timed_out"}
    assert queued(tipline)[-1][:2] == (ONCALL, "alert")


def test_an_operator_confirms_and_closes(app, tipline, clock, operator, escalated):
    escalated.send("DONE TEST-2222 Police took both girls to the shelter")
    page = operator.get(TIP).get_data(as_text=True)
    assert "Police took both girls to the shelter" in page and "Confirm and close" in page
    response = post(operator, f"{TIP}/outcome", {"decision": "confirm"}, token_from=TIP)
    assert response.status_code == 302
    tip = stored(tipline, "TEST-2222")
    assert tip.status == "closed" and tip.outcome_reported_at is None
    assert reached(tipline, "TEST-2222") == {"P2TP2A Jawa Barat": "done"}
    assert [e.action for e in reversed(audit_log(app, actor="operator@example.org"))
            if e.action not in ("tip_viewed", "login_success")] == ["outcome_confirmed", "status_changed"]
    assert "TEST-2222" not in operator.get("/dashboard/").get_data(as_text=True).partition('id="all-title"')[0]
    assert "already closed" in escalated.send("ACK TEST-2222")[0]


def test_an_operator_does_not_confirm_a_spoofed_done(app, tipline, clock, operator, escalated):
    escalated.send("DONE TEST-2222 nothing there")
    refused = post(operator, f"{TIP}/outcome", {"decision": "reject"}, token_from=TIP)
    assert refused.status_code == 400 and stored(tipline, "TEST-2222").outcome_reported_at is not None
    response = post(operator, f"{TIP}/outcome", {"decision": "reject", "reason": "the partner never sent this"},
                    token_from=TIP)
    assert response.status_code == 302
    tip = stored(tipline, "TEST-2222")
    assert tip.status == "escalated" and tip.outcome_reported_at is None
    assert audit_log(app, action="outcome_rejected")[0].detail == {"reason": "the partner never sent this"}
    assert post(operator, f"{TIP}/outcome", {"decision": "confirm"}, token_from=TIP).status_code == 409


def test_closing_from_the_status_form_counts_a_reported_outcome_as_confirmed(app, tipline, operator, escalated):
    escalated.send("ACK TEST-2222")
    escalated.send("DONE TEST-2222 handled")
    assert stored(tipline, "TEST-2222").status == "acknowledged"  # ACK is the partner's act
    post(operator, f"{TIP}/status", {"status": "closed"}, token_from=TIP)
    assert reached(tipline, "TEST-2222") == {"P2TP2A Jawa Barat": "done"}
    assert stored(tipline, "TEST-2222").outcome_reported_at is None
