"""Passwords (argon2id), login rate limits, TOTP second factor. No Flask views here."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup

MIN_PASSWORD_LENGTH = 12
TOTP_ISSUER = "tipline"
# Failed attempts allowed in a window to unknown clients: per account (guessing one password) and
# per address (trying many accounts). A browser that logged in before has its own (below).
ACCOUNT_LIMIT = "5 per 15 minutes"
ADDRESS_LIMIT = "20 per 15 minutes"

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the account does not exist, so a wrong email takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class PasswordError(ValueError):
    """A password that does not fit; the message says why."""


def check_new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise PasswordError("the password is too long (at most 1024 characters)")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_new_password(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


# ---- rate limits -------------------------------------------------------------------------------
#
# OWASP's device cookies: a browser that logged in to an account before carries a signed cookie
# saying so, and its attempts at that account count only against its own allowance. Everyone
# else (unknown clients) is limited per account and per address. So an attacker who keeps
# failing at an operator's email, from anywhere, locks out unknown clients only: the operator's
# own browser still gets in. Only failures count, so a good login never uses up an allowance.
#
# The second step (the TOTP code) is limited per pending login and, for unknown clients, per
# account, both read from the server-side session, never from what the form posts.

DEVICE_LIMIT = "5 per 15 minutes"  # failures from one known browser at its account
PENDING_LIMIT = "5 per 5 minutes"  # wrong codes for one pending login (it lasts 5 minutes)
CODE_ACCOUNT_LIMIT = "10 per 15 minutes"  # wrong codes for one account from unknown clients
PASSWORD_CHANGE_LIMIT = "5 per 15 minutes"  # wrong current passwords when changing one's own
DEVICE_COOKIE = "tipline_device"
DEVICE_DAYS = 90
DEVICES_KEPT = 5  # accounts remembered by one browser (a shared office computer)

limiter = Limiter(key_func=get_remote_address, strategy="moving-window", headers_enabled=False)


def posted_email() -> str:
    return (request.form.get("email") or "").strip().lower()[:254]


def account_key() -> str:
    """The account a password is tried for: the email posted."""
    return "account:" + (posted_email() or "-")


def pending_key() -> str:
    """The pending login a code is tried for: the server-side session, never a form field."""
    from flask import session

    from .sessions import key_hash

    key = getattr(session, "key", None)
    return "pending:" + (key_hash(key) if key and getattr(session, "pending", False) else "-")


def pending_account_key() -> str:
    from .sessions import pending_user_id

    return f"code-account:{pending_user_id() or '-'}"


def login_failed(_response) -> bool:
    """Deduct from the limits only for a failed attempt (set by the login views)."""
    return bool(g.get("login_failed"))


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="tipline-device-cookie")


def _account_tag(email: str) -> str:
    """Which account a device cookie is for, without the email in the cookie."""
    secret = hashlib.sha256(b"tipline device\0" + current_app.secret_key.encode()).digest()
    return hmac.new(secret, email.strip().lower().encode(), hashlib.sha256).hexdigest()[:24]


def _device_entries() -> list[list[str]]:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        entries = _device_serializer().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return []
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) for x in e)]


def device_nonce(email: str | None) -> str | None:
    """This browser's own key for the account, when it has logged in to it before."""
    if not email:
        return None
    tag = _account_tag(email)
    return next((nonce for entry_tag, nonce in _device_entries() if entry_tag == tag), None)


def _attempted_email() -> str | None:
    """The account being tried: the email posted to /login, or the one a pending login is for."""
    if request.endpoint == "dashboard.auth.login_2fa":
        return pending_email()
    return posted_email() or None


def pending_email() -> str | None:
    """The email of the account a pending login is for (read once per request)."""
    if "pending_email" not in g:
        from .. import storage
        from .sessions import pending_user_id

        user_id = pending_user_id()
        user = None
        if user_id is not None:
            with storage.reading(current_app.extensions["tipline"].db) as db_session:
                user = storage.user_by_id(db_session, user_id=user_id)
        g.pending_email = user.email if user is not None else None
    return g.pending_email


def known_device() -> bool:
    return device_nonce(_attempted_email()) is not None


def unknown_client() -> bool:
    return not known_device()


def device_key() -> str:
    return "device:" + (device_nonce(_attempted_email()) or "-")


def remember_device(response, email: str) -> None:
    """After a good login: this browser is known to this account from now on (a fresh key)."""
    tag = _account_tag(email)
    entries = [[tag, secrets.token_urlsafe(16)]] + [e for e in _device_entries() if e[0] != tag]
    response.set_cookie(
        DEVICE_COOKIE, _device_serializer().dumps(entries[:DEVICES_KEPT]), max_age=DEVICE_DAYS * 86400,
        path="/dashboard", httponly=True, samesite="Lax", secure=request.is_secure,
    )


# ---- TOTP ------------------------------------------------------------------------------------------

def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def totp_qr_svg(uri: str, title: str) -> Markup:
    """The setup link as a QR code an authenticator app scans: inline SVG, drawn here, nothing fetched.

    Black on white with the standard quiet zone, so phone cameras read it in any page colour."""
    code = segno.make(uri, error="m")
    return Markup(code.svg_inline(scale=5, dark="#000", light="#fff", border=4, title=title, svgclass="qr",
                                  omitsize=True))  # a viewBox: the page sets its size


def totp_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step the code belongs to (one step of clock drift allowed), or None.

    A step at or before `last_step` is refused, so an overheard code cannot be used again.
    """
    code = "".join(code.split())
    if not (code.isascii() and code.isdigit()) or len(code) != 6:  # compare_digest refuses non-ASCII
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None
