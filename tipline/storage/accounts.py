"""Dashboard accounts, their sessions, and the audit trail (append-only: nothing here changes an entry)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ..models import AuditEntry, DashboardSession, User


def create_user(
    session: Session, *, email: str, role: str, password_hash: str, session_token: str,
    partner: str | None = None, now: datetime,
):
    user = User(
        email=email.strip().lower(), role=role, partner=partner, password_hash=password_hash,
        session_token=session_token, created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def user_by_email(session: Session, *, email: str):
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def user_by_id(session: Session, *, user_id: int):
    return session.get(User, user_id)


def list_users(session: Session, *, roles: tuple[str, ...] | None = None) -> list:
    query = select(User).order_by(User.email)
    if roles:
        query = query.where(User.role.in_(roles))
    return list(session.exec(query))


def update_user(session: Session, *, user_id: int, **values: Any):
    """Change an account's columns (password hash, TOTP, flags); returns the account or None."""
    user = session.get(User, user_id)
    if user is None:
        return None
    for name, value in values.items():
        if not hasattr(User, name) or name in ("id", "email", "created_at"):
            raise ValueError(f"cannot set {name}")
        setattr(user, name, value)
    session.add(user)
    return user


def add_dashboard_session(session: Session, *, key_hash: str, user_id: int, now: datetime,
                          second_factor_pending: bool = False) -> None:
    session.add(DashboardSession(key_hash=key_hash, user_id=user_id, second_factor_pending=second_factor_pending,
                                 created_at=now, last_seen_at=now, data=""))
    session.flush()


def dashboard_session(session: Session, *, key_hash: str):
    return session.get(DashboardSession, key_hash)


def save_dashboard_session(session: Session, *, key_hash: str, data: str, last_seen_at: datetime) -> bool:
    """Keep what the session holds and when it was last used; False when it has ended meanwhile."""
    result = session.exec(
        sa.update(DashboardSession).where(DashboardSession.key_hash == key_hash)
        .values(data=data, last_seen_at=last_seen_at)
    )
    return bool(result.rowcount)


def end_dashboard_sessions(session: Session, *, user_id: int | None = None, key_hash: str | None = None) -> int:
    """End one session (its key's hash) or every session of an account; how many ended."""
    if (user_id is None) == (key_hash is None):
        raise ValueError("name either an account or one session")
    query = sa.delete(DashboardSession)
    if key_hash is not None:
        query = query.where(DashboardSession.key_hash == key_hash)
    else:
        query = query.where(DashboardSession.user_id == user_id)
    return session.exec(query).rowcount or 0


def record_audit(
    session: Session, *, actor: str, action: str, at: datetime, target: str | None = None,
    address: str | None = None, detail: dict | None = None,
) -> None:
    """Append one entry to the audit trail (there is no function that changes or removes one)."""
    session.add(AuditEntry(actor=actor[:254], action=action, at=at, target=target, address=address,
                           detail=detail or {}))


def audit_entries(
    session: Session, *, actor: str | None = None, action: str | None = None, target: str | None = None,
    since: datetime | None = None, until: datetime | None = None, page: int = 1, per_page: int = 100,
) -> tuple[list, int]:
    """One page of the audit trail, newest first, and how many entries match."""
    conditions = []
    if actor:
        conditions.append(AuditEntry.actor == actor.strip().lower())
    if action:
        conditions.append(AuditEntry.action == action)
    if target:
        conditions.append(AuditEntry.target == target.strip())
    if since:
        conditions.append(AuditEntry.at >= since)
    if until:
        conditions.append(AuditEntry.at < until)
    total = session.exec(select(sa.func.count()).select_from(AuditEntry).where(*conditions)).one()
    rows = session.exec(
        select(AuditEntry).where(*conditions).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), total


def audit_actions(session: Session) -> list[str]:
    return list(session.exec(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
