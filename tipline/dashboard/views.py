"""Queue, tip detail and case work, audit trail, export, statistics, and the practice chat."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from flask import Response, abort, flash, redirect, render_template, request, session, stream_with_context, url_for
from flask_babel import format_timedelta, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import casework, storage
from ..casework import CaseworkRefused
from ..export import csv_chunks, json_chunks
from ..engine import Conversation, Inbound, NoTips, new_reference, step
from ..models import TIP_STATUSES
from ..worker import sending_is_off
from . import bp
from .statistics_page import statistics_context
from .common import actor, admin_required, audit, audit_queue_view, now, staff_required, tipline
from .forms import (
    AssignForm,
    DuplicateForm,
    EmptyForm,
    OutcomeForm,
    ExportForm,
    LanguageForm,
    NoteForm,
    PracticeForm,
    PracticeStartForm,
    QueueFilterForm,
    StatusForm,
    choices,
)

PER_PAGE = 50
AUDIT_PER_PAGE = 100
PRACTICE_KEEP = 16  # messages of the practice transcript kept in the (server-side) session


@bp.app_template_filter("when")
def when_filter(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if value else ""


@bp.app_template_filter("age")
def age_filter(value: datetime | None) -> str:
    return format_timedelta(now() - value, threshold=1.5) if value else ""


@bp.app_template_filter("age_ago")
def age_ago_filter(value: datetime | None) -> str:
    return _("%(age)s ago", age=age_filter(value)) if value else ""


@bp.context_processor
def shared_forms():
    return {"language_form": LanguageForm(), "logout_form": EmptyForm(), "statuses": TIP_STATUSES,
            "get_locale": get_locale, "sending_off": sending_is_off(tipline().settings)}


# The days a filter may name: far enough from date.min and date.max that a day's end, and a year
# before it, still exist (?until=9999-12-31 must not overflow into a 500).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def _in_range(day: date | None) -> date | None:
    return min(max(day, FIRST_DAY), LAST_DAY) if day else day


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(_in_range(day), time.min, tzinfo=timezone.utc) if day else None


def _day_end(day: date | None) -> datetime | None:
    return _day_start(day) + timedelta(days=1) if day else None


# ---- queue -----------------------------------------------------------------------------------------

@bp.route("/")
@login_required
def queue():
    """The triage queue: open immediate-danger tips first, then newest first, filtered."""
    form = QueueFilterForm(formdata=request.args)
    form.place.choices = choices([("", _("any"))] + [
        (p.code, p.name if p is top else f"· {p.name}") for top in tipline().flow.places for p in (top, *top.children)
    ])
    form.validate()  # a field that does not parse is shown with its error and ignored

    def value(field):
        return field.data if field.data not in ("", None) and not field.errors else None

    complete = value(form.complete)
    filters = storage.QueueFilter(
        status=value(form.status), urgency=value(form.urgency), category=value(form.category),
        language=(value(form.language) or "").strip().lower() or None, channel=value(form.channel),
        complete=None if complete is None else complete == "yes",
        since=_day_start(value(form.since)), until=_day_end(value(form.until)),
        search=(value(form.q) or "").strip() or None, place_code=value(form.place),
    )
    with storage.reading(tipline().db) as db_session:
        page = storage.tip_queue(
            db_session, filters=filters, role=current_user.role, partner=current_user.partner,
            page=value(form.page) or 1, per_page=PER_PAGE,
        )
    with storage.writing(tipline().db) as db_session:  # recorded before anything is shown
        audit_queue_view(db_session, filters, page)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("dashboard/queue.html", form=form, page=page, args=args,
                           tip_url=url_for("dashboard.tip", reference="X")[:-1],
                           export_form=ExportForm() if current_user.is_admin else None)


# ---- tip detail and case work -----------------------------------------------------------------------

def _visible_tip(db_session, reference: str):
    tip = storage.visible_tip(db_session, reference=reference.upper(), role=current_user.role,
                              partner=current_user.partner)
    if tip is None:
        abort(404)
    return tip


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
    if context is None:
        abort(404)
    return render_template("dashboard/tip.html", **context)


def _tip_context(db_session, found) -> dict:
    """What the tip page shows: partners get the report only, staff the whole case."""
    additions = storage.additions_by_tip(db_session, tip_ids=[found.id]).get(found.id, [])
    context = {"tip": found, "additions": additions}
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
    return context


def status_choices(status: str):
    """The tip's own status, then where an operator may move it: forward first, then back (with a reason)."""
    steps = casework.operator_steps(status)
    return choices([(status, _("%(status)s (now)", status=status))] + [
        (step.to, _("%(status)s: back, give a reason", status=step.to) if step.backwards else step.to)
        for step in steps
    ])


def refused(refusal: CaseworkRefused) -> Response:
    """Why case work was refused, in the page's language."""
    facts = {"current": refusal.facts.get("status", ""), "target": refusal.facts.get("to", "")}
    if refusal.code == "reason_required":
        message, status = _("Going back from %(current)s to %(target)s needs a reason: write it in the reason "
                            "field. It is kept in the audit trail.", **facts), 400
    elif refusal.code == "no_outcome":
        message, status = _("No outcome from a partner is waiting for confirmation on this tip."), 409
    elif facts["target"] == "acknowledged":
        message, status = _("Only a partner acknowledges a tip: they answer ACK and the reference by SMS."), 409
    elif facts["target"] == "escalated":
        message, status = _("A tip becomes escalated when it is sent to a partner: use Escalate."), 409
    else:
        message, status = _("A tip cannot go from %(current)s to %(target)s.", **facts), 409
    return Response(render_template("dashboard/error.html", message=message), status=status)


@bp.app_template_global("event_words")
def event_words(event) -> str:
    """A timeline entry as a sentence: what happened, never just a code that could read as "sent"."""
    d = event.detail or {}
    kind = event.kind
    if kind == "routing":
        to = d.get("to")
        if to == "partner":
            receivers = ", ".join(d.get("partners") or [])
            if d.get("oncall"):
                return _("Received by %(partners)s, and the on-call number.", partners=receivers)
            return _("Received by %(partners)s.", partners=receivers)
        if to == "oncall":
            return _("No partner matches this tip: only the on-call number received it.")
        if to == "unrouted":
            return _("UNROUTED: no partner matches this tip and no on-call number is set. Nobody received "
                     "this urgent tip: act now.")
        if to == "failed":
            return _("ESCALATION FAILED: nobody received this urgent tip. Act now.")
    sentences = {
        "created": lambda: _("The report began."),
        "completed": lambda: _("The reporter finished the report."),
        "addition": lambda: _("The reporter added words to the report."),
        "escalation_requested": lambda: _("The reporter said a child is in danger right now: routing to "
                                          "matching partners and the on-call number began."),
        "escalated": lambda: _("Sent to %(partner)s.", partner=d.get("partner", "?")) if d.get("matching", True)
        else _("Sent to %(partner)s, which does not cover this tip's place or kind.", partner=d.get("partner", "?")),
        "escalation_timed_out": lambda: _("%(partners)s did not acknowledge in time; sent on to %(next)s.",
                                          partners=", ".join(d.get("partners") or []), next=d["next"])
        if d.get("next") else _("%(partners)s did not acknowledge in time, and no other matching partner is left.",
                                partners=", ".join(d.get("partners") or [])),
        "escalation_update": lambda: _("Partners who had the tip were sent the completed report."),
        "status_changed": lambda: _("Status changed from %(current)s to %(target)s. Reason: %(reason)s",
                                    current=d.get("from"), target=d.get("to"), reason=d["reason"]) if d.get("reason")
        else _("Status changed from %(current)s to %(target)s.", current=d.get("from"), target=d.get("to")),
        "partner_acknowledged": lambda: _("%(partner)s acknowledged (ACK).", partner=d.get("partner", "?")),
        "partner_info": lambda: _("%(partner)s asked for the whole description (INFO).", partner=d.get("partner", "?")),
        "partner_outcome": lambda: _("%(partner)s reported an outcome (DONE): an operator must confirm it.",
                                     partner=d.get("partner", "?")),
        "outcome_confirmed": lambda: _("An operator confirmed the partner's outcome."),
        "outcome_rejected": lambda: _("An operator did not confirm the partner's outcome. Reason: %(reason)s",
                                      reason=d.get("reason", "")),
        "delivery_failed": lambda: _("A message (%(kind)s) could not be delivered.", kind=d.get("kind", "?")),
        "not_sent": lambda: _("A message (%(kind)s) was NOT SENT: no Twilio account is set.", kind=d.get("kind", "?")),
        "note_added": lambda: _("An operator wrote an internal note."),
        "assigned": lambda: _("Assigned to %(person)s.", person=d.get("to") or _("nobody")),
        "marked_duplicate": lambda: _("Marked as a duplicate of %(reference)s.", reference=d.get("of", "?")),
        "follow_up_asked": lambda: _("A question was sent to the reporter."),
        "follow_up_answered": lambda: _("The reporter answered the question."),
    }
    found = sentences.get(kind)
    return found() if found else ""


def _locked_tip(db_session, reference: str):
    """The tip for case work, locked on PostgreSQL: two operators acting at once act one after the other."""
    return storage.lock_tip(db_session, tip_id=_visible_tip(db_session, reference).id)


def _back(reference: str):
    return redirect(url_for("dashboard.tip", reference=reference))


def _invalid(form) -> Response:
    problems = "; ".join(
        f"{form[name].label.text}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()
        if name != "csrf_token"
    )
    return Response(render_template("dashboard/error.html", message=problems or _("Check the form.")), status=400)


@bp.route("/tips/<reference>/status", methods=["POST"])
@staff_required
def change_status(reference: str):
    """Move a tip as the status rules allow; going back needs a reason (kept in the audit trail)."""
    form = StatusForm()
    if not form.validate():
        return _invalid(form)
    try:
        with storage.writing(tipline().db) as db_session:
            found = _locked_tip(db_session, reference)
            casework.change_status(db_session, found, actor=actor(), to=form.status.data, reason=form.reason.data,
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
        return _invalid(form)
    try:
        with storage.writing(tipline().db) as db_session:
            found = _locked_tip(db_session, reference)
            if form.decision.data == "confirm":
                casework.confirm_outcome(db_session, found, actor=actor(), now=now())
            else:
                casework.reject_outcome(db_session, found, actor=actor(), reason=form.reason.data, now=now())
    except CaseworkRefused as refusal:
        return refused(refusal)
    flash(_("Outcome confirmed and the tip closed.") if form.decision.data == "confirm"
          else _("Outcome not confirmed: the tip stays open."))
    return _back(found.reference)


@bp.route("/tips/<reference>/notes", methods=["POST"])
@staff_required
def add_note(reference: str):
    """Add an internal note (operators only; never sent to anyone)."""
    form = NoteForm()
    if not form.validate() or not form.text.data.strip():
        return _invalid(form)
    with storage.writing(tipline().db) as db_session:
        found = _visible_tip(db_session, reference)
        storage.add_note(db_session, tip=found, author=current_user.email, text=form.text.data.strip(), now=now())
        audit(db_session, "note_added", target=found.reference)
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
            return _invalid(form)
        assignee_id = int(form.assignee.data) if form.assignee.data else None
        if storage.assign_tip(db_session, tip=found, assignee_id=assignee_id, actor=current_user.email, now=now()):
            email = next((u.email for u in staff if u.id == assignee_id), None)
            audit(db_session, "assigned", target=found.reference, detail={"to": email})
    flash(_("Assignment saved."))
    return _back(found.reference)


@bp.route("/tips/<reference>/duplicate", methods=["POST"])
@staff_required
def mark_duplicate(reference: str):
    """Close the tip as a duplicate of another one."""
    form = DuplicateForm()
    if not form.validate():
        return _invalid(form)
    original_ref = "".join(form.original.data.split()).upper()
    if "-" not in original_ref:
        original_ref = f"{original_ref[:4]}-{original_ref[4:]}"
    with storage.writing(tipline().db) as db_session:
        found = _locked_tip(db_session, reference)
        original = storage.tip_by_reference(db_session, reference=original_ref)
        if original is None or original.id == found.id:
            return Response(render_template("dashboard/error.html", message=_(
                "There is no other tip %(reference)s.", reference=original_ref)), status=400)
        casework.mark_duplicate(db_session, found, original, actor=actor(), now=now())
    flash(_("Marked as a duplicate and closed."))
    return _back(found.reference)


@bp.route("/tips/<reference>/spam", methods=["POST"])
@staff_required
def mark_spam(reference: str):
    """One button for what is plainly not a report."""
    try:
        with storage.writing(tipline().db) as db_session:
            found = _locked_tip(db_session, reference)
            casework.change_status(db_session, found, actor=actor(), to="spam", now=now())
    except CaseworkRefused as refusal:
        return refused(refusal)
    flash(_("Marked as spam."))
    return _back(found.reference)


# ---- audit trail -------------------------------------------------------------------------------------

@bp.route("/audit")
@admin_required
def audit_trail():
    """Admins: who did what and when, filtered."""
    args = request.args

    def parse_day(name: str) -> date | None:
        try:
            return date.fromisoformat(args.get(name, ""))
        except ValueError:
            return None

    try:
        page = max(1, min(int(args.get("page", "1")), 1_000_000))
    except ValueError:
        page = 1
    since, until = parse_day("since"), parse_day("until")
    with storage.reading(tipline().db) as db_session:
        entries, total = storage.audit_entries(
            db_session, actor=args.get("actor") or None, action=args.get("action") or None,
            target=(args.get("target") or "").upper() or None, since=_day_start(since), until=_day_end(until),
            page=page, per_page=AUDIT_PER_PAGE,
        )
        actions = storage.audit_actions(db_session)
    pages = max(1, -(-total // AUDIT_PER_PAGE))
    keep = {k: v for k, v in args.items() if k != "page" and v}
    return render_template("dashboard/audit.html", entries=entries, total=total, page=page, pages=pages,
                           actions=actions, args=keep)


# ---- export ------------------------------------------------------------------------------------------

@bp.route("/export", methods=["POST"])
@admin_required
def export():
    """Admins: every tip as CSV or JSON, the same fields as `tipline tips export`."""
    form = ExportForm()
    if not form.validate():
        return _invalid(form)
    fmt = form.format.data
    with storage.writing(tipline().db) as db_session:
        audit(db_session, "export", detail={"format": fmt})
    db = tipline().db

    def rows():
        with storage.reading(db) as db_session:
            yield from storage.export_tips(db_session)

    stamp = now().strftime("%Y%m%d-%H%M")
    body, mimetype = (json_chunks(rows()), "application/json") if fmt == "json" else (csv_chunks(rows()), "text/csv")
    return Response(
        stream_with_context(body), mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="tips-{stamp}.{fmt}"'},
    )


# ---- statistics ------------------------------------------------------------------------------------

@bp.route("/statistics")
@staff_required
def stats():
    """Tips per day, status, category, place (map of provinces), language, channel; triage and
    acknowledgement times; open urgent tips by age."""
    from zoneinfo import ZoneInfo

    return render_template("dashboard/stats.html", **statistics_context(
        tipline().db, flow=tipline().flow, flows_path=tipline().settings.flows_path, args=request.args,
        now=now(), zone=ZoneInfo("UTC"), word=lambda kind, key: key.replace("_", " "),
    ))


# ---- practice chat ---------------------------------------------------------------------------------

def _practice_state() -> dict | None:
    return session.get("practice")


def _conversation(saved: dict) -> Conversation:
    data = saved["conversation"]
    last_seen = datetime.fromisoformat(data["last_seen"]) if data.get("last_seen") else None
    return Conversation(state=data.get("state"), language=data.get("language"), answers=data.get("answers") or {},
                        tip=data.get("tip"), lesson=int(data.get("lesson") or 0), last_seen=last_seen,
                        opted_out=bool(data.get("opted_out")))


def _saved(conversation: Conversation) -> dict:
    return {
        "state": conversation.state, "language": conversation.language, "answers": conversation.answers,
        "tip": conversation.tip, "lesson": conversation.lesson, "opted_out": conversation.opted_out,
        "last_seen": conversation.last_seen.isoformat() if conversation.last_seen else None,
    }


@bp.route("/practice", methods=["GET", "POST"])
@staff_required
def practice():
    """Try the bot: the real engine and flows, nothing stored; a practice report never becomes a tip."""
    flow = tipline().flow
    start_form = PracticeStartForm(prefix="start")
    start_form.language.choices = choices((code, lang.name) for code, lang in flow.languages.items())
    form = PracticeForm()
    saved = _practice_state()
    if request.method == "POST" and saved is not None and form.validate_on_submit():
        turn = step(
            flow, _conversation(saved), Inbound(text=form.text.data or "", channel=saved["channel"]), now(),
            tips=NoTips(), new_reference=new_reference,  # practice never touches stored tips
        )
        transcript = saved["transcript"] + [["you", form.text.data or ""]]
        transcript += [["bot", reply] for reply in turn.replies]
        events = [type(event).__name__ for event in turn.events]
        if events:
            transcript.append(["event", ", ".join(events)])
        session["practice"] = {"conversation": _saved(turn.conversation), "channel": saved["channel"],
                               "transcript": transcript[-PRACTICE_KEEP:]}
        return redirect(url_for("dashboard.practice"))
    if request.method == "POST" and saved is not None:
        return _invalid(form)
    return render_template("dashboard/practice.html", saved=saved, form=form, start_form=start_form,
                           reset_form=EmptyForm(prefix="reset"))


@bp.route("/practice/start", methods=["POST"])
@staff_required
def practice_start():
    """Begin a practice conversation in the chosen language and channel."""
    flow = tipline().flow
    form = PracticeStartForm(prefix="start")
    form.language.choices = choices((code, lang.name) for code, lang in flow.languages.items())
    if not form.validate():
        return _invalid(form)
    session["practice"] = {"conversation": _saved(Conversation(language=form.language.data)),
                           "channel": form.channel.data, "transcript": []}
    return redirect(url_for("dashboard.practice"))


@bp.route("/practice/reset", methods=["POST"])
@staff_required
def practice_reset():
    """Forget the practice conversation."""
    session.pop("practice", None)
    return redirect(url_for("dashboard.practice"))
