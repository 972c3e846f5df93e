"""Helpers for the routing tests: partners by place, urgent tips stored as the service stores them, and
a reporter who picks a place from the numbered list whatever the order of the report's questions."""

from __future__ import annotations

from sqlmodel import select

from tipline import storage
from tipline.escalation import escalate_immediate
from tipline.models import Tip

ONCALL = "+15550100070"
JABAR = "+15550100061"  # West Java (province 32)
JAKARTA = "+15550100062"  # DKI Jakarta (province 31)
JATENG = "+15550100063"  # Central Java (province 33)
BANDUNG = "+15550100064"  # Kota Bandung only (32.73)
EVERYWHERE = "+15550100065"


def add_partner(tipline, name: str, phone: str, regions: list[str], *, categories: list[str] = (),
                urgent_only: bool = False, preference: int = 100, active: bool = True):
    with storage.writing(tipline.db) as session:
        partner = storage.add_partner(
            session, name=name, phone=phone, channel="sms", language="en", regions=list(regions),
            categories=list(categories), urgent_only=urgent_only, preference=preference, now=tipline.clock())
        if not active:
            storage.update_partner(session, partner=partner, active=False)
        return partner.id


def provinces(tipline) -> None:
    """West Java, Jakarta and Central Java partners, each covering its province by code."""
    add_partner(tipline, "P2TP2A Jawa Barat", JABAR, ["32"], preference=2)
    add_partner(tipline, "Polda Metro Jaya", JAKARTA, ["31"], preference=1)
    add_partner(tipline, "Polda Jawa Tengah", JATENG, ["33"], preference=1)


def urgent_tip(tipline, reference: str, *, place_code: str | None = None, location: str | None = None,
               category: str | None = None, reporter: str = "pseudonym-urgent"):
    """An urgent tip stored and routed the way the service does when a reporter says a child is in danger."""
    now = tipline.clock()
    fields = {"urgency": "immediate", "place_code": place_code, "location": location, "category": category,
              "description": "A girl is pulled into a van", "danger": True}
    with storage.writing(tipline.db) as session:
        tip = storage.save_tip(session, reference=reference, reporter=reporter, fields=fields, now=now,
                               contact_sealed=None)
        storage.add_event(session, tip=tip, kind="escalation_requested", at=now, detail={"urgency": "immediate"})
        escalate_immediate(session, tip, now=now, outbound=tipline.outbound)
    return stored(tipline, reference)


def stored(tipline, reference: str):
    with storage.reading(tipline.db) as session:
        return storage.tip_by_reference(session, reference=reference)


def reached(tipline, reference: str) -> dict[str, str]:
    """Partner name -> escalation status, for every partner the tip went to."""
    with storage.reading(tipline.db) as session:
        tip = storage.tip_by_reference(session, reference=reference)
        escalations = storage.escalations_for_tip(session, tip_id=tip.id)
        names = storage.partner_names(session, partner_ids=[e.partner_id for e in escalations])
    return {names[e.partner_id]: e.status for e in escalations}


def queued(tipline) -> list[tuple[str | None, str, str]]:
    """(address, kind, body) of every outbox row, oldest first."""
    with storage.reading(tipline.db) as session:
        rows = sorted(storage.list_outbox(session, limit=1000), key=lambda r: r.id)
    return [(tipline.contacts.open(r.to_sealed) if r.to_sealed else None, r.kind, r.body) for r in rows]


def timeline(tipline, reference: str) -> list:
    with storage.reading(tipline.db) as session:
        return storage.tip_timeline(session, tip=storage.tip_by_reference(session, reference=reference))


def report_urgent_from_the_list(person, tipline, place_code: str, *, story: str) -> list[str]:
    """Report a child in danger now and pick `place_code` from the numbered places list.

    The report's other questions get the story or a skip, in whatever order the flow asks them;
    returns every reply the reporter got.
    """
    flow = tipline.flow
    where = {flow.say("en", spec.ask)[:30] for spec in flow.states.values() if spec.answer == "place"}
    what = {flow.say("en", spec.ask)[:20] for spec in flow.states.values() if spec.field == "description"}
    replies = person.send("hello") + person.send("1") + person.send("1")  # report, a child is in danger now
    for _ in range(12):  # a question may share an SMS with what came before it (the numbers, "kept")
        if any(asked in replies[-1] for asked in where):
            break
        replies += person.send(story if any(asked in replies[-1] for asked in what) else "0")
    else:
        raise AssertionError(f"the report never asked where: {replies}")
    replies += person.send("9")  # the numbered list
    parts = place_code.split(".")
    for depth in range(len(parts)):
        parent = ".".join(parts[:depth]) or None
        code = ".".join(parts[:depth + 1])
        pages = flow.place_pages("en", parent)
        [(page, index)] = [(n, i) for n, items in enumerate(pages) for i, p in enumerate(items, 1) if p.code == code]
        for _ in range(page):
            replies += person.send("9")  # more
        replies += person.send(str(index))
    assert stored_by_reporter(tipline).place_code == place_code, replies
    return replies


def stored_by_reporter(tipline):
    with storage.reading(tipline.db) as session:
        [tip] = session.exec(select(Tip)).all()
    return tip
