"""The channel layer: providers at the edge, one conversation in the middle.

An inbound adapter turns a provider's request into an `InboundMessage` (Twilio's signed form in
`tipline.webhook`, SMS Gateway for Android's signed JSON in `tipline.channels.smsgate`); an
outbound sender turns an outbox row into the provider's API call (`tipline.worker` dispatches on
the row's `provider`). Twilio carries a reply inline (TwiML); a provider whose webhook cannot
gets every reply through the outbox, queued in the same transaction as the step that made it.
The engine knows channels ("sms", "whatsapp"), never providers.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import yaml

from ..engine.gsm import segments
from ..privacy import is_phone_number, normalize_address

log = logging.getLogger(__name__)

TWILIO = "twilio"
SMSGATE = "smsgate"
PROVIDERS = (TWILIO, SMSGATE)
QUEUED_REPLIES = frozenset({SMSGATE})  # providers whose webhook cannot carry an answer
REPLY_KIND = "reply"  # the outbox kind of an answer to an inbound message
# One reply row stays below the 9 parts at which Android starts refusing long SMS
# (RESULT_ERROR_LIMIT_EXCEEDED); a longer answer is split into numbered rows.
MAX_REPLY_SEGMENTS = 8


def deployment_region(settings) -> str | None:
    """The country local-form numbers are read in: TIPLINE_COUNTRY, else flows/deployment.yaml's `country`."""
    if settings.country:
        return settings.country.upper()
    try:
        deployment = yaml.safe_load((Path(settings.flows_path) / "deployment.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None  # load_flow reports a broken deployment.yaml with its own clear message
    country = deployment.get("country") if isinstance(deployment, dict) else None
    return str(country).upper() if country else None


def provider_for(settings, channel: str) -> str:
    """Who carries a message the tip line starts itself: SMS goes through the local gateway when one
    is configured (a local number reporters can answer), WhatsApp always through Twilio."""
    return SMSGATE if channel != "whatsapp" and settings.smsgate_url else TWILIO


def reply_bodies(replies: list[str]) -> list[str]:
    """A turn's replies as the fewest SMS that carry them in order.

    The gateway sends messages of equal priority last-in-first-out unless its FIFO setting is on,
    but a phone always joins the parts of one long SMS in order: so one SMS per turn. Only a turn
    longer than MAX_REPLY_SEGMENTS is split, and then numbered "(1/2)" so it reads in order anyway.
    """
    texts = [text.strip() for text in replies if text and text.strip()]
    bodies: list[str] = []
    for text in texts:
        joined = f"{bodies[-1]}\n\n{text}" if bodies else text
        if bodies and segments(joined) <= MAX_REPLY_SEGMENTS:
            bodies[-1] = joined
        else:
            bodies.append(text)
    if len(bodies) > 1:
        bodies = [f"({n}/{len(bodies)}) {body}" for n, body in enumerate(bodies, 1)]
    return bodies


def queue_replies(session, tipline, message, replies: list[str], *, now: datetime, reporter: str | None,
                  partner=None) -> int:
    """Queue the answer to `message` back through the provider that carried it; the rows it wrote.

    The address is sealed in the row and wiped once it is sent or dead (the worker does that for
    every row with a reporter), so a reporter's number lies in the outbox no longer than needed.
    """
    bodies = reply_bodies(replies)
    if not bodies:
        return 0
    address = normalize_address(message.sender, tipline.region)
    if not is_phone_number(address):  # a short code or a carrier's sender name: nobody to answer
        log.info("message %s: %d replies not queued, the sender is not a phone number", message.message_sid,
                 len(bodies))
        return 0
    for body in bodies:
        tipline.outbound.queue(session, kind=REPLY_KIND, address=address, body=body, now=now,
                               reporter=None if partner is not None else reporter, partner=partner,
                               provider=message.provider)
    return len(bodies)
