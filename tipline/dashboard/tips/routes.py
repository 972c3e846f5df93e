"""The tips feature: the triage queue, a tip's page, case work, escalation, asking the reporter, export."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ... import storage
from ...actions import followups
from ...actions import tips as tip_actions
from ...actions.followups import FollowUpRefused
from ...actions.tips import CaseworkRefused
from ...engine.gsm import non_gsm_characters, segments
from ...engine.reference import parse_reference
from ...escalation import escalate_tip
from ...export import csv_chunks, json_chunks
from ...report_fields import answer_of
from ...statuses import CLOSED_STATUSES
from .. import display, drafts
from ..common import (
    actor,
    admin_required,
    audit,
    audit_queue_view,
    filters_detail,
    get_or_404,
    now,
    staff_required,
    tipline,
)
from ..errors import invalid, problem
from ..forms import choices
from .escalation import (
    QUESTION_SEGMENTS,
    can_ask,
    escalation_panel,
    follow_up_text,
    partner_choices,
    partner_options,
    plain_question,
    question_budget,
)
from .filters import place_choices, queue_filter
from .forms import (
    AskForm,
    AssignForm,
    DuplicateForm,
    EscalateForm,
    ExportForm,
    NoteForm,
    OutcomeForm,
    PlaceForm,
    StatusForm,
)

bp = Blueprint("tips", __name__)
PER_PAGE = 50
QUEUE_REFRESH_SECONDS = 60  # the open queue reloads itself: a new urgent tip shows within a minute


# ---- queue -----------------------------------------------------------------------------------------

@bp.route("/")
@login_required
def queue():
    """The triage queue, in the order an operator acts: urgent tips nobody received, urgent tips a partner
    has not acknowledged (time left shown), urgent tips not sent on yet, outcomes to confirm; then the rest."""
    form, filters = queue_filter(request.args)
    page_number = form.page.data if form.page.data and not form.page.errors else 1
    with storage.reading(tipline().db) as db_session:
        page = storage.tip_queue(
            db_session, filters=filters, role=current_user.role, partner=current_user.partner,
            page=page_number, per_page=PER_PAGE,
        )
        shown = [t.id for t in (*page.nobody, *page.pinned, *page.to_confirm, *page.tips)]
        escalations = storage.escalation_summaries(db_session, tip_ids=shown)
        assigned = storage.assignees(db_session, tip_ids=shown) if current_user.is_staff else {}
    with storage.writing(tipline().db) as db_session:  # recorded before anything is shown
        audit_queue_view(db_session, filters, page)
    args = {k: v for k, v in request.args.items() if k not in ("page", "refresh") and v}
    act_now = len(page.nobody) + len(page.new_urgent) + sum(display.overdue(escalations.get(t.id))
                                                             for t in page.waiting)
    if request.args.get("refresh") in ("on", "off"):  # the person's choice, kept for the session
        session["queue_refresh"] = request.args["refresh"] == "on"
    refreshing = session.get("queue_refresh", True)
    response = make_response(render_template(
        "dashboard/queue.html", form=form, page=page, args=args, escalations=escalations, assigned=assigned,
        act_now=act_now, refreshing=refreshing, tip_url=url_for("dashboard.tips.tip", reference="X")[:-1],
        export_form=ExportForm() if current_user.is_admin else None))
    if refreshing:
        # The open queue reloads itself, with no script: the Refresh header, which the person can turn off
        # (a reload they cannot stop is a barrier for some, WCAG 2.2.1).
        response.headers["Refresh"] = str(QUEUE_REFRESH_SECONDS)
    return response


# ---- tip detail and case work -----------------------------------------------------------------------

def _visible_tip(db_session, reference: str):
    return get_or_404(storage.visible_tip(db_session, reference=reference.upper(), role=current_user.role,
                                          partner=current_user.partner))


@bp.route("/tips/<reference>")
@login_required
def tip(reference: str):
    """One tip: every answer, additions, and for staff the timeline, notes and actions."""
    with storage.writing(tipline().db) as db_session:
        found = storage.visible_tip(db_session, reference=reference.upper(), role=current_user.role,
                                    partner=current_user.partner)
        if found is None:
            # Recorded too: a partner trying references that are not theirs shows up here.
            audit(db_session, "tip_view_denied", target=reference[:32])
            context = None
        else:
            audit(db_session, "tip_viewed", target=found.reference)
            context = _tip_context(db_session, found)
    return render_template("dashboard/tip.html", **get_or_404(context))


# Choice fields the dashboard words itself (its filters and queue use the same words); another choice
# shows in the flow's words for it (`<field>_<value>` in messages/<language>.yaml).
CHOICE_WORDS = {"category": display.category}


def _answers(found) -> list[tuple[str, object, str]]:
    """The report's answers as the flow declares them: (label in the page's language, answer, kind)."""
    flow = tipline().flow
    language = str(get_locale() or "en")
    answers = []
    for field in flow.shown_fields:
        answer = answer_of(found, field)
        if field.kind == "choice" and answer:
            words = CHOICE_WORDS.get(field.name)
            answer = words(answer) if words else flow.word(language, f"{field.name}_{answer}", answer)
        answers.append((flow.label(language, field), answer, field.kind))
    return answers


def _tip_context(db_session, found) -> dict:
    """What the tip page shows: partners get the report only, staff the whole case."""
    additions = storage.additions_by_tip(db_session, tip_ids=[found.id]).get(found.id, [])
    context = {"tip": found, "additions": additions, "answers": _answers(found),
               "panel": escalation_panel(db_session, found)}
    if current_user.is_staff:
        case = storage.tip_case(db_session, tip=found)
        staff = storage.list_users(db_session, roles=storage.STAFF_ROLES)
        assign_form = AssignForm()
        assign_form.assignee.choices = choices([("", _("nobody"))] + [(str(u.id), u.email) for u in staff if u.active])
        assign_form.assignee.data = str(case.assignee_id) if case and case.assignee_id else ""
        status_form = StatusForm()
        status_form.status.choices = status_choices(found.status)
        status_form.status.data = found.status
        context.update(
            timeline=storage.tip_timeline(db_session, tip=found),
            notes=storage.tip_notes(db_session, tip=found),
            case=case,
            assignee=next((u.email for u in staff if case and u.id == case.assignee_id), None),
            duplicate_of=(storage.tip_reference_by_id(db_session, tip_id=case.duplicate_of_id)
                          if case and case.duplicate_of_id else None),
            duplicates=storage.duplicates_of(db_session, tip=found),
            status_form=status_form, note_form=NoteForm(), assign_form=assign_form,
            duplicate_form=DuplicateForm(), outcome_form=OutcomeForm(),
            outcomes=storage.reported_outcomes(db_session, tip=found) if found.outcome_reported_at else [],
        )
        place_form = None
        if found.place_code is None and tipline().flow.places:
            place_form = PlaceForm()
            place_form.place.choices = choices([("", _("Choose a place"))]) + place_choices()
        context["place_form"] = place_form
        for form in (status_form, assign_form, context["note_form"], context["duplicate_form"], place_form,
                     context["outcome_form"], context["panel"]["escalate_form"], context["panel"]["ask_form"]):
            if form is None:
                continue
            drafts.restore(form)  # what was typed before the session ended, if anything
    return context


def status_choices(status: str):
    """The tip's own status, then where an operator may move it: forward first, then back (with a reason)."""
    steps = tip_actions.operator_steps(status)
    return choices([(status, _("%(status)s (now)", status=display.status(status)))] + [
        (step.to, _("%(status)s: back, give a reason", status=display.status(step.to)) if step.backwards
         else display.status(step.to))
        for step in steps
    ])


def refused(refusal: CaseworkRefused) -> Response:
    """Why case work was refused, in the page's language."""
    facts = {"current": display.status(refusal.facts.get("status")), "target": display.status(refusal.facts.get("to"))}
    if refusal.code == "reason_required":
        message, status = _("Going back from %(current)s to %(target)s needs a reason: write it in the reason "
                            "field. It is kept in the audit trail.", **facts), 400
    elif refusal.code == "no_outcome":
        message, status = _("No outcome from a partner is waiting for confirmation on this tip."), 409
    elif refusal.facts.get("to") == "acknowledged":
        message = _("Only a partner acknowledges a tip: on the dashboard, or with ACK and the reference by SMS.")
        status = 409
    elif refusal.facts.get("to") == "escalated":
        message, status = _("A tip becomes escalated when it is sent to a partner: use Escalate."), 409
    else:
        message, status = _("A tip cannot go from %(current)s to %(target)s.", **facts), 409
    return problem(message, status)


def _locked_tip(db_session, reference: str):
    """The tip for case work, locked on PostgreSQL: two operators acting at once act one after the other."""
    return storage.lock_tip(db_session, tip_id=_visible_tip(db_session, reference).id)


def _back(reference: str, anchor: str | None = None):
    return redirect(url_for("dashboard.tips.tip", reference=reference, _anchor=anchor))


@bp.route("/tips/<reference>/status", methods=["POST"])
@staff_required
def change_status(reference: str):
    """Move a tip as the status rules allow; going back needs a reason (kept in the audit trail)."""
    form = StatusForm()
    if not form.validate():
        return invalid(form)
    try:
        with storage.writing(tipline().db) as db_session:
            found = _locked_tip(db_session, reference)
            tip_actions.change_status(db_session, found, actor=actor(), to=form.status.data, reason=form.reason.data,
                                   now=now())
    except CaseworkRefused as refusal:  # raised before any change; the transaction rolls back all the same
        return refused(refusal)
    flash(_("Status saved."))
    return _back(found.reference)


@bp.route("/tips/<reference>/outcome", methods=["POST"])
@staff_required
def outcome(reference: str):
    """Confirm a partner's outcome and close the tip, or do not confirm it (with a reason): it stays open."""
    form = OutcomeForm()
    if not form.validate():
        return invalid(form)
    try:
        with storage.writing(tipline().db) as db_session:
            found = _locked_tip(db_session, reference)
            if form.decision.data == "confirm":
                tip_actions.confirm_outcome(db_session, found, actor=actor(), now=now())
            else:
                tip_actions.reject_outcome(db_session, found, actor=actor(), reason=form.reason.data, now=now())
    except CaseworkRefused as refusal:
        return refused(refusal)
    flash(_("Outcome confirmed and the tip closed.") if form.decision.data == "confirm"
          else _("Outcome not confirmed: the tip stays open."))
    return _back(found.reference)


@bp.route("/tips/<reference>/place", methods=["POST"])
@staff_required
def set_place(reference: str):
    """Set the tip's place from the places list, so the partners that cover it match."""
    form = PlaceForm()
    form.place.choices = place_choices()
    if not form.validate():
        return invalid(form)
    with storage.writing(tipline().db) as db_session:
        found = _locked_tip(db_session, reference)
        tip_actions.set_place(db_session, found, form.place.data, actor=actor(), now=now())
    flash(_("Place set to %(place)s.", place=display.place(form.place.data)))
    return _back(found.reference, anchor="escalation")


@bp.route("/tips/<reference>/notes", methods=["POST"])
@staff_required
def add_note(reference: str):
    """Add an internal note (operators only; never sent to anyone)."""
    form = NoteForm()
    if not form.validate() or not form.text.data.strip():
        return invalid(form)
    with storage.writing(tipline().db) as db_session:
        found = _visible_tip(db_session, reference)
        tip_actions.add_note(db_session, found, actor=actor(), text=form.text.data, now=now())
    flash(_("Note added."))
    return _back(found.reference)


@bp.route("/tips/<reference>/assign", methods=["POST"])
@staff_required
def assign(reference: str):
    """Give the tip to an operator (or to nobody)."""
    form = AssignForm()
    with storage.writing(tipline().db) as db_session:
        found = _visible_tip(db_session, reference)
        staff = storage.list_users(db_session, roles=storage.STAFF_ROLES)
        form.assignee.choices = choices([("", "")] + [(str(u.id), u.email) for u in staff if u.active])
        if not form.validate():
            return invalid(form)
        assignee = next((u for u in staff if str(u.id) == form.assignee.data), None)
        tip_actions.assign(db_session, found, actor=actor(), assignee=assignee, now=now())
    flash(_("Assignment saved."))
    return _back(found.reference)


@bp.route("/tips/<reference>/duplicate", methods=["POST"])
@staff_required
def mark_duplicate(reference: str):
    """Close the tip as a duplicate of another one."""
    form = DuplicateForm()
    if not form.validate():
        return invalid(form)
    typed = form.original.data.strip()
    original_ref = parse_reference("".join(typed.split())) or typed
    with storage.writing(tipline().db) as db_session:
        found = _locked_tip(db_session, reference)
        original = storage.tip_by_reference(db_session, reference=original_ref)
        if original is None or original.id == found.id:
            return problem(_("There is no other tip %(reference)s.", reference=original_ref))
        tip_actions.mark_duplicate(db_session, found, original, actor=actor(), now=now())
    flash(_("Marked as a duplicate and closed."))
    return _back(found.reference)


@bp.route("/tips/<reference>/spam", methods=["POST"])
@staff_required
def mark_spam(reference: str):
    """One button for what is plainly not a report."""
    try:
        with storage.writing(tipline().db) as db_session:
            found = _locked_tip(db_session, reference)
            tip_actions.change_status(db_session, found, actor=actor(), to="spam", now=now())
    except CaseworkRefused as refusal:
        return refused(refusal)
    flash(_("Marked as spam."))
    return _back(found.reference)


@bp.route("/tips/<reference>/escalate", methods=["POST"])
@staff_required
def escalate(reference: str):
    """Send the tip to one partner through the outbox; the tip becomes 'escalated'."""
    form = EscalateForm()
    with storage.writing(tipline().db) as db_session:
        tip = _locked_tip(db_session, reference)
        escalations = storage.escalations_for_tip(db_session, tip_id=tip.id)
        form.partner.choices = choices(partner_options(partner_choices(db_session, tip, escalations)))
        if not form.validate():
            return problem(_("Choose one of the active partners this tip has not gone to yet."))
        if tip.status in CLOSED_STATUSES:
            return problem(_("This tip is closed: set another status before escalating it."))
        partner = storage.partner_by_id(db_session, partner_id=int(form.partner.data))
        escalation = escalate_tip(db_session, tip, partner, actor=actor(), now=now(), outbound=tipline().outbound)
    if escalation is None:
        flash(_("This tip already went to %(name)s.", name=partner.name))
    else:
        flash(_("Escalated to %(name)s: the message is in the outbox.", name=partner.name))
    return _back(tip.reference, anchor="escalation")


@bp.route("/tips/<reference>/ask", methods=["POST"])
@staff_required
def ask(reference: str):
    """Relay a question to the reporter through the outbox; the number stays sealed, never shown."""
    form = AskForm()
    with storage.writing(tipline().db) as db_session:
        tip = _locked_tip(db_session, reference)
        if not can_ask(tip):
            reason = (_("This tip is closed.") if followups.refusal(tip) == "closed"
                      else _("The reporter did not agree to be contacted, or their contact address was deleted."))
            return problem(_("The question was not sent. %(reason)s", reason=reason), 409)
        if not form.validate():
            return _question_problem(tip, form, _("Write a question."))
        question = plain_question(form.question.data)
        text = follow_up_text(tip, question)
        if segments(text) > QUESTION_SEGMENTS:
            return _question_problem(tip, form, _(
                "With this question the message takes %(count)s SMS segments; at most %(limit)s are allowed.",
                count=segments(text), limit=QUESTION_SEGMENTS))
        try:
            followups.ask_reporter(db_session, actor(), tip, question, now=now(), outbound=tipline().outbound)
        except FollowUpRefused as refused:
            return problem(_("The question was not sent. %(reason)s", reason=str(refused)), 409)
    flash(_("Question queued to the reporter. Their answer will be added to this tip."))
    return _back(tip.reference, anchor="escalation")


def _question_problem(tip, form, message: str) -> Response:
    """The question comes back with why it does not fit, so nothing typed is lost."""
    question = plain_question(form.question.data)
    page = render_template(
        "dashboard/partners_question.html", tip=tip, form=form, message=message, budget=question_budget(tip),
        unusual=non_gsm_characters(question), segments=segments(follow_up_text(tip, question)) if question else 0,
        question_segments=QUESTION_SEGMENTS,
    )
    return Response(page, status=400)



# ---- export ------------------------------------------------------------------------------------------

@bp.route("/export", methods=["POST"])
@admin_required
def export():
    """Admins: the tips the queue shows with the filters sent along (every tip without any), newest
    first, with routing, assignee, escalations and notes. CSV starts with a byte order mark, so a
    spreadsheet reads the reporters' words as UTF-8; times stay ISO 8601 UTC."""
    form = ExportForm()
    if not form.validate():
        return invalid(form)
    _filter_form, filters = queue_filter(request.form)
    fmt = form.format.data
    with storage.writing(tipline().db) as db_session:
        audit(db_session, "export", detail={"format": fmt, **filters_detail(filters)})
    db, role, partner, shown = tipline().db, current_user.role, current_user.partner, tipline().flow.shown_fields

    def rows():
        with storage.reading(db) as db_session:
            yield from storage.queue_export(db_session, filters=filters, role=role, partner=partner, shown=shown)

    stamp = now().strftime("%Y%m%d-%H%M")
    if fmt == "json":
        body, mimetype = json_chunks(rows()), "application/json"
    else:
        body, mimetype = csv_chunks(rows(), shown, casework=True, bom=True), "text/csv; charset=utf-8"
    return Response(
        stream_with_context(body), mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="tips-{stamp}.{fmt}"'},
    )
