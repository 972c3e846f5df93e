"""The queue's filters, read one way for the queue page and for the export of what it shows."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_login import current_user

from ... import storage
from ..common import day_end, day_start, tipline
from ..forms import choices
from .forms import QueueFilterForm


def queue_filter(formdata) -> tuple[QueueFilterForm, storage.QueueFilter]:
    """The form (shown with any field's error) and the filters it gives; a field that does not parse is
    ignored rather than refused, so a mistyped date never hides the queue."""
    form = QueueFilterForm(formdata=formdata)
    form.place.choices = choices([("", _("any"))]) + place_choices()
    form.language.choices = choices([("", _("any")), *((code, language.name) for code, language in
                                                         tipline().flow.languages.items())])
    form.validate()

    def value(field):
        return field.data if field.data not in ("", None) and not field.errors else None

    complete = value(form.complete)
    return form, storage.QueueFilter(
        status=value(form.status), urgency=value(form.urgency), category=value(form.category),
        language=value(form.language), channel=value(form.channel),
        complete=None if complete is None else complete == "yes",
        since=day_start(value(form.since)), until=day_end(value(form.until)),
        search=(value(form.q) or "").strip() or None, place_code=value(form.place),
        assignee_id=current_user.id if form.mine.data and current_user.is_staff else None,
    )


def place_choices():
    """The places list as a select shows it: each province, then its places indented."""
    return choices((p.code, p.name if p is top else f"· {p.name}")
                   for top in tipline().flow.places for p in (top, *top.children))
