"""What someone typed into a form that could not be accepted (their session ended, the form expired),
kept so that after logging in again they are back on the page with their words in the form.

Nothing is done on their behalf: they see the form filled in and press the button again, now with a
valid session (an escalation must never go out because of a form sent hours ago). The words are kept
sealed with the contact key (a visitor's session is a cookie in their browser) for DRAFT_MINUTES, only
for the page they came from and only for the account that typed them (whoever else logs in on that
browser sees nothing), and are shown once. Passwords and the CSRF token are never kept. When the
account is unknown (the session was ended by a logout or a new password), nothing is kept.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from flask import g, request, session
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from .common import now, tipline

DRAFT_KEY = "draft"
DRAFT_MINUTES = 30
MAX_DRAFT = 8000  # characters of typed text kept at most
NEVER_KEPT = ("csrf_token", "password", "current", "new", "confirm", "code")


def page_before(path: str) -> str:
    """The page a form was on: the posted path itself when it can be opened, else its nearest parent
    that can (POST /dashboard/tips/X/escalate came from /dashboard/tips/X)."""
    adapter = request.url_rule and request.url_rule.map.bind("")
    candidate = path.rstrip("/")
    while candidate.startswith("/dashboard"):
        try:
            adapter.match(candidate or "/", method="GET")
            return candidate
        except RequestRedirect:
            return candidate + "/"
        except HTTPException:
            candidate = candidate.rsplit("/", 1)[0]
    return "/dashboard/"


def keep(page: str) -> bool:
    """Keep what this request's form held, sealed, to be shown again on `page` to the same account."""
    user = current_user.get_id() if current_user.is_authenticated else getattr(session, "ended_user_id", None)
    fields = {name: request.form.getlist(name) for name in request.form
              if not any(name == word or name.endswith(f"-{word}") for word in NEVER_KEPT)}
    if user is None or not fields or sum(len(v) for values in fields.values() for v in values) > MAX_DRAFT:
        return False
    kept = {"page": page, "at": now().isoformat(), "user": str(user), "fields": fields}
    session[DRAFT_KEY] = tipline().contacts.seal(json.dumps(kept))
    return True


def for_this_page() -> dict[str, list[str]]:
    """The draft kept for the page being shown (once: it is gone afterwards), or nothing."""
    if "draft" in g:
        return g.draft
    g.draft = {}
    sealed = session.get(DRAFT_KEY)
    if not sealed or request.method != "GET":
        return g.draft
    opened = tipline().contacts.open(sealed)
    kept = json.loads(opened) if opened else {}
    if kept.get("page") != request.path:
        return g.draft
    session.pop(DRAFT_KEY, None)  # shown once, and to nobody but the account that typed it
    mine = current_user.is_authenticated and kept.get("user") == str(current_user.get_id())
    if mine and now() - datetime.fromisoformat(kept["at"]) <= timedelta(minutes=DRAFT_MINUTES):
        g.draft = kept.get("fields") or {}
    return g.draft


def restore(form) -> None:
    """Fill a form from the draft when the draft was this form's: every field it kept is one of this
    form's fields (a page has several forms; each form's fields tell them apart)."""
    kept = for_this_page()
    names = {field.name for field in form if field.name != "csrf_token" and field.type != "PasswordField"}
    if not kept or not set(kept) <= names:
        return
    for field in form:
        if field.name in kept:
            values = kept[field.name]
            field.process_formdata(values if field.type == "SelectMultipleField" else values[:1])
