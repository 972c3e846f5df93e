"""How values read on a page: one function per kind of value, each a Jinja filter or global.

Registered on the app by install(). Pages never show a code key (a status, a category) as it is
stored: they pass it through the function for its kind, which says it in the page's language.

Filters: when, age, age_ago.  Globals: event_words, partner_places, place_names, masked.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask, current_app
from flask_babel import format_timedelta
from flask_babel import gettext as _

from ..escalation import EVERYWHERE, is_place_code
from ..privacy import mask


def _tipline():
    return current_app.extensions["tipline"]


def when(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def age(value: datetime | None) -> str:
    return format_timedelta(_tipline().clock() - value, threshold=1.5) if value else ""


def age_ago(value: datetime | None) -> str:
    return _("%(age)s ago", age=age(value)) if value else ""


def event_words(event) -> str:
    """A timeline entry as a sentence: what happened, never just a code that could read as "sent"."""
    d = event.detail or {}
    kind = event.kind
    if kind == "routing":
        to = d.get("to")
        if to == "partner":
            receivers = ", ".join(d.get("partners") or [])
            if d.get("oncall"):
                return _("Received by %(partners)s, and the on-call number.", partners=receivers)
            return _("Received by %(partners)s.", partners=receivers)
        if to == "oncall":
            return _("No partner matches this tip: only the on-call number received it.")
        if to == "unrouted":
            return _("UNROUTED: no partner matches this tip and no on-call number is set. Nobody received "
                     "this urgent tip: act now.")
        if to == "failed":
            return _("ESCALATION FAILED: nobody received this urgent tip. Act now.")
    sentences = {
        "created": lambda: _("The report began."),
        "completed": lambda: _("The reporter finished the report."),
        "addition": lambda: _("The reporter added words to the report."),
        "escalation_requested": lambda: _("The reporter said a child is in danger right now: routing to "
                                          "matching partners and the on-call number began."),
        "escalated": lambda: _("Sent to %(partner)s.", partner=d.get("partner", "?")) if d.get("matching", True)
        else _("Sent to %(partner)s, which does not cover this tip's place or kind.", partner=d.get("partner", "?")),
        "escalation_timed_out": lambda: _("%(partners)s did not acknowledge in time; sent on to %(next)s.",
                                          partners=", ".join(d.get("partners") or []), next=d["next"])
        if d.get("next") else _("%(partners)s did not acknowledge in time, and no other matching partner is left.",
                                partners=", ".join(d.get("partners") or [])),
        "escalation_update": lambda: _("Partners who had the tip were sent the completed report."),
        "status_changed": lambda: _("Status changed from %(current)s to %(target)s. Reason: %(reason)s",
                                    current=d.get("from"), target=d.get("to"), reason=d["reason"]) if d.get("reason")
        else _("Status changed from %(current)s to %(target)s.", current=d.get("from"), target=d.get("to")),
        "partner_acknowledged": lambda: _("%(partner)s acknowledged (ACK).", partner=d.get("partner", "?")),
        "partner_info": lambda: _("%(partner)s asked for the whole description (INFO).", partner=d.get("partner", "?")),
        "partner_outcome": lambda: _("%(partner)s reported an outcome (DONE): an operator must confirm it.",
                                     partner=d.get("partner", "?")),
        "outcome_confirmed": lambda: _("An operator confirmed the partner's outcome."),
        "outcome_rejected": lambda: _("An operator did not confirm the partner's outcome. Reason: %(reason)s",
                                      reason=d.get("reason", "")),
        "delivery_failed": lambda: _("A message (%(kind)s) could not be delivered.", kind=d.get("kind", "?")),
        "not_sent": lambda: _("A message (%(kind)s) was NOT SENT: no Twilio account is set.", kind=d.get("kind", "?")),
        "note_added": lambda: _("An operator wrote an internal note."),
        "assigned": lambda: _("Assigned to %(person)s.", person=d.get("to") or _("nobody")),
        "marked_duplicate": lambda: _("Marked as a duplicate of %(reference)s.", reference=d.get("of", "?")),
        "follow_up_asked": lambda: _("A question was sent to the reporter."),
        "follow_up_answered": lambda: _("The reporter answered the question."),
    }
    found = sentences.get(kind)
    return found() if found else ""


def partner_places(regions: list[str]) -> list[str]:
    """A partner's places as people read them: a code with its name, 'everywhere' translated."""
    flow = _tipline().flow
    shown = []
    for region in regions or [EVERYWHERE]:
        if region.strip().casefold() == EVERYWHERE:
            shown.append(_("everywhere"))
        elif is_place_code(region) and flow.place(region.strip()):
            shown.append(f"{region} ({flow.place(region.strip()).name})")
        else:
            shown.append(region)
    return shown


def place_names(codes: list[str]) -> str:
    """Places chosen from the places list, by name; none chosen is everywhere."""
    flow = _tipline().flow
    return ", ".join(flow.place(code).name if flow.place(code) else code for code in codes) or _("everywhere")


def install(app: Flask) -> None:
    for name, function in {"when": when, "age": age, "age_ago": age_ago}.items():
        app.add_template_filter(function, name)
    for name, function in {"event_words": event_words, "partner_places": partner_places,
                           "place_names": place_names, "masked": mask}.items():
        app.add_template_global(function, name)
