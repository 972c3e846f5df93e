"""Awareness messages, the lesson of the week, polls and ideas: their forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from ...models import IDEA_STATUSES
from ..common import tipline
from ..display import IDEA_STATUS, labels
from ..forms import Form, choices


def place_choices():
    flow = tipline().flow
    return choices((p.code, p.name) for top in flow.places for p in (top, *top.children))


class ScheduleForm(Form):
    """Send a draft now, or at a time (the deployment's local time, as the page says)."""

    at = DateTimeLocalField(_l("Send at"), format="%Y-%m-%dT%H:%M", validators=[Optional()])


class LessonForm(Form):
    active = BooleanField(_l("Send a warning-sign lesson to volunteers every week"))
    start = DateTimeLocalField(_l("First lesson at"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    places = SelectMultipleField(_l("Places"), choices=[], validate_choice=True)


class IdeaStatusForm(Form):
    status = SelectField(_l("Status"), choices=choices(labels(IDEA_STATUS, IDEA_STATUSES)))


def language_form(fields: dict, *, places: bool = True):
    """A form with one set of text fields per language of the flow (they differ per deployment)."""
    attributes = {}
    for code, language in tipline().flow.languages.items():
        for name, (label, max_length) in fields.items():
            attributes[f"{name}_{code}"] = TextAreaField(
                f"{label} ({language.name})", validators=[Optional(), Length(max=max_length)])
    if places:
        attributes["places"] = SelectMultipleField(_l("Places"), choices=[], validate_choice=True)
    form = type("LanguageTextsForm", (Form,), attributes)()
    if places:
        form.places.choices = place_choices()
    return form
