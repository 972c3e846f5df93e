"""Form pieces every feature shares. Every form that changes something carries a CSRF token (FlaskForm);
each feature's own forms live in its package (tips/forms.py, partners/forms.py, ...)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.fields.choices import SelectChoice

REFERENCE_PATTERN = r"^\s*[2-9A-HJ-NP-Za-hj-np-z]{4}-?[2-9A-HJ-NP-Za-hj-np-z]{4}\s*$"
ANY = _l("any")


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as the select options WTForms wants."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]


class LanguageForm(FlaskForm):
    lang = SelectField(_l("Language"), choices=choices([("en", "English"), ("id", "Bahasa Indonesia")]))
    next = HiddenField()


class EmptyForm(FlaskForm):
    """A button that only needs its CSRF token (log out, forget the practice chat)."""
