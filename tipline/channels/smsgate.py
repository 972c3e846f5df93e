"""SMS Gateway for Android: SMS through an Android phone with a local SIM (issue 14).

Twilio has no two-way SMS in Indonesia, so a phone with a local prepaid SIM runs the app
(capcom6/android-sms-gateway). It forwards each SMS it receives to `POST /smsgate/events` as a
signed JSON webhook, and sends what the tip line asks through its REST API (the phone's own
server on the office network, or a cloud/private relay). The webhook cannot carry an answer, so
every reply goes through the outbox (`tipline.channels.queue_replies`).

What the app does, from its documentation and source:
- Each delivery is `{"id", "event", "deviceId", "webhookId", "payload"}`; `id` is unique per
  delivery, kept on retries. The SMS's own `payload.messageId` is derived from its content and
  is not unique (two people texting "1" collide), so deliveries are told apart by `id`.
- `X-Signature` is the hex HMAC-SHA256 of the raw body followed by `X-Timestamp` (Unix seconds,
  taken when the request is sent, so a retry is signed afresh) under the app's signing key.
- A delivery not answered 2xx within 30 s is retried: 10 s, 20 s, 40 s ... 14 times by default
  (about two days). Handled delivery ids are kept for EVENT_RETENTION, longer than that.
- Outbound: POST {base}/messages with textMessage.text, phoneNumbers, priority, ttl, and our own
  `id`; a second POST with the same id is refused 409, which makes a retry after a timeout safe.
  Priority >= 100 skips the app's delays and limits; equal priorities go last-in-first-out by
  default (see channels.reply_bodies). Outbound states come back as sms:sent, sms:delivered,
  sms:failed (and sms:cancelled), naming the id we gave.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from android_sms_gateway import APIClient, Message, MessagePriority, ProcessState, TextMessage
from android_sms_gateway import errors as gateway_errors
from android_sms_gateway.http import RequestsHttpClient
from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import DBAPIError

from .. import storage
from ..engine.gsm import segments
from ..privacy import normalize_address
from ..statuses import OUTBOX_WAITING
from . import SMSGATE

log = logging.getLogger(__name__)
bp = Blueprint("smsgate", __name__)

MAX_SKEW = timedelta(minutes=5)  # a signed delivery older (or newer) than this is a replay
EVENT_RETENTION = timedelta(days=7)  # the app's default retries end after about two days
MAX_TEXT = 5000
_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
_OUR_ID = re.compile(r"^tipline-([0-9]{1,18})(?:-[0-9a-f]+)?$")
INBOUND_EVENTS = ("sms:received", "mms:received")
DELIVERY_EVENTS = {"sms:sent": "sent", "sms:delivered": "delivered", "sms:failed": "failed",
                   "sms:cancelled": "canceled"}
# The gateway's message states in the outbox's (Twilio's) words, so one delivery order serves both.
STATE_WORDS = {ProcessState.Pending: "queued", ProcessState.Processed: "sending", ProcessState.Sent: "sent",
               ProcessState.Delivered: "delivered", ProcessState.Failed: "failed"}
WINDOW = timedelta(minutes=30)  # Android counts an app's SMS over 30 minutes
TTL = timedelta(hours=6)  # a reply the phone could not send by then is not worth sending late
URGENT, ROUTINE = MessagePriority.BYPASS_THRESHOLD, MessagePriority.DEFAULT


# ---- inbound: signed webhook deliveries ------------------------------------------------------------

def signature_problem(key: str | None, body: bytes, signature: str | None, timestamp: str | None,
                      now: datetime) -> str | None:
    """Why a delivery is not the app's own, or None. Constant-time comparison; replays refused."""
    if not key:
        return "webhook disabled: SMSGATE_SIGNING_KEY is not set"
    if not signature or not timestamp:
        return "missing X-Signature or X-Timestamp"
    timestamp = timestamp.strip()
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "malformed X-Timestamp: Unix seconds expected"
    expected = hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        return "invalid X-Signature"
    if abs(now.timestamp() - int(timestamp)) > MAX_SKEW.total_seconds():
        return "stale X-Timestamp: more than 5 minutes from this server's clock"
    return None


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery. The payload holds a number and words: never log it."""

    event_id: str
    event: str
    payload: dict

    def __repr__(self) -> str:
        return f"Delivery(id={self.event_id!r}, event={self.event!r})"


def parse_delivery(body: bytes) -> Delivery | str:
    """The delivery, or the reason it is malformed."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "body is not JSON"
    if not isinstance(data, dict):
        return "body is not a JSON object"
    event_id, event, payload = data.get("id"), data.get("event"), data.get("payload")
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
        return "missing or malformed delivery id"
    if not isinstance(event, str) or not event or len(event) > 32:
        return "missing or malformed event"
    if not isinstance(payload, dict):
        return "missing payload"
    return Delivery(event_id, event, payload)


def inbound_message(delivery: Delivery):
    """An sms:received (or mms:received) delivery as the tip line's InboundMessage, or why not."""
    from ..service import InboundMessage, xml_safe

    payload = delivery.payload
    sender = payload.get("sender") or payload.get("phoneNumber")  # phoneNumber: apps before 2026
    if not isinstance(sender, str) or not normalize_address(sender):
        return "missing sender"
    text = payload.get("message") if delivery.event == "sms:received" else ""
    if not isinstance(text, str):
        return "missing message"
    return InboundMessage(
        message_sid=f"GW{delivery.event_id}",
        sender=xml_safe(sender)[:256].strip(),
        channel="sms",
        text=xml_safe(text)[:MAX_TEXT],  # NUL and control characters: PostgreSQL refuses them in text
        media_count=1 if delivery.event == "mms:received" else 0,
        provider=SMSGATE,
    )


def plain(text: str, status: int) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")


@bp.post("/smsgate/events")
def events():
    """SMS Gateway for Android webhook deliveries: received SMS, and delivery states of our sends."""
    tipline = current_app.extensions["tipline"]
    body = request.get_data()
    problem = signature_problem(tipline.settings.smsgate_signing_key, body, request.headers.get("X-Signature"),
                                request.headers.get("X-Timestamp"), tipline.clock())
    if problem:
        log.warning("refused request to %s: %s", request.path, problem)
        return plain(problem, 403)
    if request.mimetype != "application/json":
        return plain("expected JSON (application/json), as the gateway sends", 415)
    delivery = parse_delivery(body)
    if isinstance(delivery, str):
        return plain(delivery, 400)
    try:
        return handle(tipline, delivery)
    except DBAPIError as error:  # the app retries non-2xx answers: nothing was accepted
        log.error("database unavailable for gateway delivery %s: %s", delivery.event_id,
                  storage.describe_database_error(error))
        return plain("database unavailable; retry later", 503)


def handle(tipline, delivery: Delivery) -> Response:
    """Act on one verified delivery exactly once, answering fast (the app waits 30 s at most)."""
    with storage.reading(tipline.db) as session:
        if storage.gateway_event_seen(session, event_id=delivery.event_id):
            log.info("gateway delivery %s (%s) repeated: ignored", delivery.event_id, delivery.event)
            return plain("already handled", 200)
    if delivery.event in INBOUND_EVENTS:
        message = inbound_message(delivery)
        if isinstance(message, str):
            return plain(message, 400)
        # receive() records the message as processed in its own transaction, so a retry that
        # arrives before the delivery id below is written is still answered once.
        tipline.receive(message)
    elif delivery.event in DELIVERY_EVENTS:
        if not record_delivery(tipline, delivery):
            return plain("that message is still being handed to the gateway; retry later", 503)
    else:
        log.info("gateway delivery %s: event %s is not used", delivery.event_id, delivery.event)
    with storage.writing(tipline.db) as session:
        storage.record_gateway_event(session, event_id=delivery.event_id, event=delivery.event, now=tipline.clock())
    return plain("ok", 200)


def record_delivery(tipline, delivery: Delivery) -> bool:
    """A delivery state for a message we sent; False while its outbox row is not settled yet.

    The phone can report sms:sent before the worker has written the gateway's answer to the row
    (the worker settles after the API call returns): then the app is asked to try again.
    """
    from ..worker import record_status

    message_id = delivery.payload.get("messageId")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 64:
        log.info("gateway delivery %s: %s without a messageId ignored", delivery.event_id, delivery.event)
        return True
    status = DELIVERY_EVENTS[delivery.event]
    if record_status(tipline, message_sid=message_id, status=status, error_code=None):
        reason = delivery.payload.get("reason")
        if status == "failed" and isinstance(reason, str) and reason.strip():
            with storage.writing(tipline.db) as session:
                row = storage.outbox_by_sid(session, twilio_sid=message_id)
                # The reason names an Android or carrier error (RESULT_ERROR_GENERIC_FAILURE ...).
                storage.note_outbox_error(session, message_id=row.id, error=" ".join(reason.split()),
                                          now=tipline.clock())
        log.info("gateway delivery %s: %s for %s", delivery.event_id, delivery.event, message_id)
        return True
    ours = _OUR_ID.match(message_id)
    if ours:
        with storage.reading(tipline.db) as session:
            row = storage.outbox_message(session, message_id=int(ours.group(1)))
        if row is not None and row.status in OUTBOX_WAITING:
            return False
    log.info("gateway delivery %s: %s for an unknown message ignored", delivery.event_id, delivery.event)
    return True


def purge_events(tipline, *, now: datetime, dry_run: bool) -> int:
    """Forget handled delivery ids once the app can no longer retry them."""
    with storage.writing(tipline.db) as session:
        return storage.purge_gateway_events(session, before=now - EVENT_RETENTION, dry_run=dry_run)


# ---- outbound: the gateway's REST API ----------------------------------------------------------------

class _TimeoutSession(requests.Session):
    """The client library's requests session has no timeout; a phone off the network must not hang a worker."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


class GatewaySender:
    """Sends through the gateway with the `android-sms-gateway` client, one SIM's rate for all workers."""

    def __init__(self, settings, *, region: str | None = None, timeout: float = 10.0):
        self.url = settings.smsgate_url.rstrip("/")
        self.client = APIClient(settings.smsgate_username, settings.smsgate_password, base_url=self.url,
                                http=RequestsHttpClient(session=_TimeoutSession(timeout)))
        self.sim = settings.smsgate_sim_number
        self.region = region
        self.slot = f"smsgate:sim{self.sim}" if self.sim else "smsgate"  # the SendSlot row every worker shares
        self.interval = WINDOW.total_seconds() / settings.smsgate_send_limit

    @classmethod
    def from_settings(cls, settings, *, region: str | None = None) -> GatewaySender | None:
        return cls(settings, region=region) if settings.smsgate_url else None

    def pace(self, body: str) -> tuple[float, float]:
        """Seconds of the SIM's allowance this SMS uses, and the burst allowed before spacing starts:
        SMSGATE_SEND_LIMIT segments go at once, then one every 30 min / limit (Android's own window)."""
        return max(1, segments(body)) * self.interval, WINDOW.total_seconds() - self.interval

    def send(self, *, outbox_id: int, to: str, body: str, urgent: bool = True) -> tuple[str, str]:
        """Hand one SMS to the gateway; (its message id, its state in the outbox's words)."""
        from ..worker import SendError

        number = normalize_address(to, self.region)  # a sender kept as 0812... is sent to as +62812...
        message_id = f"tipline-{outbox_id}"
        try:
            state = self._post(message_id, number, body, urgent)
        except gateway_errors.APIError as exc:
            if exc.status_code != 409:
                raise _send_error(exc) from None
            # Accepted before (our answer was lost to a timeout): keep that one, unless it failed.
            try:
                state = self.client.get_state(message_id)
                if state.state == ProcessState.Failed:
                    state = self._post(f"{message_id}-{secrets.token_hex(4)}", number, body, urgent)
            except gateway_errors.APIError as again:
                raise _send_error(again) from None
            except (requests.RequestException, ValueError, KeyError) as again:
                raise SendError(f"no usable answer from the gateway ({type(again).__name__})", transient=True) from None
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise SendError(f"no usable answer from the gateway ({type(exc).__name__})", transient=True) from None
        return state.id, STATE_WORDS.get(state.state, "queued")

    def _post(self, message_id: str, number: str, body: str, urgent: bool):
        message = Message(
            id=message_id, phone_numbers=[number], text_message=TextMessage(text=body),
            priority=URGENT if urgent else ROUTINE, ttl=int(TTL.total_seconds()), sim_number=self.sim,
            with_delivery_report=True,
        )
        return self.client.send(message)

    def health(self):
        """The app's health report (status, version, checks). A failing phone answers 500 with it."""
        try:
            return self.client.health_check()
        except gateway_errors.APIError as exc:
            if isinstance(exc.response, dict) and "status" in exc.response:
                from android_sms_gateway import HealthResponse

                return HealthResponse.from_dict(exc.response)
            raise

    def webhooks(self) -> list:
        return self.client.get_webhooks()

    def where(self) -> str:
        """The gateway's address without any credentials in it, for people and logs."""
        parts = urlsplit(self.url)
        return parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()


def _send_error(exc: gateway_errors.APIError):
    """The gateway's refusal as a SendError. Wrong credentials (401/403) are kept for retry, not
    failed at once: a mistyped setting must not throw away every reply while someone fixes it."""
    from ..worker import SendError

    status = exc.status_code
    transient = status is None or status >= 500 or status in (401, 403, 408, 429)
    return SendError(f"the gateway answered {status}", transient=transient)
