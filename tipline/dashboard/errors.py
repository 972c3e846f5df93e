"""The dashboard's error pages: one template (error.html), one way to answer a problem."""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask_babel import gettext as _
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError


def problem(message: str, status: int = 400) -> Response:
    """A page saying what went wrong, in the page's language, with its status."""
    return Response(render_template("dashboard/error.html", message=message), status=status)


def form_problems(form) -> str:
    """Every field's errors, each after its label; the CSRF token's own error is said elsewhere."""
    return "; ".join(
        f"{form[name].label.text}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()
        if name != "csrf_token"
    ) or _("Check the form.")


def invalid(form) -> Response:
    """A form that did not validate: what is wrong with it, as a 400."""
    return problem(form_problems(form))


def too_many_attempts(_error):
    return problem(_("Too many failed login attempts. Wait 15 minutes and try again, or ask an admin for help."), 429)


def csrf_failed(_error):
    return problem(_("This form expired or did not come from this site. Go back, reload the page and try again."))


def forbidden(_error):
    return problem(_("Your account may not open this page."), 403)


def not_found(_error):
    return problem(_("Not found."), 404)


def install(parent: Blueprint) -> None:
    parent.register_error_handler(RateLimitExceeded, too_many_attempts)
    parent.register_error_handler(CSRFError, csrf_failed)
    parent.register_error_handler(403, forbidden)
    parent.register_error_handler(404, not_found)
