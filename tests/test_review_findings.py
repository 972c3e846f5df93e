"""Defects found in an adversarial review, each pinned by a test that failed before its fix."""

from __future__ import annotations

from datetime import UTC

import pytest

from tipline import storage
from tipline.actions import Actor
from tipline.actions.followups import ask_reporter

from .conftest import make_settings
from .escalation_support import finish, tip_of, urgent_report


@pytest.fixture
def settings(oncall_settings):
    return oncall_settings


def _asked(client, tipline, clock):
    reporter, reference = urgent_report(client)
    finish(reporter, consent=True)
    clock.advance(minutes=30)
    with storage.writing(tipline.db) as session:
        tip = storage.tip_by_reference(session, reference=reference)
        ask_reporter(session, Actor.operator("op@example.org"), tip, "Anything else?", now=clock.now,
                     outbound=tipline.outbound)
    clock.advance(minutes=5)
    return reporter, reference


@pytest.mark.parametrize("text, extra", [("Stop.", {}), ("exit!", {}), ("PARAR", {"OptOutType": "STOP"})])
def test_stop_or_exit_with_a_question_pending_is_honoured_not_taken_as_the_answer(
    client, tipline, partners, clock, text, extra,  # noqa: F811
):
    reporter, reference = _asked(client, tipline, clock)
    replies = reporter.send(text, **extra)
    assert not any("added to report" in r for r in replies)
    tip = tip_of(tipline, reference)
    assert tip.contact_sealed is None
    with storage.reading(tipline.db) as session:
        assert not storage.additions_by_tip(session, tip_ids=[tip.id]).get(tip.id)


def test_status_callback_with_a_non_ascii_digit_error_code_is_not_a_500(client):
    from tests.conftest import signed_post

    fields = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "failed", "ErrorCode": "²"}
    response = signed_post(client, fields, url="http://localhost/twilio/status")
    assert response.status_code == 204


@pytest.mark.parametrize("code", ["²²²²²²", "١٢٣٤٥٦"])
def test_a_non_ascii_digit_code_is_a_wrong_code_not_a_500(code):
    """str.isdigit() takes '²' and Arabic-Indic digits; secrets.compare_digest raises TypeError on them."""
    from datetime import datetime

    from tipline.dashboard.security import totp_step

    assert totp_step("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", code, datetime(2026, 3, 2, tzinfo=UTC), None) is None


@pytest.mark.parametrize("url", [
    "/dashboard/?until=9999-12-31", "/dashboard/audit?until=9999-12-31", "/dashboard/statistics?since=9999-12-31",
    "/dashboard/statistics?until=9999-12-31", "/dashboard/statistics?until=0001-01-01",
])
def test_a_date_at_the_end_of_the_calendar_is_not_a_500(admin, url):  # noqa: F811
    assert admin.get(url).status_code == 200


@pytest.mark.parametrize("url", [
    "/dashboard/community/broadcasts/99999999999999999999", "/dashboard/community/polls/99999999999999999999",
    "/dashboard/partners/99999999999999999999/edit", "/dashboard/partners/2147483648/edit",
])
def test_an_id_beyond_a_database_integer_is_a_404(admin, url):  # noqa: F811
    assert admin.get(url).status_code == 404


@pytest.fixture
def store_admin(tmp_path, database_url, clock, references):
    """An admin signed in to an app on each store: PostgreSQL refuses what SQLite takes."""
    from tests.dashboard_support import client_for, make_user
    from tipline import create_app

    settings = make_settings(tmp_path, database_url)
    storage.upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references)
    make_user(app, "admin@example.org", "admin")
    yield app, client_for(app, "admin@example.org")
    app.extensions["tipline"].db.dispose()


@pytest.mark.parametrize("url", ["/dashboard/?q=%00", "/dashboard/?language=%00", "/dashboard/tips/%00",
                                 "/dashboard/audit?action=%00", "/dashboard/audit?target=%00"])
def test_a_nul_character_in_a_dashboard_url_is_a_400(store_admin, url):
    _app, admin = store_admin
    assert admin.get(url).status_code == 400


def test_a_nul_character_in_a_dashboard_form_is_a_400(store_admin, clock):
    from tests.dashboard_support import add_tip, post

    app, admin = store_admin
    add_tip(app, "TEST-2222", at=clock.now)
    response = post(admin, "/dashboard/tips/TEST-2222/notes", {"text": "a\x00b"})
    assert response.status_code == 400
    response = post(admin, "/dashboard/partners/new", {"name": "C", "phone": "+15550100013", "preference": "1",
                                                      "channel": "sms", "language": "en", "regions": "\x00"})
    assert response.status_code == 400


def test_a_user_id_beyond_a_database_integer_is_refused(store_admin):
    from tests.dashboard_support import post

    _app, admin = store_admin
    response = post(admin, "/dashboard/users", {"user_id": "999999999999", "active": "y"},
                    token_from="/dashboard/users")
    assert response.status_code == 400
