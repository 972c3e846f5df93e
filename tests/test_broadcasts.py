"""Awareness messages and the lesson of the week: composed in the dashboard, sent by the worker through
a local Twilio-compatible server, only to active volunteers of the chosen places."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from tipline import storage
from tipline.models import Broadcast, Volunteer
from tipline.worker import Worker, record_status

from .community_support import BANDUNG, BOGOR, REPORTER_ONLY, SEMARANG, draft, post, run_worker, volunteer
from .conftest import Reporter
from .dashboard_support import client_for, make_user


@pytest.fixture
def app(watch_app):
    """This module's app sends through the fake Twilio server, on SQLite and on PostgreSQL."""
    return watch_app


@pytest.fixture
def operator(watch_operator):
    return watch_operator


def wall_clock(at: datetime) -> str:
    """A time as an operator in Jakarta types it into a datetime-local field (WIB, no zone)."""
    return at.astimezone(ZoneInfo("Asia/Jakarta")).strftime("%Y-%m-%dT%H:%M")


def test_broadcast_to_a_place_reaches_exactly_its_active_volunteers(app, tipline, watch, operator, fake_twilio, clock):
    broadcast_id = draft(operator, en="Watch the bus station this week.", id_="Awasi terminal bus minggu ini.",
                         places=["32"])
    page = operator.get(f"/dashboard/community/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert "2 volunteers would receive it now." in page  # Bandung and Bogor: not the one who left
    assert "Cost: 2 SMS segments in all." in page
    assert fake_twilio.requests == []  # nothing goes before an operator sends it

    response = post(operator, f"/dashboard/community/broadcasts/{broadcast_id}/send", {"action": "now"},
                    token_from=f"/dashboard/community/broadcasts/{broadcast_id}")
    assert response.status_code == 302
    run_worker(tipline, clock)

    sent = {r["form"]["To"]: r["form"]["Body"] for r in fake_twilio.sent()}
    assert set(sent) == {BANDUNG, BOGOR}
    assert sent[BANDUNG].startswith("Watch the bus station this week.\nInfo Anak. Send STOP")
    # Indonesian keywords in Indonesian texts
    assert sent[BOGOR].startswith("Awasi terminal bus minggu ini.\nInfo Anak. Kirim BERHENTI")

    with storage.reading(tipline.db) as session:
        [row] = session.exec(select(Broadcast)).all()
    assert row.status == "sent" and row.recipients == 2 and row.segments == 2

    [message] = [r for r in fake_twilio.sent() if r["form"]["To"] == BANDUNG]
    with storage.reading(tipline.db) as session:
        sids = [m.twilio_sid for m in storage.list_outbox(session) if m.kind == "volunteer_awareness"]
    assert record_status(tipline, message_sid=sids[-1], status="delivered", error_code=None)
    delivery = operator.get(f"/dashboard/community/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert re.search(r"Delivered: <strong>1</strong>", delivery) and re.search(r"Sent: <strong>1</strong>", delivery)
    assert message["form"]["From"] == "+15550100090"


def test_carrier_opt_out_makes_the_volunteer_leave(app, tipline, watch, operator, fake_twilio, clock):
    fake_twilio.fail(400, 21610, to=BOGOR)
    broadcast_id = draft(operator, en="Lesson: never confront.", id_="Jangan pernah menghadapi sendiri.", places=[])
    post(operator, f"/dashboard/community/broadcasts/{broadcast_id}/send", {"action": "now"},
         token_from=f"/dashboard/community/broadcasts/{broadcast_id}")
    run_worker(tipline, clock)
    assert {r["form"]["To"] for r in fake_twilio.sent()} == {BANDUNG, SEMARANG}
    with storage.reading(tipline.db) as session:
        bogor = storage.volunteer_by_reporter(session, reporter=tipline.reporter_of(BOGOR))
        assert not bogor.active and bogor.address_sealed is None
    page = operator.get(f"/dashboard/community/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert re.search(r"Failed: <strong>1</strong>", page)


def test_cost_and_gsm_warning_are_shown_before_sending(app, tipline, watch, operator, fake_twilio):
    long_text = "Watch for children who do not go to school. " * 5  # 225 characters: two segments
    broadcast_id = draft(operator, en=long_text, id_="Perhatikan anak yang tidak sekolah \U0001F64F",
                         places=["32", "33"])
    page = operator.get(f"/dashboard/community/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert "3 volunteers would receive it now." in page
    # English (Bandung): 2 GSM-7 segments. Indonesian (Bogor, Semarang): the emoji makes the short text
    # with its footer UCS-2, over 70 characters: 2 segments each.
    assert "Cost: 6 SMS segments in all." in page
    assert re.findall(r'<td class="segments">(\d+)</td>', page) == ["2", "2"]
    assert "Not GSM-7: \U0001F64F" in page
    assert fake_twilio.requests == []


def test_scheduled_broadcast_goes_only_when_due(app, tipline, watch, operator, fake_twilio, clock):
    broadcast_id = draft(operator, en="Evening meeting at the village hall.", id_="Rapat malam di balai desa.",
                         places=["33"])
    when = clock.now + timedelta(hours=3)
    page = f"/dashboard/community/broadcasts/{broadcast_id}"
    assert post(operator, f"{page}/send", {"action": "schedule", "at": wall_clock(clock.now - timedelta(hours=1))},
                token_from=page).status_code == 400
    assert post(operator, f"{page}/send", {"action": "schedule", "at": wall_clock(when)},
                token_from=page).status_code == 302
    run_worker(tipline, clock)  # five minutes later: not yet
    assert fake_twilio.requests == []
    clock.now = when
    run_worker(tipline, clock)
    assert [r["form"]["To"] for r in fake_twilio.sent()] == [SEMARANG]
    actions = [e.action for e in storage_audit(tipline)]
    assert "broadcast_drafted" in actions and "broadcast_scheduled" in actions


def test_a_time_typed_in_wib_is_kept_as_that_moment(app, tipline, watch, operator, clock):
    """An operator in Jakarta who types 21:00 means 21:00 WIB, which is 14:00 UTC; the page says WIB."""
    broadcast_id = draft(operator, en="Evening meeting at the village hall.", id_="Rapat malam di balai desa.",
                         places=[])
    page = f"/dashboard/community/broadcasts/{broadcast_id}"
    assert "(WIB)" in operator.get(page).get_data(as_text=True)
    typed = (clock.now + timedelta(days=1)).astimezone(ZoneInfo("Asia/Jakarta")).replace(hour=21, minute=0)
    response = post(operator, f"{page}/send", {"action": "schedule", "at": typed.strftime("%Y-%m-%dT%H:%M")},
                    token_from=page)
    assert response.status_code == 302
    with storage.reading(tipline.db) as session:
        scheduled = session.get(Broadcast, broadcast_id).scheduled_at
    assert scheduled == typed.astimezone(scheduled.tzinfo) and scheduled.utcoffset() == timedelta(0)
    assert scheduled.hour == 14
    assert typed.strftime("%Y-%m-%d 21:00 WIB") in operator.get(page).get_data(as_text=True)


def test_a_cancelled_broadcast_never_goes(app, tipline, watch, operator, fake_twilio, clock):
    broadcast_id = draft(operator, en="Not this one.", id_="Bukan yang ini.", places=[])
    page = f"/dashboard/community/broadcasts/{broadcast_id}"
    post(operator, f"{page}/send", {"action": "schedule", "at": wall_clock(clock.now + timedelta(hours=1))},
         token_from=page)
    assert post(operator, f"{page}/cancel", {}, token_from=page).status_code == 302
    clock.advance(hours=2)
    run_worker(tipline, clock)
    assert fake_twilio.requests == []


def test_lesson_of_the_week(app, tipline, watch, fake_twilio, clock):
    admin = _admin(app)
    response = post(admin, "/dashboard/community/lessons", {"active": "y", "start": wall_clock(clock.now)},
                    token_from="/dashboard/community/broadcasts")
    assert response.status_code == 302
    run_worker(tipline, clock)
    first = {r["form"]["To"]: r["form"]["Body"] for r in fake_twilio.sent()}
    assert set(first) == {BANDUNG, BOGOR, SEMARANG}
    assert first[BANDUNG].startswith("Info Anak sign of the week: Signs in a child")
    assert first[BOGOR].startswith("Info Anak tanda minggu ini:")

    clock.advance(days=3)
    run_worker(tipline, clock)
    assert len(fake_twilio.sent()) == 3  # one a week
    clock.advance(days=4)
    run_worker(tipline, clock)
    second = [r["form"]["Body"] for r in fake_twilio.sent()[3:] if r["form"]["To"] == BANDUNG]
    assert len(second) == 1 and second[0].startswith("Info Anak sign of the week: Signs in the situation")


def test_operators_cannot_switch_the_lesson_of_the_week_and_partners_see_no_community_page(app, operator):
    assert post(operator, "/dashboard/community/lessons", {"active": "y"},
                token_from="/dashboard/community/broadcasts").status_code == 403
    make_user(app, "ngo@example.org", "partner", partner="Rumah Aman")
    partner = client_for(app, "ngo@example.org")
    for path in ("/dashboard/community/broadcasts", "/dashboard/community/polls", "/dashboard/community/ideas",
                 "/dashboard/community/broadcasts/new"):
        assert partner.get(path).status_code == 403


def test_a_message_without_the_default_language_is_refused(app, operator):
    response = post(operator, "/dashboard/community/broadcasts/new", {"text_en": "English only", "places": []},
                    token_from="/dashboard/community/broadcasts/new")
    assert response.status_code == 400 and "default language" in response.get_data(as_text=True)
    bad_place = post(operator, "/dashboard/community/broadcasts/new",
                     {"text_id": "Halo", "places": ["99.99"]}, token_from="/dashboard/community/broadcasts/new")
    assert bad_place.status_code == 400


def _admin(app):
    make_user(app, "admin@example.org", "admin")
    return client_for(app, "admin@example.org")


def storage_audit(tipline):
    with storage.reading(tipline.db) as session:
        return storage.audit_entries(session, per_page=1000)[0]


def test_no_volunteer_row_for_a_reporter(tipline, watch):
    with storage.reading(tipline.db) as session:
        reporters = {v.reporter for v in session.exec(select(Volunteer))}
    assert tipline.reporter_of(REPORTER_ONLY) not in reporters


def test_whatsapp_volunteers_get_whatsapp_inside_the_24_hour_window_and_sms_outside(app, tipline, operator,
                                                                                     fake_twilio, clock):
    recent, silent = "whatsapp:+15550100066", "whatsapp:+15550100067"
    volunteer(tipline, recent, language="en", place_code="32", channel="whatsapp")
    volunteer(tipline, silent, language="en", place_code="32", channel="whatsapp")
    Reporter(app.test_client(), recent).send("hello")  # wrote an hour before: inside the window
    clock.advance(hours=1)
    broadcast_id = draft(operator, en="A note for the watch.", id_="Catatan untuk pemantau.", places=[])
    post(operator, f"/dashboard/community/broadcasts/{broadcast_id}/send", {"action": "now"},
         token_from=f"/dashboard/community/broadcasts/{broadcast_id}")
    run_worker(tipline, clock)
    sent = {r["form"]["To"]: r["form"]["From"] for r in fake_twilio.sent()}
    assert sent == {recent: "whatsapp:+15550100091", "+15550100067": "+15550100090"}


def test_volunteer_words_are_complete_and_gsm7(tipline):
    from tipline.community import words
    from tipline.engine.gsm import is_gsm7

    table = words(tipline).table
    for language in tipline.flow.languages:
        assert set(table[language]) == set(table["en"]), language
        assert all(is_gsm7(text) for text in table[language].values()), language


def test_a_volunteer_who_leaves_after_the_broadcast_was_queued_gets_nothing(app, tipline, watch, operator,
                                                                           fake_twilio, clock):
    broadcast_id = draft(operator, en="Market day reminder.", id_="Pengingat hari pasar.", places=["32"])
    post(operator, f"/dashboard/community/broadcasts/{broadcast_id}/send", {"action": "now"},
         token_from=f"/dashboard/community/broadcasts/{broadcast_id}")
    runner = Worker(tipline, clock=clock, sleep=lambda seconds: clock.advance(seconds=seconds))
    runner.run_timers()  # expanded into the outbox, nothing sent yet
    assert fake_twilio.requests == []
    assert Reporter(app.test_client(), BOGOR).send("STOP") == []
    run_worker(tipline, clock)
    assert [r["form"]["To"] for r in fake_twilio.sent()] == [BANDUNG]
    page = operator.get(f"/dashboard/community/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert re.search(r"Not sent \(the volunteer left\): <strong>1</strong>", page)
