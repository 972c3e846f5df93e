"""The operators' and partners' dashboard: triage queue, case work, statistics, audit trail.

Server-rendered pages that work without JavaScript on a phone. Every page needs a login; every
form carries a CSRF token; every view of a tip, change and export is written to the audit trail.
Queries live in tipline.storage; this package only renders and checks permissions.
"""

from __future__ import annotations

import os
from datetime import timedelta

from flask import Blueprint, Flask, request, session
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from .security import limiter
from .sessions import DashboardSessionInterface

bp = Blueprint(
    "dashboard", __name__, url_prefix="/dashboard", template_folder="templates", static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()

LANGUAGES = {"en": "English", "id": "Bahasa Indonesia"}


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

    settings = app.extensions["tipline"].settings
    app.session_interface = DashboardSessionInterface()
    # Flask sets PERMANENT_SESSION_LIFETIME (31 days) itself, so it is set here, not defaulted;
    # the server ends sessions sooner still (sessions.py).
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=settings.session_max_hours)
    # The CSRF check runs for dashboard forms only: Twilio's signed webhook posts carry no token.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", settings.session_max_hours * 3600)
    # Login attempts are counted in this process's memory unless a shared store is named
    # (e.g. redis://...), which several gunicorn workers or machines need to count together.
    # Should that store fail, counting goes on in memory rather than refusing every login.
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.ratelimit_storage_uri)
    if settings.ratelimit_storage_uri.startswith("redis"):  # the storage's own prefix: set per app
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"key_prefix": settings.ratelimit_key_prefix})
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
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
