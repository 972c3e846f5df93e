"""How values read on a page: one function per kind of value, in the page's language.

Pages never show a stored code (a status, a category, an audit action): they pass it through the
function for its kind, registered on the app by install() as a Jinja filter:

    status, category, channel, urgency, escalation_status, outbox_status, outbox_kind, delivery_status,
    broadcast_status, broadcast_kind, poll_status, idea_status, action, audit_details, audit_target, role,
    bot_events, language, place,
    localtime (a time in the deployment's zone, with its abbreviation: "2026-05-04 14:05 WIB"),
    when (the same as localtime), age, age_ago

and as globals: event_words (a timeline entry as a sentence), escalation_state (a queue row's
escalation: who has it, how long is left), overdue, time_left, partner_places, place_names, masked,
zone_name ("WIB").
The same functions serve code that builds choices for a form (labels()).
Exports are not pages: they stay ISO 8601 UTC (tipline/export.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..escalation import EVERYWHERE, is_place_code
from ..privacy import mask

STATUS = {
    "new": _l("new"), "triaged": _l("triaged"), "escalated": _l("escalated"),
    "acknowledged": _l("acknowledged by a partner"), "closed": _l("closed"), "spam": _l("spam"),
}
CATEGORY = {
    "forced_labour": _l("forced labour"), "sexual_exploitation": _l("sexual exploitation"),
    "recruitment": _l("job or school offer away from home"), "online": _l("online, on a phone"),
    "child_marriage": _l("child marriage"), "begging": _l("begging"), "other": _l("other"),
}
CHANNEL = {"sms": "SMS", "whatsapp": "WhatsApp"}
URGENCY = {"immediate": _l("immediate danger"), "normal": _l("not immediate")}
ESCALATION_STATUS = {
    "sent": _l("waiting for acknowledgement"), "acknowledged": _l("acknowledged"),
    "done": _l("outcome confirmed"), "timed_out": _l("not acknowledged in time"), "cancelled": _l("cancelled"),
}
OUTBOX_STATUS = {
    "pending": _l("waiting to be sent"), "sending": _l("being sent"), "sent": _l("sent"),
    "not_sent": _l("not sent (no account)"), "failed": _l("failed"), "dead": _l("given up"),
    "cancelled": _l("cancelled"),
}
OUTBOX_KIND = {
    "reply": _l("reply to a message"), "escalation": _l("tip to a partner"), "alert": _l("alert to the on-call number"),
    "update": _l("completed report to a partner"), "follow_up": _l("question to a reporter"),
    "volunteer_awareness": _l("awareness message to volunteers"), "volunteer_lesson": _l("lesson to volunteers"),
    "volunteer_poll": _l("poll to volunteers"), "volunteer_poll_results": _l("poll results to volunteers"),
}
BROADCAST_STATUS = {
    "draft": _l("draft"), "scheduled": _l("scheduled"), "sending": _l("being sent"), "sent": _l("sent"),
    "cancelled": _l("cancelled"),
}
BROADCAST_KIND = {
    "awareness": _l("awareness message"), "lesson": _l("lesson of the week"), "poll": _l("poll"),
    "poll_results": _l("poll results"),
}
# Twilio's and the SMS gateway's word for what happened to a message after it left.
DELIVERY_STATUS = {
    "accepted": _l("accepted"), "scheduled": _l("scheduled"), "queued": _l("queued"), "sending": _l("being sent"),
    "sent": _l("sent"), "delivered": _l("delivered"), "undelivered": _l("not delivered"), "failed": _l("failed"),
    "canceled": _l("cancelled"), "read": _l("read"), "partially_delivered": _l("partly delivered"),
}
POLL_STATUS = {"open": _l("open"), "closed": _l("closed")}
IDEA_STATUS = {"new": _l("new"), "considered": _l("considered"), "done": _l("done")}
ROLE = {"admin": _l("admin"), "operator": _l("operator"), "partner": _l("partner")}
# What the audit trail and a tip's timeline record, as a short phrase.
ACTION = {
    "tip_viewed": _l("opened a tip"), "tip_view_denied": _l("tried to open a tip that is not theirs"),
    "queue_viewed": _l("looked at the queue"), "queue_searched": _l("searched the queue"),
    "export": _l("exported tips"), "login_success": _l("logged in"), "login_failed": _l("login failed"),
    "logout": _l("logged out"), "totp_enabled": _l("turned two-factor sign-in on"),
    "user_created": _l("account created"), "user_changed": _l("account changed"),
    "password_changed": _l("changed their password"), "password_change_failed": _l("password change failed"),
    "password_reset": _l("password reset"), "partner_added": _l("partner added"),
    "partner_changed": _l("partner changed"), "partner_deactivated": _l("partner deactivated"),
    "outbox_retried": _l("message queued again"), "broadcast_drafted": _l("message to volunteers drafted"),
    "broadcast_scheduled": _l("message to volunteers scheduled"),
    "broadcast_cancelled": _l("message to volunteers cancelled"), "poll_created": _l("poll created"),
    "poll_results_drafted": _l("poll results drafted"), "poll_closed": _l("poll closed"),
    "lesson_schedule_changed": _l("lesson of the week changed"), "idea_status_changed": _l("idea status changed"),
    "follow_up_asked": _l("question sent to the reporter"), "follow_up_answered": _l("the reporter answered"),
    "note_added": _l("internal note added"), "assigned": _l("assigned"), "status_changed": _l("status changed"),
    "marked_duplicate": _l("marked as a duplicate"), "escalated": _l("escalated to a partner"),
    "outcome_confirmed": _l("partner's outcome confirmed"), "outcome_rejected": _l("partner's outcome not confirmed"),
    "partner_acknowledged": _l("partner acknowledged"), "partner_info": _l("partner asked for the description"),
    "partner_outcome": _l("partner reported an outcome"), "partner_question": _l("partner asked the team"),
    "addition_after_close": _l("reporter added to a closed tip"),
    "created": _l("report began"), "completed": _l("report finished"), "addition": _l("reporter added words"),
    "escalation_requested": _l("child in danger now: routing began"), "routing": _l("routing"),
    "escalation_timed_out": _l("not acknowledged in time"), "escalation_update": _l("completed report sent on"),
    "delivery_failed": _l("message not delivered"), "not_sent": _l("message not sent (no account)"),
    "reporter_withdrew": _l("reporter withdrew"), "place_set": _l("place chosen from the list"),
    "place_not_matched": _l("place not found in the places list"),
}

# What the engine asks the service to do after a turn (tipline.engine.conversation), for the practice chat.
BOT_EVENT = {
    "SaveTip": _l("save the report as a tip"), "DiscardTip": _l("delete the unfinished report"),
    "WithdrawTip": _l("keep the tip, marked as withdrawn by the reporter"),
    "AddToTip": _l("add the words to the tip"),
    "Escalate": _l("send the tip to partners and the on-call number at once"),
    "Subscribe": _l("sign the sender up as a volunteer"), "ShareIdea": _l("keep the idea for the team"),
    "ForgetContact": _l("delete every contact address the sender left"),
}


# The names in an audit entry's details (and in a queue view's filters), as the audit page says them.
DETAIL = {
    "second_factor": _l("second factor"), "reason": _l("reason"), "from": _l("from"), "to": _l("to"),
    "partner": _l("partner"), "matching": _l("matches the tip"), "filters": _l("filters"), "page": _l("page"),
    "shown": _l("tips shown"), "search": _l("search"), "fingerprint": _l("fingerprint"), "words": _l("words"),
    "format": _l("format"), "follow_up": _l("question"), "segments": _l("SMS segments"), "kind": _l("kind"),
    "outbox": _l("message"), "error_code": _l("error code"), "places": _l("places"), "languages": _l("languages"),
    "at": _l("at"), "active": _l("active"), "start": _l("start"), "broadcast": _l("message to volunteers"),
    "changed": _l("changed"), "renamed_from": _l("renamed from"), "phone": _l("phone"), "channel": _l("channel"),
    "regions": _l("places"), "categories": _l("kinds"), "urgent_only": _l("immediate danger only"),
    "preference": _l("order"), "must_change": _l("must change it"), "totp_required": _l("two-factor required"),
    "reset_totp": _l("two-factor reset"), "question": _l("question"), "place": _l("place"), "status": _l("status"),
    "urgency": _l("urgency"), "category": _l("category"), "language": _l("language"), "complete": _l("complete"),
    "since": _l("from"), "until": _l("to"), "place_code": _l("place"), "assignee_id": _l("assigned to"),
    "of": _l("duplicate of"), "name": _l("name"),
}


def _detail_value(name: str, value) -> str:
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, dict):
        return audit_details(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(_detail_value(name, item) for item in value)
    if name in ("from", "to", "status"):
        return status(value)
    if name in ("category", "categories"):
        return category(value)
    if name in ("place", "place_code", "places", "regions") and value and str(value)[:1].isdigit():
        return place(value)
    if name == "changed":
        return str(DETAIL.get(value, value))
    if name == "kind":
        return _word(OUTBOX_KIND, value) if value in OUTBOX_KIND else _word(BROADCAST_KIND, value)
    return str(value)


TARGET_KINDS = {"poll": _l("poll #%(id)s"), "broadcast": _l("message to volunteers #%(id)s"),
                "idea": _l("idea #%(id)s")}


def audit_target(target: str | None) -> str:
    """What an audit entry is about: a tip's reference or an account as stored, a poll, message or idea
    by its number ("poll 3" is stored, "jajak pendapat #3" is read)."""
    kind, _space, number = (target or "").partition(" ")
    if kind in TARGET_KINDS and number.isdigit():
        return str(TARGET_KINDS[kind]) % {"id": number}
    return target or ""


def audit_details(detail: dict | None) -> str:
    """An audit entry's details as a line people read: each name in words, each stored value too."""
    return "; ".join(f"{DETAIL.get(name, name)}: {_detail_value(name, value)}"
                     for name, value in sorted((detail or {}).items()))


def _word(table: dict, value: str | None) -> str:
    """The value's words; an empty value is empty, an unknown one (from a newer version) shows as it is."""
    if value in (None, ""):
        return ""
    return str(table.get(value, value))


def labels(table: dict, values) -> list[tuple[str, str]]:
    """(value, words) pairs for a form's choices; the words stay lazy, said in each request's language."""
    return [(value, table.get(value, value)) for value in values]


def status(value: str | None) -> str:
    return _word(STATUS, value)


def category(value: str | None) -> str:
    return _word(CATEGORY, value)


def channel(value: str | None) -> str:
    return _word(CHANNEL, value)


def urgency(value: str | None) -> str:
    return _word(URGENCY, value)


def escalation_status(value: str | None) -> str:
    return _word(ESCALATION_STATUS, value)


def outbox_status(value: str | None) -> str:
    """An outbox status as the page says it; "not_sent" must never read like "sent"."""
    return _word(OUTBOX_STATUS, value)


def outbox_kind(value: str | None) -> str:
    return _word(OUTBOX_KIND, value)


def delivery_status(value: str | None) -> str:
    return _word(DELIVERY_STATUS, value)


def broadcast_status(value: str | None) -> str:
    return _word(BROADCAST_STATUS, value)


def broadcast_kind(value: str | None) -> str:
    return _word(BROADCAST_KIND, value)


def poll_status(value: str | None) -> str:
    return _word(POLL_STATUS, value)


def idea_status(value: str | None) -> str:
    return _word(IDEA_STATUS, value)


def action(value: str | None) -> str:
    return _word(ACTION, value)


def role(value: str | None) -> str:
    return _word(ROLE, value)


def bot_events(names: str | None) -> str:
    """The practice chat's record of what a real conversation would do ("SaveTip, Escalate") in words."""
    return "; ".join(_word(BOT_EVENT, name.strip()) for name in (names or "").split(",") if name.strip())


def _tipline():
    return current_app.extensions["tipline"]


def language(code: str | None) -> str:
    """A language by its own name (Bahasa Indonesia, English), as the flow names it."""
    found = _tipline().flow.languages.get(code or "")
    return found.name if found else (code or "")


def place(code: str | None) -> str:
    """A place from the places list by its name, a regency with its province: Kota Bekasi, Jawa Barat."""
    if not code:
        return ""
    flow = _tipline().flow
    found = flow.place(code)
    if found is None:
        return code
    province = flow.place(code.split(".")[0]) if "." in code else None
    return f"{found.name}, {province.name}" if province and province is not found else found.name


def escalation_state(summary) -> str:
    """Where a tip's escalation stands, in a queue row: who has it, who is late, how long is left."""
    if summary is None:
        return ""
    if summary.acknowledged_by:
        return _("acknowledged by %(partner)s", partner=summary.acknowledged_by)
    waiting = ", ".join(summary.waiting)
    if summary.waiting and summary.due_at is not None:
        left = summary.due_at - _tipline().clock()
        if left.total_seconds() > 0:
            return _("sent to %(partners)s: %(left)s left to acknowledge", partners=waiting,
                     left=format_timedelta(left, threshold=1.5))
        return _("sent to %(partners)s: acknowledgement overdue by %(late)s", partners=waiting,
                 late=format_timedelta(-left, threshold=1.5))
    if summary.waiting:
        return _("sent to %(partners)s, not acknowledged yet", partners=waiting)
    if summary.timed_out:
        return _("not acknowledged in time by %(partners)s", partners=", ".join(summary.partners))
    return _("sent to %(partners)s", partners=", ".join(summary.partners))


def time_left(due_at: datetime | None) -> str:
    """How long is left until a deadline, or how late it is."""
    if due_at is None:
        return ""
    left = due_at - _tipline().clock()
    if left.total_seconds() > 0:
        return _("%(left)s left", left=format_timedelta(left, threshold=1.5))
    return _("overdue by %(late)s", late=format_timedelta(-left, threshold=1.5))


def overdue(summary) -> bool:
    """Whether a partner's time to acknowledge has run out with nobody taking the tip."""
    if summary is None or summary.acknowledged_by:
        return False
    if summary.waiting and summary.due_at is not None:
        return summary.due_at <= _tipline().clock()
    return summary.timed_out and not summary.waiting


# ---- time ------------------------------------------------------------------------------------------

def zone() -> ZoneInfo:
    """The deployment's time zone (TIPLINE_TIMEZONE, else flows/deployment.yaml)."""
    return _tipline().zone


def zone_name(at: datetime | None = None) -> str:
    """The zone's abbreviation people know (WIB), at `at` or now."""
    return (at or _tipline().clock()).astimezone(zone()).tzname() or str(zone())


def localtime(value: datetime | None) -> str:
    """A stored (UTC) time as people there read it: 2026-05-04 14:05 WIB."""
    if not value:
        return ""
    local = value.astimezone(zone())
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def local_input(value: datetime | None) -> datetime | None:
    """A stored time as a form's datetime-local field shows it: local wall time, no zone."""
    return value.astimezone(zone()).replace(tzinfo=None) if value else None


def from_local_input(value: datetime | None) -> datetime | None:
    """What someone typed in a datetime-local field (their wall time) as an aware UTC time."""
    return value.replace(tzinfo=zone()).astimezone(UTC) if value else None


def age(value: datetime | None) -> str:
    return format_timedelta(_tipline().clock() - value, threshold=1.5) if value else ""


def age_ago(value: datetime | None) -> str:
    return _("%(age)s ago", age=age(value)) if value else ""


# ---- timeline ----------------------------------------------------------------------------------------

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
                                    current=status(d.get("from")), target=status(d.get("to")), reason=d["reason"])
        if d.get("reason")
        else _("Status changed from %(current)s to %(target)s.", current=status(d.get("from")),
               target=status(d.get("to"))),
        "partner_acknowledged": lambda: _("%(partner)s acknowledged (ACK).", partner=d.get("partner", "?")),
        "partner_info": lambda: _("%(partner)s asked for the whole description (INFO).", partner=d.get("partner", "?")),
        "partner_outcome": lambda: _("%(partner)s reported an outcome (DONE): an operator must confirm it.",
                                     partner=d.get("partner", "?")),
        "partner_question": lambda: _("%(partner)s asked the team: %(question)s", partner=d.get("partner", "?"),
                                      question=d.get("question", "")),
        "outcome_confirmed": lambda: _("An operator confirmed the partner's outcome."),
        "outcome_rejected": lambda: _("An operator did not confirm the partner's outcome. Reason: %(reason)s",
                                      reason=d.get("reason", "")),
        "delivery_failed": lambda: _("A message (%(kind)s) could not be delivered.",
                                     kind=outbox_kind(d.get("kind", "?"))),
        "not_sent": lambda: _("A message (%(kind)s) was NOT SENT: no Twilio account is set.",
                              kind=outbox_kind(d.get("kind", "?"))),
        "note_added": lambda: _("An operator wrote an internal note."),
        "assigned": lambda: _("Assigned to %(person)s.", person=d.get("to") or _("nobody")),
        "marked_duplicate": lambda: _("Marked as a duplicate of %(reference)s.", reference=d.get("of", "?")),
        "follow_up_asked": lambda: _("A question was sent to the reporter."),
        "follow_up_answered": lambda: _("The reporter answered the question."),
        "place_set": lambda: _("The place was set to %(place)s from the places list.", place=place(d.get("place"))),
    }
    found = sentences.get(kind)
    return found() if found else ""


# ---- places ------------------------------------------------------------------------------------------

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


FILTERS = {
    "status": status, "category": category, "channel": channel, "urgency": urgency,
    "escalation_status": escalation_status, "outbox_status": outbox_status, "outbox_kind": outbox_kind,
    "delivery_status": delivery_status, "broadcast_status": broadcast_status, "broadcast_kind": broadcast_kind,
    "poll_status": poll_status, "idea_status": idea_status, "action": action, "audit_details": audit_details,
    "audit_target": audit_target, "role": role, "bot_events": bot_events, "language": language, "place": place,
    "localtime": localtime, "when": localtime, "age": age, "age_ago": age_ago,
}
GLOBALS = {"event_words": event_words, "escalation_state": escalation_state, "overdue": overdue, "time_left": time_left,
           "partner_places": partner_places, "place_names": place_names, "masked": mask, "zone_name": zone_name}


def install(app: Flask) -> None:
    for name, function in FILTERS.items():
        app.add_template_filter(function, name)
    for name, function in GLOBALS.items():
        app.add_template_global(function, name)
