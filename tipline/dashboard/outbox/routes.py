"""The outbox page: queued, sent, failed and dead messages; dead letters can be sent again.

Addresses are shown masked, and never the words sent to a reporter or a volunteer.
"""

from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ... import storage
from ...actions import Refused
from ...actions.outbox import retry_message
from ...community import is_volunteer_kind
from ...models import OUTBOX_STATUSES
from ...privacy import mask
from ..common import actor, get_or_404, now, page_number, staff_required, tipline
from ..display import OUTBOX_KIND, OUTBOX_STATUS, labels
from ..errors import problem
from ..forms import EmptyForm, choices
from .forms import OutboxFilterForm

bp = Blueprint("outbox", __name__)
OUTBOX_PER_PAGE = 100
DEAD_LETTERS = "dead_letters"  # the outbox filter for failed and dead together


def recipient(row) -> str:
    """Who a row goes to, as the page may show it: never a reporter's or volunteer's digits."""
    if row.reporter is not None:
        return _("volunteer") if is_volunteer_kind(row.kind) else _("reporter")
    prefix = "whatsapp:" if row.channel == "whatsapp" else ""
    return mask(f"{prefix}{row.to_hint}")


@bp.route("/outbox")
@staff_required
def outbox():
    """Queued, sent, failed and dead messages; dead letters can be sent again."""
    with storage.reading(tipline().db) as db_session:
        kinds = storage.outbox_kinds(db_session)
        counts = storage.outbox_counts(db_session)
        form = OutboxFilterForm(formdata=request.args)
        form.status.choices = choices([("", _("any")), (DEAD_LETTERS, _("dead letters (failed or given up)")),
                                       *labels(OUTBOX_STATUS, OUTBOX_STATUSES)])
        asked = request.args.get("kind", "")
        if re.fullmatch(r"[a-z_]{1,32}", asked) and asked not in kinds:
            kinds = [*kinds, asked]  # a kind with no rows yet is a filter that finds nothing, not an error
        form.kind.choices = choices([("", _("any")), *labels(OUTBOX_KIND, kinds)])
        form.validate()
        status = form.status.data if not form.status.errors else ""
        kind = form.kind.data if not form.kind.errors else ""
        page = page_number(request.args)
        statuses = storage.DEAD_LETTERS if status == DEAD_LETTERS else ((status,) if status else ())
        rows, total = storage.outbox_page(db_session, statuses=statuses, kinds=(kind,) if kind else (),
                                          page=page, per_page=OUTBOX_PER_PAGE)
        references = storage.tip_references(db_session, tip_ids=sorted({r.tip_id for r in rows if r.tip_id}))
        names = storage.partner_names(db_session, partner_ids=sorted({r.partner_id for r in rows if r.partner_id}))
        nobody = storage.tips_received_by_nobody(db_session)
    pages = max(1, -(-total // OUTBOX_PER_PAGE))
    keep = {key: value for key, value in (("status", status), ("kind", kind)) if value}
    return render_template(
        "dashboard/outbox.html", form=form, rows=rows, total=total, page=page, pages=pages, args=keep,
        counts=counts, references=references, names=names, recipient=recipient, retry_form=EmptyForm(),
        dead_letters=storage.DEAD_LETTERS, nobody=nobody,
    )


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
@staff_required
def outbox_retry(message_id: int):
    """Queue a failed or dead message again, due now, with a fresh count of attempts."""
    form = EmptyForm()
    if not form.validate():
        return problem(_("Check the form and try again."))
    with storage.writing(tipline().db) as db_session:
        row = get_or_404(storage.outbox_message(db_session, message_id=message_id))
        try:
            retry_message(db_session, actor(), row, now=now())
        except Refused as refused:
            if refused.code == "not_dead":
                return problem(_("Only failed or dead messages can be sent again."), 409)
            if refused.code == "partner_inactive":
                return problem(_("%(name)s is deactivated: edit the partner to turn it on first.",
                                 name=refused.facts["name"]), 409)
            return problem(_("This message's address was deleted to protect the person it was for: "
                             "it cannot be sent again."), 409)
    flash(_("Message %(id)s is queued again.", id=message_id))
    # Back to the list the button was on: only its two filters pass, so nothing sends anyone elsewhere.
    return redirect(url_for("dashboard.outbox.outbox", status=request.args.get("status") or None,
                            kind=request.args.get("kind") or None))
