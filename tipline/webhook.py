"""Twilio's side of the tip line: signed inbound messages in, TwiML out. Kept thin on purpose."""

from __future__ import annotations

import functools
import logging
import math
import re
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import DBAPIError
from twilio.request_validator import RequestValidator

from . import storage
from .privacy import normalize_address
from .service import InboundMessage, TipLine, xml_safe

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_MEDIA = 10  # Twilio's own limit per message
MAX_BODY = 5000
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
# Twilio's message sids: SM (SMS, WhatsApp) or MM (media) and 32 hex digits, nothing else. The
# signature joins sorted name+value pairs with no separator, so a signed request can be resent
# with its boundaries shifted ("MessageSid=SM...&NumMedia=0" as "MessageSid=SM...NumMedia0"):
# only an exact sid shape, and its aliases agreeing with it, keep that a replay of the same sid.
_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
_SID_ALIASES = ("SmsMessageSid", "SmsSid")
# Twilio fields that locate or name a person. They are never read; this list documents why.
DROPPED_FIELDS = ("FromCity", "FromState", "FromZip", "FromCountry", "ProfileName", "WaId", "MediaUrl*")


def tipline() -> TipLine:
    return current_app.extensions["tipline"]


def plain(text: str, status: int) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")


def signed_url() -> str:
    """The URL Twilio signed: the public URL if configured, and always the raw query string.

    Werkzeug's request.url decodes percent escapes in the query, which breaks the signature,
    so the URL is rebuilt from the undecoded parts.
    """
    query = request.query_string.decode("latin-1")
    suffix = f"?{query}" if query else ""
    public = tipline().settings.public_url
    if public:  # the public base already holds any prefix the proxy strips
        return public.rstrip("/") + quote(request.path, safe=_PATH_SAFE) + suffix
    return f"{request.scheme}://{request.host}{quote(request.script_root + request.path, safe=_PATH_SAFE)}{suffix}"


def signature_problem() -> str | None:
    token = tipline().settings.twilio_auth_token
    if not token:
        return "webhook disabled: TWILIO_AUTH_TOKEN is not set"
    signature = request.headers.get("X-Twilio-Signature")
    if not signature:
        return "missing X-Twilio-Signature"
    if not RequestValidator(token).validate(signed_url(), request.form, signature):
        return "invalid X-Twilio-Signature"
    return None


def _clean(value: str | None, limit: int) -> str:
    return xml_safe(value or "")[:limit]  # stripped before it is kept: the summary echoes it


def _location(form) -> str | None:
    """A location shared on WhatsApp, as the words Twilio gives plus coordinates."""
    parts = [_clean(form.get(name), 300).strip() for name in ("Label", "Address")]
    words = ", ".join(p for p in parts if p)
    try:
        lat, lon = float(form.get("Latitude", "")), float(form.get("Longitude", ""))
        on_earth = math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180
        coords = f"{lat:.5f},{lon:.5f}" if on_earth else ""
    except ValueError:
        coords = ""
    if words and coords:
        return f"{words} ({coords})"
    return words or coords or None


def message_sid(form) -> str:
    """The request's one MessageSid, in Twilio's shape, repeated by its aliases when they are sent.

    Raises ValueError with the reason otherwise.
    """
    values = form.getlist("MessageSid")
    if len(values) != 1 or not _SID.fullmatch(values[0]):
        raise ValueError("missing or malformed MessageSid (Twilio's is SM or MM and 32 hex digits)")
    for alias in _SID_ALIASES:
        if alias in form and form.getlist(alias) != values:
            raise ValueError(f"{alias} does not match MessageSid")
    return values[0]


def parse_inbound(form) -> InboundMessage | str:
    """A typed message from Twilio's fields, or the reason it is malformed.

    Only what the conversation needs is copied; city, state, zip, country, profile name and
    media URLs are never read, so they cannot be stored or logged.
    """
    try:
        sid = message_sid(form)
    except ValueError as refused:
        return str(refused)
    sender = _clean(form.get("From"), 256).strip()
    if not normalize_address(sender):  # blank, or a channel prefix with no address after it
        return "missing From"
    channel = "whatsapp" if sender.lower().startswith("whatsapp:") else "sms"
    try:
        media = int(form.get("NumMedia") or 0)
    except ValueError:
        media = sum(1 for key in form if key.startswith("MediaUrl"))
    opt_out = (form.get("OptOutType") or "").strip().upper() or None
    return InboundMessage(
        message_sid=sid,
        sender=sender,
        channel=channel,
        text=_clean(form.get("Body"), MAX_BODY),
        media_count=max(0, min(media, MAX_MEDIA)),
        location=_location(form) if channel == "whatsapp" else None,
        opt_out=opt_out if opt_out in ("STOP", "START", "HELP") else None,
    )


def twilio_signed(view):
    """Twilio's routes: a valid signature (403 otherwise), a form body (415), a database that
    answers (503, so Twilio's retry policy #rp=5xx sends it again: nothing was accepted)."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        problem = signature_problem()
        if problem:
            log.warning("refused request to %s: %s", request.path, problem)
            return plain(problem, 403)
        if request.mimetype not in FORM_TYPES:
            return plain(f"expected a form ({FORM_TYPES[0]}), as Twilio sends", 415)
        try:
            return view(*args, **kwargs)
        except DBAPIError as error:
            sid = request.form.get("MessageSid", "")
            log.error("database unavailable for message %s at %s: %s",
                      sid if _SID.fullmatch(sid) else "-", request.path, storage.describe_database_error(error))
            return plain("database unavailable; retry later", 503)

    return checked


@bp.post("/twilio/messages")
@twilio_signed
def messages():
    """Inbound SMS and WhatsApp from Twilio; answers TwiML."""
    message = parse_inbound(request.form)
    if isinstance(message, str):
        return plain(message, 400)
    reply = tipline().receive(message)
    return Response(reply.twiml, mimetype="application/xml")


HEALTH_WAIT = 1.5  # seconds: a load balancer's check must not hang on a silent database
_health_checks: ThreadPoolExecutor | None = None


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 otherwise, within HEALTH_WAIT seconds.

    The ping runs in a small pool of threads: on a database that accepts connections and never
    answers it would wait for the engine's own timeouts, and a health check must answer sooner.
    The two threads bound what checks left waiting can hold.
    """
    global _health_checks
    if _health_checks is None:
        _health_checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="healthz")
    try:
        answered = _health_checks.submit(storage.ping, tipline().db).result(timeout=HEALTH_WAIT)
    except FuturesTimeout:
        answered = False
    if answered:
        return jsonify(status="ok")
    return jsonify(status="unavailable", reason="database does not answer"), 503


# ---- delivery status callbacks (issue 4) ----------------------------------------------------------

_DELIVERY_STATUSES = {
    "accepted", "scheduled", "queued", "sending", "sent", "delivered", "read", "undelivered", "failed",
    "canceled", "receiving", "received", "partially_delivered",
}


@bp.post("/twilio/status")
@twilio_signed
def delivery_status():
    """Delivery status callbacks for what the outbox sent; signed like /twilio/messages."""
    from .worker import record_status

    try:
        sid = message_sid(request.form)
    except ValueError as refused:
        return plain(str(refused), 400)
    status = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "").strip().lower()
    if status not in _DELIVERY_STATUSES:
        return plain("missing or unknown MessageStatus", 400)
    code_text = (request.form.get("ErrorCode") or "").strip()
    code = int(code_text) if code_text.isascii() and code_text.isdigit() and len(code_text) <= 9 else None
    known = record_status(tipline(), message_sid=sid, status=status, error_code=code)
    if not known:
        log.info("status %s for unknown message %s ignored", status, sid)
    return Response("", status=204)
