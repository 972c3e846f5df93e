"""The practice chat."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length

from ..forms import choices


class PracticeForm(FlaskForm):
    text = StringField(_l("Your message"), validators=[Length(max=320)])
    channel = HiddenField(default="sms")


class PracticeStartForm(FlaskForm):
    language = SelectField(_l("Language"), choices=[])
    channel = SelectField(_l("Channel"), choices=choices([("sms", "SMS"), ("whatsapp", "WhatsApp")]))
