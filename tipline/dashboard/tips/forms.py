"""The queue's filters and the case work on a tip's page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from ...actions.followups import MAX_QUESTION
from ...models import CATEGORIES, TIP_STATUSES, URGENCIES
from ..display import CATEGORY, CHANNEL, STATUS, URGENCY, labels
from ..forms import ANY, REFERENCE_PATTERN, Form, choices


def _choices(words: dict, values):
    """Any, then each value in words."""
    return choices([("", ANY), *labels(words, values)])


class QueueFilterForm(Form):
    """Read from the query string: filtering changes nothing, so it needs no token."""

    class Meta:
        csrf = False

    q = StringField(_l("Search: reference, description or place"), validators=[Optional(), Length(max=200)])
    mine = BooleanField(_l("Assigned to me"))
    status = SelectField(_l("Status"), choices=_choices(STATUS, TIP_STATUSES), default="")
    urgency = SelectField(_l("Urgency"), choices=_choices(URGENCY, URGENCIES), default="")
    category = SelectField(_l("Category"), choices=_choices(CATEGORY, CATEGORIES), default="")
    language = SelectField(_l("Language"), choices=[], default="")  # the flow's languages, set by the view
    channel = SelectField(_l("Channel"), choices=_choices(CHANNEL, CHANNEL), default="")
    complete = SelectField(
        _l("Complete"), choices=choices([("", ANY), ("yes", _l("complete")), ("no", _l("unfinished"))]), default=""
    )
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])
    place = SelectField(_l("Place"), choices=[], default="")  # the deployment's places, set by the view
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=1_000_000)], default=1)


class StatusForm(Form):
    """Any status parses; tipline.actions.tips decides which moves are allowed and says why not."""

    status = SelectField(_l("Status"), choices=choices(labels(STATUS, TIP_STATUSES)), validators=[DataRequired()])
    reason = StringField(_l("Reason (needed to go back a step)"), validators=[Optional(), Length(max=500)])


class OutcomeForm(Form):
    """An operator's answer to a partner's DONE: confirm (and close), or not confirm, with a reason."""

    decision = SelectField(choices=choices([("confirm", "confirm"), ("reject", "reject")]), validators=[DataRequired()])
    reason = StringField(_l("Why not (kept in the audit trail)"), validators=[Optional(), Length(max=500)])


class NoteForm(Form):
    text = TextAreaField(_l("Internal note"), validators=[DataRequired(), Length(max=5000)])


class AssignForm(Form):
    assignee = SelectField(_l("Assigned to"), choices=[], validate_choice=True)


class DuplicateForm(Form):
    original = StringField(
        _l("Duplicate of (reference)"),
        validators=[DataRequired(), Regexp(REFERENCE_PATTERN, message=_l("A reference looks like 7KQ2-9PXM."))],
    )


class ExportForm(Form):
    format = SelectField(_l("Format"), choices=choices([("csv", "CSV"), ("json", "JSON")]))


class PlaceForm(Form):
    """The tip's place from the places list, when the reporter's words matched none."""

    place = SelectField(_l("Place from the list"), choices=[], validate_choice=True, validators=[DataRequired()])


class EscalateForm(Form):
    partner = SelectField(_l("Partner"), choices=[], validate_choice=True, validators=[DataRequired()])


class AskForm(Form):
    question = TextAreaField(_l("Question to the reporter"),
                             validators=[DataRequired(), Length(max=MAX_QUESTION)])
