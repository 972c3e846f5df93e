"""Community participation for operators: awareness messages, the lesson of the week, polls, ideas.

Admins and operators only (partners never see volunteers' words or numbers). Nothing here sends:
a broadcast is a row the worker expands into outbox rows when it is due. Before anything is
scheduled, the page shows how many volunteers it reaches and what it costs in SMS segments.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from ... import community, storage
from ...actions import Refused
from ...actions import community as community_actions
from ...models import IDEA_STATUSES
from .. import display, drafts
from ..common import (
    actor,
    admin_required,
    get_or_404,
    now,
    page_number,
    staff_required,
    tipline,
)
from ..errors import form_problems, problem
from ..forms import EmptyForm
from ..stats.charts import bar_chart
from .forms import (
    IdeaStatusForm,
    LessonForm,
    ScheduleForm,
    language_form,
    place_choices,
)
from .volunteers import volunteers_context

bp = Blueprint("community", __name__)

MAX_QUESTION = 200
MAX_OPTION = community_actions.MAX_OPTION
MAX_CHANGE = 300
MAX_OPTIONS_TEXT = community.MAX_OPTIONS * (MAX_OPTION + 1)


def _texts(form, name: str) -> dict[str, str]:
    return {code: form[f"{name}_{code}"].data.strip() for code in tipline().flow.languages
            if (form[f"{name}_{code}"].data or "").strip()}


def _places(codes: list[str]) -> list[str]:
    """The chosen places without those a chosen province already covers."""
    chosen = set(codes or [])
    return sorted(c for c in chosen if not (c.partition(".")[1] and c.partition(".")[0] in chosen))


# ---- awareness messages ---------------------------------------------------------------------------

@bp.route("/community/broadcasts")
@staff_required
def broadcasts():
    """Awareness messages, lessons and polls sent to volunteers, newest first, with delivery counts."""
    with storage.reading(tipline().db) as db_session:
        found = storage.list_broadcasts(db_session)
        outcomes = storage.broadcast_outcomes(db_session, broadcast_ids=[b.id for b in found])
        schedule = storage.lesson_schedule(db_session)
        volunteers = sum(storage.volunteer_languages(db_session, place_codes=[]).values())
    lesson_form = None
    if current_user.is_admin:
        lesson_form = LessonForm(formdata=None, active=bool(schedule and schedule.active),
                                 start=display.local_input(schedule.next_at) if schedule else None,
                                 places=list(schedule.place_codes) if schedule else [])
        lesson_form.places.choices = place_choices()
    return render_template("dashboard/community_broadcasts.html", broadcasts=found, outcomes=outcomes,
                           schedule=schedule, lesson_form=lesson_form, volunteers=volunteers,
                           places=tipline().flow.places)


@bp.route("/community/broadcasts/new", methods=["GET", "POST"])
@staff_required
def new_broadcast():
    """Write an awareness message per language and choose the places; the next page shows the cost."""
    form = language_form({"text": (_l("Message"), community.MAX_TEXT)})
    default = tipline().flow.default_language
    if request.method == "POST":
        if not form.validate():
            return problem(form_problems(form))
        try:
            with storage.writing(tipline().db) as db_session:
                broadcast = community_actions.draft_awareness(
                    db_session, actor(), tipline(), texts=_texts(form, "text"), places=_places(form.places.data),
                    now=now())
        except Refused:
            return problem(_("Write the message at least in %(language)s, the deployment's default language.",
                             language=tipline().flow.languages[default].name))
        return redirect(url_for("dashboard.community.broadcast", broadcast_id=broadcast.id))
    drafts.restore(form)  # what was typed before the session ended, if anything
    return render_template("dashboard/community_compose.html", form=form, places=tipline().flow.places,
                           languages=tipline().flow.languages, default=default)


@bp.route("/community/broadcasts/<int:broadcast_id>")
@staff_required
def broadcast(broadcast_id: int):
    """One broadcast: its words, who it reaches, what it costs; for a draft, the buttons to send it."""
    with storage.reading(tipline().db) as db_session:
        found = get_or_404(storage.broadcast_by_id(db_session, broadcast_id=broadcast_id))
        cost = community.preview(db_session, tipline(), found)
        outcome = storage.broadcast_outcomes(db_session, broadcast_ids=[found.id])[found.id]
    return render_template("dashboard/community_broadcast.html", broadcast=found, cost=cost, outcome=outcome,
                           schedule_form=ScheduleForm(), cancel_form=EmptyForm(prefix="cancel"),
                           languages=tipline().flow.languages)


@bp.route("/community/broadcasts/<int:broadcast_id>/send", methods=["POST"])
@staff_required
def send_broadcast(broadcast_id: int):
    """Schedule a draft: now (the worker's next pass) or at the time given."""
    form = ScheduleForm()
    if not form.validate():
        return problem(form_problems(form))
    moment = when = now()
    if request.form.get("action") == "schedule":
        if form.at.data is None:
            return problem(_("Give the time to send it."))
        when = display.from_local_input(form.at.data)
    try:
        with storage.writing(tipline().db) as db_session:
            found = get_or_404(storage.broadcast_by_id(db_session, broadcast_id=broadcast_id, lock=True))
            community_actions.schedule_broadcast(db_session, actor(), found, at=when, now=moment)
    except Refused as refused:
        return problem(_("That time has passed. Choose a later time, or send it now.") if refused.code == "past"
                       else _("Only a draft can be scheduled."))
    flash(_("Scheduled. The messages go out through the outbox from %(when)s.", when=display.localtime(when)))
    return redirect(url_for("dashboard.community.broadcast", broadcast_id=broadcast_id))


@bp.route("/community/broadcasts/<int:broadcast_id>/cancel", methods=["POST"])
@staff_required
def cancel_broadcast(broadcast_id: int):
    """Cancel a draft or a scheduled broadcast that has not started."""
    form = EmptyForm(prefix="cancel")
    if not form.validate():
        return problem(form_problems(form))
    try:
        with storage.writing(tipline().db) as db_session:
            found = get_or_404(storage.broadcast_by_id(db_session, broadcast_id=broadcast_id, lock=True))
            community_actions.cancel_broadcast(db_session, actor(), found, now=now())
    except Refused:
        return problem(_("It has started already and cannot be cancelled."))
    flash(_("Cancelled."))
    return redirect(url_for("dashboard.community.broadcast", broadcast_id=broadcast_id))


@bp.route("/community/lessons", methods=["POST"])
@admin_required
def lesson_schedule():
    """Admins: turn the lesson of the week on or off."""
    form = LessonForm()
    form.places.choices = place_choices()
    if not form.validate():
        return problem(form_problems(form))
    start = display.from_local_input(form.start.data) or now()
    places = _places(form.places.data)
    with storage.writing(tipline().db) as db_session:
        community_actions.set_lesson_schedule(db_session, actor(), active=form.active.data, start=start, places=places,
                                              now=now())
    flash(_("Lesson of the week is on.") if form.active.data else _("Lesson of the week is off."))
    return redirect(url_for("dashboard.community.broadcasts"))


# ---- polls ---------------------------------------------------------------------------------------------

@bp.route("/community/polls")
@staff_required
def polls():
    """Polls to volunteers, newest first."""
    with storage.reading(tipline().db) as db_session:
        found = storage.list_polls(db_session)
        tallies = {p.id: sum(storage.poll_tally(db_session, poll_id=p.id).values()) for p in found}
    return render_template("dashboard/community_polls.html", polls=found, tallies=tallies,
                           default=tipline().flow.default_language)


@bp.route("/community/polls/new", methods=["GET", "POST"])
@staff_required
def new_poll():
    """A short numbered question, 2 to 9 options, per language; then the cost page as for any broadcast."""
    form = language_form({"question": (_l("Question"), MAX_QUESTION),
                           "options": (_l("Options, one a line"), MAX_OPTIONS_TEXT)})
    flow = tipline().flow
    if request.method == "POST":
        if not form.validate():
            return problem(form_problems(form))
        questions = _texts(form, "question")
        options = {code: [" ".join(line.split()) for line in text.splitlines() if line.strip()]
                   for code, text in _texts(form, "options").items()}
        try:
            with storage.writing(tipline().db) as db_session:
                broadcast = community_actions.create_poll(db_session, actor(), tipline(), questions=questions,
                                                          options=options, places=_places(form.places.data), now=now())
        except Refused as refused:
            return problem(_poll_problem(refused.code))
        return redirect(url_for("dashboard.community.broadcast", broadcast_id=broadcast.id))
    drafts.restore(form)
    return render_template("dashboard/community_poll_new.html", form=form, places=flow.places,
                           languages=flow.languages, default=flow.default_language)


def _poll_problem(code: str) -> str:
    """What is wrong with a poll (actions.community.poll_problem's code), in the page's words."""
    if code == "default_language":
        default = tipline().flow.default_language
        return _("Write the question and its options at least in %(language)s, the deployment's default language.",
                 language=tipline().flow.languages[default].name)
    return {
        "question_without_options": _("Each language needs both a question and its options."),
        "option_counts_differ": _("Every language needs the same number of options."),
        "option_count": _("A poll has 2 to 9 options."),
    }.get(code) or _("Keep each option under %(count)s characters.", count=MAX_OPTION)


def _poll_chart(poll, tally: dict[int, int], language: str) -> Markup:
    """Answers per option as bars with whole-number ticks; the tally table beside it has the numbers."""
    rows = [(f"{n} {option}"[:40], tally.get(n, 0)) for n, option in enumerate(poll.options[language], start=1)]
    return bar_chart(_("Answers"), rows, column=_("Answer"), style=True).svg or Markup("")


def _poll_language(poll) -> str:
    """The poll's words shown on its page: the interface language if the poll has it, else the default."""
    locale = str(get_locale() or "")
    default = tipline().flow.default_language
    return next((lang for lang in (locale, default, "en") if lang in poll.questions), next(iter(poll.questions)))


@bp.route("/community/polls/<int:poll_id>")
@staff_required
def poll(poll_id: int):
    """Live tallies as a chart, and the form to send the results and what will change to the participants."""
    with storage.reading(tipline().db) as db_session:
        found = get_or_404(storage.poll_by_id(db_session, poll_id=poll_id))
        tally = storage.poll_tally(db_session, poll_id=found.id)
        sent = storage.list_broadcasts(db_session, poll_id=found.id)
        outcomes = storage.broadcast_outcomes(db_session, broadcast_ids=[b.id for b in sent])
        participants = len(storage.poll_participants(db_session, poll_id=found.id))
    language = _poll_language(found)
    results_form = language_form({"change": (_l("What will change"), MAX_CHANGE)}, places=False)
    return render_template(
        "dashboard/community_poll.html", poll=found, tally=tally, total=sum(tally.values()), language=language,
        chart=_poll_chart(found, tally, language), broadcasts=sent, outcomes=outcomes, participants=participants,
        results_form=results_form, close_form=EmptyForm(prefix="close"), languages=tipline().flow.languages,
    )


@bp.route("/community/polls/<int:poll_id>/results", methods=["POST"])
@staff_required
def poll_results(poll_id: int):
    """Draft the results message to everyone who answered; the next page shows the cost before sending."""
    form = language_form({"change": (_l("What will change"), MAX_CHANGE)}, places=False)
    if not form.validate():
        return problem(form_problems(form))
    changes = _texts(form, "change")
    try:
        with storage.writing(tipline().db) as db_session:
            found = get_or_404(storage.poll_by_id(db_session, poll_id=poll_id))
            broadcast = community_actions.draft_poll_results(db_session, actor(), tipline(), found, changes=changes,
                                                             now=now())
    except Refused as refused:
        if refused.code == "empty":
            return problem(_("Write what will change."))
        return problem(_("Write what will change at least in %(language)s, the deployment's default language.",
                         language=tipline().flow.languages[tipline().flow.default_language].name))
    return redirect(url_for("dashboard.community.broadcast", broadcast_id=broadcast.id))


@bp.route("/community/polls/<int:poll_id>/close", methods=["POST"])
@staff_required
def close_poll(poll_id: int):
    """Stop counting answers: later digits go to the ordinary conversation."""
    form = EmptyForm(prefix="close")
    if not form.validate():
        return problem(form_problems(form))
    with storage.writing(tipline().db) as db_session:
        found = get_or_404(storage.poll_by_id(db_session, poll_id=poll_id))
        community_actions.close_poll(db_session, actor(), found, now=now())
    flash(_("The poll is closed."))
    return redirect(url_for("dashboard.community.poll", poll_id=poll_id))


# ---- ideas ---------------------------------------------------------------------------------------------

IDEAS_PER_PAGE = 100


@bp.route("/community/volunteers")
@staff_required
def volunteers():
    """How many volunteers there are, where and in which language: counts only, never a number."""
    return render_template("dashboard/community_volunteers.html",
                           **volunteers_context(tipline().db, flow=tipline().flow,
                                                flows_path=tipline().settings.flows_path))


@bp.route("/community/ideas")
@staff_required
def ideas():
    """Suggestions sent with IDEA, newest first, filtered by status."""
    status = request.args.get("status") or None
    if status not in (None, *IDEA_STATUSES):
        return problem(_("Unknown status."))
    page = page_number(request.args, last=100_000)
    with storage.reading(tipline().db) as db_session:
        found = storage.list_ideas(db_session, status=status, limit=IDEAS_PER_PAGE + 1,
                                   offset=(page - 1) * IDEAS_PER_PAGE)
    return render_template("dashboard/community_ideas.html", ideas=found[:IDEAS_PER_PAGE],
                           more=len(found) > IDEAS_PER_PAGE, page=page, status=status, statuses=IDEA_STATUSES,
                           form_class=IdeaStatusForm)


@bp.route("/community/ideas/<int:idea_id>/status", methods=["POST"])
@staff_required
def idea_status(idea_id: int):
    """Mark an idea new, considered or done."""
    form = IdeaStatusForm()
    if not form.validate():
        return problem(form_problems(form))
    with storage.writing(tipline().db) as db_session:
        idea = get_or_404(storage.idea_by_id(db_session, idea_id=idea_id))
        community_actions.set_idea_status(db_session, actor(), idea, form.status.data, now=now())
    flash(_("Status saved."))
    return redirect(url_for("dashboard.community.ideas", status=request.args.get("status") or None))
