"""The tip line's one use case: a message arrives, the conversation moves, everything is kept.

Each inbound message is one transaction: the sender's conversation is locked, a repeated
MessageSid gets the answer it got the first time, the engine steps, and the conversation, the
tip and the record of the message are written together. The webhook and `tipline chat` both
come through here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from twilio.twiml.messaging_response import MessagingResponse

from . import storage
from .engine import (
    AddToTip,
    Conversation,
    DiscardTip,
    Escalate,
    Flow,
    ForgetContact,
    Inbound,
    SaveTip,
    load_flow,
    new_reference,
    step,
)
from .models import utcnow
from .privacy import ContactBox, pseudonym
from .settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundMessage:
    """A message as the webhook parsed it. `sender` is the only identifying part; never log it."""

    message_sid: str
    sender: str
    channel: str
    text: str
    media_count: int = 0
    location: str | None = None
    opt_out: str | None = None

    def __repr__(self) -> str:  # keep the sender and the words out of any accidental log line
        return f"InboundMessage(sid={self.message_sid!r}, channel={self.channel!r})"


@dataclass(frozen=True)
class Reply:
    twiml: str
    messages: list[str]
    repeated: bool = False


class _TipDirectory:
    def __init__(self, session):
        self._session = session

    def status_of(self, reference: str) -> str | None:
        return storage.tip_status(self._session, reference=reference)


class TipLine:
    """Settings, flows, database and keys, wired once per process."""

    def __init__(
        self,
        settings: Settings,
        *,
        flow: Flow | None = None,
        clock: Callable[[], datetime] = utcnow,
        reference_maker: Callable[[], str] = new_reference,
    ):
        self.settings = settings
        self.flow = flow or load_flow(settings.flows_path, service_name=settings.service_name)
        self.db = storage.make_engine(settings.database_url)
        self.contacts = ContactBox(settings.contact_key)
        self.clock = clock
        self.reference_maker = reference_maker

    def reporter_of(self, address: str) -> str:
        return pseudonym(address, self.settings.pseudonym_key)

    def receive(self, message: InboundMessage, *, language: str | None = None) -> Reply:
        """Handle one inbound message exactly once; a retry of its MessageSid changes nothing."""
        reporter = self.reporter_of(message.sender)
        now = self.clock()
        with storage.writing(self.db) as session:
            row = storage.lock_conversation(session, reporter=reporter, channel=message.channel)
            done = storage.processed_twiml(session, message_sid=message.message_sid)
            if done is not None:
                log.info("repeated message %s answered as before", message.message_sid)
                return Reply(done, [], repeated=True)
            conversation = Conversation.from_row(row.state, row.language or language, row.data, row.last_seen_at, row.opted_out)
            turn = step(
                self.flow,
                conversation,
                Inbound(
                    text=message.text,
                    channel=message.channel,
                    media_count=message.media_count,
                    location=message.location,
                    opt_out=message.opt_out,
                ),
                now,
                tips=_TipDirectory(session),
                new_reference=lambda: self._unused_reference(session),
            )
            for event in turn.events:
                self._apply(session, event, reporter=reporter, message=message, now=now)
            after = turn.conversation
            row.state, row.language, row.data = after.state, after.language, after.to_dict()
            row.last_seen_at, row.opted_out, row.channel = after.last_seen, after.opted_out, message.channel
            session.add(row)
            twiml = render_twiml(turn.replies)
            storage.record_processed(session, message_sid=message.message_sid, twiml=twiml, now=now)
        log.info(
            "message %s on %s: state %s, %d replies, events %s",
            message.message_sid, message.channel, after.state, len(turn.replies),
            ",".join(type(e).__name__ for e in turn.events) or "-",
        )
        return Reply(twiml, list(turn.replies))

    def _unused_reference(self, session) -> str:
        while True:
            reference = self.reference_maker()
            if storage.tip_by_reference(session, reference=reference) is None:
                return reference

    def _apply(self, session, event, *, reporter: str, message: InboundMessage, now: datetime) -> None:
        if isinstance(event, SaveTip):
            sealed = self.contacts.seal(message.sender) if event.fields.get("contact_consent") else None
            storage.save_tip(
                session, reference=event.reference, reporter=reporter, fields=event.fields, now=now,
                contact_sealed=sealed,
            )
        elif isinstance(event, DiscardTip):
            storage.discard_tip(session, reference=event.reference, reporter=reporter)
        elif isinstance(event, AddToTip):
            storage.add_to_tip(session, reference=event.reference, text=event.text, now=now)
        elif isinstance(event, Escalate):
            tip = storage.tip_by_reference(session, reference=event.reference)
            if tip is not None:
                storage.add_event(session, tip=tip, kind="escalation_requested", at=now, detail={"urgency": "immediate"})
        elif isinstance(event, ForgetContact):
            storage.forget_contacts(session, reporter=reporter)
        else:  # a new engine event nobody handles yet must not pass silently
            raise TypeError(f"unhandled engine event {type(event).__name__}")


def render_twiml(replies: list[str]) -> str:
    """TwiML with one <Message> per reply; no replies is an empty <Response/> (sends nothing)."""
    response = MessagingResponse()
    for text in replies:
        response.message(text)
    return str(response)
