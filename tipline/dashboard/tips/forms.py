"""The queue's filters and the case work on a tip's page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from ...followup import MAX_QUESTION
from ...models import CATEGORIES, TIP_STATUSES, URGENCIES
from ..forms import ANY, REFERENCE_PATTERN, choices


def _choices(values):
    return choices([("", ANY), *((v, v) for v in values)])


class QueueFilterForm(FlaskForm):
    """Read from the query string: filtering changes nothing, so it needs no token."""

    class Meta:
        csrf = False

    q = StringField(_l("Search description and place"), validators=[Optional(), Length(max=200)])
    status = SelectField(_l("Status"), choices=_choices(TIP_STATUSES), default="")
    urgency = SelectField(_l("Urgency"), choices=_choices(URGENCIES), default="")
    category = SelectField(_l("Category"), choices=_choices(CATEGORIES), default="")
    language = StringField(_l("Language"), validators=[Optional(), Length(max=16)])
    channel = SelectField(_l("Channel"), choices=_choices(("sms", "whatsapp")), default="")
    complete = SelectField(
        _l("Complete"), choices=choices([("", ANY), ("yes", _l("complete")), ("no", _l("unfinished"))]), default=""
    )
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])
    place = SelectField(_l("Place"), choices=[], default="")  # the deployment's places, set by the view
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=1_000_000)], default=1)


class StatusForm(FlaskForm):
    """Any status parses; tipline.casework decides which moves are allowed and says why not."""

    status = SelectField(_l("Status"), choices=choices((s, s) for s in TIP_STATUSES), validators=[DataRequired()])
    reason = StringField(_l("Reason (needed to go back a step)"), validators=[Optional(), Length(max=500)])


class OutcomeForm(FlaskForm):
    """An operator's answer to a partner's DONE: confirm (and close), or not confirm, with a reason."""

    decision = SelectField(choices=choices([("confirm", "confirm"), ("reject", "reject")]), validators=[DataRequired()])
    reason = StringField(_l("Why not (kept in the audit trail)"), validators=[Optional(), Length(max=500)])


class NoteForm(FlaskForm):
    text = TextAreaField(_l("Internal note"), validators=[DataRequired(), Length(max=5000)])


class AssignForm(FlaskForm):
    assignee = SelectField(_l("Assigned to"), choices=[], validate_choice=True)


class DuplicateForm(FlaskForm):
    original = StringField(
        _l("Duplicate of (reference)"),
        validators=[DataRequired(), Regexp(REFERENCE_PATTERN, message=_l("A reference looks like 7KQ2-9PXM."))],
    )


class ExportForm(FlaskForm):
    format = SelectField(_l("Format"), choices=choices([("csv", "CSV"), ("json", "JSON")]))


class EscalateForm(FlaskForm):
    partner = SelectField(_l("Partner"), choices=[], validate_choice=True, validators=[DataRequired()])


class AskForm(FlaskForm):
    question = TextAreaField(_l("Question to the reporter"),
                             validators=[DataRequired(), Length(max=MAX_QUESTION)])
