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

from . import channels, community, escalation, followup, storage
from .actions import tips as tip_actions
from .engine import (
    Access,
    AddToTip,
    Conversation,
    DiscardTip,
    Escalate,
    Flow,
    FlowError,
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
from .report_fields import column_faults, tip_values
from .settings import Settings
from .storage import inbound

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


class _Repeated(Exception):
    """The message's sid was already answered: what this delivery did is rolled back."""


class _TipDirectory:
    """What the engine may know about stored tips, answered for one sender inside their transaction."""

    def __init__(self, tx: inbound.Transaction, tipline: TipLine, reporter: str, now: datetime):
        self._tx, self._tipline, self._reporter, self._now = tx, tipline, reporter, now

    @property
    def _session(self):
        return self._tx.session  # opened only when the engine asks about a tip

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
        faults = column_faults(self.flow.fields)
        if faults:  # a field the tip cannot keep must stop the start, never lose an answer
            raise FlowError("; ".join(faults))
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
        """Handle one inbound message exactly once; a retry of its MessageSid changes nothing.

        An ordinary message costs four statements (tipline/inbound.py). The sid is claimed last,
        with its answer: a sid already answered rolls back everything this delivery did and gets
        the first answer again.
        """
        try:
            return self._receive(message, language)
        except _Repeated:
            pass
        # Read after the rollback: what this delivery did (an EXIT dropping kept answers) is undone.
        with self.db.connect() as conn:
            twiml = inbound.answered_twiml(conn, message_sid=message.message_sid)
        log.info("repeated message %s answered as before", message.message_sid)
        return Reply(twiml or inbound.NO_REPLY_TWIML, [], repeated=True)

    def _receive(self, message: InboundMessage, language: str | None) -> Reply:
        partner_reply = self._partner_reply(message)
        if partner_reply is not None:
            return partner_reply
        reporter = self.reporter_of(message.sender)
        now = self.clock()
        with storage.writing_transaction(self.db) as tx:
            row = inbound.lock_conversation(tx.conn, reporter=reporter, channel=message.channel)
            answered = self._follow_up_answer(tx, row, reporter, message, now)
            if answered is not None:
                return answered
            answered = self._poll_answer(tx, row, reporter, message, now)
            if answered is not None:
                return answered
            conversation = Conversation.from_row(row.state, row.language or language, row.data, row.last_seen_at,
                                                 row.opted_out)
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
                tips=_TipDirectory(tx, self, reporter, now),
                new_reference=lambda: self._unused_reference(tx.session),
                new_pin=self.pin_maker,
                resume_window=timedelta(hours=self.settings.resume_hours),
            )
            for event in turn.events:
                self._apply(tx, event, reporter=reporter, message=message, now=now)
            after = turn.conversation
            row.state, row.language, row.data = after.state, after.language, after.to_dict()
            row.last_seen_at, row.opted_out, row.channel = after.last_seen, after.opted_out, message.channel
            inbound.save_conversation(tx.conn, row)
            reply = self._finalise(tx, message, turn.replies, now, reporter=reporter)
        log.info(
            "message %s on %s: state %s, %d replies, events %s",
            message.message_sid, message.channel, after.state, len(turn.replies),
            ",".join(type(e).__name__ for e in turn.events) or "-",
        )
        return reply

    def _finalise(self, tx: inbound.Transaction, message: InboundMessage, replies: list[str], now: datetime, *,
                  reporter: str | None = None, partner=None) -> Reply:
        """Where every answer to a message is settled, inside the message's transaction.

        The message is recorded as processed (a retry changes nothing); when its sid already was,
        `_Repeated` rolls this transaction back. Twilio carries the replies inline as TwiML; a
        provider whose webhook cannot (the SMS gateway) gets them queued in the outbox here, in
        the same transaction as the step that made them, or not at all.
        """
        inline = message.provider not in channels.QUEUED_REPLIES
        if not inline:
            channels.queue_replies(tx.session, self, message, replies, now=now, reporter=reporter, partner=partner)
        twiml = render_twiml(replies if inline else [])
        claimed = inbound.claim_message(tx.conn, message_sid=message.message_sid, twiml=twiml,
                                        now=now, reporter=reporter)
        if not claimed:
            raise _Repeated()
        return Reply(twiml, list(replies))

    def _unused_reference(self, session) -> str:
        while True:
            reference = self.reference_maker()
            if storage.tip_by_reference(session, reference=reference) is None:
                return reference

    def _apply(self, tx: inbound.Transaction, event, *, reporter: str, message: InboundMessage,
               now: datetime) -> None:
        """Do what one engine event asks, by its type (EVENT_HANDLERS)."""
        handler = EVENT_HANDLERS.get(type(event))
        if handler is None:  # a new engine event nobody handles yet must not pass silently
            raise TypeError(f"unhandled engine event {type(event).__name__}")
        handler(self, tx, event, reporter=reporter, message=message, now=now)

    def _save_tip(self, tx: inbound.Transaction, event: SaveTip, *, reporter: str, message: InboundMessage,
                  now: datetime) -> None:
        """The report so far into its tip: one UPDATE for an answer in the middle of a report.

        A new tip, the finished report (its PIN, the "completed" event) and an urgent one (routing
        needs the whole tip) go the long way through storage.save_tip.
        """
        consent = self.flow.field_named("contact")
        sealed = self.contacts.seal(message.sender) if consent and event.fields.get(consent) else None
        values = tip_values(event.fields, self.flow.fields)
        tip = None
        ordinary = not event.pin and not event.fields.get("complete") and event.fields.get("urgency") != "immediate"
        if ordinary:
            tip = inbound.update_report(tx.conn, reference=event.reference, reporter=reporter,
                                        columns=storage.tip_columns(values), contact_sealed=sealed, now=now)
        saved = tip is None
        if saved:
            hashed = pin_hash(event.reference, event.pin, self.settings.pseudonym_key) if event.pin else None
            tip = storage.save_tip(tx.session, reference=event.reference, reporter=reporter, fields=values, now=now,
                                   contact_sealed=sealed, pin_hash=hashed)
        if event.place_unmatched and tip.location and not tip.place_code:
            # Typed words that name no place in the list: operators set the place (issue 9).
            if saved:
                storage.add_event(tx.session, tip=tip, kind="place_not_matched", at=now)
            else:
                inbound.note_on_tip(tx.conn, tip_id=tip.id, kind="place_not_matched", at=now)
        if saved:
            escalation.after_save(tx.session, tip, now=now, outbound=self.outbound)

    def _discard_tip(self, tx: inbound.Transaction, event: DiscardTip, *, reporter: str, message: InboundMessage,
                     now: datetime) -> None:
        session = tx.session
        storage.discard_tip(session, reference=event.reference, reporter=reporter, now=now)

    def _withdraw_tip(self, tx: inbound.Transaction, event: WithdrawTip, *, reporter: str, message: InboundMessage,
                      now: datetime) -> None:
        session = tx.session
        tip = storage.tip_by_reference(session, reference=event.reference)
        if tip is not None and tip.reporter == reporter:
            storage.withdraw_tip(session, tip=tip, now=now)

    def _add_to_tip(self, tx: inbound.Transaction, event: AddToTip, *, reporter: str, message: InboundMessage,
                    now: datetime) -> None:
        session = tx.session
        tip = storage.add_to_tip(session, reference=event.reference, text=event.text, now=now)
        if tip is not None:
            tip_actions.reporter_added(session, tip, now=now)

    def _escalate(self, tx: inbound.Transaction, event: Escalate, *, reporter: str, message: InboundMessage,
                  now: datetime) -> None:
        session = tx.session
        tip = storage.tip_by_reference(session, reference=event.reference)
        if tip is not None:
            storage.add_event(session, tip=tip, kind="escalation_requested", at=now, detail={"urgency": "immediate"})
            escalation.escalate_immediate(session, tip, now=now, outbound=self.outbound)

    def _forget_contact(self, tx: inbound.Transaction, event: ForgetContact, *, reporter: str, message: InboundMessage,
                        now: datetime) -> None:
        session = tx.session
        storage.forget_contacts(session, reporter=reporter)
        storage.unsubscribe_volunteer(session, reporter=reporter, now=now)
        storage.cancel_reporter_outbox(session, reporter=reporter, now=now)
        storage.forget_follow_ups(session, reporter=reporter, now=now)
        storage.forget_replies(session, reporter=reporter)

    def _subscribe(self, tx: inbound.Transaction, event: Subscribe, *, reporter: str, message: InboundMessage,
                   now: datetime) -> None:
        session = tx.session
        storage.subscribe_volunteer(
            session, reporter=reporter, address_sealed=self.contacts.seal(message.sender),
            channel=message.channel, language=event.language, place=event.place, place_code=event.place_code,
            consent_wording=self.flow.say(event.language, "join_explain"), now=now,
        )

    def _share_idea(self, tx: inbound.Transaction, event: ShareIdea, *, reporter: str, message: InboundMessage,
                    now: datetime) -> None:
        session = tx.session
        storage.add_idea(session, reporter=reporter, language=event.language, text=event.text, now=now)

    # ---- partners' answers and follow-up answers (issue 4) ----------------------------------------
    def _partner_reply(self, message: InboundMessage) -> Reply | None:
        """ACK/DONE/INFO from a registered partner's number; None sends the message on to the reporter flow.

        The same words from any other number are an ordinary reporter's message.
        """
        if not escalation.is_partner_command(message.text):
            return None
        now = self.clock()
        with storage.writing_transaction(self.db) as tx:
            session = tx.session
            partner = storage.partner_by_phone(
                session, phone=normalize_address(message.sender, self.region), lock=True)
            if partner is None:
                return None
            partner.last_inbound_at = now
            session.add(partner)
            text = escalation.partner_command(session, partner, message.text, now=now, outbound=self.outbound)
            reply = self._finalise(tx, message, [text], now, partner=partner)
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

    def _follow_up_answer(self, tx: inbound.Transaction, row, reporter: str, message: InboundMessage,
                          now: datetime) -> Reply | None:
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
        thanks = followup.take_answer(tx.session, reporter=reporter, text=text, last_seen=row.last_seen_at, now=now,
                                      outbound=self.outbound)
        return self._answered_aside(tx, row, message, now, thanks, "answer to a follow-up question")

    # ---- poll answers (issue 5) ------------------------------------------------------------------
    def _poll_answer(self, tx: inbound.Transaction, row, reporter: str, message: InboundMessage,
                     now: datetime) -> Reply | None:
        """A volunteer's number, as the first reply after a poll reached them, is their answer."""
        if not self._aside_allowed(row, message, now):
            return None
        thanks = community.take_poll_answer(tx.session, self, reporter=reporter, last_seen=row.last_seen_at,
                                            text=message.text, now=now)
        return self._answered_aside(tx, row, message, now, thanks, "answer to a poll")

    def _answered_aside(self, tx: inbound.Transaction, row, message: InboundMessage, now: datetime, thanks: str | None,
                        what: str) -> Reply | None:
        """A message taken outside the conversation (an answer to our question): keep it as processed."""
        if thanks is None:
            return None
        row.last_seen_at = now
        inbound.save_conversation(tx.conn, row)
        reply = self._finalise(tx, message, [thanks], now, reporter=row.reporter)
        log.info("message %s: %s", message.message_sid, what)
        return reply


# Each engine event and the TipLine method that does what it asks, in the message's transaction.
EVENT_HANDLERS: dict[type, Callable[..., None]] = {
    SaveTip: TipLine._save_tip,
    DiscardTip: TipLine._discard_tip,
    WithdrawTip: TipLine._withdraw_tip,
    AddToTip: TipLine._add_to_tip,
    Escalate: TipLine._escalate,
    ForgetContact: TipLine._forget_contact,
    Subscribe: TipLine._subscribe,
    ShareIdea: TipLine._share_idea,
}


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
