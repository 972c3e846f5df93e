"""Moved to tipline.actions.tips (the tip's status machine and case work). These names stay importable from
here only for tipline/service.py, which other work changes at the same time; import tipline.actions instead."""

from .actions.base import REPORTER, SYSTEM, Actor
from .actions.tips import (
    BACKWARD_EVENTS,
    MAX_NOTE,
    MAX_REASON,
    OPERATOR_EVENTS,
    CaseworkRefused,
    Step,
    TipStatus,
    change_status,
    confirm_outcome,
    mark_duplicate,
    operator_steps,
    partner_acknowledges,
    partner_reads,
    partner_reports_outcome,
    reject_outcome,
    reporter_added,
    tip_escalated,
)

__all__ = [
    "BACKWARD_EVENTS", "MAX_NOTE", "MAX_REASON", "OPERATOR_EVENTS", "REPORTER", "SYSTEM", "Actor", "CaseworkRefused",
    "Step", "TipStatus", "change_status", "confirm_outcome", "mark_duplicate", "operator_steps", "partner_acknowledges",
    "partner_reads", "partner_reports_outcome", "reject_outcome", "reporter_added", "tip_escalated",
]
