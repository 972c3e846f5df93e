"""The conversation through the signed webhook and the store: what is told is true, what is said is
kept, and nothing else captures a report (issues 8 and 9)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from tipline import storage
from tipline.actions import Actor
from tipline.actions.followups import ask_reporter
from tipline.actions.tips import change_status
from tipline.models import Tip, TipEvent
from tipline.privacy import pin_hash
from tipline.settings import Settings, SettingsError

from .conftest import TEST_PIN, Reporter

ONCALL = "+15550100070"
EVERYWHERE = "+15550100051"
BALI = "+15550100053"
REPORTER_NUMBER = "+15550100001"
OTHER_PHONE = "+15550100002"


def add_partner(tipline, name, phone, regions):
    with storage.writing(tipline.db) as session:
        storage.add_partner(session, name=name, phone=phone, channel="sms", language="en", regions=regions,
                            categories=[], urgent_only=False, preference=1, now=tipline.clock())


def tip(tipline, reference="TEST-2322") -> Tip | None:
    with storage.reading(tipline.db) as session:
        return storage.tip_by_reference(session, reference=reference)


def events(tipline, reference="TEST-2322") -> list[str]:
    with storage.reading(tipline.db) as session:
        found = storage.tip_by_reference(session, reference=reference)
        return [e.kind for e in session.exec(select(TipEvent).where(TipEvent.tip_id == found.id).order_by(TipEvent.id))]


def outbox_kinds(tipline) -> list[str]:
    with storage.reading(tipline.db) as session:
        return [row.kind for row in storage.list_outbox(session)]


# ---- the urgent reply tells the truth ------------------------------------------------------------

def test_without_a_partner_or_on_call_the_urgent_reply_does_not_claim_passed_on(make_app):
    app = make_app()
    reporter = Reporter(app.test_client(), REPORTER_NUMBER)
    reporter.send("hi")
    reporter.send("1")
    [reply] = reporter.send("1")
    assert "Our team will read your report" in reply and "passing this on" not in reply
    tipline = app.extensions["tipline"]
    assert tip(tipline).urgency == "immediate" and outbox_kinds(tipline) == []


@pytest.mark.parametrize("oncall,regions,routed", [
    (ONCALL, None, True), (None, ["everywhere"], True), (None, ["Bali"], False), (None, ["51"], False),
])
def test_the_urgent_reply_says_passed_on_only_when_someone_will_receive_it(make_app, oncall, regions, routed):
    app = make_app(oncall_number=oncall)
    tipline = app.extensions["tipline"]
    if regions:
        add_partner(tipline, "Org", EVERYWHERE, regions)
    reporter = Reporter(app.test_client(), REPORTER_NUMBER)
    reporter.send("hi")
    reporter.send("1")
    [reply] = reporter.send("yes")
    assert ("We are passing this on now." in reply) is routed
    assert ("Our team will read your report." in reply) is not routed
    assert ("escalation" in outbox_kinds(tipline)) is routed


def test_a_panic_message_with_a_known_place_reaches_that_places_partner_and_says_so(make_app):
    app = make_app()
    tipline = app.extensions["tipline"]
    add_partner(tipline, "Bali Org", BALI, ["51"])
    reporter = Reporter(app.test_client(), REPORTER_NUMBER)
    for text in ("hi", "1", "2", "Girls are kept in a room above the shop", "2", "Kota Denpasar"):
        reporter.send(text)
    [reply] = reporter.send("HELP ME")
    assert "We are passing this on now." in reply
    assert tip(tipline).urgency == "immediate" and outbox_kinds(tipline) == ["escalation"]


# ---- EXIT and Delete keep what was passed on or acted on (9.6) -----------------------------------

def test_exit_after_an_urgent_report_was_passed_on_keeps_it_and_says_why(make_app):
    app = make_app(oncall_number=ONCALL)
    tipline = app.extensions["tipline"]
    add_partner(tipline, "Everywhere Org", EVERYWHERE, ["everywhere"])
    reporter = Reporter(app.test_client(), REPORTER_NUMBER)
    for text in ("hi", "1", "1"):
        reporter.send(text)
    assert reporter.send("EXIT") == ["Your report was already passed on to people who can act, so it is kept.\n"
                                     "Ended. Send any message to start again."]
    kept = tip(tipline)
    assert kept is not None and kept.contact_sealed is None
    assert events(tipline)[-1] == "reporter_withdrew"


@pytest.mark.parametrize("staff_action", ["note", "status", "assign"])
@pytest.mark.parametrize("leave", ["EXIT", "delete"])
def test_exit_or_delete_after_staff_acted_keeps_the_tip_marked_withdrawn(make_app, clock, staff_action, leave):
    from .dashboard_support import make_user

    app = make_app()
    tipline = app.extensions["tipline"]
    reporter = Reporter(app.test_client(), REPORTER_NUMBER)
    for text in ("hi", "1", "2", "A boy sleeps at the bus terminal every night", "6", "Terminal Kalideres", "0", "0",
                 "2"):
        reporter.send(text)
    with storage.writing(tipline.db) as session:
        found = storage.tip_by_reference(session, reference="TEST-2322")
        if staff_action == "note":
            storage.add_note(session, tip=found, author="op@example.org", text="Called the shelter", now=clock.now)
        elif staff_action == "status":
            change_status(session, found, actor=Actor.operator("op@example.org"), to="triaged", now=clock.now)
    if staff_action == "assign":
        user = make_user(app, "op@example.org", "operator")
        with storage.writing(tipline.db) as session:
            storage.assign_tip(session, tip=storage.tip_by_reference(session, reference="TEST-2322"),
                               assignee_id=user.id, actor="admin@example.org", now=clock.now)
    replies = reporter.send("EXIT" if leave == "EXIT" else "2")
    assert replies[0].startswith("Our team has already started work on your report, so it is kept.")
    assert tip(tipline) is not None and events(tipline)[-1] == "reporter_withdrew"


def test_exit_before_anyone_acted_deletes_the_unfinished_tip(make_app):
    app = make_app()
    reporter = Reporter(app.test_client(), REPORTER_NUMBER)
    for text in ("hi", "1", "2", "A boy sleeps at the bus terminal every night"):
        reporter.send(text)
    assert reporter.send("EXIT") == ["Ended. Send any message to start again."]
    assert tip(app.extensions["tipline"]) is None


# ---- ADD and STATUS: the reporter's own, or with the PIN ------------------------------------------

def finished_report(app) -> Reporter:
    reporter = Reporter(app.test_client(), REPORTER_NUMBER)
    for text in ("halo", "1", "2", "Anak perempuan dijanjikan kerja di Malaysia", "3", "0", "kemarin", "1", "2"):
        reporter.send(text)
    assert f"PIN {TEST_PIN}" in reporter.send("1")[0]
    return reporter


def test_the_pin_is_kept_only_as_a_keyed_hash(make_app):
    app = make_app()
    finished_report(app)
    stored = tip(app.extensions["tipline"])
    key = app.extensions["tipline"].settings.pseudonym_key
    assert stored.pin_hash == pin_hash("TEST-2322", TEST_PIN, key) and TEST_PIN not in stored.pin_hash
    assert stored.pin_hash != pin_hash("TEST-2322", TEST_PIN, "another-key-another-key-another-key")


def test_wrong_pins_lock_the_tip_for_a_day_and_reveal_nothing(make_app, clock):
    app = make_app()
    finished_report(app)
    other = Reporter(app.test_client(), OTHER_PHONE)
    denied = other.send("STATUS TEST-2322")
    assert other.send("STATUS ZZZZ-2222 1234") == [denied[0].replace("TEST-2322", "ZZZZ-2222")]  # same words
    for wrong in ("0000", "1111", "2222", "3333", "4444"):
        assert other.send(f"STATUS TEST-2322 {wrong}") == denied
    assert other.send(f"STATUS TEST-2322 {TEST_PIN}") == denied  # the right PIN, but locked now
    assert tip(app.extensions["tipline"]).pin_failures == 6
    clock.advance(hours=25)
    assert "sudah diterima" in other.send(f"STATUS TEST-2322 {TEST_PIN}")[0]
    assert tip(app.extensions["tipline"]).pin_failures == 0


def test_add_from_another_phone_needs_the_pin_and_the_owner_needs_none(make_app):
    app = make_app()
    reporter = finished_report(app)
    other = Reporter(app.test_client(), OTHER_PHONE)
    assert "tidak bisa dibuka" in other.send("TAMBAH TEST-2322 ini palsu")[0]
    assert "Sudah ditambahkan" in other.send(f"tambah test 2322 {TEST_PIN} calonya pakai motor merah")[0]
    assert "Sudah ditambahkan" in reporter.send("TAMBAH TEST 2322: paspornya di rumah calo")[0]
    with storage.reading(app.extensions["tipline"].db) as session:
        found = storage.tip_by_reference(session, reference="TEST-2322")
        texts = [a.text for a in storage.additions_by_tip(session, tip_ids=[found.id])[found.id]]
    assert texts == ["calonya pakai motor merah", "paspornya di rumah calo"]


@pytest.mark.parametrize("status,after", [("closed", "triaged"), ("spam", "spam")])
def test_add_to_a_closed_tip_reopens_it_for_operators(make_app, clock, status, after):
    app = make_app()
    reporter = finished_report(app)
    tipline = app.extensions["tipline"]
    with storage.writing(tipline.db) as session:
        change_status(session, storage.tip_by_reference(session, reference="TEST-2322"),
                      actor=Actor.operator("op@example.org"), to=status, now=clock.now)
    clock.advance(days=2)
    assert "Sudah ditambahkan" in reporter.send("TAMBAH TEST-2322 mereka pindah ke rumah lain")[0]
    assert tip(tipline).status == after
    with storage.reading(tipline.db) as session:
        found = storage.tip_by_reference(session, reference="TEST-2322")
        last = session.exec(select(TipEvent).where(TipEvent.tip_id == found.id).order_by(TipEvent.id.desc())).first()
    if status == "closed":  # back to the operators, the reason in the timeline (and the audit trail)
        assert (last.kind, last.actor) == ("status_changed", "reporter")
        assert last.detail == {"from": "closed", "to": "triaged", "reason": "the reporter added information"}
    else:  # spam stays spam, flagged
        assert (last.kind, last.actor) == ("addition_after_close", "reporter")


# ---- nothing captures a report (9.5) ---------------------------------------------------------------

def test_a_volunteer_mid_report_answering_1_after_a_poll_gets_the_urgent_path(tmp_path, sqlite_url, clock,
                                                                               references):
    from .community_support import BANDUNG, QUESTION, send_poll, tally, volunteer
    from .conftest import AUTH_TOKEN
    from .dashboard_support import client_for, make_user
    from .fake_twilio import FakeTwilio
    from .outbox_support import ACCOUNT, twilio_app

    with FakeTwilio(ACCOUNT, AUTH_TOKEN) as fake:
        app = twilio_app(tmp_path, sqlite_url, fake, clock, references)
        tipline = app.extensions["tipline"]
        volunteer(tipline, BANDUNG, language="en", place_code="32.04")
        person = Reporter(app.test_client(), BANDUNG)
        person.send("hi")
        assert "Is a child in danger right now?" in person.send("1")[0]
        clock.advance(minutes=1)
        make_user(app, "operator@example.org", "operator")
        poll_id, _ = send_poll(client_for(app, "operator@example.org"), tipline, clock)
        assert QUESTION["question_en"] in " ".join(r["form"]["Body"] for r in fake.sent())
        clock.advance(minutes=2)
        replies = person.send("1")
        assert "Call 112 (emergency)" in replies[0] and "counted" not in " ".join(replies)
        assert tally(tipline, poll_id) == {}
        assert tip(tipline).urgency == "immediate"
        app.extensions["tipline"].db.dispose()


def ask(tipline, clock, question="Which station was it?"):
    clock.advance(minutes=30)
    with storage.writing(tipline.db) as session:
        tip = storage.tip_by_reference(session, reference="TEST-2322")
        ask_reporter(session, Actor.operator("op@example.org"), tip, question, now=clock.now, outbound=tipline.outbound)
    clock.advance(minutes=5)


def consenting_report(app) -> Reporter:
    reporter = Reporter(app.test_client(), REPORTER_NUMBER)
    for text in ("hi", "1", "2", "Children sell tissues at the station until midnight", "6", "Stasiun Manggarai",
                 "every night", "3", "1", "1"):
        reporter.send(text)
    return reporter


def test_a_call_for_help_with_a_question_pending_is_a_new_urgent_report_not_an_answer(make_app, clock):
    app = make_app(oncall_number=ONCALL)
    tipline = app.extensions["tipline"]
    reporter = consenting_report(app)
    ask(tipline, clock)
    replies = reporter.send("Please help a girl is being dragged into a van right now at Blok M station")
    assert "Call 112 (emergency)" in replies[0] and "We are passing this on now." in replies[0]
    assert "added to report" not in " ".join(replies)
    urgent = tip(tipline, "TEST-2422")
    assert urgent.urgency == "immediate" and urgent.description.startswith("Please help a girl is being dragged")
    assert "escalation_requested" in events(tipline, "TEST-2422")
    assert "escalation" in outbox_kinds(tipline)
    with storage.reading(tipline.db) as session:
        first = storage.tip_by_reference(session, reference="TEST-2322")
        assert storage.additions_by_tip(session, tip_ids=[first.id]) == {}
        assert storage.pending_follow_up(session, reporter=first.reporter, since=clock.now - timedelta(days=1))


def test_a_follow_up_takes_only_the_first_reply_and_never_a_long_new_story(make_app, clock):
    app = make_app()
    tipline = app.extensions["tipline"]
    reporter = consenting_report(app)
    ask(tipline, clock)
    story = ("Another thing: my neighbour's two daughters, 13 and 14, stopped going to school last month and "
             "a man in a black car takes them every evening to work at a karaoke place in the city")
    replies = reporter.send(story)
    assert "added to report" not in " ".join(replies) and "kept for a report" in replies[0]
    assert tip(tipline, "TEST-2422").description == story
    reporter.send("MENU")
    ask(tipline, clock, "And the first report: which exit of the station?")
    assert "added to report TEST-2322" in reporter.send("The north exit, near the bus stop")[0]
    assert "added to report" not in " ".join(reporter.send("also the east exit"))  # only the first reply


# ---- settings, stored flags ---------------------------------------------------------------------

def test_resume_hours_is_a_setting(make_app, clock, tmp_path):
    assert Settings.from_env({"TIPLINE_INSTANCE_PATH": str(tmp_path / "i")}).resume_hours == 24
    six = Settings.from_env({"TIPLINE_INSTANCE_PATH": str(tmp_path / "i"), "TIPLINE_RESUME_HOURS": "6"})
    assert six.resume_hours == 6
    with pytest.raises(SettingsError, match="TIPLINE_RESUME_HOURS"):
        Settings.from_env({"TIPLINE_INSTANCE_PATH": str(tmp_path / "i"), "TIPLINE_RESUME_HOURS": "a day"})
    app = make_app(resume_hours=1)
    reporter = Reporter(app.test_client(), REPORTER_NUMBER)
    for text in ("hi", "1", "2", "A boy sleeps at the bus terminal every night"):
        reporter.send(text)
    clock.advance(minutes=50)
    assert reporter.send("hi")[0].startswith("Your report is not finished.")
    reporter.send("2")
    for text in ("1", "2", "A girl sells flowers at night"):
        reporter.send(text)
    clock.advance(minutes=70)
    assert reporter.send("hi")[0].startswith("Info Anak: we never share your number.")


def test_a_typed_place_that_matches_nothing_is_marked_for_operators(make_app):
    app = make_app()
    tipline = app.extensions["tipline"]
    reporter = Reporter(app.test_client(), REPORTER_NUMBER)
    for text in ("hi", "1", "2", "A boy sleeps at the bus terminal every night", "6", "behind the old cinema"):
        reporter.send(text)
    assert tip(tipline).place_code is None and events(tipline).count("place_not_matched") == 1
    other = Reporter(app.test_client(), OTHER_PHONE)
    for text in ("hi", "1", "2", "A girl sells flowers at night", "6", "Pasar Baru, Kota Surabaya"):
        other.send(text)
    matched = tip(tipline, "TEST-2422")
    assert matched.place_code == "35.78" and matched.location == "Pasar Baru, Kota Surabaya"
    assert "place_not_matched" not in events(tipline, "TEST-2422")


def test_a_channel_whose_provider_does_not_answer_stop_gets_the_confirmation(make_app):
    from tipline.service import InboundMessage

    tipline = make_app().extensions["tipline"]
    gateway = InboundMessage(message_sid="GW1", sender=REPORTER_NUMBER, channel="sms", text="STOP",
                             provider="smsgate")  # the Android gateway: nobody else answers STOP
    assert tipline.receive(gateway).messages == ["You will get no more messages from us. Send START to come back."]
    twilio = InboundMessage(message_sid="SM2", sender=OTHER_PHONE, channel="sms", text="STOP")
    assert tipline.receive(twilio).messages == []


def test_every_engine_event_has_one_handler(tipline):
    """The service applies events by a table: an event the engine gains without a handler fails here,
    and one that reaches the service anyway is refused, never passed over silently."""
    from tipline.engine import EVENTS
    from tipline.service import EVENT_HANDLERS

    assert set(EVENT_HANDLERS) == set(EVENTS)

    class Unknown:
        pass

    with storage.writing(tipline.db) as session, pytest.raises(TypeError, match="unhandled engine event Unknown"):
        tipline._apply(session, Unknown(), reporter="pseudonym-1", message=None, now=tipline.clock())
