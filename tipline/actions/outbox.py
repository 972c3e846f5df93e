"""The outbox: an operator sends a failed or dead message again."""

from __future__ import annotations

from datetime import datetime

from .. import storage
from ..community import is_volunteer_kind
from ..models import OutboxMessage
from ..statuses import DEAD_LETTERS
from .base import Actor, Refused, audit
from .followups import refusal


def retry_message(session, actor: Actor, message: OutboxMessage, *, now: datetime) -> bool:
    """Queue a failed or dead message again, due now, with a fresh count of attempts; False when someone
    else queued it first. Refused: not a dead letter ("not_dead"), its partner deactivated
    ("partner_inactive", with the partner's name), or the address it needs deleted ("address_deleted")."""
    if message.status not in DEAD_LETTERS:
        raise Refused("not_dead", status=message.status)
    partner = storage.partner_by_id(session, partner_id=message.partner_id) if message.partner_id else None
    if partner is not None and not partner.active:
        raise Refused("partner_inactive", name=partner.name)
    address = None
    if message.reporter is not None and not message.to_sealed:
        # The worker wipes a reporter's address once a send is settled; a follow-up may go again
        # only while its tip is open and still holds the contact the reporter agreed to leave.
        tip = storage.tip_by_id(session, tip_id=message.tip_id) if message.tip_id else None
        if is_volunteer_kind(message.kind) or tip is None or refusal(tip) is not None:
            raise Refused("address_deleted")
        address = tip.contact_sealed
    before = message.status
    if not storage.retry_outbox(session, message_id=message.id, now=now, to_sealed=address):
        return False
    reference = storage.tip_reference_by_id(session, tip_id=message.tip_id) if message.tip_id else None
    audit(session, actor, "outbox_retried", now=now, target=reference,
          detail={"outbox": message.id, "kind": message.kind, "from": before, "error_code": message.error_code})
    return True
