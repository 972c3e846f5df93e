"""Error pages for people, plain lines for machines; an ended session sends the person to log in and back
to the page they were on with what they typed (issue 11, item 7)."""

from __future__ import annotations

import json
import re

import pytest

from tipline import storage

from ..dashboard_support import PASSWORD, add_tip, at, audit_log, csrf_token

INDONESIAN = {"Accept-Language": "id-ID,id;q=0.9"}
NOTE = "Sudah lapor ke Polsek Cikarang, nomor LP/123/III, petugas datang besok pagi"


def page_title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1)


def test_the_site_address_leads_to_the_dashboard_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    assert client.get("/dashboard/").headers["Location"].startswith("/dashboard/login")


@pytest.mark.parametrize("path", ["/no-such-page", "/dashboard/no-such-page", "/dashboard/tips/ZZZZ-ZZZZ/x/y"])
def test_unknown_addresses_get_a_styled_page_in_the_reader_language(client, path):
    english = client.get(path)
    assert english.status_code == 404 and english.mimetype == "text/html"
    html = english.get_data(as_text=True)
    assert '<html lang="en">' in html and "Page not found" in page_title(html) and "dashboard.css" in html
    indonesian = client.get(path, headers=INDONESIAN).get_data(as_text=True)
    assert '<html lang="id">' in indonesian and "Halaman tidak ditemukan" in page_title(indonesian)


def test_a_wrong_method_is_a_405_page_that_says_what_is_allowed(client):
    response = client.get("/dashboard/logout", headers=INDONESIAN)
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    html = response.get_data(as_text=True)
    assert '<html lang="id">' in html and "Tidak bisa di sini" in page_title(html)


def test_forbidden_and_bad_requests_are_pages(partner):
    response = partner.get("/dashboard/outbox", headers=INDONESIAN)
    assert response.status_code == 403 and "Tidak diizinkan" in page_title(response.get_data(as_text=True))
    response = partner.get("/dashboard/?q=a%00b")
    assert response.status_code == 400 and "<title>" in response.get_data(as_text=True)


def test_a_bug_is_a_500_page_without_its_traceback(app, operator, monkeypatch):
    import tipline.dashboard.tips.routes as routes

    def broken(*_args, **_kwargs):
        raise RuntimeError("secret detail from deep inside")

    monkeypatch.setattr(routes.storage, "tip_queue", broken)
    response = operator.get("/dashboard/", headers=INDONESIAN)
    assert response.status_code == 500 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Terjadi kesalahan" in page_title(html) and "secret detail" not in html and "Traceback" not in html


def test_machines_still_get_plain_lines(client):
    for path in ("/twilio/messages", "/smsgate/events"):
        response = client.get(path)
        assert response.status_code == 405 and response.mimetype == "text/plain"
        assert "<" not in response.get_data(as_text=True)


def test_an_ended_session_goes_to_login_and_back_with_what_was_typed(app, clock, accounts, operator):
    add_tip(app, "NTE5-KPLS", at=at(clock, hours=1), description="anak2 dipaksa ngamen di lampu merah")
    token = csrf_token(operator, "/dashboard/tips/NTE5-KPLS")
    clock.advance(hours=9)  # the note typed slowly: the session ran out (8 hours idle) meanwhile

    response = operator.post("/dashboard/tips/NTE5-KPLS/notes", data={"text": NOTE, "csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard/login?next=/dashboard/tips/NTE5-KPLS"
    assert audit_log(app, action="note_added") == []  # nothing was done
    login_page = operator.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your session ended, so nothing was done." in login_page
    cookie = app.session_interface.get_signing_serializer(app).loads(operator.get_cookie("session").value)
    assert "draft" in cookie and "LP/123" not in json.dumps(cookie)  # sealed: never readable in the cookie

    logged_in = operator.post(response.headers["Location"], data={
        "email": "operator@example.org", "password": PASSWORD, "csrf_token": csrf_token(operator)})
    assert logged_in.headers["Location"] == "/dashboard/tips/NTE5-KPLS"
    back = operator.get("/dashboard/tips/NTE5-KPLS").get_data(as_text=True)
    assert f"\n{NOTE}</textarea>" in back  # the words are back in the form, to be sent again by hand
    assert audit_log(app, action="note_added") == []
    again = operator.get("/dashboard/tips/NTE5-KPLS").get_data(as_text=True)
    assert NOTE not in again  # shown once


def test_an_expired_form_while_signed_in_goes_back_to_its_page(app, clock, operator):
    add_tip(app, "XPRD-FRM2", at=at(clock, hours=1), description="ada anak dikurung di gudang")
    response = operator.post("/dashboard/tips/XPRD-FRM2/notes", data={"text": NOTE, "csrf_token": "stale"},
                             headers=INDONESIAN)
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard/tips/XPRD-FRM2"
    page = operator.get("/dashboard/tips/XPRD-FRM2", headers=INDONESIAN).get_data(as_text=True)
    assert "Formulirnya sudah kedaluwarsa" in page and f"\n{NOTE}</textarea>" in page


def test_a_draft_is_shown_to_nobody_but_the_account_that_typed_it(app, clock, accounts, operator):
    """Someone else logging in on the same browser (a shared office computer) sees no one's words."""
    add_tip(app, "SHRD-PC22", at=at(clock, hours=1), description="anak dijual lewat medsos")
    token = csrf_token(operator, "/dashboard/tips/SHRD-PC22")
    clock.advance(hours=9)
    response = operator.post("/dashboard/tips/SHRD-PC22/notes", data={"text": NOTE, "csrf_token": token})
    assert response.headers["Location"] == "/dashboard/login?next=/dashboard/tips/SHRD-PC22"
    operator.post(response.headers["Location"], data={
        "email": "admin@example.org", "password": PASSWORD, "csrf_token": csrf_token(operator)})
    page = operator.get("/dashboard/tips/SHRD-PC22").get_data(as_text=True)
    assert "anak dijual" in page and NOTE not in page  # the tip, but not the other account's words
    assert NOTE not in operator.get("/dashboard/tips/SHRD-PC22").get_data(as_text=True)


def test_a_session_ended_by_someone_keeps_nothing_and_says_so(app, clock, accounts, operator):
    """Signed out by an admin or a new password: whose words they were is unknown, so none are kept."""
    add_tip(app, "NDED-BYAD", at=at(clock, hours=1), description="anak2 dipaksa ngamen")
    token = csrf_token(operator, "/dashboard/tips/NDED-BYAD")
    with storage.writing(app.extensions["tipline"].db) as session:
        storage.end_dashboard_sessions(session, user_id=accounts["operator"].id)
    response = operator.post("/dashboard/tips/NDED-BYAD/notes", data={"text": NOTE, "csrf_token": token})
    login_page = operator.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your session ended, so nothing was done." in login_page
    assert "with what you typed" not in login_page  # not promised: nothing was kept
    cookie = app.session_interface.get_signing_serializer(app).loads(operator.get_cookie("session").value)
    assert "draft" not in cookie
