"""Logging in and out, the second factor, the interface language, and admins' account settings."""

from __future__ import annotations

import secrets

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError

from .. import storage
from . import LANGUAGES, bp, csrf, login_manager
from .common import Account, admin_required, audit, load_account, now, tipline
from . import sessions
from .forms import (
    ChangePasswordForm,
    CodeForm,
    EmptyForm,
    LanguageForm,
    LoginForm,
    ResetPasswordForm,
    UserSettingsForm,
)
from .security import (
    ACCOUNT_LIMIT,
    ADDRESS_LIMIT,
    CODE_ACCOUNT_LIMIT,
    DEVICE_LIMIT,
    MIN_PASSWORD_LENGTH,
    PASSWORD_CHANGE_LIMIT,
    PENDING_LIMIT,
    PasswordError,
    account_key,
    device_key,
    hash_password,
    known_device,
    limiter,
    login_failed,
    needs_rehash,
    new_session_token,
    new_totp_secret,
    pending_account_key,
    pending_key,
    remember_device,
    totp_step,
    totp_uri,
    unknown_client,
    verify_password,
)

# Pages a signed-in account may open before it has set up a second factor an admin requires.
ENROLMENT_EXEMPT = {"dashboard.enroll_2fa", "dashboard.logout", "dashboard.static", "dashboard.language"}
# ... and before it has replaced a password an admin reset.
PASSWORD_EXEMPT = {"dashboard.change_password", "dashboard.logout", "dashboard.static", "dashboard.language"}
TEMPORARY_PASSWORD_BYTES = 12  # 16 characters from secrets.token_urlsafe


login_manager.user_loader(load_account)


@bp.before_request
def guard():
    """CSRF on every dashboard form post; a password an admin reset is replaced and a required
    second factor set up before anything else.

    A NUL character is refused first: PostgreSQL cannot hold or compare it, so it would be a 500.
    """
    if "\x00" in request.path or any("\x00" in value for source in (request.args, request.form)
                                      for _name, value in source.items(multi=True)):
        return render_template("dashboard/error.html", message=_("Check the form and try again.")), 400
    if getattr(session, "unavailable", False):  # the session could not be read: not a reason to sign out
        return render_template("dashboard/error.html", message=_(
            "The database does not answer. Try again in a minute.")), 503
    if request.method == "POST":
        csrf.protect()
    if (
        current_user.is_authenticated and current_user.password_change_required
        and request.endpoint not in PASSWORD_EXEMPT
    ):
        return redirect(url_for("dashboard.change_password"))
    if (
        current_user.is_authenticated and current_user.totp_required and not current_user.totp_enabled
        and request.endpoint not in ENROLMENT_EXEMPT
    ):
        return redirect(url_for("dashboard.enroll_2fa"))
    return None


@bp.after_request
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


@bp.errorhandler(RateLimitExceeded)
def too_many_attempts(_error):
    message = _("Too many failed login attempts. Wait 15 minutes and try again, or ask an admin for help.")
    return render_template("dashboard/error.html", message=message), 429


@bp.errorhandler(CSRFError)
def csrf_failed(_error):
    message = _("This form expired or did not come from this site. Go back, reload the page and try again.")
    return render_template("dashboard/error.html", message=message), 400


@bp.errorhandler(403)
def forbidden(_error):
    return render_template("dashboard/error.html", message=_("Your account may not open this page.")), 403


@bp.errorhandler(404)
def not_found(_error):
    return render_template("dashboard/error.html", message=_("Not found.")), 404


def local_target(target: str | None) -> str | None:
    """A dashboard path to go back to; anything that could lead off the site is dropped."""
    if not target or not target.startswith("/dashboard") or "//" in target or "\\" in target:
        return None
    return target


def _after_login() -> str:
    return session.pop("after_login", None) or url_for("dashboard.queue")


def _finish_login(db_session, user, *, second_factor: bool) -> None:
    """Start a fresh server-side session (no fixation), remember the browser, record the login."""
    target = session.pop("next", None) or local_target(request.args.get("next"))
    sessions.begin(db_session, user_id=user.id, now=now())
    if target:
        session["after_login"] = target
    login_user(Account(user))
    g.remember_device_for = user.email
    storage.update_user(db_session, user_id=user.id, last_login_at=now())
    audit(db_session, "login_success", actor=user.email, detail={"second_factor": second_factor})


@bp.after_request
def _remember_device(response):
    email = g.get("remember_device_for")
    if email:
        remember_device(response, email)
    return response


def _fail(db_session, email: str, reason: str) -> None:
    g.login_failed = True
    audit(db_session, "login_failed", actor=email or "-", detail={"reason": reason})


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(ADDRESS_LIMIT, methods=["POST"], deduct_when=login_failed, exempt_when=known_device)
@limiter.limit(ACCOUNT_LIMIT, key_func=account_key, methods=["POST"], deduct_when=login_failed,
               exempt_when=known_device)
@limiter.limit(DEVICE_LIMIT, key_func=device_key, methods=["POST"], deduct_when=login_failed,
               exempt_when=unknown_client)
def login():
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.queue"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        with storage.writing(tipline().db) as db_session:
            user = storage.user_by_email(db_session, email=email)
            good = verify_password(user.password_hash if user else None, form.password.data)
            if not good or not user.active:
                _fail(db_session, email, "unknown account" if user is None else
                      ("wrong password" if not good else "account disabled"))
                error = _("Wrong email or password.")
            else:
                if needs_rehash(user.password_hash):
                    storage.update_user(db_session, user_id=user.id, password_hash=hash_password(form.password.data))
                if user.totp_sealed:
                    target = local_target(request.args.get("next"))
                    sessions.begin(db_session, user_id=user.id, now=now(), pending=True)
                    if target:
                        session["next"] = target
                    return redirect(url_for("dashboard.login_2fa"))
                _finish_login(db_session, user, second_factor=False)
                return redirect(_after_login())
    elif request.method == "POST":
        error = _("Enter your email and password.")
    return render_template("dashboard/login.html", form=form, error=error), (401 if error else 200)


def _pending_user(db_session):
    """The account this browser's pending login is for, while it may still give its code."""
    user_id = sessions.pending_user_id()
    user = storage.user_by_id(db_session, user_id=user_id) if user_id is not None else None
    if user is None or not user.active or user.totp_sealed is None:
        return None
    return user


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(PENDING_LIMIT, key_func=pending_key, methods=["POST"], deduct_when=login_failed)
@limiter.limit(CODE_ACCOUNT_LIMIT, key_func=pending_account_key, methods=["POST"], deduct_when=login_failed,
               exempt_when=known_device)
def login_2fa():
    """The second step: the code from the authenticator app."""
    form = CodeForm()
    error = None
    with storage.writing(tipline().db) as db_session:
        user = _pending_user(db_session)
        if user is None:
            return redirect(url_for("dashboard.login"))
        if form.validate_on_submit():
            secret = tipline().contacts.open(user.totp_sealed)
            step = totp_step(secret, form.code.data, now(), user.totp_last_step) if secret else None
            if step is None:
                _fail(db_session, user.email, "wrong code")
                error = _("That code is not right. Wait for a new code and try again.")
            else:
                storage.update_user(db_session, user_id=user.id, totp_last_step=step)
                _finish_login(db_session, user, second_factor=True)
                return redirect(_after_login())
        elif request.method == "POST":
            error = _("Enter the 6-digit code.")
    return render_template("dashboard/login_code.html", form=form, error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (a form post, so another site cannot sign you out): the session ends on the server too."""
    if getattr(session, "key", None) is not None:
        with storage.writing(tipline().db) as db_session:
            if current_user.is_authenticated:
                audit(db_session, "logout")
            sessions.end(db_session)
    logout_user()
    return redirect(url_for("dashboard.login"))


@bp.route("/account/2fa", methods=["GET", "POST"])
def enroll_2fa():
    """Set up a second factor: scan or type the key into an authenticator app, confirm with a code."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.totp_enabled:
        return render_template("dashboard/enroll_2fa.html", done=True)
    secret = session.get("totp_setup") or new_totp_secret()
    session["totp_setup"] = secret
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        step = totp_step(secret, form.code.data, now(), None)
        if step is None:
            error = _("That code is not right. Check the clock of your phone and try again.")
        else:
            with storage.writing(tipline().db) as db_session:
                storage.update_user(
                    db_session, user_id=current_user.id, totp_sealed=tipline().contacts.seal(secret),
                    totp_last_step=step,
                )
                audit(db_session, "totp_enabled", target=current_user.email)
            session.pop("totp_setup", None)
            flash(_("Two-factor sign-in is on."))
            return redirect(url_for("dashboard.queue"))
    return render_template(
        "dashboard/enroll_2fa.html", form=form, error=error, secret=secret,
        uri=totp_uri(secret, current_user.email), done=False,
    )


@bp.route("/language", methods=["POST"])
def language():
    """Switch the interface language (kept in the session)."""
    form = LanguageForm()
    if form.validate_on_submit() and form.lang.data in LANGUAGES:
        session["lang"] = form.lang.data
    return redirect(local_target(form.next.data) or url_for("dashboard.queue"))


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    """Admins: who has an account, and whether it must use a second factor."""
    form = UserSettingsForm()
    if request.method == "POST":
        if not form.validate():
            return render_template("dashboard/error.html", message=_("Check the form and try again.")), 400
        user_id = int(form.user_id.data)
        with storage.writing(tipline().db) as db_session:
            user = storage.user_by_id(db_session, user_id=user_id)
            if user is None:
                return render_template("dashboard/error.html", message=_("Not found.")), 404
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
        return redirect(url_for("dashboard.users"))
    with storage.reading(tipline().db) as db_session:
        accounts = storage.list_users(db_session)
    return render_template("dashboard/users.html", accounts=accounts, form_class=UserSettingsForm,
                           logout_form=EmptyForm())


# ---- passwords ---------------------------------------------------------------------------------------

def _set_password(db_session, user, password: str, *, must_change: bool) -> None:
    """A new password ends every session of the account (the caller starts this browser's again)."""
    storage.update_user(db_session, user_id=user.id, password_hash=hash_password(password),
                        password_change_required=must_change, session_token=new_session_token())
    sessions.end_all(db_session, user_id=user.id)


@bp.route("/account/password", methods=["GET", "POST"])
@limiter.limit(PASSWORD_CHANGE_LIMIT, key_func=lambda: f"password:{current_user.get_id()}", methods=["POST"],
               deduct_when=login_failed)
def change_password():
    """Choose a new password, with the current one; every other session of the account ends."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    form = ChangePasswordForm()
    error = None
    if form.validate_on_submit():
        with storage.writing(tipline().db) as db_session:
            user = storage.user_by_id(db_session, user_id=current_user.id)
            if not verify_password(user.password_hash, form.current.data):
                g.login_failed = True
                audit(db_session, "password_change_failed", target=user.email, detail={"reason": "wrong password"})
                error = _("Your current password is not right.")
            elif form.new.data != form.confirm.data:
                error = _("The new password and its repetition differ.")
            elif form.new.data == form.current.data:
                error = _("Choose a password different from the current one.")
            else:
                try:
                    _set_password(db_session, user, form.new.data, must_change=False)
                except PasswordError:
                    error = _("The new password needs at least %(count)s characters.", count=MIN_PASSWORD_LENGTH)
                else:
                    sessions.begin(db_session, user_id=user.id, now=now())  # this browser goes on, on a new key
                    login_user(Account(storage.user_by_id(db_session, user_id=user.id)))
                    audit(db_session, "password_changed", target=user.email)
                    flash(_("Your password is changed. You are signed out everywhere else."))
                    return redirect(url_for("dashboard.queue"))
    elif request.method == "POST":
        error = _("Fill in every field.")
    return render_template("dashboard/account_password.html", form=form, error=error,
                           forced=current_user.password_change_required), (400 if error else 200)


@bp.route("/users/password", methods=["POST"])
@admin_required
def reset_password():
    """Admins: a temporary password, shown once, that the account must replace at its next login."""
    form = ResetPasswordForm()
    if not form.validate():
        return render_template("dashboard/error.html", message=_("Check the form and try again.")), 400
    with storage.writing(tipline().db) as db_session:
        user = storage.user_by_id(db_session, user_id=int(form.user_id.data))
        if user is None:
            return render_template("dashboard/error.html", message=_("Not found.")), 404
        if user.id == current_user.id:
            return render_template("dashboard/error.html", message=_(
                "To change your own password, use Change password.")), 400
        temporary = secrets.token_urlsafe(TEMPORARY_PASSWORD_BYTES)
        _set_password(db_session, user, temporary, must_change=True)
        audit(db_session, "password_reset", target=user.email, detail={"must_change": True})
    # Shown in this answer only (never cached, never in a cookie or the database): the admin passes it on.
    return render_template("dashboard/users_password.html", email=user.email, temporary=temporary)
