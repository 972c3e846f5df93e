"""The partners page: everyone who receives escalations; admins add, change and deactivate them.

Validated like `tipline partners add`; a partner's number is never shown in full.
"""

from __future__ import annotations

import re

import phonenumbers
import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from ... import storage
from ...escalation import EVERYWHERE, is_place_code
from ...privacy import mask
from ..common import admin_required, audit, get_or_404, now, staff_required, tipline
from ..errors import problem
from ..forms import EmptyForm, choices
from .forms import PartnerForm

bp = Blueprint("partners", __name__)


def _languages():
    return choices((code, language.name) for code, language in tipline().flow.languages.items())


def _regions_text(regions: list[str]) -> str:
    return "\n".join(regions or [])


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
    return redirect(url_for("dashboard.partners.partners"))


@bp.route("/partners/<int:partner_id>/edit", methods=["GET", "POST"])
@admin_required
def partner_edit(partner_id: int):
    """Change a partner; an empty phone keeps the number (it is never shown in full)."""
    with storage.reading(tipline().db) as db_session:
        partner = get_or_404(storage.partner_by_id(db_session, partner_id=partner_id))
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
    return redirect(url_for("dashboard.partners.partners"))


@bp.route("/partners/<int:partner_id>/deactivate", methods=["POST"])
@admin_required
def partner_deactivate(partner_id: int):
    """Stop sending to a partner; its past escalations stay on the tips. Edit it to turn it on again."""
    form = EmptyForm()
    if not form.validate():
        return problem(_("Check the form and try again."))
    with storage.writing(tipline().db) as db_session:
        partner = get_or_404(storage.partner_by_id(db_session, partner_id=partner_id))
        if partner.active:
            storage.update_partner(db_session, partner=partner, active=False)
            audit(db_session, "partner_deactivated", target=partner.name)
    flash(_("Partner %(name)s no longer receives tips.", name=partner.name))
    return redirect(url_for("dashboard.partners.partners"))
