"""Escalation of urgent tips to partners, partners' ACK/DONE/INFO, the timer, follow-up and purge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from tipline import storage
from tipline.actions import Actor
from tipline.actions.followups import FollowUpRefused, ask_reporter
from tipline.actions.tips import confirm_outcome
from tipline.cli import main
from tipline.engine.gsm import segments
from tipline.escalation import escalate_tip
from tipline.worker import Worker, purge

from .conftest import Reporter
from .escalation_support import (
    EVERYWHERE,
    JAKARTA,
    ONCALL,
    REPORTER_NUMBER,
    SPARE,
    finish,
    outbox,
    tip_of,
    urgent_report,
)


@pytest.fixture
def settings(oncall_settings):
    return oncall_settings

STRANGER = "+15550100009"
OPERATOR = Actor.operator("op@example.org")


def test_urgent_tip_goes_at_once_to_partners_everywhere_and_on_call(client, tipline, partners):
    urgent_report(client)
    queued = outbox(tipline)
    assert [(address, kind) for address, kind, _ in queued] == [(EVERYWHERE, "escalation"), (ONCALL, "escalation")]
    body = queued[0][2]
    assert "URGENT" in body and "TEST-2322" in body and "not known yet" in body and segments(body) <= 3
    assert tip_of(tipline, "TEST-2322").status == "escalated"


def test_place_named_later_reaches_that_place_partner_and_completion_sends_an_update(client, tipline, partners):
    reporter, reference = urgent_report(client)
    finish(reporter, consent=True)
    queued = outbox(tipline)
    jakarta = [body for address, kind, body in queued if address == JAKARTA and kind == "escalation"]
    assert len(jakarta) == 1 and "Jakarta Timur" in jakarta[0]
    updates = [(address, body) for address, kind, body in queued if kind == "update"]
    assert [address for address, _ in updates] == [EVERYWHERE, JAKARTA]
    assert "UPDATE" in updates[0][1] and "Sexual exploitation" in updates[0][1]
    for _, _, body in queued:
        assert segments(body) <= 3 and "5550100001" not in body
    assert not any(address == SPARE for address, _, _ in queued)  # Bali, online only


def test_long_description_is_cut_to_three_segments(client, tipline, partners):
    reporter, reference = urgent_report(client)
    reporter.send("0")  # where: skipped
    reporter.send("children " * 300)
    with storage.writing(tipline.db) as session:
        from tipline.escalation import partner_message

        message = partner_message(tipline.outbound, storage.tip_by_reference(session, reference=reference), "en")
    assert segments(message) == 3 and "ACK TEST-2322" in message


def test_partner_ack_info_done(client, tipline, partners):
    reporter, reference = urgent_report(client)
    finish(reporter, consent=True)
    partner = Reporter(client, EVERYWHERE)
    assert "acknowledged" in partner.send(f"ACK {reference}")[0]
    assert tip_of(tipline, reference).status == "acknowledged"
    [info] = partner.send(f"info {reference.lower()}")
    assert "locked in a house" in info and segments(info) <= 3
    assert "our team will close it" in partner.send(f"DONE {reference} Police rescued both girls")[0]
    tip = tip_of(tipline, reference)  # DONE is the partner's outcome, for an operator to confirm
    assert tip.status == "acknowledged" and tip.outcome_reported_at is not None and tip.contact_sealed is not None
    with storage.reading(tipline.db) as session:
        [escalation] = [e for e in storage.escalations_for_tip(session, tip_id=tip.id) if e.done_at]
    assert escalation.note == "Police rescued both girls" and escalation.status == "acknowledged"


def test_partner_cannot_act_on_a_tip_not_sent_to_them(client, tipline, partners):
    reporter, reference = urgent_report(client)
    [reply] = Reporter(client, SPARE).send(f"ACK {reference}")
    assert "No tip" in reply and tip_of(tipline, reference).status == "escalated"


def test_the_same_words_from_a_stranger_do_nothing(client, tipline, partners):
    reporter, reference = urgent_report(client)
    before = outbox(tipline)
    replies = Reporter(client, STRANGER).send(f"ACK {reference}")
    assert "Info Anak" in replies[0] and "1 " in replies[0]  # an ordinary first message: the welcome
    Reporter(client, STRANGER).send(f"DONE {reference} closed")
    assert tip_of(tipline, reference).status == "escalated" and outbox(tipline) == before


def test_unacknowledged_urgent_tip_moves_on_after_15_minutes_but_never_to_an_unrelated_partner(
        client, tipline, partners, clock):
    reporter, reference = urgent_report(client)  # no place yet: only the partner for everywhere matches
    runner = Worker(tipline, sleep=lambda seconds: clock.advance(seconds=seconds))
    clock.advance(minutes=14)
    runner.run_timers()
    assert len(outbox(tipline)) == 2
    clock.advance(minutes=2)
    runner.run_timers()
    queued = outbox(tipline)[2:]
    assert [(address, kind) for address, kind, _ in queued] == [(ONCALL, "alert")]  # not Jakarta Org, not Spare Org
    assert "no other partner is left" in queued[0][2]
    runner.run_timers()  # once only
    assert len(outbox(tipline)) == 3


def test_acknowledged_tip_does_not_move_on(client, tipline, partners, clock):
    reporter, reference = urgent_report(client)
    Reporter(client, EVERYWHERE).send(f"ACK {reference}")
    clock.advance(minutes=30)
    Worker(tipline).run_timers()
    assert len(outbox(tipline)) == 2


def test_operator_escalates_a_normal_tip(client, tipline, partners, clock):
    reporter = Reporter(client, REPORTER_NUMBER)
    for text in ("hi", "1", "2", "A boy begs at the station", "6", "Bali", "today", "1", "2", "1"):
        reporter.send(text)
    with storage.writing(tipline.db) as session:
        tip = storage.tip_by_reference(session, reference="TEST-2322")
        spare = storage.partner_by_name(session, name="Spare Org")
        operator = Actor.operator("op@example.org")
        first = escalate_tip(session, tip, spare, actor=operator, now=clock.now, outbound=tipline.outbound)
        again = escalate_tip(session, tip, spare, actor=operator, now=clock.now, outbound=tipline.outbound)
    assert first is not None and first.due_at is None and again is None
    assert [(address, kind) for address, kind, _ in outbox(tipline)] == [(SPARE, "escalation")]
    assert tip_of(tipline, "TEST-2322").status == "escalated"


def test_follow_up_only_with_consent_and_the_answer_joins_the_tip(client, tipline, partners, clock):
    reporter, reference = urgent_report(client)
    finish(reporter, consent=True)
    clock.advance(minutes=30)  # an operator reads the tip and asks
    with storage.writing(tipline.db) as session:
        tip = storage.tip_by_reference(session, reference=reference)
        ask_reporter(session, OPERATOR, tip, "What colour was the door?", now=clock.now,
                     outbound=tipline.outbound)
    address, kind, body = outbox(tipline)[-1]
    assert address == REPORTER_NUMBER and kind == "follow_up" and "colour" in body
    clock.advance(minutes=5)
    assert "added to report" in reporter.send("Green, with a red gate")[0]
    assert "added to report" not in reporter.send("hi")[0]  # answered once; back to the menu
    from tipline.storage import additions_by_tip

    with storage.reading(tipline.db) as session:
        tip = storage.tip_by_reference(session, reference=reference)
        assert [a.text for a in additions_by_tip(session, tip_ids=[tip.id])[tip.id]] == ["Green, with a red gate"]


def test_no_follow_up_without_consent(client, tipline, partners, clock):
    reporter, reference = urgent_report(client)
    finish(reporter, consent=False)
    with storage.writing(tipline.db) as session:
        tip = storage.tip_by_reference(session, reference=reference)
        with pytest.raises(FollowUpRefused):
            ask_reporter(session, OPERATOR, tip, "Anything else?", now=clock.now,
                         outbound=tipline.outbound)
    assert not any(kind == "follow_up" for _, kind, _ in outbox(tipline))


def test_exit_cancels_a_queued_follow_up(client, tipline, partners, clock):
    reporter, reference = urgent_report(client)
    finish(reporter, consent=True)
    with storage.writing(tipline.db) as session:
        tip = storage.tip_by_reference(session, reference=reference)
        ask_reporter(session, OPERATOR, tip, "Anything else?", now=clock.now, outbound=tipline.outbound)
    reporter.send("EXIT")
    with storage.reading(tipline.db) as session:
        [row] = [r for r in storage.list_outbox(session) if r.kind == "follow_up"]
    assert row.status == "cancelled" and row.to_sealed == ""
    assert tip_of(tipline, reference).contact_sealed is None


def test_purge_applies_retention_and_dry_run_changes_nothing(client, tipline, partners, clock, monkeypatch):
    reporter, reference = urgent_report(client)
    finish(reporter, consent=True)
    Reporter(client, EVERYWHERE).send(f"DONE {reference} handled")
    with storage.writing(tipline.db) as session:
        confirm_outcome(session, storage.tip_by_reference(session, reference=reference),
                        actor=Actor.operator("op@example.org"), now=clock.now)
    later = clock.now + timedelta(days=400)
    dry = purge(tipline, now=later, dry_run=True)
    assert dry["closed_tip_text"] == 1 and dry["processed_messages"] > 0 and dry["conversations"] == 1
    assert tip_of(tipline, reference).description is not None
    assert tip_of(tipline, reference).answers == {"children": "2"}  # how many: the reporter's words too
    counts = purge(tipline, now=later, dry_run=False)
    assert counts == dry
    tip = tip_of(tipline, reference)
    assert tip.description is None and tip.location is None and tip.answers == {} and tip.status == "closed"
    assert purge(tipline, now=later, dry_run=False)["closed_tip_text"] == 0
    for name, value in {"TIPLINE_DATABASE_URL": tipline.settings.database_url,
                        "TIPLINE_INSTANCE_PATH": str(tipline.settings.instance_path)}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["purge", "--dry-run"])
    assert result.exit_code == 0 and "would purge" in result.output


def test_contact_retention_deletes_old_contacts_of_open_tips(client, tipline, partners, clock):
    reporter, reference = urgent_report(client)
    finish(reporter, consent=True)
    assert tip_of(tipline, reference).contact_sealed is not None
    purge(tipline, now=clock.now + timedelta(days=29), dry_run=False)
    assert tip_of(tipline, reference).contact_sealed is not None
    purge(tipline, now=clock.now + timedelta(days=31), dry_run=False)
    assert tip_of(tipline, reference).contact_sealed is None


def test_partners_add_command(tmp_path, monkeypatch, tipline):
    for name, value in {"TIPLINE_DATABASE_URL": tipline.settings.database_url,
                        "TIPLINE_INSTANCE_PATH": str(tipline.settings.instance_path)}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    result = runner.invoke(main, ["partners", "add", "Harbour NGO", "--phone", "+15550100054", "--channel", "whatsapp",
                                  "--region", "Jakarta", "--region", "Bekasi", "--category", "forced_labour",
                                  "--urgent-only"])
    assert result.exit_code == 0, result.output
    assert "5550100054" not in result.output
    with storage.reading(tipline.db) as session:
        partner = storage.partner_by_name(session, name="Harbour NGO")
    assert partner.phone == "+15550100054" and partner.channel == "whatsapp" and partner.urgent_only
    assert partner.regions == ["Jakarta", "Bekasi"] and partner.categories == ["forced_labour"]
    assert runner.invoke(main, ["partners", "add", "Other", "--phone", "not a number"]).exit_code == 2
    assert runner.invoke(main, ["partners", "add", "Harbour NGO", "--phone", "+15550100055"]).exit_code == 1


def test_worker_once_command_sends_what_is_due(client, tipline, partners, monkeypatch):
    urgent_report(client)
    for name, value in {"TIPLINE_DATABASE_URL": tipline.settings.database_url,
                        "TIPLINE_INSTANCE_PATH": str(tipline.settings.instance_path),
                        "TIPLINE_CONTACT_KEY": tipline.settings.contact_key,
                        "TIPLINE_SEND_RATE": "1000"}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "messages handled" in result.output
    with storage.reading(tipline.db) as session:
        # No TWILIO_ACCOUNT_SID: nothing went anywhere, and no row says it did.
        assert {r.status for r in storage.list_outbox(session)} == {"not_sent"}
