"""What the tip page needs to escalate a tip and ask its reporter: partners in order, the question's room."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_login import current_user

from ... import storage
from ...engine.gsm import segments
from ...escalation import matches
from ...followup import MAX_QUESTION
from ...statuses import CLOSED_STATUSES
from ..common import tipline
from ..forms import choices
from .forms import AskForm, EscalateForm

QUESTION_SEGMENTS = 2  # a follow-up question, with its frame, costs the reporter at most this many SMS
# Typographic punctuation that phones and word processors put in by themselves; each is outside GSM-7
# and alone would shrink every segment from 153 to 67 characters (what Twilio calls smart encoding).
PLAIN_PUNCTUATION = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": "",
})


@dataclass
class QuestionBudget:
    """How long a question may be for the whole message to fit QUESTION_SEGMENTS SMS segments."""

    gsm: int  # characters, all in the GSM-7 alphabet
    unicode: int  # characters, when any is outside it (UCS-2: 67 a segment)


def follow_up_text(tip, question: str) -> str:
    return tipline().outbound.say(tip.language, "follow_up", reference=tip.reference, question=question)


def question_budget(tip) -> QuestionBudget:
    """The longest question of each alphabet that fits, found on the real message the reporter gets."""

    def longest(letter: str) -> int:
        low, high = 0, MAX_QUESTION
        while low < high:
            middle = (low + high + 1) // 2
            if segments(follow_up_text(tip, letter * middle)) <= QUESTION_SEGMENTS:
                low = middle
            else:
                high = middle - 1
        return low

    return QuestionBudget(gsm=longest("a"), unicode=longest("ā"))


def can_ask(tip) -> bool:
    """Only a reporter who agreed to be contacted, whose address is still kept, on an open tip."""
    return bool(tip.contact_consent and tip.contact_sealed and tip.status not in CLOSED_STATUSES)


def partner_options(db_session, tip, escalations) -> list[tuple[str, str]]:
    """Active partners the tip has not gone to: those that match it first, marked, then by preference."""
    reached = {e.partner_id for e in escalations}
    partners = [p for p in storage.list_partners(db_session) if p.id not in reached]
    flow = tipline().flow
    matching = {p.id for p in partners if matches(p, tip, flow)}
    partners.sort(key=lambda p: (p.id not in matching, p.preference, p.name))
    return [(str(p.id), _("%(name)s (matches this tip)", name=p.name) if p.id in matching else p.name)
            for p in partners]


def escalation_panel(db_session, tip) -> dict:
    """What _escalation_actions.html shows. Staff: the whole escalation; a partner: its own row only."""
    escalations = storage.escalations_for_tip(db_session, tip_id=tip.id)
    if not current_user.is_staff:
        own = storage.partner_by_name(db_session, name=current_user.partner or "")
        mine = [e for e in escalations if own is not None and e.partner_id == own.id]
        return {"staff": False, "escalations": mine}
    names = storage.partner_names(db_session, partner_ids=[e.partner_id for e in escalations])
    options = partner_options(db_session, tip, escalations)
    follow_ups = storage.follow_ups_for_tip(db_session, tip_id=tip.id)
    escalate_form = EscalateForm()
    escalate_form.partner.choices = choices(options)
    return {
        "staff": True, "escalations": escalations, "partner_names": names, "escalate_form": escalate_form,
        "follow_ups": follow_ups, "can_ask": can_ask(tip), "ask_form": AskForm(),
        "budget": question_budget(tip) if can_ask(tip) else None, "question_segments": QUESTION_SEGMENTS,
    }


def plain_question(text: str | None) -> str:
    """One line, with typographic quotes and dashes made plain so the question stays in GSM-7."""
    return " ".join((text or "").translate(PLAIN_PUNCTUATION).split())
