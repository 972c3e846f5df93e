"""Logging in and out, the second factor, the interface language, and admins' account settings."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError

from .. import storage
from . import LANGUAGES, bp, csrf, login_manager
from .common import Account, admin_required, audit, load_account, now, tipline
from .forms import CodeForm, EmptyForm, LanguageForm, LoginForm, UserSettingsForm
from .security import (
    ACCOUNT_LIMIT,
    ADDRESS_LIMIT,
    account_key,
    limiter,
    login_failed,
    needs_rehash,
    new_session_token,
    new_totp_secret,
    totp_step,
    totp_uri,
    verify_password,
)

PENDING_2FA_FOR = timedelta(minutes=5)
# Pages a signed-in account may open before it has set up a second factor an admin requires.
ENROLMENT_EXEMPT = {"dashboard.enroll_2fa", "dashboard.logout", "dashboard.static", "dashboard.language"}


login_manager.user_loader(load_account)


@bp.before_request
def guard():
    """CSRF on every dashboard form post; a required second factor is set up before anything else.

    A NUL character is refused first: PostgreSQL cannot hold or compare it, so it would be a 500.
    """
    if "\x00" in request.path or any("\x00" in value for source in (request.args, request.form)
                                      for _name, value in source.items(multi=True)):
        return render_template("dashboard/error.html", message=_("Check the form and try again.")), 400
    if request.method == "POST":
        csrf.protect()
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
    """Start a fresh session (no fixation), remember the account, record the login."""
    lang = session.get("lang")
    target = (session.get("pending_2fa") or {}).get("next") or local_target(request.args.get("next"))
    session.clear()
    if lang:
        session["lang"] = lang
    if target:
        session["after_login"] = target
    session.permanent = True
    login_user(Account(user))
    storage.update_user(db_session, user_id=user.id, last_login_at=now())
    audit(db_session, "login_success", actor=user.email, detail={"second_factor": second_factor})


def _fail(db_session, email: str, reason: str) -> None:
    g.login_failed = True
    audit(db_session, "login_failed", actor=email or "-", detail={"reason": reason})


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(ADDRESS_LIMIT, methods=["POST"], deduct_when=login_failed)
@limiter.limit(ACCOUNT_LIMIT, key_func=account_key, methods=["POST"], deduct_when=login_failed)
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
                    from .security import hash_password

                    storage.update_user(db_session, user_id=user.id, password_hash=hash_password(form.password.data))
                if user.totp_sealed:
                    session["pending_2fa"] = {
                        "id": user.id, "token": user.session_token, "email": user.email,
                        "since": now().isoformat(), "next": local_target(request.args.get("next")),
                    }
                    return redirect(url_for("dashboard.login_2fa"))
                _finish_login(db_session, user, second_factor=False)
                return redirect(_after_login())
    elif request.method == "POST":
        error = _("Enter your email and password.")
    return render_template("dashboard/login.html", form=form, error=error), (401 if error else 200)


def _pending_user(db_session):
    pending = session.get("pending_2fa")
    if not pending:
        return None
    since = datetime.fromisoformat(pending["since"])
    user = storage.user_by_id(db_session, user_id=int(pending["id"]))
    if now() - since > PENDING_2FA_FOR or user is None or not user.active or user.session_token != pending["token"]:
        session.pop("pending_2fa", None)
        return None
    return user


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(ADDRESS_LIMIT, methods=["POST"], deduct_when=login_failed)
@limiter.limit(ACCOUNT_LIMIT, key_func=account_key, methods=["POST"], deduct_when=login_failed)
def login_2fa():
    """The second step: the code from the authenticator app."""
    form = CodeForm()
    error = None
    with storage.writing(tipline().db) as db_session:
        user = _pending_user(db_session)
        if user is None or user.totp_sealed is None:
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
    """Sign out (a form post, so another site cannot sign you out)."""
    if current_user.is_authenticated:
        with storage.writing(tipline().db) as db_session:
            audit(db_session, "logout")
        logout_user()
    session.clear()
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
                audit(db_session, "user_changed", target=user.email,
                      detail={k: v for k, v in changes.items() if k in ("totp_required", "active")}
                      | ({"reset_totp": True} if "totp_sealed" in changes else {}))
        flash(_("Saved."))
        return redirect(url_for("dashboard.users"))
    with storage.reading(tipline().db) as db_session:
        accounts = storage.list_users(db_session)
    return render_template("dashboard/users.html", accounts=accounts, form_class=UserSettingsForm,
                           logout_form=EmptyForm())
