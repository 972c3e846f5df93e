"""The escalation feature in the dashboard: escalate and ask the reporter from a tip's page, the partners
admin page, and the outbox page with its dead letters; who may do what; the audit trail for each."""

from __future__ import annotations

import random
import re

import pytest

from tests.conftest import AUTH_TOKEN, REPORTER, Reporter, make_settings
from tests.fake_twilio import FakeTwilio
from tipline import storage
from tipline.engine.gsm import segments
from tipline.worker import Worker

from ..dashboard_support import add_tip, at, audit_log, csrf_token, escalate, make_user, post

ACCOUNT = "AC" + "2" * 32
BALI = "+15550100050"  # Rumah Aman: the partner account's organisation, covers Bali
JAKARTA = "+15550100052"
TIP = "/dashboard/tips/ABCD-EFGH"
REPORTER_DIGITS = REPORTER.lstrip("+")


@pytest.fixture
def fake_twilio():
    with FakeTwilio(ACCOUNT, AUTH_TOKEN) as fake:
        yield fake


@pytest.fixture
def store_url(request, sqlite_url):
    """SQLite, or PostgreSQL for the tests marked BOTH_STORES."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return request.getfixturevalue("postgres_url")
    return sqlite_url


BOTH_STORES = pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def settings(tmp_path, store_url, fake_twilio):
    """The conftest app, sending through the local Twilio-compatible server."""
    return make_settings(
        tmp_path, store_url, twilio_account_sid=ACCOUNT, twilio_api_base_url=fake_twilio.base_url,
        twilio_sms_from="+15550100090", twilio_whatsapp_from="+15550100091", send_rate_per_second=1000.0,
    )


@pytest.fixture
def partners(tipline, clock):
    with storage.writing(tipline.db) as session:
        for name, phone, regions, preference in (("Jakarta Org", JAKARTA, ["Jakarta"], 1),
                                                 ("Rumah Aman", BALI, ["Bali"], 2)):
            storage.add_partner(session, name=name, phone=phone, channel="sms", language="en", regions=regions,
                                categories=[], urgent_only=False, preference=preference, now=clock.now)


@pytest.fixture
def bali_tip(app, clock):
    add_tip(app, "ABCD-EFGH", at=at(clock, hours=1), category="begging", location="Pasar Kuta, Bali",
            description="A boy begs at the market every night")


def worker(tipline, clock):
    return Worker(tipline, clock=clock, sleep=lambda seconds: clock.advance(seconds=seconds), rng=random.Random(3))


def partner_id(tipline, name):
    with storage.reading(tipline.db) as session:
        return storage.partner_by_name(session, name=name).id


def outbox_rows(tipline):
    with storage.reading(tipline.db) as session:
        return sorted(storage.list_outbox(session), key=lambda r: r.id)


def tip_of(tipline, reference):
    with storage.reading(tipline.db) as session:
        return storage.tip_by_reference(session, reference=reference)


def partner_options(page: str) -> list[str]:
    """The labels of the escalate form's partner select."""
    found = re.search(r'<select id="escalate-partner"[^>]*>(.*?)</select>', page, re.S)
    return re.findall(r'<option (?:selected )?value="\d+">([^<]+)</option>', found.group(1)) if found else []


def chosen_partner(page: str) -> str | None:
    """The partner the escalate form has chosen, if any."""
    found = re.search(r'<select id="escalate-partner"[^>]*>.*?<option selected value="(\d*)">([^<]+)</option>', page,
                      re.S)
    return found.group(2) if found else None


def report(client, *, consent: bool) -> str:
    """A normal report through the signed webhook, as a reporter texts it; its reference."""
    reporter = Reporter(client)
    for text in ("hi", "1", "2", "A boy begs at the station", "6", "Bali", "today", "1", "1" if consent else "2"):
        reporter.send(text)
    assert "TEST-2322" in reporter.send("1")[0]
    return "TEST-2322"


# ---- escalate from the tip page -------------------------------------------------------------------

@BOTH_STORES
def test_escalate_from_the_tip_page_reaches_the_partner_through_the_outbox(app, client, tipline, operator, partner,
                                                                           partners, bali_tip, clock, fake_twilio):
    page = operator.get(TIP).get_data(as_text=True)
    assert "Escalate to a partner" in page
    assert partner_options(page) == [  # matching first, though preferred later, each with the reason
        "Rumah Aman: matches (covers Pasar Kuta, Bali; takes every kind)",
        "Jakarta Org: does not match (does not cover Pasar Kuta, Bali)"]
    assert chosen_partner(page).startswith("Rumah Aman")  # the match is chosen: one click escalates

    response = post(operator, f"{TIP}/escalate", {"partner": partner_id(tipline, "Rumah Aman")}, token_from=TIP)
    assert response.status_code == 302 and response.headers["Location"] == f"{TIP}#escalation"
    [row] = outbox_rows(tipline)
    assert (row.kind, row.status, tipline.contacts.open(row.to_sealed)) == ("escalation", "pending", BALI)
    assert tip_of(tipline, "ABCD-EFGH").status == "escalated"
    [entry] = audit_log(app, action="escalated")
    assert (entry.actor, entry.target, entry.detail) == (
        "operator@example.org", "ABCD-EFGH", {"partner": "Rumah Aman", "matching": True})

    assert worker(tipline, clock).run_once() == 1
    [sent] = fake_twilio.sent()
    assert sent["form"]["To"] == BALI and "ABCD-EFGH" in sent["form"]["Body"] and "market" in sent["form"]["Body"]

    page = operator.get(TIP).get_data(as_text=True)
    assert "Rumah Aman" in page and "no answer yet" in page
    assert partner_options(page) == ["Jakarta Org: does not match (does not cover Pasar Kuta, Bali)"]  # not twice
    assert chosen_partner(page) == "Choose a partner"  # nothing matches: nothing is chosen for the operator

    Reporter(client, BALI).send("DONE ABCD-EFGH Found him, he is with his aunt now")
    page = operator.get(TIP).get_data(as_text=True)
    assert "Found him, he is with his aunt now" in page and "outcome reported 2026-03-02" in page
    assert "Confirm and close" in page  # DONE waits for an operator

    # The partner's own account now sees the tip and its own escalation, never the controls.
    page = partner.get(TIP).get_data(as_text=True)
    assert "Sent to your organisation" in page and "Escalate to a partner" not in page
    assert "Ask the reporter" not in page and "Jakarta Org" not in page


def test_escalation_refuses_a_partner_not_offered_and_a_closed_tip(app, tipline, operator, partners, bali_tip):
    bali = partner_id(tipline, "Rumah Aman")
    assert post(operator, f"{TIP}/escalate", {"partner": bali}, token_from=TIP).status_code == 302
    again = post(operator, f"{TIP}/escalate", {"partner": bali}, token_from=TIP)
    assert again.status_code == 400 and "has not gone to yet" in again.get_data(as_text=True)
    assert post(operator, f"{TIP}/escalate", {"partner": "99999"}, token_from=TIP).status_code == 400
    assert post(operator, "/dashboard/tips/ZZZZ-ZZZZ/escalate", {"partner": bali}, token_from=TIP).status_code == 404
    post(operator, f"{TIP}/status", {"status": "closed"}, token_from=TIP)
    closed = post(operator, f"{TIP}/escalate", {"partner": partner_id(tipline, "Jakarta Org")}, token_from=TIP)
    assert closed.status_code == 400 and "closed" in closed.get_data(as_text=True)
    assert len(outbox_rows(tipline)) == 1 and len(audit_log(app, action="escalated")) == 1


# ---- ask the reporter -----------------------------------------------------------------------------

@BOTH_STORES
def test_ask_the_reporter_relays_the_question_and_the_answer_joins_the_tip(app, client, tipline, operator, clock,
                                                                            fake_twilio):
    reference = report(client, consent=True)
    url = f"/dashboard/tips/{reference}"
    page = operator.get(url).get_data(as_text=True)
    assert "Ask the reporter a question" in page and "GSM-7" in page
    assert REPORTER_DIGITS not in page and REPORTER_DIGITS[-7:] not in page

    clock.advance(minutes=30)  # the operator reads the report, then asks
    response = post(operator, f"{url}/ask", {"question": "Which station,  and at what time?"}, token_from=url)
    assert response.status_code == 302
    [row] = [r for r in outbox_rows(tipline) if r.kind == "follow_up"]
    assert row.to_hint == "" and "Which station, and at what time?" in row.body
    [entry] = audit_log(app, action="follow_up_asked")
    assert (entry.actor, entry.target) == ("operator@example.org", reference)

    assert worker(tipline, clock).run_once() == 1
    [sent] = fake_twilio.sent()
    assert sent["form"]["To"] == REPORTER and "Which station" in sent["form"]["Body"]

    page = operator.get(url).get_data(as_text=True)
    assert "Which station, and at what time?" in page and "waiting for an answer" in page
    outbox_page = operator.get("/dashboard/outbox").get_data(as_text=True)
    assert "reporter" in outbox_page and "Which station" not in outbox_page and REPORTER_DIGITS not in outbox_page

    clock.advance(minutes=10)
    Reporter(client).send("The central station, every morning at six")
    page = operator.get(url).get_data(as_text=True)
    assert "The central station, every morning at six" in page and "answered 2026-03-02" in page
    assert REPORTER_DIGITS not in page


def test_no_question_without_consent(app, client, tipline, operator):
    reference = report(client, consent=False)
    url = f"/dashboard/tips/{reference}"
    page = operator.get(url).get_data(as_text=True)
    assert "did not agree to be contacted" in page and 'name="question"' not in page
    response = post(operator, f"{url}/ask", {"question": "Anything else?"}, token_from=url)
    assert response.status_code == 409 and "did not agree to be contacted" in response.get_data(as_text=True)
    assert not [r for r in outbox_rows(tipline) if r.kind == "follow_up"]
    assert audit_log(app, action="follow_up_asked") == []


def test_no_question_once_the_tip_is_closed(app, client, tipline, operator):
    reference = report(client, consent=True)
    url = f"/dashboard/tips/{reference}"
    post(operator, f"{url}/status", {"status": "closed"}, token_from=url)
    response = post(operator, f"{url}/ask", {"question": "Anything else?"}, token_from=url)
    assert response.status_code == 409 and "closed" in response.get_data(as_text=True)
    assert not [r for r in outbox_rows(tipline) if r.kind == "follow_up"]


def test_a_question_too_long_for_two_segments_comes_back_with_the_reason(app, client, tipline, operator):
    reference = report(client, consent=True)
    url = f"/dashboard/tips/{reference}"
    budget = int(re.search(r'maxlength="(\d+)"', operator.get(url).get_data(as_text=True)).group(1))
    assert 100 < budget < 306
    long = post(operator, f"{url}/ask", {"question": "a" * (budget + 1)}, token_from=url)
    assert long.status_code == 400 and "3 SMS segments" in long.get_data(as_text=True)
    assert "a" * (budget + 1) in long.get_data(as_text=True)  # nothing typed is lost
    emoji = post(operator, f"{url}/ask", {"question": "Was it the old station? 🚉 " + "b" * 60}, token_from=url)
    text = emoji.get_data(as_text=True)
    assert emoji.status_code == 400 and "<code>🚉</code>" in text and "GSM-7" in text
    assert not [r for r in outbox_rows(tipline) if r.kind == "follow_up"]
    assert post(operator, f"{url}/ask", {"question": "a" * budget}, token_from=url).status_code == 302
    # Quotes and dashes a phone types by itself are made plain: the question stays in GSM-7.
    curly = post(operator, f"{url}/ask", {"question": "Was it the “old” station – near the market…? " + "b" * 100},
                 token_from=url)
    assert curly.status_code == 302
    last = [r for r in outbox_rows(tipline) if r.kind == "follow_up"][-1]
    assert 'Was it the "old" station - near the market...?' in last.body and segments(last.body) == 2


# ---- who may do what ---------------------------------------------------------------------------------

def test_partner_accounts_cannot_see_or_use_the_actions(app, tipline, partner, partners, bali_tip):
    escalate(app, "ABCD-EFGH", "Rumah Aman")
    page = partner.get(TIP).get_data(as_text=True)
    assert page and "Escalate to a partner" not in page and "Ask the reporter" not in page
    assert 'href="/dashboard/partners"' not in page and 'href="/dashboard/outbox"' not in page
    token = csrf_token(partner, TIP)
    assert partner.post(f"{TIP}/escalate", data={"partner": partner_id(tipline, "Jakarta Org"),
                                                  "csrf_token": token}).status_code == 403
    assert partner.post(f"{TIP}/ask", data={"question": "Who are you?", "csrf_token": token}).status_code == 403
    for path in ("/dashboard/partners", "/dashboard/partners/new", "/dashboard/outbox"):
        assert partner.get(path).status_code == 403
    assert partner.post("/dashboard/outbox/1/retry", data={"csrf_token": token}).status_code == 403
    assert partner.get("/dashboard/tips/WXYZ-2345").status_code == 404
    assert outbox_rows(tipline) == []


def test_posts_without_a_csrf_token_are_refused(app, tipline, operator, admin, partners, bali_tip):
    bali = partner_id(tipline, "Rumah Aman")
    # refused: nothing done, and the person is sent back to the page the form was on (303)
    assert operator.post(f"{TIP}/escalate", data={"partner": bali}).headers["Location"] == TIP
    assert operator.post(f"{TIP}/ask", data={"question": "Anything?"}).headers["Location"] == TIP
    new = admin.post("/dashboard/partners/new", data={"name": "X", "phone": "+15550100061"})
    assert (new.status_code, new.headers["Location"]) == (303, "/dashboard/partners/new")
    assert admin.post(f"/dashboard/partners/{bali}/deactivate").headers["Location"] == "/dashboard/partners"
    assert admin.post("/dashboard/outbox/1/retry").headers["Location"] == "/dashboard/outbox"
    assert outbox_rows(tipline) == [] and tip_of(tipline, "ABCD-EFGH").status == "new"
    with storage.reading(tipline.db) as session:
        assert len(storage.list_partners(session)) == 2


# ---- partners admin ----------------------------------------------------------------------------------

def new_partner(client, **fields):
    data = {"name": "Bali Child Care", "phone": "+1 555 010 0060", "channel": "sms", "language": "id",
            "regions": "51\nDenpasar", "categories": ["begging", "online"], "urgent_only": "y", "preference": "5",
            **fields}
    return post(client, "/dashboard/partners/new", data, token_from="/dashboard/partners/new")


@BOTH_STORES
def test_admin_adds_edits_and_deactivates_a_partner(app, tipline, admin, operator):
    make_user(app, "care@example.org", "partner", partner="Bali Child Care")
    assert new_partner(admin).status_code == 302
    with storage.reading(tipline.db) as session:
        added = storage.partner_by_name(session, name="Bali Child Care")
    assert (added.phone, added.language, added.regions, added.categories, added.urgent_only, added.preference) == (
        "+15550100060", "id", ["51", "Denpasar"], ["begging", "online"], True, 5)
    page = admin.get("/dashboard/partners").get_data(as_text=True)
    assert "Bali Child Care" in page and "***60" in page and "51 (Bali)" in page and "Denpasar" in page
    assert "5550100060" not in page and "immediate danger only" in page

    edit = f"/dashboard/partners/{added.id}/edit"
    form = admin.get(edit).get_data(as_text=True)
    assert "5550100060" not in form and "***60" in form and "51\nDenpasar</textarea>" in form
    response = post(admin, edit, {"name": "Bali Child Care Foundation", "phone": "", "channel": "whatsapp",
                                  "language": "id", "regions": "", "preference": "7", "active": "y"}, token_from=edit)
    assert response.status_code == 302
    with storage.reading(tipline.db) as session:
        edited = storage.partner_by_id(session, partner_id=added.id)
        account = storage.user_by_email(session, email="care@example.org")
    assert (edited.name, edited.phone, edited.channel, edited.regions, edited.categories, edited.urgent_only) == (
        "Bali Child Care Foundation", "+15550100060", "whatsapp", ["everywhere"], [], False)
    assert account.partner == "Bali Child Care Foundation"  # the partner's accounts follow the new name

    response = post(admin, f"/dashboard/partners/{added.id}/deactivate", token_from="/dashboard/partners")
    assert response.status_code == 302
    with storage.reading(tipline.db) as session:
        assert storage.partner_by_id(session, partner_id=added.id).active is False
    assert [e.target for e in audit_log(app, action="partner_added")] == ["Bali Child Care"]
    [changed] = audit_log(app, action="partner_changed")
    assert changed.target == "Bali Child Care Foundation" and "channel" in changed.detail["changed"]
    assert changed.detail["renamed_from"] == "Bali Child Care"
    assert [e.target for e in audit_log(app, action="partner_deactivated")] == ["Bali Child Care Foundation"]
    assert "5550100060" not in str([e.detail for e in audit_log(app)])

    # Operators may look, not change.
    page = operator.get("/dashboard/partners").get_data(as_text=True)
    assert "Bali Child Care Foundation" in page and "Add a partner" not in page and "Deactivate" not in page
    assert operator.get("/dashboard/partners/new").status_code == 403
    assert operator.get(edit).status_code == 403
    token = csrf_token(operator, "/dashboard/partners")
    assert operator.post(f"/dashboard/partners/{added.id}/deactivate", data={"csrf_token": token}).status_code == 403


@pytest.mark.parametrize("fields, field_error", [
    ({"phone": "12345"}, "E.164"),
    ({"phone": ""}, "phone number is required"),
    ({"regions": "99.99"}, "No place with code 99.99"),
    ({"categories": ["smuggling"]}, "is not a valid choice"),
    ({"name": "   "}, "This field is required"),
    ({"preference": "soon"}, "Not a valid integer"),
    ({"channel": "pigeon"}, "Not a valid choice"),
])
def test_partner_validation(app, tipline, admin, fields, field_error):
    response = new_partner(admin, **fields)
    assert response.status_code == 400 and field_error in response.get_data(as_text=True)
    with storage.reading(tipline.db) as session:
        assert storage.list_partners(session, active_only=False) == []
    assert audit_log(app, action="partner_added") == []


def test_partner_name_and_number_are_each_one_partners(app, tipline, admin, partners):
    taken_name = new_partner(admin, name="Rumah Aman")
    assert taken_name.status_code == 400 and "name exists already" in taken_name.get_data(as_text=True)
    taken_phone = new_partner(admin, phone=JAKARTA)
    assert taken_phone.status_code == 400
    assert "Another partner has this phone number" in taken_phone.get_data(as_text=True)
    edit = f"/dashboard/partners/{partner_id(tipline, 'Rumah Aman')}/edit"
    clash = post(admin, edit, {"name": "Jakarta Org", "channel": "sms", "language": "en", "preference": "2"},
                 token_from=edit)
    assert clash.status_code == 400
    assert admin.get("/dashboard/partners/99999/edit").status_code == 404
    with storage.reading(tipline.db) as session:
        names = sorted(p.name for p in storage.list_partners(session, active_only=False))
    assert names == ["Jakarta Org", "Rumah Aman"]


# ---- the outbox page ---------------------------------------------------------------------------------

@BOTH_STORES
def test_outbox_lists_a_dead_letter_and_retry_queues_it_again(app, client, tipline, operator, partners, bali_tip,
                                                             clock, fake_twilio):
    post(operator, f"{TIP}/escalate", {"partner": partner_id(tipline, "Rumah Aman")}, token_from=TIP)
    fake_twilio.fail(400, 21211, to=BALI)  # a permanent failure: a dead letter at once
    assert worker(tipline, clock).run_once() == 1
    [row] = outbox_rows(tipline)
    assert row.status == "failed"

    page = operator.get("/dashboard/outbox?status=dead_letters&kind=escalation").get_data(as_text=True)
    assert "***50" in page and "Rumah Aman" in page and "21211" in page and "ABCD-EFGH" in page
    assert BALI.lstrip("+") not in page and "Retry" in page
    assert "Nothing here." in operator.get("/dashboard/outbox?status=sent").get_data(as_text=True)
    assert "Nothing here." in operator.get("/dashboard/outbox?kind=alert").get_data(as_text=True)
    assert operator.get("/dashboard/outbox?status=bogus&page=x").status_code == 200

    clock.advance(minutes=3)
    response = post(operator, f"/dashboard/outbox/{row.id}/retry?status=dead_letters", token_from="/dashboard/outbox")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/outbox?status=dead_letters"
    [row] = outbox_rows(tipline)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, clock.now)
    [entry] = audit_log(app, action="outbox_retried")
    assert (entry.actor, entry.target, entry.detail["outbox"], entry.detail["from"]) == (
        "operator@example.org", "ABCD-EFGH", row.id, "failed")

    assert worker(tipline, clock).run_once() == 1
    assert outbox_rows(tipline)[0].status == "sent" and len(fake_twilio.sent()) == 1
    again = post(operator, f"/dashboard/outbox/{row.id}/retry", token_from="/dashboard/outbox")
    assert again.status_code == 409  # only dead letters go again
    with storage.writing(tipline.db) as session:
        storage.settle_outbox(session, message_id=row.id, now=clock.now, status="dead")
        storage.update_partner(session, partner=storage.partner_by_name(session, name="Rumah Aman"), active=False)
    stopped = post(operator, f"/dashboard/outbox/{row.id}/retry", token_from="/dashboard/outbox")
    assert stopped.status_code == 409 and "deactivated" in stopped.get_data(as_text=True)
    assert outbox_rows(tipline)[0].status == "dead"
    assert post(operator, "/dashboard/outbox/99999/retry", token_from="/dashboard/outbox").status_code == 404


def test_a_failed_question_goes_again_only_while_the_reporter_can_be_asked(app, client, tipline, operator, clock,
                                                                          fake_twilio):
    reference = report(client, consent=True)
    url = f"/dashboard/tips/{reference}"
    post(operator, f"{url}/ask", {"question": "Which station?"}, token_from=url)
    fake_twilio.fail(400, 21610, to=REPORTER)
    worker(tipline, clock).run_once()
    [row] = [r for r in outbox_rows(tipline) if r.kind == "follow_up"]
    assert row.status == "failed" and row.to_sealed == ""  # the worker keeps no reporter address it does not need
    page = operator.get("/dashboard/outbox").get_data(as_text=True)
    assert "Which station" not in page and REPORTER_DIGITS not in page

    assert post(operator, f"/dashboard/outbox/{row.id}/retry", token_from="/dashboard/outbox").status_code == 302
    assert worker(tipline, clock).run_once() == 1
    assert [r["form"]["To"] for r in fake_twilio.sent()] == [REPORTER]

    fake_twilio.fail(400, 21610, to=REPORTER)
    post(operator, f"{url}/ask", {"question": "Which platform?"}, token_from=url)
    worker(tipline, clock).run_once()
    post(operator, f"{url}/status", {"status": "closed"}, token_from=url)  # deletes the contact address
    [failed] = [r for r in outbox_rows(tipline) if r.kind == "follow_up" and r.status == "failed"]
    response = post(operator, f"/dashboard/outbox/{failed.id}/retry", token_from="/dashboard/outbox")
    assert response.status_code == 409 and "cannot be sent again" in response.get_data(as_text=True)
    assert len(audit_log(app, action="outbox_retried")) == 1


def test_pages_in_bahasa_indonesia(operator, partners, bali_tip):
    headers = {"Accept-Language": "id"}
    assert "Mitra" in operator.get("/dashboard/partners", headers=headers).get_data(as_text=True)
    assert "Kotak keluar" in operator.get("/dashboard/outbox", headers=headers).get_data(as_text=True)
    assert "Teruskan ke mitra" in operator.get(TIP, headers=headers).get_data(as_text=True)


@pytest.mark.parametrize("close", ["status", "spam", "duplicate"])
def test_closing_a_tip_from_the_dashboard_cancels_a_question_still_queued(app, client, tipline, operator, close):
    """The tip's contact address is deleted on close: the queued question's sealed copy goes with it."""
    from ..dashboard_support import add_tip

    other = add_tip(app, "TEST-7777", at=tipline.clock()).reference
    reference = report(client, consent=True)
    url = f"/dashboard/tips/{reference}"
    post(operator, f"{url}/ask", {"question": "Which station?"}, token_from=url)
    action = {"status": (f"{url}/status", {"status": "closed"}), "spam": (f"{url}/spam", {}),
              "duplicate": (f"{url}/duplicate", {"original": other})}[close]
    assert post(operator, *action, token_from=url).status_code == 302
    [row] = [r for r in outbox_rows(tipline) if r.kind == "follow_up"]
    assert row.status == "cancelled" and row.to_sealed == ""
