"""A partner's answers on the dashboard: the same acts as ACK and DONE by SMS, and a question to the team."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from ...actions.tips import MAX_NOTE
from ..forms import Form


class OutcomeReportForm(Form):
    note = TextAreaField(_l("What was done, and what happened"), validators=[DataRequired(), Length(max=MAX_NOTE)])


class TeamQuestionForm(Form):
    question = TextAreaField(_l("Your question to the tip line's team"),
                             validators=[DataRequired(), Length(max=MAX_NOTE)])
