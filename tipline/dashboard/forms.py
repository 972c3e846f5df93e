"""Form pieces every feature shares. Every form that changes something carries a CSRF token (FlaskForm);
each feature's own forms live in its package (tips/forms.py, partners/forms.py, ...)."""

from __future__ import annotations

from flask_babel import get_translations
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.fields.choices import SelectChoice

REFERENCE_PATTERN = r"^\s*[2-9A-HJ-NP-Za-hj-np-z]{4}-?[2-9A-HJ-NP-Za-hj-np-z]{4}\s*$"
ANY = _l("any")


class FormWords:
    """WTForms' own messages ("This field is required.") from the dashboard's catalogue, in the page's
    language: WTForms ships no Indonesian, and an English error on an Indonesian page helps nobody."""

    def gettext(self, string: str) -> str:
        return get_translations().gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ngettext(singular, plural, n)


FORM_WORDS = FormWords()


class Form(FlaskForm):
    """Every dashboard form: a CSRF token (FlaskForm) and errors in the page's language."""

    class Meta:
        def get_translations(self, form):
            return FORM_WORDS


def _wtforms_messages(gettext, ngettext) -> None:  # pragma: no cover - never called
    """The WTForms messages the dashboard's forms can show, listed here so pybabel extracts them."""
    gettext("This field is required.")
    gettext("Not a valid choice.")
    ngettext("'%(value)s' is not a valid choice for this field.",
             "'%(value)s' are not valid choices for this field.", 2)
    gettext("Not a valid integer value.")
    gettext("Not a valid date value.")
    gettext("Not a valid datetime value.")
    gettext("Invalid input.")
    gettext("Number must be at least %(min)s.")
    gettext("Number must be at most %(max)s.")
    gettext("Number must be between %(min)s and %(max)s.")
    gettext("Field must be between %(min)d and %(max)d characters long.")
    ngettext("Field must be at least %(min)d character long.", "Field must be at least %(min)d characters long.", 2)
    ngettext("Field cannot be longer than %(max)d character.", "Field cannot be longer than %(max)d characters.", 2)


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as the select options WTForms wants."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]


class LanguageForm(Form):
    lang = SelectField(_l("Language"), choices=choices([("en", "English"), ("id", "Bahasa Indonesia")]))
    next = HiddenField()


class EmptyForm(Form):
    """A button that only needs its CSRF token (log out, forget the practice chat)."""
