"""Escalation and follow-up on a tip's page, the partners admin page, and the outbox page.

The work itself is done by tipline.escalation and tipline.followup inside one write transaction,
with its audit entry, so a change, its outbox rows and its record exist together or not at all.
A reporter's number never reaches a page: follow-up questions go to the sealed contact, and the
outbox page shows addresses masked and never the words sent to a reporter or a volunteer.
Partner accounts get none of this: every route here is for admins and operators (403 otherwise).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from .. import storage
from ..community import is_volunteer_kind
from ..engine.gsm import non_gsm_characters, segments
from ..escalation import EVERYWHERE, escalate_tip, is_place_code, matches
from ..followup import MAX_QUESTION, FollowUpRefused, ask_reporter
from ..models import CATEGORIES, OUTBOX_STATUSES
from ..statuses import CLOSED_STATUSES
from ..worker import mask
from . import bp
from .common import actor, admin_required, audit, now, staff_required, tipline
from .forms import EmptyForm, choices

QUESTION_SEGMENTS = 2  # a follow-up question, with its frame, costs the reporter at most this many SMS
OUTBOX_PER_PAGE = 100
DEAD_LETTERS = "dead_letters"  # the outbox filter for failed and dead together
# Typographic punctuation that phones and word processors put in by themselves; each is outside GSM-7
# and alone would shrink every segment from 153 to 67 characters (what Twilio calls smart encoding).
PLAIN_PUNCTUATION = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": "",
})


# ---- forms -----------------------------------------------------------------------------------------

class EscalateForm(FlaskForm):
    partner = SelectField(_l("Partner"), choices=[], validate_choice=True, validators=[DataRequired()])


class AskForm(FlaskForm):
    question = TextAreaField(_l("Question to the reporter"),
                             validators=[DataRequired(), Length(max=MAX_QUESTION)])


class PartnerForm(FlaskForm):
    """Validated like `tipline partners add`; the phone may stay empty when editing (kept as it is)."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=128)])
    phone = StringField(_l("Phone (E.164, e.g. +15550100050)"), validators=[Optional(), Length(max=40)])
    channel = SelectField(_l("Channel"), choices=choices([("sms", "SMS"), ("whatsapp", "WhatsApp")]))
    language = SelectField(_l("Language of their messages"), choices=[])
    regions = TextAreaField(
        _l("Places they cover, one a line: a place code, a word in a tip's location, or everywhere"),
        validators=[Optional(), Length(max=4000)],
    )
    categories = SelectMultipleField(
        _l("Kinds of tip they take (none ticked: every kind)"), choices=choices((c, c) for c in CATEGORIES),
        validate_choice=True, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
    )
    urgent_only = BooleanField(_l("Only immediate-danger tips"))
    preference = IntegerField(_l("Order of preference (lower goes first)"), default=100,
                              validators=[InputRequired(), NumberRange(min=0, max=100_000)])
    active = BooleanField(_l("Active"), default=True)


class OutboxFilterForm(FlaskForm):
    """Read from the query string: filtering changes nothing, so it needs no token."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), default="")
    kind = SelectField(_l("Kind"), default="")


# ---- the tip page: escalate, ask the reporter ----------------------------------------------------------

@dataclass
class QuestionBudget:
    """How long a question may be for the whole message to fit QUESTION_SEGMENTS SMS segments."""

    gsm: int  # characters, all in the GSM-7 alphabet
    unicode: int  # characters, when any is outside it (UCS-2: 67 a segment)


def _follow_up_text(tip, question: str) -> str:
    return tipline().outbound.say(tip.language, "follow_up", reference=tip.reference, question=question)


def question_budget(tip) -> QuestionBudget:
    """The longest question of each alphabet that fits, found on the real message the reporter gets."""

    def longest(letter: str) -> int:
        low, high = 0, MAX_QUESTION
        while low < high:
            middle = (low + high + 1) // 2
            if segments(_follow_up_text(tip, letter * middle)) <= QUESTION_SEGMENTS:
                low = middle
            else:
                high = middle - 1
        return low

    return QuestionBudget(gsm=longest("a"), unicode=longest("ā"))


def can_ask(tip) -> bool:
    """Only a reporter who agreed to be contacted, whose address is still kept, on an open tip."""
    return bool(tip.contact_consent and tip.contact_sealed and tip.status not in CLOSED_STATUSES)


def _partner_options(db_session, tip, escalations) -> list[tuple[str, str]]:
    """Active partners the tip has not gone to: those that match it first, marked, then by preference."""
    reached = {e.partner_id for e in escalations}
    partners = [p for p in storage.list_partners(db_session) if p.id not in reached]
    flow = tipline().flow
    matching = {p.id for p in partners if matches(p, tip, flow)}
    partners.sort(key=lambda p: (p.id not in matching, p.preference, p.name))
    return [(str(p.id), _("%(name)s (matches this tip)", name=p.name) if p.id in matching else p.name)
            for p in partners]


@bp.app_template_global("escalation_panel")
def escalation_panel(tip) -> dict:
    """What _escalation_actions.html shows. Staff: the whole escalation; a partner: its own row only."""
    with storage.reading(tipline().db) as db_session:
        escalations = storage.escalations_for_tip(db_session, tip_id=tip.id)
        if not current_user.is_staff:
            own = storage.partner_by_name(db_session, name=current_user.partner or "")
            mine = [e for e in escalations if own is not None and e.partner_id == own.id]
            return {"staff": False, "escalations": mine}
        names = storage.partner_names(db_session, partner_ids=[e.partner_id for e in escalations])
        options = _partner_options(db_session, tip, escalations)
        follow_ups = storage.follow_ups_for_tip(db_session, tip_id=tip.id)
    escalate_form = EscalateForm()
    escalate_form.partner.choices = choices(options)
    return {
        "staff": True, "escalations": escalations, "partner_names": names, "escalate_form": escalate_form,
        "follow_ups": follow_ups, "can_ask": can_ask(tip), "ask_form": AskForm(),
        "budget": question_budget(tip) if can_ask(tip) else None, "question_segments": QUESTION_SEGMENTS,
    }


def _tip_page(reference: str) -> Response:
    return redirect(url_for("dashboard.tip", reference=reference, _anchor="escalation"))


def _problem(message: str, status: int = 400) -> Response:
    return Response(render_template("dashboard/error.html", message=message), status=status)


def _staff_tip(db_session, reference: str):
    """The tip, locked for this transaction on PostgreSQL: two operators pressing at once act one by one."""
    found = storage.tip_by_reference(db_session, reference=reference.upper()[:16])
    if found is None:
        abort(404)
    return storage.lock_tip(db_session, tip_id=found.id)


@bp.route("/tips/<reference>/escalate", methods=["POST"])
@staff_required
def escalate(reference: str):
    """Send the tip to one partner through the outbox; the tip becomes 'escalated'."""
    form = EscalateForm()
    with storage.writing(tipline().db) as db_session:
        tip = _staff_tip(db_session, reference)
        form.partner.choices = choices(
            _partner_options(db_session, tip, storage.escalations_for_tip(db_session, tip_id=tip.id)))
        if not form.validate():
            return _problem(_("Choose one of the active partners this tip has not gone to yet."))
        if tip.status in CLOSED_STATUSES:
            return _problem(_("This tip is closed: set another status before escalating it."))
        partner = storage.partner_by_id(db_session, partner_id=int(form.partner.data))
        escalation = escalate_tip(db_session, tip, partner, actor=actor(), now=now(), outbound=tipline().outbound)
    if escalation is None:
        flash(_("This tip already went to %(name)s.", name=partner.name))
    else:
        flash(_("Escalated to %(name)s: the message is in the outbox.", name=partner.name))
    return _tip_page(tip.reference)


@bp.route("/tips/<reference>/ask", methods=["POST"])
@staff_required
def ask(reference: str):
    """Relay a question to the reporter through the outbox; the number stays sealed, never shown."""
    form = AskForm()
    with storage.writing(tipline().db) as db_session:
        tip = _staff_tip(db_session, reference)
        if not can_ask(tip):
            reason = (_("This tip is closed.") if tip.status in CLOSED_STATUSES
                      else _("The reporter did not agree to be contacted, or their contact address was deleted."))
            return _problem(_("The question was not sent. %(reason)s", reason=reason), 409)
        if not form.validate():
            return _question_problem(tip, form, _("Write a question."))
        question = plain_question(form.question.data)
        text = _follow_up_text(tip, question)
        if segments(text) > QUESTION_SEGMENTS:
            return _question_problem(tip, form, _(
                "With this question the message takes %(count)s SMS segments; at most %(limit)s are allowed.",
                count=segments(text), limit=QUESTION_SEGMENTS))
        try:
            follow_up = ask_reporter(db_session, tip, question, actor=current_user.email, now=now(),
                                     outbound=tipline().outbound)
        except FollowUpRefused as refused:
            return _problem(_("The question was not sent. %(reason)s", reason=str(refused)), 409)
        audit(db_session, "follow_up_asked", target=tip.reference,
              detail={"follow_up": follow_up.id, "segments": segments(text)})
    flash(_("Question queued to the reporter. Their answer will be added to this tip."))
    return _tip_page(tip.reference)


def plain_question(text: str | None) -> str:
    """One line, with typographic quotes and dashes made plain so the question stays in GSM-7."""
    return " ".join((text or "").translate(PLAIN_PUNCTUATION).split())


def _question_problem(tip, form, message: str) -> Response:
    """The question comes back with why it does not fit, so nothing typed is lost."""
    question = plain_question(form.question.data)
    page = render_template(
        "dashboard/partners_question.html", tip=tip, form=form, message=message, budget=question_budget(tip),
        unusual=non_gsm_characters(question), segments=segments(_follow_up_text(tip, question)) if question else 0,
        question_segments=QUESTION_SEGMENTS,
    )
    return Response(page, status=400)


# ---- partners ---------------------------------------------------------------------------------------

def _languages():
    return choices((code, language.name) for code, language in tipline().flow.languages.items())


def _regions_text(regions: list[str]) -> str:
    return "\n".join(regions or [])


@bp.app_template_global("partner_places")
def partner_places(regions: list[str]) -> list[str]:
    """A partner's places as people read them: a code with its name, 'everywhere' translated."""
    flow = tipline().flow
    shown = []
    for region in regions or [EVERYWHERE]:
        if region.strip().casefold() == EVERYWHERE:
            shown.append(_("everywhere"))
        elif is_place_code(region) and flow.place(region.strip()):
            shown.append(f"{region} ({flow.place(region.strip()).name})")
        else:
            shown.append(region)
    return shown


@bp.app_template_global("masked")
def masked(address: str) -> str:
    return mask(address)


def _partner_values(form: PartnerForm, editing=None) -> dict | None:
    """The partner's values, cleaned like the command line does; None with errors set on the form."""
    ok = form.validate()
    values: dict = {}
    name = " ".join((form.name.data or "").split())
    if ok and not name:
        form.name.errors.append(_("Give a name."))
        ok = False
    values["name"] = name
    phone = (form.phone.data or "").strip()
    if phone:
        try:
            number = phonenumbers.parse(phone.removeprefix("whatsapp:"), None)
            if not phonenumbers.is_possible_number(number):
                raise phonenumbers.NumberParseException(0, "impossible")
            values["phone"] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            form.phone.errors = [*form.phone.errors, _("An E.164 number, such as +15550100050.")]
            ok = False
    elif editing is None:
        form.phone.errors = [*form.phone.errors, _("A phone number is required.")]
        ok = False
    regions = [" ".join(r.split()) for r in re.split(r"[\n,;]", form.regions.data or "") if r.strip()]
    flow = tipline().flow
    unknown = [r for r in regions if is_place_code(r) and flow.place(r) is None]
    if unknown:
        form.regions.errors = [*form.regions.errors, _("No place with code %(codes)s in the places list.",
                                                       codes=", ".join(unknown))]
        ok = False
    if any(len(r) > 128 for r in regions):
        form.regions.errors = [*form.regions.errors, _("A place is at most 128 characters.")]
        ok = False
    if [r for r in regions if r.casefold() == EVERYWHERE]:
        regions = [EVERYWHERE]
    values.update(
        regions=regions or [EVERYWHERE], categories=list(form.categories.data or []), channel=form.channel.data,
        language=form.language.data, urgent_only=bool(form.urgent_only.data), preference=form.preference.data,
    )
    if editing is not None:
        values["active"] = bool(form.active.data)
    return values if ok else None


def _conflicts(db_session, form: PartnerForm, values: dict, editing=None) -> bool:
    """Name and number are each one partner's: say which one is taken."""
    clash = False
    named = storage.partner_by_name(db_session, name=values["name"])
    if named is not None and named is not editing:
        form.name.errors = [*form.name.errors, _("A partner with this name exists already.")]
        clash = True
    numbered = (storage.partner_by_phone(db_session, phone=values["phone"], active_only=False)
                if "phone" in values else None)
    if numbered is not None and numbered is not editing:
        form.phone.errors = [*form.phone.errors, _("Another partner has this phone number.")]
        clash = True
    return clash


def _partner_form_page(form: PartnerForm, partner=None, status: int = 200) -> Response:
    page = render_template("dashboard/partners_form.html", form=form, partner=partner, places=tipline().flow.places)
    return Response(page, status=status)


@bp.route("/partners")
@staff_required
def partners():
    """Everyone who receives escalations (admins change them; operators see who is there)."""
    with storage.reading(tipline().db) as db_session:
        found = storage.list_partners(db_session, active_only=False)
    found.sort(key=lambda p: (not p.active, p.preference, p.name))
    return render_template("dashboard/partners.html", partners=found, deactivate_form=EmptyForm())


@bp.route("/partners/new", methods=["GET", "POST"])
@admin_required
def partner_new():
    """Register a partner, as `tipline partners add` does."""
    form = PartnerForm()
    form.language.choices = _languages()
    if request.method == "GET":
        return _partner_form_page(form)
    values = _partner_values(form)
    if values is None:
        return _partner_form_page(form, status=400)
    try:
        with storage.writing(tipline().db) as db_session:
            if _conflicts(db_session, form, values):
                return _partner_form_page(form, status=400)
            partner = storage.add_partner(db_session, now=now(), **values)
            audit(db_session, "partner_added", target=partner.name,
                  detail={"phone": mask(partner.phone), "channel": partner.channel, "regions": partner.regions,
                          "categories": partner.categories, "urgent_only": partner.urgent_only,
                          "preference": partner.preference})
    except sa.exc.IntegrityError:  # added by someone else between the check and the insert
        form.name.errors = [*form.name.errors, _("A partner with this name or number exists already.")]
        return _partner_form_page(form, status=400)
    flash(_("Partner %(name)s added.", name=values["name"]))
    return redirect(url_for("dashboard.partners"))


@bp.route("/partners/<int:partner_id>/edit", methods=["GET", "POST"])
@admin_required
def partner_edit(partner_id: int):
    """Change a partner; an empty phone keeps the number (it is never shown in full)."""
    with storage.reading(tipline().db) as db_session:
        partner = storage.partner_by_id(db_session, partner_id=partner_id)
    if partner is None:
        abort(404)
    if request.method == "GET":
        form = PartnerForm(
            formdata=None, name=partner.name, phone="", channel=partner.channel, language=partner.language,
            regions=_regions_text(partner.regions), categories=list(partner.categories or []),
            urgent_only=partner.urgent_only, preference=partner.preference, active=partner.active,
        )
        form.language.choices = _languages()
        return _partner_form_page(form, partner)
    form = PartnerForm()
    form.language.choices = _languages()
    values = _partner_values(form, editing=partner)
    if values is None:
        return _partner_form_page(form, partner, status=400)
    try:
        with storage.writing(tipline().db) as db_session:
            current = storage.partner_by_id(db_session, partner_id=partner_id)
            if _conflicts(db_session, form, values, editing=current):
                return _partner_form_page(form, partner, status=400)
            before = {key: getattr(current, key) for key in values}
            changed = [key for key, value in values.items() if before[key] != value]
            if changed:
                storage.update_partner(db_session, partner=current, **{k: values[k] for k in changed})
                audit(db_session, "partner_changed", target=current.name,
                      detail={"changed": changed} | ({"renamed_from": before["name"]} if "name" in changed else {}))
    except sa.exc.IntegrityError:
        form.name.errors = [*form.name.errors, _("A partner with this name or number exists already.")]
        return _partner_form_page(form, partner, status=400)
    flash(_("Partner %(name)s saved.", name=values["name"]) if changed else _("Nothing changed."))
    return redirect(url_for("dashboard.partners"))


@bp.route("/partners/<int:partner_id>/deactivate", methods=["POST"])
@admin_required
def partner_deactivate(partner_id: int):
    """Stop sending to a partner; its past escalations stay on the tips. Edit it to turn it on again."""
    form = EmptyForm()
    if not form.validate():
        return _problem(_("Check the form and try again."))
    with storage.writing(tipline().db) as db_session:
        partner = storage.partner_by_id(db_session, partner_id=partner_id)
        if partner is None:
            abort(404)
        if partner.active:
            storage.update_partner(db_session, partner=partner, active=False)
            audit(db_session, "partner_deactivated", target=partner.name)
    flash(_("Partner %(name)s no longer receives tips.", name=partner.name))
    return redirect(url_for("dashboard.partners"))


# ---- the outbox --------------------------------------------------------------------------------------

def recipient(row) -> str:
    """Who a row goes to, as the page may show it: never a reporter's or volunteer's digits."""
    if row.reporter is not None:
        return _("volunteer") if is_volunteer_kind(row.kind) else _("reporter")
    prefix = "whatsapp:" if row.channel == "whatsapp" else ""
    return mask(f"{prefix}{row.to_hint}")


@bp.route("/outbox")
@staff_required
def outbox():
    """Queued, sent, failed and dead messages; dead letters can be sent again."""
    with storage.reading(tipline().db) as db_session:
        kinds = storage.outbox_kinds(db_session)
        counts = storage.outbox_counts(db_session)
        form = OutboxFilterForm(formdata=request.args)
        form.status.choices = choices([("", _("any")), (DEAD_LETTERS, _("dead letters (failed or dead)")),
                                       *((s, outbox_status_label(s)) for s in OUTBOX_STATUSES)])
        asked = request.args.get("kind", "")
        if re.fullmatch(r"[a-z_]{1,32}", asked) and asked not in kinds:
            kinds = [*kinds, asked]  # a kind with no rows yet is a filter that finds nothing, not an error
        form.kind.choices = choices([("", _("any")), *((k, k) for k in kinds)])
        form.validate()
        status = form.status.data if not form.status.errors else ""
        kind = form.kind.data if not form.kind.errors else ""
        try:
            page = max(1, min(int(request.args.get("page", "1")), 1_000_000))
        except ValueError:
            page = 1
        statuses = storage.DEAD_LETTERS if status == DEAD_LETTERS else ((status,) if status else ())
        rows, total = storage.outbox_page(db_session, statuses=statuses, kinds=(kind,) if kind else (),
                                          page=page, per_page=OUTBOX_PER_PAGE)
        references = storage.tip_references(db_session, tip_ids=sorted({r.tip_id for r in rows if r.tip_id}))
        names = storage.partner_names(db_session, partner_ids=sorted({r.partner_id for r in rows if r.partner_id}))
        nobody = storage.tips_received_by_nobody(db_session)
    pages = max(1, -(-total // OUTBOX_PER_PAGE))
    keep = {key: value for key, value in (("status", status), ("kind", kind)) if value}
    return render_template(
        "dashboard/outbox.html", form=form, rows=rows, total=total, page=page, pages=pages, args=keep,
        counts=counts, references=references, names=names, recipient=recipient, retry_form=EmptyForm(),
        dead_letters=storage.DEAD_LETTERS, nobody=nobody, status_label=outbox_status_label,
    )


def outbox_status_label(status: str) -> str:
    """An outbox status as the page says it; "not_sent" must never read like "sent"."""
    return _("not sent (no account)") if status == "not_sent" else status


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
@staff_required
def outbox_retry(message_id: int):
    """Queue a failed or dead message again, due now, with a fresh count of attempts."""
    form = EmptyForm()
    if not form.validate():
        return _problem(_("Check the form and try again."))
    with storage.writing(tipline().db) as db_session:
        row = storage.outbox_message(db_session, message_id=message_id)
        if row is None:
            abort(404)
        if row.status not in storage.DEAD_LETTERS:
            return _problem(_("Only failed or dead messages can be sent again."), 409)
        partner = storage.partner_by_id(db_session, partner_id=row.partner_id) if row.partner_id else None
        if partner is not None and not partner.active:
            return _problem(_("%(name)s is deactivated: edit the partner to turn it on first.", name=partner.name),
                            409)
        address = None
        if row.reporter is not None and not row.to_sealed:
            # The worker wipes a reporter's address once a send is settled; a follow-up may go again
            # only while its tip is open and still holds the contact the reporter agreed to leave.
            tip = storage.tip_by_id(db_session, tip_id=row.tip_id) if row.tip_id else None
            if is_volunteer_kind(row.kind) or tip is None or not can_ask(tip):
                return _problem(_("This message's address was deleted to protect the person it was for: "
                                  "it cannot be sent again."), 409)
            address = tip.contact_sealed
        before = row.status
        if storage.retry_outbox(db_session, message_id=row.id, now=now(), to_sealed=address):
            reference = storage.tip_reference_by_id(db_session, tip_id=row.tip_id) if row.tip_id else None
            audit(db_session, "outbox_retried", target=reference,
                  detail={"outbox": row.id, "kind": row.kind, "from": before, "error_code": row.error_code})
    flash(_("Message %(id)s is queued again.", id=message_id))
    # Back to the list the button was on: only its two filters pass, so nothing sends anyone elsewhere.
    return redirect(url_for("dashboard.outbox", status=request.args.get("status") or None,
                            kind=request.args.get("kind") or None))
