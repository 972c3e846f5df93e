"""tipline: an SMS and WhatsApp tip line against child trafficking."""

from __future__ import annotations

import ipaddress
import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from .settings import Settings

MAX_REQUEST_BYTES = 64 * 1024  # Twilio's largest form is a few kilobytes


def configure_logging(level: str) -> None:
    """Once per process. Log lines carry ids and states, never numbers, words or places."""
    logger = logging.getLogger("tipline")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)
    # The twilio client logs whole request bodies (a partner's message) at INFO.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


def is_loopback(host: str | None) -> bool:
    """Whether an address (or `localhost`) is this machine's own."""
    host = (host or "").strip().strip("[]")
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


class LocalProxyFix:
    """ProxyFix that believes X-Forwarded-* only when the connection comes from this machine.

    Behind a reverse proxy on the same machine (gunicorn bound to 127.0.0.1), the proxy's
    headers say who the client is. Anyone reaching gunicorn directly could write those headers
    themselves, evading the per-address login limit and putting any address they like in the
    audit trail; their requests are taken as coming from where they come from. A proxy on
    another machine needs TIPLINE_ALLOW_REMOTE_PROXY=1 (and a firewall that lets only it in).
    """

    def __init__(self, app, proxies: int, *, any_peer: bool = False):
        self.plain = app
        self.fixed = ProxyFix(app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)
        self.any_peer = any_peer

    def __call__(self, environ, start_response):
        if self.any_peer or is_loopback(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.plain(environ, start_response)


def create_app(settings: Settings | None = None, **tipline_options) -> Flask:
    """The application factory: webhooks (Twilio, SMS gateway) and health check, wired to one TipLine."""
    from .channels.smsgate import bp as smsgate_bp
    from .service import TipLine
    from .webhook import bp as webhook_bp

    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.public_url and settings.public_url.startswith("https://")),
    )
    if settings.trusted_proxies:
        app.wsgi_app = LocalProxyFix(app.wsgi_app, settings.trusted_proxies,
                                     any_peer=settings.allow_remote_proxy)
    app.extensions["tipline"] = TipLine(settings, **tipline_options)
    app.register_blueprint(webhook_bp)
    app.register_blueprint(smsgate_bp)
    from .dashboard import init_dashboard

    init_dashboard(app)  # with the error pages of the whole app (tipline/dashboard/errors.py)
    return app
