"""Every error page of the app: one template (error.html), styled and translated, with `lang` and a
title, for people; a plain line for machines (Twilio, the SMS gateway, health checks), which read no HTML.

A form that cannot be accepted because the session ended or the form expired (CSRF) sends the person
to log in and back to the page they were on, with what they typed (drafts.py), never to an English
"CSRF token missing" page.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from .. import storage
from . import drafts

log = logging.getLogger("tipline")

# Answered in plain text: whoever calls these reads a status and a line, not a page.
MACHINE_PATHS = ("/twilio/", "/smsgate/", "/healthz")
TITLES = {
    400: _l("The request could not be read"), 403: _l("Not allowed"), 404: _l("Page not found"),
    405: _l("Not possible here"), 413: _l("Too large"), 429: _l("Too many attempts"),
    500: _l("Something went wrong"), 503: _l("Not available right now"),
}
MESSAGES = {
    400: _l("Check the form and try again."),
    403: _l("Your account may not open this page."),
    404: _l("There is no page at this address. The link may be incomplete, or what it showed was removed."),
    405: _l("This address does not take that kind of request. Go back and use the buttons on the page."),
    413: _l("What was sent is too large."),
    429: _l("Too many requests. Wait a few minutes and try again."),
    500: _l("Something went wrong on our side, not because of anything you did. Go back and try again; if it "
            "happens again, tell an admin."),
    503: _l("The database does not answer. Try again in a minute."),
}


def problem(message: str, status: int = 400, *, title: str | None = None) -> Response:
    """A page saying what went wrong, in the page's language, with its status."""
    page = render_template("dashboard/error.html", message=message, title=title or TITLES.get(status) or _("Problem"))
    return Response(page, status=status)


def form_problems(form) -> str:
    """Every field's errors, each after its label; the CSRF token's own error is said elsewhere."""
    return "; ".join(
        f"{form[name].label.text}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()
        if name != "csrf_token"
    ) or _("Check the form.")


def invalid(form) -> Response:
    """A form that did not validate: what is wrong with it, as a 400."""
    return problem(form_problems(form))


def _for_machines() -> bool:
    return request.path.startswith(MACHINE_PATHS)


def _plain(status: int, text: str) -> Response:
    return Response(f"{text}\n", status=status, mimetype="text/plain")


def _page(status: int, message: str | None = None) -> Response:
    """The error page; should rendering it fail too (the database is down), a plain line still answers."""
    try:
        return problem(message or str(MESSAGES.get(status) or _("The request could not be completed.")), status)
    except Exception:  # noqa: BLE001 - the last answer must not fail
        log.exception("error page for %s could not be rendered", status)
        return _plain(status, f"{status}")


def http_error(error: HTTPException):
    if error.code is None:  # not an error (a redirect the router raised)
        return error
    if _for_machines():
        return _plain(error.code, f"{error.code} {error.name}: {error.description}")
    response = _page(error.code)
    if error.code == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def too_many_attempts(error: RateLimitExceeded):
    if _for_machines():
        return _plain(429, "429 Too Many Requests")
    return _page(429, _("Too many failed login attempts. Wait 15 minutes and try again, or ask an admin for help."))


def form_expired(_error: CSRFError):
    """The session ended, or the form is older than its token: log in (if needed) and go back."""
    back = drafts.page_before(request.path)
    login = url_for("dashboard.auth.login")
    kept = request.blueprint != "dashboard.auth" and drafts.keep(back)  # what is typed to log in never is
    if not current_user.is_authenticated:
        if kept:
            flash(_("Your session ended, so nothing was done. Log in again: you will be back on the page you were "
                    "on, with what you typed."))
        else:
            flash(_("Your session ended, so nothing was done. Log in again: you will be back on the page you were "
                    "on."))
        return redirect(url_for("dashboard.auth.login", next=back) if back != login else login, code=303)
    flash(_("The form had expired, so nothing was done. Check it and send it again."))
    return redirect(back, code=303)


def database_error(error: DBAPIError):
    # A database fault outside Twilio's routes (which answer 503 themselves): no traceback,
    # since PostgreSQL's error detail can quote a whole row, a reporter's words included.
    log.error("database error: %s", storage.describe_database_error(error))
    if _for_machines():
        return _plain(503, "503 Service Unavailable: the database does not answer")
    return _page(503)


def unexpected(error: Exception):
    # A bug, never expected: the traceback is logged (SQL parameters are hidden by the
    # engine, so no reporter's words reach it) and the client gets the error page.
    log.exception("unexpected %s", type(error).__name__)
    if _for_machines():
        return _plain(500, "500 Internal Server Error")
    return _page(500)


def install(app: Flask) -> None:
    """For the whole app, every path: the dashboard's pages and any other address."""
    app.register_error_handler(CSRFError, form_expired)
    app.register_error_handler(RateLimitExceeded, too_many_attempts)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(DBAPIError, database_error)
    app.register_error_handler(Exception, unexpected)
