"""The partners page: everyone who receives escalations; admins add, change and deactivate them.

An adapter over tipline.actions.partners: checked and audited as `tipline partners add` is; a partner's
number is never shown in full.
"""

from __future__ import annotations

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
from ...actions.partners import (
    PartnerInput,
    PartnerInvalid,
    add_partner,
    check_partner,
    deactivate_partner,
    edit_partner,
    split_regions,
)
from .. import drafts
from ..common import actor, admin_required, get_or_404, now, staff_required, tipline
from ..errors import problem
from ..forms import EmptyForm, choices
from .forms import PartnerForm

bp = Blueprint("partners", __name__)


def _languages():
    return choices((code, language.name) for code, language in tipline().flow.languages.items())


def _regions_text(regions: list[str]) -> str:
    return "\n".join(regions or [])


def _partner_values(form: PartnerForm, editing=None) -> PartnerInput | None:
    """The partner's values, checked as `tipline partners add` checks them; None with errors set on the form."""
    ok = form.validate()
    try:
        values = check_partner(
            tipline().flow, name=form.name.data, phone=form.phone.data, channel=form.channel.data,
            language=form.language.data, regions=split_regions(form.regions.data),
            categories=list(form.categories.data or []), urgent_only=bool(form.urgent_only.data),
            preference=form.preference.data, active=bool(form.active.data), editing=editing is not None,
        )
    except PartnerInvalid as invalid:
        _show_problems(form, invalid)
        return None
    return values if ok else None


def _show_problems(form: PartnerForm, invalid: PartnerInvalid) -> None:
    """Each problem under its field, in the page's words (a field the form flagged already keeps its own)."""
    words = {
        ("name", "required"): _("Give a name."),
        ("name", "taken"): _("A partner with this name exists already."),
        ("phone", "required"): _("A phone number is required."),
        ("phone", "invalid"): _("An E.164 number, such as +15550100050."),
        ("phone", "taken"): _("Another partner has this phone number."),
        ("regions", "too_long"): _("A place is at most 128 characters."),
    }
    for found in invalid.problems:
        field = getattr(form, found.field)
        if found.code == "unknown_place":
            message = _("No place with code %(codes)s in the places list.", codes=dict(found.facts)["codes"])
        else:
            message = words.get((found.field, found.code), _("Check the form and try again."))
        if found.code == "taken" or not field.errors:
            field.errors = [*field.errors, message]


def _partner_form_page(form: PartnerForm, partner=None, status: int = 200) -> Response:
    if request.method == "GET":
        drafts.restore(form)  # what was typed before the session ended, if anything
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
            add_partner(db_session, actor(), values, now=now())
    except PartnerInvalid as invalid:
        _show_problems(form, invalid)
        return _partner_form_page(form, status=400)
    except sa.exc.IntegrityError:  # added by someone else between the check and the insert
        form.name.errors = [*form.name.errors, _("A partner with this name or number exists already.")]
        return _partner_form_page(form, status=400)
    flash(_("Partner %(name)s added.", name=values.name))
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
            changed = edit_partner(db_session, actor(), current, values, now=now())
    except PartnerInvalid as invalid:
        _show_problems(form, invalid)
        return _partner_form_page(form, partner, status=400)
    except sa.exc.IntegrityError:
        form.name.errors = [*form.name.errors, _("A partner with this name or number exists already.")]
        return _partner_form_page(form, partner, status=400)
    flash(_("Partner %(name)s saved.", name=values.name) if changed else _("Nothing changed."))
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
        deactivate_partner(db_session, actor(), partner, now=now())
    flash(_("Partner %(name)s no longer receives tips.", name=partner.name))
    return redirect(url_for("dashboard.partners.partners"))
