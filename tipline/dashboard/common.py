"""What every dashboard view shares: the signed-in account, role checks, the audit trail."""

from __future__ import annotations

import hmac
from datetime import datetime
from functools import wraps

from flask import abort, current_app, request
from flask_login import UserMixin, current_user, login_required

from .. import storage
from ..casework import Actor
from ..service import TipLine


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
        self._active = user.active
        self._token = user.session_token

    def get_id(self) -> str:
        # The token changes with the password or when the account is disabled: old cookies stop working.
        return f"{self.id}:{self._token}"

    @property
    def is_active(self) -> bool:
        return self._active

    @property
    def is_staff(self) -> bool:
        return self.role in storage.STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def load_account(session_id: str) -> Account | None:
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    with storage.reading(tipline().db) as session:
        user = storage.user_by_id(session, user_id=int(user_id))
    if user is None or not user.active or not hmac.compare_digest(user.session_token, token):
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


def actor() -> Actor:
    """The signed-in operator, as case work records them (email and address)."""
    return Actor.operator(current_user.email, address())
