"""The practice chat."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length

from ..forms import Form, choices


class PracticeForm(Form):
    text = StringField(_l("Your message"), validators=[Length(max=320)])
    channel = HiddenField(default="sms")


class PracticeStartForm(Form):
    language = SelectField(_l("Language"), choices=[])
    channel = SelectField(_l("Channel"), choices=choices([("sms", "SMS"), ("whatsapp", "WhatsApp")]))
