"""The outbox page's filters."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from ..forms import Form


class OutboxFilterForm(Form):
    """Read from the query string: filtering changes nothing, so it needs no token."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), default="")
    kind = SelectField(_l("Kind"), default="")
