"""Urgent reports, three partners and an on-call number: what escalation tests share.

Its fixtures reach every test (tests/conftest.py registers this module as a plugin); a test module whose
settings should name the on-call number says so: `@pytest.fixture def settings(oncall_settings): ...`.
"""

from __future__ import annotations

import pytest

from tipline import storage

from .conftest import Reporter, make_settings
from .routing_support import ONCALL

EVERYWHERE = "+15550100051"
JAKARTA = "+15550100052"
SPARE = "+15550100053"
REPORTER_NUMBER = "+15550100001"


@pytest.fixture
def oncall_settings(tmp_path, sqlite_url):
    """Settings with the on-call number, which receives what no partner takes."""
    return make_settings(tmp_path, sqlite_url, oncall_number=ONCALL)


@pytest.fixture
def partners(tipline):
    with storage.writing(tipline.db) as session:
        for name, phone, regions, categories, preference in (
            ("Everywhere Org", EVERYWHERE, ["everywhere"], [], 1),
            ("Jakarta Org", JAKARTA, ["Jakarta"], [], 2),
            ("Spare Org", SPARE, ["Bali"], ["online"], 3),
        ):
            storage.add_partner(session, name=name, phone=phone, channel="sms", language="en", regions=regions,
                                categories=categories, urgent_only=False, preference=preference, now=tipline.clock())


def outbox(tipline):
    """(address, kind, body) of every queued message, oldest first."""
    with storage.reading(tipline.db) as session:
        rows = sorted(storage.list_outbox(session), key=lambda r: r.id)
    return [(tipline.contacts.open(r.to_sealed) if r.to_sealed else None, r.kind, r.body) for r in rows]


def tip_of(tipline, reference):
    with storage.reading(tipline.db) as session:
        return storage.tip_by_reference(session, reference=reference)


def urgent_report(client, *, consent: bool = True) -> tuple[Reporter, str]:
    reporter = Reporter(client, REPORTER_NUMBER)
    for text in ("hi", "1", "1"):
        reporter.send(text)
    return reporter, "TEST-2322"


def finish(reporter: Reporter, *, consent: bool) -> None:
    """The rest of an urgent report: where the child is now, what is happening, kind, how many, contact."""
    for text in ("Jl. Melati 4, Jakarta Timur", "Two girls locked in a house behind the market, a man guards the door",
                 "2", "2", "1" if consent else "2"):
        reporter.send(text)
    reporter.send("1")
