"""Typed places reach the partner of that place (issues 8 and 9): a reporter in danger types where the
child is, as people write it ("Kota Bandung", "bekasi", "kota surabaya"), and the escalation goes
through the webhook, the worker and the real twilio client to exactly the partners of that place, or to
the on-call number when no partner covers it. Never to an unrelated partner, never to nobody silently."""

from __future__ import annotations

import random

import pytest

from tests.conftest import AUTH_TOKEN, Reporter, make_settings
from tests.fake_twilio import FakeTwilio
from tipline import create_app
from tipline.storage import upgrade
from tipline.worker import Worker

from .routing_support import JABAR, ONCALL, provinces, reached, stored_by_reporter

ACCOUNT = "AC" + "4" * 32


@pytest.fixture
def fake_twilio():
    with FakeTwilio(ACCOUNT, AUTH_TOKEN) as fake:
        yield fake


@pytest.fixture
def make_tipline(tmp_path, sqlite_url, fake_twilio, clock, references):
    """A tip line sending through the fake Twilio, with West Java, Jakarta and Central Java partners."""

    def make(**overrides):
        settings = make_settings(tmp_path, sqlite_url, twilio_account_sid=ACCOUNT,
                                 twilio_api_base_url=fake_twilio.base_url, twilio_sms_from="+15550100090",
                                 send_rate_per_second=1000.0, **overrides)
        upgrade(settings.database_url)
        app = create_app(settings, clock=clock, reference_maker=references)
        tipline = app.extensions["tipline"]
        provinces(tipline)
        return app, tipline

    return make


def report_in_danger(person, typed_place: str, *, pick: str | None = None) -> list[str]:
    """Informal Indonesian: a child is in danger, the place typed as people type it; `pick` answers an
    ask-back list by choosing the line that names it."""
    replies = person.send("halo") + person.send("1") + person.send("iya ada")
    assert "112" in replies[-1]  # the emergency numbers come first, with the where question
    replies += person.send(typed_place)
    if pick is not None:
        [line] = [line for line in replies[-1].splitlines() if pick in line]
        replies += person.send(line.split()[0])
    replies += person.send("ada anak cewek ditarik masuk mobil, nangis")
    return replies


def deliver_all(tipline, clock) -> None:
    worker = Worker(tipline, sleep=lambda seconds: clock.advance(seconds=seconds), rng=random.Random(3))
    while worker.run_once():
        pass


@pytest.mark.parametrize("typed, pick, code", [
    ("Kota Bandung", None, "32.73"),
    ("kab bandung", None, "32.04"),
    ("di dkt pasar cianjur", None, "32.03"),
    ("bekasi", "Kota Bekasi", "32.75"),  # ambiguous: asked back with a numbered choice
])
def test_a_typed_west_java_place_reaches_only_the_west_java_partner(make_tipline, fake_twilio, clock, typed, pick,
                                                                     code):
    app, tipline = make_tipline()
    replies = report_in_danger(Reporter(app.test_client()), typed, pick=pick)
    tip = stored_by_reporter(tipline)
    assert tip.place_code == code and tip.routing == "partner", replies
    deliver_all(tipline, clock)
    sent = fake_twilio.sent()
    assert {r["form"]["To"] for r in sent} == {JABAR}  # not Jakarta, not Central Java
    assert all("URGENT" in r["form"]["Body"] and "5550100001" not in r["form"]["Body"] for r in sent)
    assert reached(tipline, tip.reference) == {"P2TP2A Jawa Barat": "sent"}
    tipline.db.dispose()


def test_a_typed_place_no_partner_covers_goes_to_the_on_call_number(make_tipline, fake_twilio, clock):
    app, tipline = make_tipline(oncall_number=ONCALL)
    replies = report_in_danger(Reporter(app.test_client()), "Kota Surabaya")
    tip = stored_by_reporter(tipline)
    assert tip.place_code == "35.78" and tip.routing == "oncall", replies
    deliver_all(tipline, clock)
    assert {r["form"]["To"] for r in fake_twilio.sent()} == {ONCALL}
    assert reached(tipline, tip.reference) == {}
    tipline.db.dispose()


def test_a_typed_place_nobody_covers_is_unrouted_and_the_reporter_is_not_told_it_was_passed_on(make_tipline,
                                                                                               fake_twilio, clock):
    app, tipline = make_tipline()
    replies = report_in_danger(Reporter(app.test_client()), "Kota Surabaya")
    tip = stored_by_reporter(tipline)
    assert tip.place_code == "35.78" and tip.routing == "unrouted"
    urgent_reply = replies[2]  # the answer to "iya ada": the numbers
    assert "teruskan" not in urgent_reply.lower() and "tim kami akan membaca" in urgent_reply.lower()
    deliver_all(tipline, clock)
    assert fake_twilio.sent() == []
    tipline.db.dispose()
