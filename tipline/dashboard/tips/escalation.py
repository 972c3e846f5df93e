"""What the tip page needs to escalate a tip and ask its reporter: partners in order, the question's room."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_login import current_user

from ... import storage
from ...actions import followups
from ...actions.followups import MAX_QUESTION
from ...engine.gsm import segments
from ...escalation import EVERYWHERE, fit
from .. import display
from ..answers.forms import OutcomeReportForm, TeamQuestionForm
from ..common import tipline
from ..forms import EmptyForm, choices
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
    return followups.refusal(tip) is None


@dataclass(frozen=True)
class PartnerChoice:
    """One partner the tip can go to, and why it fits or not, as the escalate list shows it."""

    id: int
    label: str
    matches: bool


def partner_choices(db_session, tip, escalations) -> list[PartnerChoice]:
    """Active partners the tip has not gone to, best fit first: those that match (place and kind),
    then those that cover the place, then the kind, each by preference; each says why."""
    reached = {e.partner_id for e in escalations}
    flow = tipline().flow
    fits = [(p, fit(p, tip, flow)) for p in storage.list_partners(db_session) if p.id not in reached]
    fits.sort(key=lambda pair: (not pair[1].matches, not pair[1].place, not pair[1].kind, pair[0].preference,
                                pair[0].name))
    return [PartnerChoice(partner.id, _fit_words(partner, tip, rules), rules.matches) for partner, rules in fits]


def _fit_words(partner, tip, rules) -> str:
    place = display.place(tip.place_code) or tip.location or _("an unknown place")
    everywhere = any(region.strip().casefold() == EVERYWHERE for region in partner.regions or [EVERYWHERE])
    kind = display.category(tip.category)
    if rules.matches:
        reasons = [_("covers everywhere") if everywhere else _("covers %(place)s", place=place),
                   _("takes %(kind)s", kind=kind) if kind and partner.categories else _("takes every kind")]
        return _("%(name)s: matches (%(reasons)s)", name=partner.name, reasons="; ".join(reasons))
    reasons = []
    if not rules.place:
        reasons.append(_("does not cover %(place)s", place=place))
    if not rules.kind:
        reasons.append(_("does not take %(kind)s", kind=kind))
    if not rules.urgency:
        reasons.append(_("immediate danger only"))
    return _("%(name)s: does not match (%(reasons)s)", name=partner.name, reasons="; ".join(reasons))


def why_it_reached(partner, tip, escalations) -> str:
    """Why a tip reached this partner, as the partner reads it: the routing matched it (and how), or an
    operator chose it."""
    if partner is None or not escalations:
        return ""
    reasons = _fit_words(partner, tip, fit(partner, tip, tipline().flow))
    if escalations[0].actor == "system":
        return _("The tip line sent it to you because it is urgent and matches you. %(reasons)s", reasons=reasons)
    return _("An operator of the tip line sent it to you. %(reasons)s", reasons=reasons)


def partner_options(found: list[PartnerChoice]) -> list[tuple[str, str]]:
    """The escalate list's options; the first is "choose", so nothing is chosen unless a partner matches."""
    return [("", _("Choose a partner")), *((str(c.id), c.label) for c in found)] if found else []


def best_match(found: list[PartnerChoice]) -> str:
    """The partner to preselect: the best one that matches the tip, or none (""): a click must never send a
    Bekasi tip to a Jakarta office because its name comes first."""
    return str(found[0].id) if found and found[0].matches else ""


def escalation_panel(db_session, tip) -> dict:
    """What _escalation_actions.html shows. Staff: the whole escalation; a partner: its own row only."""
    escalations = storage.escalations_for_tip(db_session, tip_id=tip.id)
    if not current_user.is_staff:
        own = storage.partner_by_name(db_session, name=current_user.partner or "")
        mine = [e for e in escalations if own is not None and e.partner_id == own.id]
        return {"staff": False, "escalations": mine, "why": why_it_reached(own, tip, mine),
                "ack_form": EmptyForm(prefix="ack"), "outcome_form": OutcomeReportForm(),
                "question_form": TeamQuestionForm()}
    names = storage.partner_names(db_session, partner_ids=[e.partner_id for e in escalations])
    follow_ups = storage.follow_ups_for_tip(db_session, tip_id=tip.id)
    escalate_form = EscalateForm()
    found = partner_choices(db_session, tip, escalations)
    escalate_form.partner.choices = choices(partner_options(found))
    escalate_form.partner.data = best_match(found)
    return {
        "staff": True, "escalations": escalations, "partner_names": names, "escalate_form": escalate_form,
        "follow_ups": follow_ups, "can_ask": can_ask(tip), "ask_form": AskForm(),
        "budget": question_budget(tip) if can_ask(tip) else None, "question_segments": QUESTION_SEGMENTS,
    }


def plain_question(text: str | None) -> str:
    """One line, with typographic quotes and dashes made plain so the question stays in GSM-7."""
    return " ".join((text or "").translate(PLAIN_PUNCTUATION).split())
