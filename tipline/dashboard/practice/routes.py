"""Try the bot: the real engine and flows in the browser, nothing stored, never a tip."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, redirect, render_template, request, session, url_for

from ...engine import Conversation, Inbound, NoTips, new_reference, step
from ..common import now, staff_required, tipline
from ..errors import invalid
from ..forms import EmptyForm, choices
from .forms import PracticeForm, PracticeStartForm

bp = Blueprint("practice", __name__)
PRACTICE_KEEP = 16  # messages of the practice transcript kept in the (server-side) session


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
        return redirect(url_for("dashboard.practice.practice"))
    if request.method == "POST" and saved is not None:
        return invalid(form)
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
        return invalid(form)
    session["practice"] = {"conversation": _saved(Conversation(language=form.language.data)),
                           "channel": form.channel.data, "transcript": []}
    return redirect(url_for("dashboard.practice.practice"))


@bp.route("/practice/reset", methods=["POST"])
@staff_required
def practice_reset():
    """Forget the practice conversation."""
    session.pop("practice", None)
    return redirect(url_for("dashboard.practice.practice"))
