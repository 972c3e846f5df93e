"""What every dashboard view shares: the signed-in account, role checks, the audit trail."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from functools import wraps
from typing import TypeVar

from flask import abort, current_app, request, session
from flask_login import UserMixin, current_user, login_required

from .. import storage
from ..actions import Actor
from ..service import TipLine

T = TypeVar("T")


def get_or_404(found: T | None) -> T:
    """What a lookup found, or the dashboard's 404 page when it found nothing."""
    if found is None:
        abort(404)
    return found


def page_number(args, *, last: int = 1_000_000) -> int:
    """The page a list is asked for (?page=), from 1 to `last`; anything that is not a number is page 1."""
    try:
        return max(1, min(int(args.get("page", "1")), last))
    except ValueError:
        return 1


# The days a filter may name: far enough from date.min and date.max that a day's end, and a year
# before it, still exist (?until=9999-12-31 must not overflow into a 500).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def in_range(day: date | None) -> date | None:
    return min(max(day, FIRST_DAY), LAST_DAY) if day else day


def day_start(day: date | None) -> datetime | None:
    """The start of a day as people there count days (the deployment's time zone)."""
    return datetime.combine(in_range(day), time.min, tzinfo=tipline().zone) if day else None


def day_end(day: date | None) -> datetime | None:
    """The start of the next day (a day with a clock change is not 24 hours long)."""
    return datetime.combine(in_range(day) + timedelta(days=1), time.min, tzinfo=tipline().zone) if day else None


def tipline() -> TipLine:
    return current_app.extensions["tipline"]


def now() -> datetime:
    return tipline().clock()


def address() -> str | None:
    return (request.remote_addr or "")[:64] or None


class Account(UserMixin):
    """The signed-in person, detached from the database row so nothing lazy-loads in a template."""

    def __init__(self, user):
        self.id = user.id
        self.email = user.email
        self.role = user.role
        self.partner = user.partner
        self.totp_enabled = user.totp_sealed is not None
        self.totp_required = user.totp_required
        self.password_change_required = user.password_change_required
        self._active = user.active

    def get_id(self) -> str:
        # Only inside the server-side session: the cookie holds nothing but that session's key.
        return str(self.id)

    @property
    def is_active(self) -> bool:
        return self._active

    @property
    def is_staff(self) -> bool:
        return self.role in storage.STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def load_account(user_id: str) -> Account | None:
    """The account of this browser's live server-side session (see sessions.py), if it is active."""
    from .sessions import signed_in_user_id

    signed_in = signed_in_user_id()
    if signed_in is None or str(signed_in) != user_id:
        return None
    with storage.reading(tipline().db) as session:
        user = storage.user_by_id(session, user_id=signed_in)
    if user is None or not user.active:
        return None
    return Account(user)


def roles_required(*roles: str):
    """Login required, and one of these roles; anyone else gets 403."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


staff_required = roles_required("admin", "operator")
admin_required = roles_required("admin")


def audit(session, action: str, *, target: str | None = None, detail: dict | None = None,
          actor: str | None = None) -> None:
    """Write to the audit trail inside the caller's transaction, so the record and the change go together."""
    storage.record_audit(
        session, actor=actor or current_user.email, action=action, at=now(), target=target,
        address=address(), detail=detail,
    )


def search_fingerprint(words: str) -> str:
    """A keyed fingerprint of what someone searched for: the same words give the same value, so
    repeated searches show, but the audit trail never holds the words (a name, a place)."""
    normal = " ".join(words.casefold().split())
    key = hashlib.sha256(b"tipline queue search\0" + tipline().settings.secret_key.encode()).digest()
    return hmac.new(key, normal.encode(), hashlib.sha256).hexdigest()[:16]


def filters_detail(filters: storage.QueueFilter) -> dict:
    """Queue filters as the audit trail keeps them: days as dates, searched words only as a fingerprint."""
    chosen = {name: value for name, value in asdict(filters).items() if value is not None and name != "search"}
    if "since" in chosen:
        chosen["since"] = chosen["since"].date().isoformat()
    if "until" in chosen:  # kept as the start of the next day
        chosen["until"] = (chosen["until"] - timedelta(days=1)).date().isoformat()
    detail: dict = {"filters": chosen}
    if filters.search:
        detail["search"] = {"fingerprint": search_fingerprint(filters.search), "words": len(filters.search.split())}
    return detail


# The open queue reloads itself every minute: the same view (same filters, same tips shown) seen again by
# the same session within this time is recorded once, not sixty times an hour. A new tip on it is recorded.
QUEUE_VIEW_AUDITED_FOR = timedelta(minutes=15)


def audit_queue_view(db_session, filters: storage.QueueFilter, page) -> None:
    """A queue page shows the start of each description: who saw which tips, with which filters."""
    detail = {**filters_detail(filters), "page": page.page}
    detail["shown"] = list(dict.fromkeys(
        tip.reference for tip in (*page.nobody, *page.to_confirm, *page.pinned, *page.tips)))
    action = "queue_searched" if filters.search else "queue_viewed"
    seen = hashlib.sha256(json.dumps([action, detail], sort_keys=True, default=str).encode()).hexdigest()
    last = session.get("queue_audited")
    if last and last[0] == seen and now() - datetime.fromisoformat(last[1]) < QUEUE_VIEW_AUDITED_FOR:
        return
    audit(db_session, action, detail=detail)
    session["queue_audited"] = [seen, now().isoformat()]


def actor() -> Actor:
    """The signed-in operator, as case work records them (email and address)."""
    return Actor.operator(current_user.email, address())
