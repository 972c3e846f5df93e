"""Statistics: tips over a date range as charts drawn on the server, a map of provinces, case work."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from ..common import now, staff_required, tipline
from .page import statistics_context

bp = Blueprint("stats", __name__)


@bp.route("/statistics")
@staff_required
def stats():
    """Tips per day, by status, category, place (a map of provinces), language and channel; triage and
    acknowledgement times; open urgent tips by age."""
    return render_template("dashboard/stats.html", **statistics_context(
        tipline().db, flow=tipline().flow, flows_path=tipline().settings.flows_path, args=request.args,
        now=now(), zone=tipline().zone,
    ))
