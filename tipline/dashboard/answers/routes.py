"""Partners act on the web: acknowledge a tip, report an outcome, ask the team for information.

The same code path, rules and audit as the SMS commands (tipline.escalation.partner_act and
tipline.actions.tips): an outcome goes to the operators' "to confirm" list and closes nothing; a closed tip
takes no answer; a partner can act only on the tips escalated to its own organisation (404 otherwise,
as for a tip that does not exist). The person is recorded, not only the organisation.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import storage
from ...actions import Actor
from ...actions import tips as tip_actions
from ...actions.tips import CaseworkRefused
from ...engine.reference import parse_reference
from ...escalation import partner_act
from ..common import address, now, roles_required, tipline
from ..errors import invalid, problem
from ..forms import EmptyForm
from .forms import OutcomeReportForm, TeamQuestionForm

bp = Blueprint("answers", __name__)
partner_required = roles_required("partner")


def _act(reference: str, command: str, *, note: str = ""):
    canonical = parse_reference(reference) or abort(404)
    with storage.writing(tipline().db) as db_session:
        partner = storage.partner_by_name(db_session, name=current_user.partner or "")
        if partner is None or not partner.active:
            abort(403)
        outcome = partner_act(db_session, partner, canonical, command, note=note, now=now(),
                              actor=Actor(current_user.email, "partner", address()))
    return canonical, outcome


def _answered(reference: str, outcome: str, done: str):
    if outcome == "not_yours":
        abort(404)
    if outcome == "already_closed":
        return problem(_("This tip is closed: it takes no more answers."), 409)
    flash(done)
    return redirect(url_for("dashboard.tips.tip", reference=reference, _anchor="escalation"))


@bp.route("/tips/<reference>/acknowledge", methods=["POST"])
@partner_required
def acknowledge(reference: str):
    """ACK on the web: the tip is the partner's now; no timer sends it on to another partner."""
    if not EmptyForm(prefix="ack").validate():
        return problem(_("Check the form and try again."))
    canonical, outcome = _act(reference, "ACK")
    return _answered(canonical, outcome, _("You acknowledged %(reference)s: your organisation has it now, and it "
                                           "goes to no other partner.", reference=canonical))


@bp.route("/tips/<reference>/report-outcome", methods=["POST"])
@partner_required
def report_outcome(reference: str):
    """DONE on the web: the outcome waits for an operator to confirm it; it closes nothing by itself."""
    form = OutcomeReportForm()
    if not form.validate():
        return invalid(form)
    canonical, outcome = _act(reference, "DONE", note=form.note.data)
    return _answered(canonical, outcome, _("Your outcome for %(reference)s is recorded. The team checks it, then "
                                           "closes the tip.", reference=canonical))


@bp.route("/tips/<reference>/ask-team", methods=["POST"])
@partner_required
def ask_team(reference: str):
    """A question to the tip line's team about the tip; they can ask the reporter, the partner cannot."""
    form = TeamQuestionForm()
    if not form.validate():
        return invalid(form)
    canonical = parse_reference(reference) or abort(404)
    try:
        with storage.writing(tipline().db) as db_session:
            partner = storage.partner_by_name(db_session, name=current_user.partner or "")
            tip = storage.tip_by_reference(db_session, reference=canonical)
            if partner is None or not partner.active:
                abort(403)
            if tip is None or storage.escalation_for(db_session, tip_id=tip.id, partner_id=partner.id) is None:
                abort(404)
            tip_actions.partner_asks(db_session, tip, partner, question=form.question.data, now=now(),
                                  actor=Actor(current_user.email, "partner", address()))
    except CaseworkRefused:
        return problem(_("This tip is closed: it takes no more answers."), 409)
    return _answered(canonical, "asked", _("Your question is with the team: they see it on this tip."))
