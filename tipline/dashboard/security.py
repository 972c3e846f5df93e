"""Passwords (argon2id), login rate limits, TOTP second factor. No Flask views here."""

from __future__ import annotations

import secrets
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

MIN_PASSWORD_LENGTH = 12
TOTP_ISSUER = "tipline"
# Failed attempts allowed in a window: per account (guessing one password) and per address
# (trying many accounts). Counted only when a login fails, so a good login never locks anyone out.
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

limiter = Limiter(key_func=get_remote_address, strategy="moving-window", headers_enabled=False)


def account_key() -> str:
    """The account being tried: the email posted, or the one waiting for its second factor."""
    from flask import session

    email = (request.form.get("email") or "").strip().lower()[:254]
    pending = session.get("pending_2fa") or {}
    return "account:" + (email or str(pending.get("email") or "-"))


def login_failed(_response) -> bool:
    """Deduct from the limits only for a failed attempt (set by the login views)."""
    return bool(g.get("login_failed"))


# ---- TOTP ------------------------------------------------------------------------------------------

def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


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
