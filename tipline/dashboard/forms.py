"""The dashboard's forms. Every form that changes something carries a CSRF token (FlaskForm)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from ..models import CATEGORIES, TIP_STATUSES, URGENCIES

REFERENCE_PATTERN = r"^\s*[2-9A-HJ-NP-Za-hj-np-z]{4}-?[2-9A-HJ-NP-Za-hj-np-z]{4}\s*$"


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as the select options WTForms wants."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]


ANY = _l("any")


def _choices(values):
    return choices([("", ANY), *((v, v) for v in values)])


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    code = StringField(_l("6-digit code"), validators=[DataRequired(), Length(min=6, max=8)])


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


class PracticeForm(FlaskForm):
    text = StringField(_l("Your message"), validators=[Length(max=320)])
    channel = HiddenField(default="sms")


class PracticeStartForm(FlaskForm):
    language = SelectField(_l("Language"), choices=[])
    channel = SelectField(_l("Channel"), choices=choices([("sms", "SMS"), ("whatsapp", "WhatsApp")]))


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1024)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=1024)])


class ResetPasswordForm(FlaskForm):
    user_id = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,9}$")])  # fits a database INTEGER


class UserSettingsForm(FlaskForm):
    user_id = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,9}$")])  # fits a database INTEGER
    totp_required = BooleanField(_l("Require two-factor"))
    active = BooleanField(_l("Active"))
    reset_totp = BooleanField(_l("Reset two-factor"))


class LanguageForm(FlaskForm):
    lang = SelectField(_l("Language"), choices=choices([("en", "English"), ("id", "Bahasa Indonesia")]))
    next = HiddenField()


class EmptyForm(FlaskForm):
    """A button that only needs its CSRF token (log out, forget the practice chat)."""
