"""Admins: accounts (second factor, active, password resets) and the audit trail."""

from __future__ import annotations

import secrets
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import storage
from .. import sessions
from ..auth.routes import set_password
from ..common import (
    admin_required,
    audit,
    day_end,
    day_start,
    get_or_404,
    page_number,
    tipline,
)
from ..errors import problem
from ..forms import EmptyForm
from ..security import new_session_token
from .forms import ResetPasswordForm, UserSettingsForm

bp = Blueprint("admin", __name__)
AUDIT_PER_PAGE = 100
TEMPORARY_PASSWORD_BYTES = 12  # 16 characters from secrets.token_urlsafe


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    """Admins: who has an account, and whether it must use a second factor."""
    form = UserSettingsForm()
    if request.method == "POST":
        if not form.validate():
            return problem(_("Check the form and try again."))
        user_id = int(form.user_id.data)
        with storage.writing(tipline().db) as db_session:
            user = get_or_404(storage.user_by_id(db_session, user_id=user_id))
            changes: dict = {}
            if form.totp_required.data != user.totp_required:
                changes["totp_required"] = form.totp_required.data
            if form.active.data != user.active and user.id != current_user.id:  # never lock yourself out
                changes["active"] = form.active.data
                changes["session_token"] = new_session_token()
            if form.reset_totp.data and user.totp_sealed is not None:
                changes.update(totp_sealed=None, totp_last_step=None, session_token=new_session_token())
            if changes:
                storage.update_user(db_session, user_id=user.id, **changes)
                if "session_token" in changes:  # disabled, or its second factor reset: signed out everywhere
                    sessions.end_all(db_session, user_id=user.id)
                audit(db_session, "user_changed", target=user.email,
                      detail={k: v for k, v in changes.items() if k in ("totp_required", "active")}
                      | ({"reset_totp": True} if "totp_sealed" in changes else {}))
        flash(_("Saved."))
        return redirect(url_for("dashboard.admin.users"))
    with storage.reading(tipline().db) as db_session:
        accounts = storage.list_users(db_session)
    return render_template("dashboard/users.html", accounts=accounts, form_class=UserSettingsForm,
                           logout_form=EmptyForm())


@bp.route("/users/password", methods=["POST"])
@admin_required
def reset_password():
    """Admins: a temporary password, shown once, that the account must replace at its next login."""
    form = ResetPasswordForm()
    if not form.validate():
        return problem(_("Check the form and try again."))
    with storage.writing(tipline().db) as db_session:
        user = get_or_404(storage.user_by_id(db_session, user_id=int(form.user_id.data)))
        if user.id == current_user.id:
            return problem(_("To change your own password, use Change password."))
        temporary = secrets.token_urlsafe(TEMPORARY_PASSWORD_BYTES)
        set_password(db_session, user, temporary, must_change=True)
        audit(db_session, "password_reset", target=user.email, detail={"must_change": True})
    # Shown in this answer only (never cached, never in a cookie or the database): the admin passes it on.
    return render_template("dashboard/users_password.html", email=user.email, temporary=temporary)


@bp.route("/audit")
@admin_required
def audit_trail():
    """Admins: who did what and when, filtered."""
    args = request.args

    def parse_day(name: str) -> date | None:
        try:
            return date.fromisoformat(args.get(name, ""))
        except ValueError:
            return None

    page = page_number(args)
    since, until = parse_day("since"), parse_day("until")
    with storage.reading(tipline().db) as db_session:
        entries, total = storage.audit_entries(
            db_session, actor=args.get("actor") or None, action=args.get("action") or None,
            target=(args.get("target") or "").upper() or None, since=day_start(since), until=day_end(until),
            page=page, per_page=AUDIT_PER_PAGE,
        )
        actions = storage.audit_actions(db_session)
    pages = max(1, -(-total // AUDIT_PER_PAGE))
    keep = {k: v for k, v in args.items() if k != "page" and v}
    return render_template("dashboard/audit.html", entries=entries, total=total, page=page, pages=pages,
                           actions=actions, args=keep)
