"""Admins' account settings."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField
from wtforms.validators import DataRequired, Regexp

from ..forms import Form


class ResetPasswordForm(Form):
    user_id = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,9}$")])  # fits a database INTEGER


class UserSettingsForm(Form):
    user_id = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,9}$")])  # fits a database INTEGER
    totp_required = BooleanField(_l("Require two-factor"))
    active = BooleanField(_l("Active"))
    reset_totp = BooleanField(_l("Reset two-factor"))
