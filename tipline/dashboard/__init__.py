"""The operators' and partners' dashboard: triage queue, case work, statistics, audit trail.

Server-rendered pages that work without JavaScript on a phone. Every page needs a login; every
form carries a CSRF token; every view of a tip, change and export is written to the audit trail.
Queries live in tipline.storage; this package only renders and checks permissions.

One blueprint per feature (tips, answers, partners, outbox, community, practice, stats, admin, auth), each a
package with its routes and forms, nested under the "dashboard" blueprint, which carries what every
page shares: the /dashboard prefix, templates, style sheet, request guard, headers and error pages.
"""

from __future__ import annotations

import os
from datetime import timedelta

from flask import Blueprint, Flask, redirect, url_for

from . import admin, answers, auth, community, display, errors, hooks, outbox, partners, practice, stats, tips
from .common import load_account
from .extensions import DatabaseIdConverter, babel, csrf, login_manager, select_locale
from .sessions import DashboardSessionInterface

FEATURES = (tips, answers, partners, outbox, community, practice, stats, admin, auth)


def dashboard_blueprint() -> Blueprint:
    """The dashboard for one app: the shared parent and every feature's blueprint under it."""
    parent = Blueprint(
        "dashboard", __name__, url_prefix="/dashboard", template_folder="templates", static_folder="static",
        static_url_path="/static",
    )
    hooks.install(parent)
    for feature in FEATURES:
        parent.register_blueprint(feature.bp)
    return parent


def init_dashboard(app: Flask) -> None:
    """Register the dashboard and its extensions on one app."""
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
    from .security import limiter

    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "dashboard.auth.login"
    login_manager.login_message = None  # the login page says it already
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_account)
    babel.init_app(app, locale_selector=select_locale)
    display.install(app)
    errors.install(app)
    if "dashboard" not in app.blueprints:
        app.url_map.converters["int"] = DatabaseIdConverter
        app.register_blueprint(dashboard_blueprint())
        app.add_url_rule("/", endpoint="home", view_func=home)


def home():
    """The site's address leads to the dashboard (its login page for anyone not signed in)."""
    return redirect(url_for("dashboard.tips.queue"))
