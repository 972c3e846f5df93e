"""Admins' account settings."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField
from wtforms.validators import DataRequired, Regexp


class ResetPasswordForm(FlaskForm):
    user_id = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,9}$")])  # fits a database INTEGER


class UserSettingsForm(FlaskForm):
    user_id = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,9}$")])  # fits a database INTEGER
    totp_required = BooleanField(_l("Require two-factor"))
    active = BooleanField(_l("Active"))
    reset_totp = BooleanField(_l("Reset two-factor"))
