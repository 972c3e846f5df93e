"""The outbox worker: sends what is queued, retries what failed for a while, runs the timers.

Rows are claimed in a short transaction (FOR UPDATE SKIP LOCKED on PostgreSQL) and marked
'sending' with a lease, then sent outside any transaction, then settled. Any number of workers
can run; none sends a row another holds. A worker that dies mid-send leaves its rows to be
claimed again when the lease ends: at-least-once only in that one case.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from sqlalchemy import exc as sa_exc
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from . import community, escalation, storage
from .channels import REPLY_KIND, SMSGATE
from .channels.smsgate import GatewaySender
from .channels.smsgate import purge_events as purge_gateway_events
from .engine.gsm import segments
from .models import OutboxMessage
from .privacy import mask
from .statuses import CLOSED_STATUSES, DEAD_LETTERS, NOT_RECEIVED

log = logging.getLogger(__name__)

PERMANENT_CODES = {21610, 21211, 21614}  # opted out, invalid To, cannot receive SMS
TRANSIENT_CODES = {20429}  # too many requests
NOT_ON_WHATSAPP = {63003, 63016, 63024}  # unreachable on WhatsApp, outside the 24h window, invalid
WHATSAPP_WINDOW = timedelta(hours=24)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
LEASE = timedelta(minutes=2)
MAX_WAIT = timedelta(seconds=30)  # well inside the lease, so no other worker re-claims a row mid-wait
PURGE_EVERY = timedelta(hours=1)
# A processed MessageSid is refused as a replay this long; the TwiML it got is kept only while
# Twilio may still retry (its retries end within 15 seconds), so no reporter's words linger.
PROCESSED_SID_KEPT = timedelta(days=30)
PROCESSED_REPLY_KEPT = timedelta(hours=1)
DELIVERY_ORDER = {"accepted": 0, "queued": 1, "sending": 2, "sent": 3, "delivered": 4, "read": 5}
FINAL_DELIVERY = {"undelivered", "failed", "canceled"}


class SendError(Exception):
    """A send that did not go out; `transient` says whether trying again later may help."""

    def __init__(self, reason: str, *, code: int | None = None, transient: bool):
        super().__init__(reason)
        self.code = code
        self.transient = transient


class BaseUrlHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, sent to TWILIO_API_BASE_URL (a local Twilio-compatible server)
    instead of https://api.twilio.com, and quiet: its INFO logs would carry message bodies."""

    def __init__(self, base_url: str | None, timeout: float):
        super().__init__(timeout=timeout, logger=logging.getLogger("tipline.twilio_http"))
        self.base = urlsplit(base_url) if base_url else None

    def request(self, method, url, *args, **kwargs):
        if self.base is not None:
            parts = urlsplit(url)
            url = parts._replace(scheme=self.base.scheme, netloc=self.base.netloc,
                                 path=self.base.path.rstrip("/") + parts.path).geturl()
        return super().request(method, url, *args, **kwargs)

    def log_request(self, kwargs):  # never log a request: it holds the number and the words
        pass

    def log_response(self, status_code, response):
        pass


class TwilioSender:
    """Sends through the real twilio REST client."""

    def __init__(self, account_sid: str, auth_token: str, *, base_url: str | None, timeout: float = 10.0):
        self.client = Client(account_sid, auth_token, http_client=BaseUrlHttpClient(base_url, timeout))

    def send(self, *, to: str, sender: str, body: str | None, content_sid: str | None = None,
             content_variables: str | None = None, status_callback: str | None = None) -> tuple[str, str]:
        options: dict = {"to": to}
        if re.fullmatch(r"MG[0-9a-fA-F]{32}", sender.removeprefix("whatsapp:")):
            options["messaging_service_sid"] = sender.removeprefix("whatsapp:")
        else:
            options["from_"] = sender
        if content_sid:
            options.update(content_sid=content_sid, content_variables=content_variables)
        else:
            options["body"] = body
        if status_callback:
            options["status_callback"] = status_callback
        try:
            message = self.client.messages.create(**options)
        except TwilioRestException as exc:
            transient = exc.status >= 500 or exc.status == 429 or exc.code in TRANSIENT_CODES
            raise SendError(f"Twilio answered {exc.status}", code=exc.code, transient=transient) from None
        except (requests.RequestException, TwilioException) as exc:
            raise SendError(f"no answer from Twilio ({type(exc).__name__})", transient=True) from None
        return message.sid, message.status or "queued"


NOT_SENT = "not_sent"  # a sender's answer for a message that went nowhere: the row says so, never "sent"
NO_ACCOUNT = "not sent: no Twilio account (TWILIO_ACCOUNT_SID is not set)"


def sending_is_off(settings) -> bool:
    """Outbound messages go nowhere: with neither a Twilio account nor an SMS gateway the worker only
    writes them to the log."""
    return not settings.twilio_account_sid and not settings.smsgate_url


class LogSender:
    """No Twilio account configured: the message goes to the log (number masked, words left out)
    and its row reads "not_sent": nobody received it, and nothing counts it as sent."""

    def send(self, *, to: str, sender: str, body: str | None, content_sid: str | None = None,
             content_variables: str | None = None, status_callback: str | None = None) -> tuple[str, str]:
        log.info("outbox (no TWILIO_ACCOUNT_SID): to %s, %d segments, not sent to Twilio",
                 mask(to), segments(body or ""))
        return "", NOT_SENT


@dataclass
class Outcome:
    status: str
    values: dict


class Worker:
    """One outbox worker. `clock` and `sleep` are injectable so tests run on a fixed clock."""

    def __init__(self, tipline, *, sender=None, clock: Callable[[], datetime] | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None,
                 batch: int = 10, gateway: GatewaySender | None = None):
        self.tipline = tipline
        self.settings = tipline.settings
        self.db = tipline.db
        self.outbound = tipline.outbound
        self.clock = clock or tipline.clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.batch = batch
        self.sender = sender or self._default_sender()
        # Rows whose provider is the SMS gateway go here; None while SMSGATE_URL is unset.
        self.gateway = gateway or GatewaySender.from_settings(self.settings, region=tipline.region)
        self._next_purge: datetime | None = None

    def _default_sender(self):
        s = self.settings
        if not s.twilio_account_sid:
            return LogSender()
        if not s.twilio_auth_token:
            raise ValueError("TWILIO_ACCOUNT_SID is set but TWILIO_AUTH_TOKEN is not: the worker cannot send")
        return TwilioSender(s.twilio_account_sid, s.twilio_auth_token, base_url=s.twilio_api_base_url)

    # ---- the loop -------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Run the timers, then send everything due now; the number of messages handled.

        A failing timer (a broadcast, a lesson) must never hold back what is due, urgent
        escalations first among it: it is logged and sending goes on.
        """
        try:
            self.run_timers()
        except sa_exc.DBAPIError as error:
            log.error("worker timers failed: %s", storage.describe_database_error(error))
        except Exception:
            log.exception("worker timers failed")
        handled = 0
        while True:
            with storage.writing(self.db) as session:
                rows = storage.claim_due(session, now=self.clock(), limit=self.batch, lease=LEASE)
                claimed = [row.id for row in rows]
            if not claimed:
                return handled
            for message_id in claimed:
                self.deliver(message_id)
                handled += 1

    def run(self, stop: threading.Event, *, poll_seconds: float = 1.0,
            parent_alive: Callable[[], bool] | None = None) -> None:
        """Work until `stop` is set; pauses `poll_seconds` when nothing is due."""
        log.info("outbox worker started (%s)", type(self.sender).__name__)
        while not stop.is_set():
            if parent_alive is not None and not parent_alive():
                log.info("outbox worker: parent process ended, stopping")
                return
            try:
                handled = self.run_once()
            except sa_exc.DBAPIError as error:  # an outage must not end the worker; no row data in the log
                log.error("outbox worker pass failed, retrying: %s", storage.describe_database_error(error))
                handled = 0
            except Exception:
                log.exception("outbox worker pass failed; retrying")
                handled = 0
            if not handled:
                stop.wait(poll_seconds)
        log.info("outbox worker stopped")

    def run_timers(self) -> None:
        now = self.clock()
        with storage.writing(self.db) as session:
            moved = escalation.handle_timeouts(session, now=now, outbound=self.outbound)
        if moved:
            log.warning("%d urgent tips were not acknowledged in time: sent on to a matching partner or on-call", moved)
        if self._next_purge is None or now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY
            purge(self.tipline, now=now, dry_run=False)
        community.run_timers(self.tipline, now=now)

    # ---- one message --------------------------------------------------------------------------
    def deliver(self, message_id: int) -> str:
        """Send one claimed message and settle its row; returns the row's new status."""
        now = self.clock()
        with storage.reading(self.db) as session:
            row = storage.outbox_message(session, message_id=message_id)
            plan = self._plan(session, row, now)
        if isinstance(plan, Outcome):
            return self._settle(row, plan)
        to, sender, body, content_sid, variables = plan
        wait = self._reserve(sender, body or "", now)
        if wait > MAX_WAIT.total_seconds():
            # The sender is busy for longer than this worker may hold the row: give it back, due then.
            return self._settle(row, Outcome("pending", {"next_attempt_at": now + timedelta(seconds=wait)}))
        if wait > 0:
            self.sleep(wait)
        outcome = self._attempt(row, to=to, sender=sender, body=body, content_sid=content_sid, variables=variables)
        if outcome.status == "fallback":  # not on WhatsApp: the same words by SMS, at once
            to, sender = to.removeprefix("whatsapp:"), self.settings.twilio_sms_from or "log"
            outcome = self._attempt(row, to=to, sender=sender, body=row.body, content_sid=None, variables=None)
            outcome.values["channel"] = "sms"
        return self._settle(row, outcome)

    def _plan(self, session, row: OutboxMessage, now: datetime):
        """Where, from which number and in which form this row goes; or why it does not go at all."""
        address = self.outbound.contacts.open(row.to_sealed) if row.to_sealed else None
        if address is None:
            return Outcome("cancelled", {"error": "no address"})
        if row.reporter is not None and community.is_volunteer_kind(row.kind):
            if not storage.volunteer_is_active(session, reporter=row.reporter):
                return Outcome("cancelled", {"error": "the volunteer left the watch", "to_sealed": ""})
        elif row.reporter is not None and row.kind != REPLY_KIND:  # a reply answers a message just received
            tip = storage.tip_by_id(session, tip_id=row.tip_id) if row.tip_id else None
            if tip is None or not tip.contact_sealed or tip.status in CLOSED_STATUSES:
                return Outcome("cancelled", {"error": "contact withdrawn or tip closed", "to_sealed": ""})
        if row.provider == SMSGATE:
            if self.gateway is None:
                return Outcome("failed", {"error": "SMSGATE_URL is not set: no gateway to send through"})
            return address, self.gateway.slot, row.body, None, None
        body, content_sid, variables = row.body, None, None
        channel = row.channel
        if channel == "whatsapp":
            last = self._last_inbound(session, row)
            if last is None or now - last >= WHATSAPP_WINDOW:
                if self.settings.twilio_whatsapp_content_sid:
                    import json

                    content_sid = self.settings.twilio_whatsapp_content_sid
                    variables, body = json.dumps({"1": row.body}), None
                else:
                    channel, address = "sms", address.removeprefix("whatsapp:")
        sender = self._sender_number(channel)
        if sender is None:
            return Outcome("failed", {"error": f"no sender number configured for {channel}"})
        return address, sender, body, content_sid, variables

    def _last_inbound(self, session, row: OutboxMessage) -> datetime | None:
        if row.partner_id is not None:
            partner = storage.partner_by_id(session, partner_id=row.partner_id)
            return partner.last_inbound_at if partner else None
        if row.reporter is not None:
            return storage.last_seen_of(session, reporter=row.reporter)
        return None

    def _sender_number(self, channel: str) -> str | None:
        if isinstance(self.sender, LogSender):
            return "log"
        if channel == "whatsapp":
            number = self.settings.twilio_whatsapp_from
            return None if not number else number if number.startswith("whatsapp:") else f"whatsapp:{number}"
        return self.settings.twilio_sms_from

    def _reserve(self, sender: str, body: str, now: datetime) -> float:
        seconds, burst = max(1, segments(body)) / self.settings.send_rate_per_second, 0.0
        if self.gateway is not None and sender == self.gateway.slot:
            seconds, burst = self.gateway.pace(body)  # the SIM's allowance per 30 minutes
        with storage.writing(self.db) as session:
            start = storage.reserve_send_slot(session, sender=sender, now=now, seconds=seconds, burst=burst,
                                              max_wait=MAX_WAIT)
        return (start - now).total_seconds()

    def _attempt(self, row: OutboxMessage, *, to, sender, body, content_sid, variables) -> Outcome:
        callback = f"{self.settings.public_url.rstrip('/')}/twilio/status" if self.settings.public_url else None
        now = self.clock()
        try:
            if row.provider == SMSGATE:  # bulk messages keep the app's own delays; the rest skip them
                sid, status = self.gateway.send(outbox_id=row.id, to=to, body=body,
                                                urgent=not community.is_volunteer_kind(row.kind))
            else:
                sid, status = self.sender.send(to=to, sender=sender, body=body, content_sid=content_sid,
                                               content_variables=variables, status_callback=callback)
        except SendError as exc:
            attempts = row.attempts + 1
            values = {"attempts": attempts, "error_code": exc.code, "error": str(exc)[:255]}
            if to.startswith("whatsapp:") and exc.code in NOT_ON_WHATSAPP:
                return Outcome("fallback", values)
            if not exc.transient or exc.code in PERMANENT_CODES:
                return Outcome("failed", values)
            if attempts >= self.settings.outbox_max_attempts:
                return Outcome("dead", values)
            return Outcome("pending", {**values, "next_attempt_at": now + self.backoff(attempts)})
        if status == NOT_SENT:
            return Outcome(NOT_SENT, {"attempts": row.attempts + 1, "error_code": None, "error": NO_ACCOUNT})
        return Outcome("sent", {"twilio_sid": sid, "delivery_status": status, "sent_at": now, "sender": sender,
                                "channel": "whatsapp" if to.startswith("whatsapp:") else "sms",
                                "attempts": row.attempts + 1, "error_code": None, "error": None})

    def backoff(self, attempts: int) -> timedelta:
        """Exponential backoff with jitter: base * 2^(n-1), capped, times a random factor in [0.5, 1]."""
        delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempts - 1))
        return delay * (0.5 + self.rng.random() / 2)

    def _settle(self, row: OutboxMessage, outcome: Outcome) -> str:
        now = self.clock()
        with storage.writing(self.db) as session:
            values = dict(outcome.values)
            if row.reporter is not None and outcome.status != "pending":
                values["to_sealed"] = ""  # a reporter's address is kept no longer than the sending needs
            settled = storage.settle_outbox(session, message_id=row.id, now=now, status=outcome.status,
                                            claimed_until=None, **values)
            if outcome.status in NOT_RECEIVED and settled is not None and settled.tip_id is not None:
                tip = storage.lock_tip(session, tip_id=settled.tip_id)
                if tip is not None:
                    kind = "not_sent" if outcome.status == NOT_SENT else "delivery_failed"
                    storage.add_event(session, tip=tip, kind=kind, at=now,
                                      detail={"kind": settled.kind, "outbox": settled.id, "code": settled.error_code})
                    if tip.urgency == "immediate" and tip.routing and tip.status not in CLOSED_STATUSES:
                        # Did anyone receive this urgent tip after all? If not, it is pinned for operators.
                        escalation.settle_routing(session, tip, now=now)
            if outcome.status == "failed" and settled is not None:
                community.after_failure(session, settled, code=settled.error_code, now=now)
        level = logging.WARNING if outcome.status in DEAD_LETTERS else logging.INFO
        log.log(level, "outbox %s (%s) to %s: %s%s", row.id, row.kind,
                row.to_hint and f"***{row.to_hint}" or "reporter",
                outcome.status, f" code {outcome.values.get('error_code')}" if outcome.values.get("error_code") else "")
        return outcome.status


def record_status(tipline, *, message_sid: str, status: str, error_code: int | None) -> bool:
    """A delivery status callback: keep the furthest state; WhatsApp 'not on WhatsApp' falls back to SMS.

    Idempotent per (MessageSid, status), and what a failure sets off (the SMS copy, a volunteer
    leaving the watch) happens once per message, on the first final status, whatever else arrives:
    Twilio may repeat a callback, and undelivered and failed can both come for one message.
    """
    now = tipline.clock()
    with storage.writing(tipline.db) as session:
        row = storage.outbox_by_sid(session, twilio_sid=message_sid)
        if row is None:
            return False
        current = row.delivery_status
        if status == current:
            return True  # a repeated callback changes nothing
        first_failure = status in FINAL_DELIVERY and current not in FINAL_DELIVERY
        later = current not in DELIVERY_ORDER or DELIVERY_ORDER.get(status, -1) > DELIVERY_ORDER[current]
        if status in FINAL_DELIVERY or later:
            row.delivery_status = status
        if error_code is not None:
            row.error_code = error_code
        row.updated_at = now
        session.add(row)
        if first_failure:
            community.after_failure(session, row, code=error_code, now=now)
        if (first_failure and row.channel == "whatsapp" and error_code in NOT_ON_WHATSAPP
                and row.to_sealed):
            address = tipline.outbound.contacts.open(row.to_sealed)
            if address:
                copy = storage.enqueue(
                    session, kind=row.kind, channel="sms", to_sealed=tipline.outbound.contacts.seal(
                        address.removeprefix("whatsapp:")), to_hint=row.to_hint, body=row.body, now=now,
                    tip_id=row.tip_id, partner_id=row.partner_id, reporter=row.reporter, fallback_of_id=row.id,
                )
                log.info("outbox %s undeliverable on WhatsApp (%s): SMS copy %s queued", row.id, error_code, copy.id)
    return True


def purge(tipline, *, now: datetime, dry_run: bool) -> dict[str, int]:
    """Apply the retention rules; logs counts only."""
    s = tipline.settings
    with storage.writing(tipline.db) as session:
        counts = storage.purge(
            session, now=now, dry_run=dry_run,
            contacts_before=now - timedelta(days=s.contact_retention_days),
            conversations_before=now - timedelta(days=s.conversation_retention_days),
            processed_before=now - PROCESSED_SID_KEPT, replies_before=now - PROCESSED_REPLY_KEPT,
            closed_text_before=now - timedelta(days=s.closed_tip_text_retention_days),
            outbox_before=now - timedelta(days=s.outbox_retention_days),
            sessions_idle_before=now - timedelta(hours=s.session_idle_hours),
            sessions_started_before=now - timedelta(hours=s.session_max_hours),
        )
    counts["gateway_events"] = purge_gateway_events(tipline, now=now, dry_run=dry_run)
    if any(counts.values()) or dry_run:
        log.info("retention%s: %s", " (dry run)" if dry_run else "", ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts
