"""A partner's details, as the admin enters them."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)
from wtforms.widgets import CheckboxInput, ListWidget

from ...models import CATEGORIES
from ..display import CATEGORY, labels
from ..forms import Form, choices


class PartnerForm(Form):
    """Validated like `tipline partners add`; the phone may stay empty when editing (kept as it is)."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=128)])
    phone = StringField(_l("Phone (E.164, e.g. +15550100050)"), validators=[Optional(), Length(max=40)])
    channel = SelectField(_l("Channel"), choices=choices([("sms", "SMS"), ("whatsapp", "WhatsApp")]))
    language = SelectField(_l("Language of their messages"), choices=[])
    regions = TextAreaField(
        _l("Places they cover, one a line: a place code, a word in a tip's location, or everywhere"),
        validators=[Optional(), Length(max=4000)],
    )
    categories = SelectMultipleField(
        _l("Kinds of tip they take (none ticked: every kind)"), choices=choices(labels(CATEGORY, CATEGORIES)),
        validate_choice=True, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
    )
    urgent_only = BooleanField(_l("Only immediate-danger tips"))
    preference = IntegerField(_l("Order of preference (lower goes first)"), default=100,
                              validators=[InputRequired(), NumberRange(min=0, max=100_000)])
    active = BooleanField(_l("Active"), default=True)
