"""The queue's filters, read one way for the queue page and for the export of what it shows."""

from __future__ import annotations

from flask_babel import gettext as _

from ... import storage
from ..common import day_end, day_start, tipline
from ..forms import choices
from .forms import QueueFilterForm


def queue_filter(formdata) -> tuple[QueueFilterForm, storage.QueueFilter]:
    """The form (shown with any field's error) and the filters it gives; a field that does not parse is
    ignored rather than refused, so a mistyped date never hides the queue."""
    form = QueueFilterForm(formdata=formdata)
    form.place.choices = choices([("", _("any"))] + [
        (p.code, p.name if p is top else f"· {p.name}") for top in tipline().flow.places for p in (top, *top.children)
    ])
    form.validate()

    def value(field):
        return field.data if field.data not in ("", None) and not field.errors else None

    complete = value(form.complete)
    return form, storage.QueueFilter(
        status=value(form.status), urgency=value(form.urgency), category=value(form.category),
        language=(value(form.language) or "").strip().lower() or None, channel=value(form.channel),
        complete=None if complete is None else complete == "yes",
        since=day_start(value(form.since)), until=day_end(value(form.until)),
        search=(value(form.q) or "").strip() or None, place_code=value(form.place),
    )
