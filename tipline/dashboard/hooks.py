"""What runs around every dashboard request: the guard before it, private headers after it, and
the context every page's frame (base.html) needs."""

from __future__ import annotations

from flask import Blueprint, redirect, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from ..worker import sending_is_off
from .common import tipline
from .errors import problem
from .extensions import csrf
from .forms import EmptyForm, LanguageForm

# Pages a signed-in account may open before it has set up a second factor an admin requires.
ENROLMENT_EXEMPT = {"dashboard.auth.enroll_2fa", "dashboard.auth.logout", "dashboard.static",
                    "dashboard.auth.language"}
# ... and before it has replaced a password an admin reset.
PASSWORD_EXEMPT = {"dashboard.auth.change_password", "dashboard.auth.logout", "dashboard.static",
                   "dashboard.auth.language"}


def guard():
    """CSRF on every dashboard form post; a password an admin reset is replaced and a required
    second factor set up before anything else.

    A NUL character is refused first: PostgreSQL cannot hold or compare it, so it would be a 500.
    """
    if "\x00" in request.path or any("\x00" in value for source in (request.args, request.form)
                                      for _name, value in source.items(multi=True)):
        return problem(_("Check the form and try again."))
    if getattr(session, "unavailable", False):  # the session could not be read: not a reason to sign out
        return problem(_("The database does not answer. Try again in a minute."), 503)
    if request.method == "POST":
        csrf.protect()
    if (
        current_user.is_authenticated and current_user.password_change_required
        and request.endpoint not in PASSWORD_EXEMPT
    ):
        return redirect(url_for("dashboard.auth.change_password"))
    if (
        current_user.is_authenticated and current_user.totp_required and not current_user.totp_enabled
        and request.endpoint not in ENROLMENT_EXEMPT
    ):
        return redirect(url_for("dashboard.auth.enroll_2fa"))
    return None


def private_headers(response):
    """Pages hold tips: never cached, never framed, no referrer leaves, no script runs."""
    if request.endpoint != "dashboard.static":  # the style sheet may be cached: it holds nothing private
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    )
    return response


def page_frame() -> dict:
    """What base.html needs on every page: the language switch, log out, and whether sending is off."""
    return {"language_form": LanguageForm(), "logout_form": EmptyForm(), "get_locale": get_locale,
            "sending_off": sending_is_off(tipline().settings)}


def install(parent: Blueprint) -> None:
    parent.before_request(guard)
    # Every page of the app, error pages at any address included, is a dashboard page.
    parent.after_app_request(private_headers)
    parent.app_context_processor(page_frame)
