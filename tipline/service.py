"""The tip line's one use case: a message arrives, the conversation moves, everything is kept.

Each inbound message is one transaction: the sender's conversation is locked, a repeated
MessageSid gets the answer it got the first time, the engine steps, and the conversation, the
tip and the record of the message are written together. The webhook and `tipline chat` both
come through here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from twilio.twiml.messaging_response import MessagingResponse

from . import casework, channels, community, escalation, followup, storage
from .engine import (
    Access,
    AddToTip,
    Conversation,
    DiscardTip,
    Escalate,
    Flow,
    ForgetContact,
    Inbound,
    SaveTip,
    ShareIdea,
    Subscribe,
    WithdrawTip,
    command_of,
    in_report,
    is_panic,
    is_story,
    load_flow,
    new_pin,
    new_reference,
    step,
    words_of,
)
from .engine.words import Words
from .models import utcnow
from .privacy import ContactBox, normalize_address, pin_hash, pin_matches, pseudonym
from .settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundMessage:
    """A message as the webhook parsed it. `sender` is the only identifying part; never log it.

    `provider` is who carried it in ("twilio", "smsgate"): the replies go back the same way.
    """

    message_sid: str
    sender: str
    channel: str
    text: str
    media_count: int = 0
    location: str | None = None
    opt_out: str | None = None
    provider: str = "twilio"

    def __repr__(self) -> str:  # keep the sender and the words out of any accidental log line
        return f"InboundMessage(sid={self.message_sid!r}, channel={self.channel!r})"


@dataclass(frozen=True)
class Reply:
    twiml: str
    messages: list[str]
    repeated: bool = False


class _TipDirectory:
    """What the engine may know about stored tips, answered for one sender inside their transaction."""

    def __init__(self, session, tipline: TipLine, reporter: str, now: datetime):
        self._session, self._tipline, self._reporter, self._now = session, tipline, reporter, now

    def status_of(self, reference: str) -> str | None:
        return storage.tip_status(self._session, reference=reference)

    def access(self, reference: str, pin: str | None) -> Access:
        tip = storage.tip_by_reference(self._session, reference=reference)
        if tip is None:
            return Access(False)
        key = self._tipline.settings.pseudonym_key
        correct = pin is not None and pin_matches(tip.pin_hash, reference, pin, key)
        if tip.reporter == self._reporter:
            return Access(True, pin_used=correct)
        if pin is None:
            return Access(False)
        return Access(storage.try_tip_pin(self._session, tip=tip, correct=correct, now=self._now), pin_used=True)

    def handling(self, reference: str) -> str:
        tip = storage.tip_by_reference(self._session, reference=reference)
        return storage.tip_handling(self._session, tip=tip) if tip is not None else "none"

    def urgent_route(self, fields: dict[str, Any]) -> bool:
        return escalation.urgent_receivers_exist(
            self._session, outbound=self._tipline.outbound, location=fields.get("location"),
            place_code=fields.get("place_code"), category=fields.get("category"),
        )


class TipLine:
    """Settings, flows, database and keys, wired once per process."""

    def __init__(
        self,
        settings: Settings,
        *,
        flow: Flow | None = None,
        clock: Callable[[], datetime] = utcnow,
        reference_maker: Callable[[], str] = new_reference,
        pin_maker: Callable[[], str] = new_pin,
    ):
        self.settings = settings
        self.flow = flow or load_flow(settings.flows_path, service_name=settings.service_name)
        self.db = storage.make_engine(settings.database_url, **settings.database_timeouts)
        self.contacts = ContactBox(settings.contact_key)
        self.outbound = escalation.Outbound.load(settings, self.contacts, self.flow)
        self.community_words = Words.load(settings.flows_path, "community.yaml", self.flow)
        self.clock = clock
        self.reference_maker = reference_maker
        self.pin_maker = pin_maker
        self.region = channels.deployment_region(settings)
        self.zone = ZoneInfo(settings.timezone or self.flow.timezone)  # for the times people read

    def reporter_of(self, address: str) -> str:
        return pseudonym(address, self.settings.pseudonym_key, self.region)

    def receive(self, message: InboundMessage, *, language: str | None = None) -> Reply:
        """Handle one inbound message exactly once; a retry of its MessageSid changes nothing."""
        partner_reply = self._partner_reply(message)
        if partner_reply is not None:
            return partner_reply
        reporter = self.reporter_of(message.sender)
        now = self.clock()
        with storage.writing(self.db) as session:
            row = storage.lock_conversation(session, reporter=reporter, channel=message.channel)
            done = storage.processed_twiml(session, message_sid=message.message_sid)
            if done is not None:
                log.info("repeated message %s answered as before", message.message_sid)
                return Reply(done, [], repeated=True)
            answered = self._follow_up_answer(session, row, reporter, message, now)
            if answered is not None:
                return answered
            answered = self._poll_answer(session, row, reporter, message, now)
            if answered is not None:
                return answered
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
                    # Twilio confirms its own opt-out words on SMS; another provider (the gateway) does not.
                    provider_answers_stop=None if message.provider == "twilio" else False,
                ),
                now,
                tips=_TipDirectory(session, self, reporter, now),
                new_reference=lambda: self._unused_reference(session),
                new_pin=self.pin_maker,
                resume_window=timedelta(hours=self.settings.resume_hours),
            )
            for event in turn.events:
                self._apply(session, event, reporter=reporter, message=message, now=now)
            after = turn.conversation
            row.state, row.language, row.data = after.state, after.language, after.to_dict()
            row.last_seen_at, row.opted_out, row.channel = after.last_seen, after.opted_out, message.channel
            session.add(row)
            reply = self._finalise(session, message, turn.replies, now, reporter=reporter)
        log.info(
            "message %s on %s: state %s, %d replies, events %s",
            message.message_sid, message.channel, after.state, len(turn.replies),
            ",".join(type(e).__name__ for e in turn.events) or "-",
        )
        return reply

    def _finalise(self, session, message: InboundMessage, replies: list[str], now: datetime, *,
                  reporter: str | None = None, partner=None) -> Reply:
        """Where every answer to a message is settled, inside the message's transaction.

        The message is recorded as processed (a retry changes nothing). Twilio carries the replies
        inline as TwiML; a provider whose webhook cannot (the SMS gateway) gets them queued in the
        outbox here, in the same transaction as the step that made them, or not at all.
        """
        inline = message.provider not in channels.QUEUED_REPLIES
        if not inline:
            channels.queue_replies(session, self, message, replies, now=now, reporter=reporter, partner=partner)
        twiml = render_twiml(replies if inline else [])
        storage.record_processed(session, message_sid=message.message_sid, twiml=twiml, now=now,
                                 reporter=reporter)
        return Reply(twiml, list(replies))

    def _unused_reference(self, session) -> str:
        while True:
            reference = self.reference_maker()
            if storage.tip_by_reference(session, reference=reference) is None:
                return reference

    def _apply(self, session, event, *, reporter: str, message: InboundMessage, now: datetime) -> None:
        if isinstance(event, SaveTip):
            sealed = self.contacts.seal(message.sender) if event.fields.get("contact_consent") else None
            hashed = pin_hash(event.reference, event.pin, self.settings.pseudonym_key) if event.pin else None
            tip = storage.save_tip(
                session, reference=event.reference, reporter=reporter, fields=event.fields, now=now,
                contact_sealed=sealed, pin_hash=hashed,
            )
            if event.place_unmatched and tip.location and not tip.place_code:
                # Typed words that name no place in the list: operators set the place (issue 9).
                storage.add_event(session, tip=tip, kind="place_not_matched", at=now)
            escalation.after_save(session, tip, now=now, outbound=self.outbound)
        elif isinstance(event, DiscardTip):
            storage.discard_tip(session, reference=event.reference, reporter=reporter, now=now)
        elif isinstance(event, WithdrawTip):
            tip = storage.tip_by_reference(session, reference=event.reference)
            if tip is not None and tip.reporter == reporter:
                storage.withdraw_tip(session, tip=tip, now=now)
        elif isinstance(event, AddToTip):
            tip = storage.add_to_tip(session, reference=event.reference, text=event.text, now=now)
            if tip is not None:
                casework.reporter_added(session, tip, now=now)
        elif isinstance(event, Escalate):
            tip = storage.tip_by_reference(session, reference=event.reference)
            if tip is not None:
                storage.add_event(session, tip=tip, kind="escalation_requested", at=now, detail={"urgency": "immediate"})
                escalation.escalate_immediate(session, tip, now=now, outbound=self.outbound)
        elif isinstance(event, ForgetContact):
            storage.forget_contacts(session, reporter=reporter)
            storage.unsubscribe_volunteer(session, reporter=reporter, now=now)
            storage.cancel_reporter_outbox(session, reporter=reporter, now=now)
            storage.forget_follow_ups(session, reporter=reporter, now=now)
            storage.forget_replies(session, reporter=reporter)
        elif isinstance(event, Subscribe):
            storage.subscribe_volunteer(
                session, reporter=reporter, address_sealed=self.contacts.seal(message.sender),
                channel=message.channel, language=event.language, place=event.place, place_code=event.place_code,
                consent_wording=self.flow.say(event.language, "join_explain"), now=now,
            )
        elif isinstance(event, ShareIdea):
            storage.add_idea(session, reporter=reporter, language=event.language, text=event.text, now=now)
        else:  # a new engine event nobody handles yet must not pass silently
            raise TypeError(f"unhandled engine event {type(event).__name__}")

    # ---- partners' answers and follow-up answers (issue 4) ----------------------------------------
    def _partner_reply(self, message: InboundMessage) -> Reply | None:
        """ACK/DONE/INFO from a registered partner's number; None sends the message on to the reporter flow.

        The same words from any other number are an ordinary reporter's message.
        """
        if not escalation.is_partner_command(message.text):
            return None
        now = self.clock()
        with storage.writing(self.db) as session:
            partner = storage.partner_by_phone(
                session, phone=normalize_address(message.sender, self.region), lock=True)
            if partner is None:
                return None
            done = storage.processed_twiml(session, message_sid=message.message_sid)
            if done is not None:
                return Reply(done, [], repeated=True)
            partner.last_inbound_at = now
            session.add(partner)
            text = escalation.partner_command(session, partner, message.text, now=now, outbound=self.outbound)
            reply = self._finalise(session, message, [text], now, partner=partner)
        log.info("message %s: partner %s command", message.message_sid, partner.id)
        return reply

    def _aside_allowed(self, row, message: InboundMessage, now: datetime) -> bool:
        """Whether a message may be taken outside the conversation (a poll or follow-up answer).

        Never from someone writing a report, never a call for help (issue 9: nothing captures a report).
        """
        if row.opted_out or message.opt_out or not message.text.strip():
            return False  # Twilio's opt-out (OptOutType) is a STOP whatever the words
        conversation = Conversation.from_row(row.state, row.language, row.data, row.last_seen_at, row.opted_out)
        return not in_report(self.flow, conversation, now) and not is_panic(self.flow, message.text)

    def _follow_up_answer(self, session, row, reporter: str, message: InboundMessage, now: datetime) -> Reply | None:
        """A reporter's first reply after an operator's question answers it, unless it is a command,
        a call for help or a new story (a long text that tells something new starts a report)."""
        if not self._aside_allowed(row, message, now):
            return None
        language = row.language if row.language in self.flow.languages else self.flow.default_language
        # Commands ("Stop.", "exit!", MENU, ADD ...) go to the conversation, never into an answer.
        if not words_of(message.text) or command_of(self.flow, language, message.text) is not None:
            return None
        text = message.text.strip()
        if len(text) > followup.ANSWER_MAX_PLAIN and is_story(self.flow, text):
            return None
        thanks = followup.take_answer(session, reporter=reporter, text=text, last_seen=row.last_seen_at, now=now,
                                      outbound=self.outbound)
        return self._answered_aside(session, row, message, now, thanks, "answer to a follow-up question")

    # ---- poll answers (issue 5) ------------------------------------------------------------------
    def _poll_answer(self, session, row, reporter: str, message: InboundMessage, now: datetime) -> Reply | None:
        """A volunteer's number, as the first reply after a poll reached them, is their answer."""
        if not self._aside_allowed(row, message, now):
            return None
        thanks = community.take_poll_answer(session, self, reporter=reporter, last_seen=row.last_seen_at,
                                            text=message.text, now=now)
        return self._answered_aside(session, row, message, now, thanks, "answer to a poll")

    def _answered_aside(self, session, row, message: InboundMessage, now: datetime, thanks: str | None,
                        what: str) -> Reply | None:
        """A message taken outside the conversation (an answer to our question): keep it as processed."""
        if thanks is None:
            return None
        row.last_seen_at = now
        session.add(row)
        log.info("message %s: %s", message.message_sid, what)
        return self._finalise(session, message, [thanks], now, reporter=row.reporter)


# What TwiML (XML 1.0) cannot carry, plus DEL and the C1 controls. Replies can echo a reporter's
# words (the summary), and one U+FFFF would make the whole reply unparsable.
XML_UNSAFE = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    return XML_UNSAFE.sub("", text)


def render_twiml(replies: list[str]) -> str:
    """TwiML with one <Message> per reply; no replies is an empty <Response/> (sends nothing)."""
    response = MessagingResponse()
    for text in replies:
        response.message(xml_safe(text))
    return str(response)
