"""Dashboard sessions: a signed cookie for visitors, a database row for everyone signed in.

Before login the cookie holds only what any visitor may see (the CSRF token, the language, the
page to return to). Login starts a row in dashboard_session and from then on the cookie carries
nothing but that row's random key: the session's contents (the practice chat, a TOTP secret being
set up, messages to show) stay on the server. A session ends when its row goes: on logout, when
the password changes or is reset, when the account is disabled, after TIPLINE_SESSION_IDLE_HOURS
without a request and TIPLINE_SESSION_MAX_HOURS after login, whichever comes first. A copied
cookie is worth nothing after that, and the row is named by the key's SHA-256, so a copy of the
table opens nothing either.

Flask's SessionInterface is the documented place for this; Flask-Session would add its own
tables and engine and still know nothing of accounts, so it could not end one account's sessions.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from flask import Flask, Request, Response, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, session_json_serializer
from itsdangerous import BadSignature
from sqlalchemy.exc import DBAPIError

from .. import storage

log = logging.getLogger(__name__)

COOKIE_KEY = "k"  # all a signed-in browser's cookie holds
TOUCH_EVERY = timedelta(minutes=1)  # how often use is written down (the idle limit's precision)
PENDING_FOR = timedelta(minutes=5)  # a password was right; the second factor must follow this soon
CARRIED = ("lang", "after_login", "draft")  # what a visitor's session passes on to the session login starts


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class DashboardSession(SecureCookieSession):
    """The session of one request: a visitor's (key None) or a signed-in browser's (a row's key)."""

    def __init__(self, initial=None, *, row=None, key: str | None = None):
        super().__init__(initial)
        self.key = key
        self.user_id = row.user_id if row is not None else None
        self.pending = bool(row.second_factor_pending) if row is not None else False
        self.created_at: datetime | None = row.created_at if row is not None else None
        self.last_seen_at: datetime | None = row.last_seen_at if row is not None else None
        self.new_cookie = False  # the cookie naming a new row is yet to be sent
        self.ended_user_id: int | None = None  # whose session ran out on this very request (drafts.py)
        self.unavailable = False  # the database did not answer: nothing is known, nothing is saved
        self.modified = False
        self.accessed = False


class DashboardSessionInterface(SecureCookieSessionInterface):
    """Visitors: Flask's signed cookie. Signed in: the cookie names a dashboard_session row."""

    session_class = DashboardSession

    def get_cookie_secure(self, app: Flask) -> bool:
        # Secure whenever the request came over HTTPS (also behind a proxy), not only when configured.
        from flask import has_request_context, request

        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)

    def open_session(self, app: Flask, request: Request) -> DashboardSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        raw = request.cookies.get(self.get_cookie_name(app))
        data: dict = {}
        if raw:
            try:
                data = serializer.loads(raw, max_age=int(app.permanent_session_lifetime.total_seconds()))
            except BadSignature:
                data = {}
        key = data.get(COOKIE_KEY) if isinstance(data, dict) else None
        if not isinstance(key, str):
            return self.session_class(data if isinstance(data, dict) else {})
        try:
            row, ran_out = _live_row(app, key)
        except DBAPIError as error:
            log.error("dashboard session unreadable: %s", storage.describe_database_error(error))
            unknown = self.session_class()
            unknown.unavailable = True
            return unknown
        if row is None:  # ended or expired: the browser is a visitor again and its cookie goes
            ended = self.session_class()
            ended.modified = True
            ended.ended_user_id = ran_out
            return ended
        try:
            contents = session_json_serializer.loads(row.data) if row.data else {}
        except ValueError:
            contents = {}
        return self.session_class(contents, row=row, key=key)

    def save_session(self, app: Flask, session: DashboardSession, response: Response) -> None:
        if session.unavailable:
            return
        if session.accessed:
            response.vary.add("Cookie")
        if session.key is None:
            super().save_session(app, session, response)  # a visitor: the signed cookie is the session
            return
        tipline = app.extensions["tipline"]
        now = tipline.clock()
        if session.modified or session.new_cookie or now - session.last_seen_at >= TOUCH_EVERY:
            with storage.writing(tipline.db) as db_session:
                storage.save_dashboard_session(db_session, key_hash=key_hash(session.key),
                                               data=session_json_serializer.dumps(dict(session)), last_seen_at=now)
        if session.new_cookie:
            value = self.get_signing_serializer(app).dumps({COOKIE_KEY: session.key})
            # Max-Age, not an absolute date: the browser's clock need not agree with the server's.
            remaining = session.created_at + session_max(app) - now
            response.set_cookie(
                self.get_cookie_name(app), value, max_age=max(0, int(remaining.total_seconds())),
                httponly=self.get_cookie_httponly(app), domain=self.get_cookie_domain(app),
                path=self.get_cookie_path(app), secure=self.get_cookie_secure(app),
                samesite=self.get_cookie_samesite(app), partitioned=self.get_cookie_partitioned(app),
            )
            response.vary.add("Cookie")


def session_idle(app: Flask) -> timedelta:
    return timedelta(hours=app.extensions["tipline"].settings.session_idle_hours)


def session_max(app: Flask) -> timedelta:
    return timedelta(hours=app.extensions["tipline"].settings.session_max_hours)


def _live_row(app: Flask, key: str):
    """The session row the key names, unless it has ended; an expired row is deleted on the way.

    Also says whose session ran out just now (None otherwise): what they were typing is theirs."""
    tipline = app.extensions["tipline"]
    now = tipline.clock()
    hashed = key_hash(key)
    with storage.reading(tipline.db) as db_session:
        row = storage.dashboard_session(db_session, key_hash=hashed)
    if row is None:
        return None, None
    lifetime = PENDING_FOR if row.second_factor_pending else session_max(app)
    if now - row.created_at >= lifetime or now - row.last_seen_at >= session_idle(app):
        with storage.writing(tipline.db) as db_session:
            storage.end_dashboard_sessions(db_session, key_hash=hashed)
        return None, None if row.second_factor_pending else row.user_id
    return row, None


# ---- what the views call ---------------------------------------------------------------------------

def begin(db_session, *, user_id: int, now: datetime, pending: bool = False) -> None:
    """Start a new server-side session for the account in this browser: a fresh key (no fixation),
    the visitor's language and return page carried over, any earlier session of the browser ended."""
    current: DashboardSession = session  # type: ignore[assignment]
    if current.key is not None:
        storage.end_dashboard_sessions(db_session, key_hash=key_hash(current.key))
    carried = {name: current[name] for name in CARRIED if name in current}
    key = secrets.token_urlsafe(32)
    storage.add_dashboard_session(db_session, key_hash=key_hash(key), user_id=user_id, now=now,
                                  second_factor_pending=pending)
    current.clear()
    current.update(carried)
    current.key, current.user_id, current.pending = key, user_id, pending
    current.created_at = current.last_seen_at = now
    current.new_cookie = True


def end(db_session) -> None:
    """End this browser's session (logout): its row goes, and its cookie with it."""
    current: DashboardSession = session  # type: ignore[assignment]
    if current.key is not None:
        storage.end_dashboard_sessions(db_session, key_hash=key_hash(current.key))
    lang = current.get("lang")
    current.clear()
    current.key, current.user_id, current.pending, current.new_cookie = None, None, False, False
    if lang:
        current["lang"] = lang


def end_all(db_session, *, user_id: int) -> int:
    """End every session of the account (a new password, a reset, the account disabled)."""
    return storage.end_dashboard_sessions(db_session, user_id=user_id)


def pending_user_id() -> int | None:
    """The account whose password was right and whose second factor this browser owes, if any."""
    current = session
    return current.user_id if getattr(current, "pending", False) else None


def signed_in_user_id() -> int | None:
    current = session
    if getattr(current, "key", None) is None or current.pending:
        return None
    return current.user_id
