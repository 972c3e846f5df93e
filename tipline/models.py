"""The tables. Reporters appear only as keyed pseudonyms; a contact address only sealed."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

TIP_STATUSES = ("new", "triaged", "escalated", "acknowledged", "closed", "spam")
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
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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
    when_seen: str | None = Field(default=None, sa_type=sa.Text)
    children: str | None = Field(default=None, sa_type=sa.Text)
    channel: str = Field(default="sms", max_length=16)
    language: str = Field(default="en", max_length=16)
    reporter: str = Field(max_length=64)
    contact_consent: bool = Field(default=False)
    contact_sealed: str | None = Field(default=None, sa_type=sa.Text)
    complete: bool = Field(default=False)
    media_count: int = Field(default=0)


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
    """Twilio MessageSids already handled, with the TwiML we answered: a retry gets the same."""

    __tablename__ = "processed_message"

    message_sid: str = Field(primary_key=True, max_length=64)
    received_at: datetime = _when(default_factory=utcnow, index=True)
    twiml: str = Field(sa_type=sa.Text)
