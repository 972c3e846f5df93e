"""The tables. Reporters appear only as keyed pseudonyms; a contact address only sealed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from .statuses import (  # noqa: F401 (re-exported: the tables' allowed values)
    BROADCAST_STATUSES,
    ESCALATION_STATUSES,
    IDEA_STATUSES,
    NOBODY,
    OUTBOX_STATUSES,
    POLL_STATUSES,
    ROUTINGS,
    TIP_STATUSES,
    USER_ROLES,
)

URGENCIES = ("immediate", "normal")
CATEGORIES = (
    "forced_labour", "sexual_exploitation", "recruitment", "online", "child_marriage", "begging", "other",
)
JSON_TYPE = sa.JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(sa.TypeDecorator):
    """Stored as naive UTC (SQLite has no time zones), always read back as aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


def _when(**kw: Any):
    return Field(sa_type=UTCDateTime, **kw)


class ConversationRow(SQLModel, table=True):
    """Where one sender stands in the conversation; one row per pseudonym, locked per message."""

    __tablename__ = "conversation"

    id: int | None = Field(default=None, primary_key=True)
    reporter: str = Field(max_length=64, unique=True)
    state: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=16)
    channel: str = Field(default="sms", max_length=16)
    data: dict = Field(default_factory=dict, sa_type=JSON_TYPE)
    opted_out: bool = Field(default=False)
    last_seen_at: datetime | None = _when(default=None)
    created_at: datetime = _when(default_factory=utcnow)


class Tip(SQLModel, table=True):
    """A report, in the reporter's words, under their pseudonym."""

    __tablename__ = "tip"
    __table_args__ = (
        sa.Index("ix_tip_created_at", "created_at"),
        sa.Index("ix_tip_status_created", "status", "created_at"),
        sa.Index("ix_tip_urgency_created", "urgency", "created_at"),
        sa.Index("ix_tip_reporter", "reporter"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=9, unique=True)
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)
    status: str = Field(default="new", max_length=16)
    urgency: str = Field(default="normal", max_length=16)
    category: str | None = Field(default=None, max_length=32)
    description: str | None = Field(default=None, sa_type=sa.Text)
    location: str | None = Field(default=None, sa_type=sa.Text)
    # The report's other answers, by the field names flows/flow.yaml declares (when, children, ...):
    # what is not filtered or routed on needs no column, so a new question needs no migration.
    answers: dict = Field(default_factory=dict, sa_type=JSON_TYPE)
    channel: str = Field(default="sms", max_length=16)
    language: str = Field(default="en", max_length=16)
    reporter: str = Field(max_length=64)
    contact_consent: bool = Field(default=False)
    contact_sealed: str | None = Field(default=None, sa_type=sa.Text)
    complete: bool = Field(default=False)
    media_count: int = Field(default=0)
    place_code: str | None = Field(default=None, max_length=16, index=True)  # from flows/places.yaml
    # Who an urgent tip reached (ROUTINGS); "unrouted" and "failed" mean nobody did, and pin it on top.
    routing: str | None = Field(default=None, max_length=16)
    # A partner's DONE waits here for an operator to confirm (and close) or reject it.
    outcome_reported_at: datetime | None = _when(default=None)
    # The PIN given with the reference (ADD/STATUS from another phone), only as a keyed hash, and
    # the wrong tries that lock it for a while (issue 8).
    pin_hash: str | None = Field(default=None, max_length=64)
    pin_failures: int = Field(default=0)
    pin_failed_at: datetime | None = _when(default=None)


class TipAddition(SQLModel, table=True):
    """Words a reporter added later with ADD <ref>."""

    __tablename__ = "tip_addition"

    id: int | None = Field(default=None, primary_key=True)
    tip_id: int = Field(foreign_key="tip.id", index=True, ondelete="CASCADE")
    created_at: datetime = _when(default_factory=utcnow)
    text: str = Field(sa_type=sa.Text)


class TipEvent(SQLModel, table=True):
    """The tip's timeline: what happened to it, when, by whom (never the reporter's identity)."""

    __tablename__ = "tip_event"

    id: int | None = Field(default=None, primary_key=True)
    tip_id: int = Field(foreign_key="tip.id", index=True, ondelete="CASCADE")
    at: datetime = _when(default_factory=utcnow)
    kind: str = Field(max_length=32)
    actor: str = Field(default="system", max_length=128)
    detail: dict = Field(default_factory=dict, sa_type=JSON_TYPE)


class ProcessedMessage(SQLModel, table=True):
    """Twilio MessageSids already handled: a retry gets the same answer, a replay changes nothing.

    The bare sid is kept for weeks (a replayed request is refused that long); the TwiML answered,
    which can echo a reporter's summary, and whose conversation it was, only while Twilio may
    still retry: retention drops them, and so does STOP or EXIT.
    """

    __tablename__ = "processed_message"

    message_sid: str = Field(primary_key=True, max_length=64)
    received_at: datetime = _when(default_factory=utcnow, index=True)
    twiml: str | None = Field(default=None, sa_type=sa.Text)
    reporter: str | None = Field(default=None, max_length=64, index=True)


# ---- dashboard: accounts, case work, audit trail (issue 3) --------------------------------------



class User(SQLModel, table=True):
    """A dashboard account. A partner account is tied to one partner organisation by name."""

    __tablename__ = "dashboard_user"  # "user" is a reserved word in PostgreSQL

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    role: str = Field(max_length=16)
    partner: str | None = Field(default=None, max_length=128)
    password_hash: str = Field(max_length=255)
    active: bool = Field(default=True)
    # Rotated when the password changes or the account is disabled. Sessions themselves are rows
    # of dashboard_session, ended by deleting them.
    session_token: str = Field(max_length=64)
    totp_sealed: str | None = Field(default=None, sa_type=sa.Text)  # Fernet-sealed TOTP secret
    totp_required: bool = Field(default=False)
    totp_last_step: int | None = Field(default=None)  # a TOTP code is accepted once
    created_at: datetime = _when(default_factory=utcnow)
    last_login_at: datetime | None = _when(default=None)
    # Set by an admin's reset (or `tipline users passwd --temporary`): choose a new password first.
    password_change_required: bool = Field(default=False)


class DashboardSession(SQLModel, table=True):
    """A signed-in browser (or one half way, waiting for its second factor).

    The browser's cookie carries only a random key; this row is named by the key's SHA-256, so a
    copy of the table opens nothing. Everything the session holds (the practice chat, a TOTP
    secret being set up) lives in `data`, never in the cookie. Logging out, a new password, an
    admin's reset or disabling the account delete the rows: those sessions end at once.
    """

    __tablename__ = "dashboard_session"

    key_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="dashboard_user.id", index=True, ondelete="CASCADE")
    second_factor_pending: bool = Field(default=False)
    created_at: datetime = _when(default_factory=utcnow)
    last_seen_at: datetime = _when(default_factory=utcnow, index=True)
    data: str = Field(default="", sa_type=sa.Text)  # Flask's tagged JSON of the session's contents


class AuditEntry(SQLModel, table=True):
    """Who did what, when: append-only (the database refuses UPDATE, DELETE and TRUNCATE)."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        sa.Index("ix_audit_entry_at", "at"),
        sa.Index("ix_audit_entry_actor_at", "actor", "at"),
        sa.Index("ix_audit_entry_action_at", "action", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(default_factory=utcnow)
    actor: str = Field(max_length=254)  # the account's email, or the name tried at a failed login
    action: str = Field(max_length=32)
    target: str | None = Field(default=None, max_length=254)  # a tip reference or an account
    address: str | None = Field(default=None, max_length=64)  # the operator's IP address
    detail: dict = Field(default_factory=dict, sa_type=JSON_TYPE)


class TipCase(SQLModel, table=True):
    """The operators' working state of a tip: who has it, what it duplicates, when it was triaged."""

    __tablename__ = "tip_case"

    tip_id: int = Field(foreign_key="tip.id", primary_key=True, ondelete="CASCADE")
    assignee_id: int | None = Field(default=None, foreign_key="dashboard_user.id", index=True, ondelete="SET NULL")
    duplicate_of_id: int | None = Field(default=None, foreign_key="tip.id", ondelete="SET NULL")
    triaged_at: datetime | None = _when(default=None)


class TipNote(SQLModel, table=True):
    """An internal note on a tip: for operators only, never sent to anyone."""

    __tablename__ = "tip_note"

    id: int | None = Field(default=None, primary_key=True)
    tip_id: int = Field(foreign_key="tip.id", index=True, ondelete="CASCADE")
    at: datetime = _when(default_factory=utcnow)
    author: str = Field(max_length=254)
    text: str = Field(sa_type=sa.Text)


# Queue filters sort newest first within one value; the core migration indexes status and urgency.
sa.Index("ix_tip_category_created", Tip.category, Tip.created_at)
sa.Index("ix_tip_language_created", Tip.language, Tip.created_at)
sa.Index("ix_tip_channel_created", Tip.channel, Tip.created_at)
# The pinned emergencies (immediate and still open) and their count come from this index alone.
sa.Index("ix_tip_urgency_status_created", Tip.urgency, Tip.status, Tip.created_at)
# Urgent tips nobody received and outcomes waiting for an operator are listed first (tipline/storage/queue.py).
sa.Index("ix_tip_urgency_routing", Tip.urgency, Tip.routing, Tip.created_at)
sa.Index("ix_tip_outcome_reported_at", Tip.outcome_reported_at)


# ---- partners, escalations and the outbox (issue 4) ------------------------------------------



class Partner(SQLModel, table=True):
    """An organisation that acts on tips. Its number is an organisation's, kept plain (E.164)."""

    __tablename__ = "partner"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    phone: str = Field(max_length=32, unique=True)
    channel: str = Field(default="sms", max_length=16)
    language: str = Field(default="en", max_length=16)
    regions: list = Field(default_factory=list, sa_type=JSON_TYPE)  # words matched in a tip's location
    categories: list = Field(default_factory=list, sa_type=JSON_TYPE)  # empty: every category
    urgent_only: bool = Field(default=False)
    preference: int = Field(default=100)  # lower first when a tip must go to "the next partner"
    active: bool = Field(default=True)
    last_inbound_at: datetime | None = _when(default=None)  # WhatsApp's 24-hour window
    created_at: datetime = _when(default_factory=utcnow)


class Escalation(SQLModel, table=True):
    """A tip passed to one partner: sent, then acknowledged and done by them, or timed out."""

    __tablename__ = "escalation"
    __table_args__ = (
        sa.UniqueConstraint("tip_id", "partner_id", name="uq_escalation_tip_partner"),
        sa.Index("ix_escalation_status_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tip_id: int = Field(foreign_key="tip.id", index=True, ondelete="CASCADE")
    partner_id: int = Field(foreign_key="partner.id", index=True, ondelete="CASCADE")
    created_at: datetime = _when(default_factory=utcnow)
    actor: str = Field(default="system", max_length=254)
    status: str = Field(default="sent", max_length=16)
    due_at: datetime | None = _when(default=None)  # acknowledge by then, or the next partner gets it
    acknowledged_at: datetime | None = _when(default=None)
    done_at: datetime | None = _when(default=None)  # when the partner reported its outcome (DONE)
    note: str | None = Field(default=None, sa_type=sa.Text)


class OutboxMessage(SQLModel, table=True):
    """One message the tip line sends on its own initiative, written with whatever caused it.

    The address is always sealed (a reporter's contact must never lie in the clear, and one rule
    for every row is simpler to keep); `reporter` or `partner_id` says whose 24-hour window applies.
    """

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)
    kind: str = Field(max_length=32)  # escalation, update, alert, follow_up, ...
    channel: str = Field(default="sms", max_length=16)
    to_sealed: str = Field(sa_type=sa.Text)
    to_hint: str = Field(default="", max_length=16)  # the last two digits, for people reading lists
    body: str = Field(sa_type=sa.Text)
    tip_id: int | None = Field(default=None, foreign_key="tip.id", index=True, ondelete="SET NULL")
    partner_id: int | None = Field(default=None, foreign_key="partner.id", ondelete="SET NULL")
    reporter: str | None = Field(default=None, max_length=64, index=True)
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _when(default_factory=utcnow)
    claimed_until: datetime | None = _when(default=None)
    sender: str | None = Field(default=None, max_length=64)
    twilio_sid: str | None = Field(default=None, max_length=64, index=True)
    delivery_status: str | None = Field(default=None, max_length=16)
    error_code: int | None = Field(default=None)
    error: str | None = Field(default=None, max_length=255)
    sent_at: datetime | None = _when(default=None)
    fallback_of_id: int | None = Field(default=None, foreign_key="outbox.id", ondelete="SET NULL")
    # Who carries it: "twilio", or "smsgate" (SMS Gateway for Android, issue 14). For the gateway,
    # twilio_sid holds the gateway's message id, which its delivery webhooks name.
    provider: str = Field(default="twilio", max_length=16)


class GatewayEvent(SQLModel, table=True):
    """A webhook delivery from SMS Gateway for Android already handled, by the delivery's own id.

    The app retries a delivery for about two days and the SMS's messageId is derived from its
    content, so the delivery id is what tells a retry from a new message. Nothing personal here.
    """

    __tablename__ = "gateway_event"

    event_id: str = Field(primary_key=True, max_length=64)
    event: str = Field(max_length=32)
    received_at: datetime = _when(default_factory=utcnow, index=True)


class SendSlot(SQLModel, table=True):
    """When a sender number may send next: the per-number rate, shared by every worker."""

    __tablename__ = "send_slot"

    sender: str = Field(primary_key=True, max_length=64)
    next_free_at: datetime = _when(default_factory=utcnow)


class FollowUp(SQLModel, table=True):
    """An operator's question to a reporter who agreed to be contacted, and whether it was answered."""

    __tablename__ = "follow_up"

    id: int | None = Field(default=None, primary_key=True)
    tip_id: int = Field(foreign_key="tip.id", index=True, ondelete="CASCADE")
    reporter: str = Field(max_length=64, index=True)
    asked_at: datetime = _when(default_factory=utcnow)
    actor: str = Field(max_length=254)
    question: str = Field(sa_type=sa.Text)
    answered_at: datetime | None = _when(default=None)


# ---- community participation (issue 5) ---------------------------------------------------------



class Volunteer(SQLModel, table=True):
    """A community watch volunteer: subscribed with explicit consent, address sealed to send to them."""

    __tablename__ = "volunteer"

    id: int | None = Field(default=None, primary_key=True)
    reporter: str = Field(max_length=64, unique=True)  # the same pseudonym as their conversation
    address_sealed: str | None = Field(default=None, sa_type=sa.Text)
    channel: str = Field(default="sms", max_length=16)
    language: str = Field(max_length=16)
    place: str | None = Field(default=None, sa_type=sa.Text)
    place_code: str | None = Field(default=None, max_length=16, index=True)
    active: bool = Field(default=True, index=True)
    consent_at: datetime = _when(default_factory=utcnow)
    consent_wording: str = Field(sa_type=sa.Text)  # exactly what they agreed to
    left_at: datetime | None = _when(default=None)


class Idea(SQLModel, table=True):
    """IDEA <text>: a community suggestion under the sender's pseudonym, with an operator's status."""

    __tablename__ = "idea"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _when(default_factory=utcnow, index=True)
    reporter: str = Field(max_length=64)
    language: str = Field(max_length=16)
    text: str = Field(sa_type=sa.Text)
    status: str = Field(default="new", max_length=16, index=True)
    updated_at: datetime = _when(default_factory=utcnow)


# ---- awareness messages, lessons of the week and polls (issue 5) ----------------------------------

BROADCAST_KINDS = ("awareness", "lesson", "poll", "poll_results")


class Poll(SQLModel, table=True):
    """A short numbered question to volunteers: the same 2 to 9 options in every language."""

    __tablename__ = "poll"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _when(default_factory=utcnow)
    created_by: str = Field(max_length=254)
    questions: dict = Field(default_factory=dict, sa_type=JSON_TYPE)  # language -> question
    options: dict = Field(default_factory=dict, sa_type=JSON_TYPE)  # language -> [option, ...]
    place_codes: list = Field(default_factory=list, sa_type=JSON_TYPE)  # empty: everywhere
    status: str = Field(default="open", max_length=16)
    closed_at: datetime | None = _when(default=None)


class Broadcast(SQLModel, table=True):
    """A message to volunteers (awareness, a lesson, a poll, a poll's results), per language, by place."""

    __tablename__ = "broadcast"
    __table_args__ = (sa.Index("ix_broadcast_status_scheduled", "status", "scheduled_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="awareness", max_length=16)
    created_at: datetime = _when(default_factory=utcnow)
    created_by: str = Field(max_length=254)  # an account's email, or "system" for the lesson of the week
    texts: dict = Field(default_factory=dict, sa_type=JSON_TYPE)  # language -> words
    place_codes: list = Field(default_factory=list, sa_type=JSON_TYPE)  # empty: everywhere
    status: str = Field(default="draft", max_length=16)
    scheduled_at: datetime | None = _when(default=None)
    started_at: datetime | None = _when(default=None)  # when its outbox rows were written
    finished_at: datetime | None = _when(default=None)  # when the last of them was settled
    recipients: int = Field(default=0)
    segments: int = Field(default=0)  # SMS segments queued, over all recipients
    poll_id: int | None = Field(default=None, foreign_key="poll.id", index=True, ondelete="CASCADE")


class BroadcastRecipient(SQLModel, table=True):
    """One volunteer a broadcast went to, and the outbox row that carries it (for counts and opt-outs)."""

    __tablename__ = "broadcast_recipient"
    __table_args__ = (sa.UniqueConstraint("broadcast_id", "volunteer_id", name="uq_broadcast_recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    broadcast_id: int = Field(foreign_key="broadcast.id", index=True, ondelete="CASCADE")
    volunteer_id: int = Field(foreign_key="volunteer.id", index=True, ondelete="CASCADE")
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id", index=True, ondelete="SET NULL")
    language: str = Field(max_length=16)


class PollAnswer(SQLModel, table=True):
    """A volunteer's one answer to a poll; a later answer replaces it."""

    __tablename__ = "poll_answer"
    __table_args__ = (sa.UniqueConstraint("poll_id", "volunteer_id", name="uq_poll_answer"),)

    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="poll.id", index=True, ondelete="CASCADE")
    volunteer_id: int = Field(foreign_key="volunteer.id", ondelete="CASCADE")
    choice: int
    answered_at: datetime = _when(default_factory=utcnow)


class LessonSchedule(SQLModel, table=True):
    """The lesson of the week: one row; when on, the worker sends the next lesson every week."""

    __tablename__ = "lesson_schedule"

    id: int | None = Field(default=None, primary_key=True)
    active: bool = Field(default=False)
    next_lesson: int = Field(default=0)
    next_at: datetime | None = _when(default=None)
    place_codes: list = Field(default_factory=list, sa_type=JSON_TYPE)  # empty: everywhere
    updated_by: str = Field(default="system", max_length=254)
    updated_at: datetime = _when(default_factory=utcnow)
