"""Logging in and out, the second factor, the interface language, and admins' account settings."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ... import storage
from .. import sessions
from ..common import Account, audit, now, tipline
from ..extensions import LANGUAGES, login_manager
from ..forms import LanguageForm
from ..security import (
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
    totp_qr_svg,
    totp_step,
    totp_uri,
    unknown_client,
    verify_password,
)
from .forms import ChangePasswordForm, CodeForm, LoginForm

bp = Blueprint("auth", __name__)



def local_target(target: str | None) -> str | None:
    """A dashboard path to go back to; anything that could lead off the site is dropped."""
    if not target or not target.startswith("/dashboard") or "//" in target or "\\" in target:
        return None
    return target


def _after_login() -> str:
    return session.pop("after_login", None) or url_for("dashboard.tips.queue")


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
        return redirect(url_for("dashboard.tips.queue"))
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
                    return redirect(url_for("dashboard.auth.login_2fa"))
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
            return redirect(url_for("dashboard.auth.login"))
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
    return redirect(url_for("dashboard.auth.login"))


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
            return redirect(url_for("dashboard.tips.queue"))
    uri = totp_uri(secret, current_user.email)
    return render_template(
        "dashboard/enroll_2fa.html", form=form, error=error, secret=secret, uri=uri, done=False,
        qr=totp_qr_svg(uri, _("QR code to scan with an authenticator app")),
    )


@bp.route("/language", methods=["POST"])
def language():
    """Switch the interface language (kept in the session)."""
    form = LanguageForm()
    if form.validate_on_submit() and form.lang.data in LANGUAGES:
        session["lang"] = form.lang.data
    return redirect(local_target(form.next.data) or url_for("dashboard.tips.queue"))


# ---- passwords ---------------------------------------------------------------------------------------

def set_password(db_session, user, password: str, *, must_change: bool) -> None:
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
                    set_password(db_session, user, form.new.data, must_change=False)
                except PasswordError:
                    error = _("The new password needs at least %(count)s characters.", count=MIN_PASSWORD_LENGTH)
                else:
                    sessions.begin(db_session, user_id=user.id, now=now())  # this browser goes on, on a new key
                    login_user(Account(storage.user_by_id(db_session, user_id=user.id)))
                    audit(db_session, "password_changed", target=user.email)
                    flash(_("Your password is changed. You are signed out everywhere else."))
                    return redirect(url_for("dashboard.tips.queue"))
    elif request.method == "POST":
        error = _("Fill in every field.")
    return render_template("dashboard/account_password.html", form=form, error=error,
                           forced=current_user.password_change_required), (400 if error else 200)


