"""The operators' and partners' dashboard: triage queue, case work, statistics, audit trail.

Server-rendered pages that work without JavaScript on a phone. Every page needs a login; every
form carries a CSRF token; every view of a tip, change and export is written to the audit trail.
Queries live in tipline.storage; this package only renders and checks permissions.
"""

from __future__ import annotations

import os
from datetime import timedelta

from flask import Blueprint, Flask, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from .security import limiter

bp = Blueprint(
    "dashboard", __name__, url_prefix="/dashboard", template_folder="templates", static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()

LANGUAGES = {"en": "English", "id": "Bahasa Indonesia"}
SESSION_LIFETIME = timedelta(hours=8)  # one working shift


class _SessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over HTTPS (also behind a proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in the dashboard's URLs: an id no database INTEGER can hold is a 404, not an overflow."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def init_dashboard(app: Flask) -> None:
    """Register the dashboard and its extensions on one app."""
    from . import auth, community, views  # noqa: F401  (routes register on the blueprint)
    from . import partners  # noqa: F401  (escalation, follow-up, partners, outbox: issue 4)

    app.session_interface = _SessionInterface()
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", SESSION_LIFETIME)
    # The CSRF check runs for dashboard forms only: Twilio's signed webhook posts carry no token.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", int(SESSION_LIFETIME.total_seconds()))
    # Login attempts are counted in this process's memory unless a shared store is named
    # (e.g. redis://...), which several gunicorn workers or machines need to count together.
    app.config.setdefault("RATELIMIT_STORAGE_URI", os.environ.get("TIPLINE_RATELIMIT_STORAGE_URI") or "memory://")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", os.path.join(os.path.dirname(__file__), "translations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "dashboard.login"
    login_manager.login_message = None  # the login page says it already
    login_manager.session_protection = "basic"
    babel.init_app(app, locale_selector=select_locale)
    if "dashboard" not in app.blueprints:
        app.url_map.converters["int"] = DatabaseIdConverter
        app.register_blueprint(bp)
