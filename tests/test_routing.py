"""Who receives an urgent tip (issue 9): partners by place code, then words; the on-call number when no
partner matches; "unrouted" for operators when there is neither, never silence."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from tests.conftest import AUTH_TOKEN, Reporter, make_settings
from tests.fake_twilio import FakeTwilio
from tipline import storage
from tipline.cli import main
from tipline.engine import load_flow
from tipline.escalation import matches, urgent_receivers
from tipline.models import Partner, Tip
from tipline.worker import Worker

from .conftest import FLOWS
from .routing_support import (
    BANDUNG,
    EVERYWHERE,
    JABAR,
    JAKARTA,
    JATENG,
    ONCALL,
    add_partner,
    provinces,
    queued,
    reached,
    report_urgent_from_the_list,
    stored,
    timeline,
    urgent_tip,
)

FLOW = load_flow(FLOWS)

# ---- the routing table: place code x partner coverage x category x urgency ---------------------------

KOTA_BANDUNG = ("32.73", "Kota Bandung")
TYPED_BANDUNG_NEAR_JAKARTA = ("32.73", "Kota Bandung, bus from Jakarta")
JAWA_BARAT = ("32", "Jawa Barat")
TYPED_ONLY = (None, "Jl. Melati 4, Jakarta Timur")
NOWHERE = (None, None)


@pytest.mark.parametrize("place, regions, expected", [
    (KOTA_BANDUNG, ["32"], True),  # the province takes its cities
    (KOTA_BANDUNG, ["31"], False),  # Jakarta
    (KOTA_BANDUNG, ["33"], False),  # Central Java
    (KOTA_BANDUNG, ["32.73"], True),  # the city itself
    (KOTA_BANDUNG, ["32.04"], False),  # Kab. Bandung is another place
    (KOTA_BANDUNG, ["3"], False),  # not a prefix of a code
    (KOTA_BANDUNG, ["Jawa Barat"], True),  # a word naming the province
    (KOTA_BANDUNG, ["Bandung"], True),  # a word naming the city
    (KOTA_BANDUNG, ["Jakarta"], False),
    (TYPED_BANDUNG_NEAR_JAKARTA, ["Jakarta"], False),  # with a place code, other typed words do not route
    (JAWA_BARAT, ["32.73"], False),  # a city's partner does not take the whole province
    (JAWA_BARAT, ["32"], True),
    (TYPED_ONLY, ["Jakarta"], True),  # no code: words in what was typed
    (TYPED_ONLY, ["31"], False),  # no code: a code cannot match
    (TYPED_ONLY, ["Bandung"], False),
    (NOWHERE, ["32"], False),
    (NOWHERE, ["everywhere"], True),
    (KOTA_BANDUNG, ["everywhere"], True),
])
@pytest.mark.parametrize("urgency", ["immediate", "normal"])
def test_place_coverage(place, regions, expected, urgency):
    code, location = place
    tip = Tip(reference="AAAA-2222", reporter="x", urgency=urgency, place_code=code, location=location)
    assert matches(Partner(name="p", phone="+15550100059", regions=regions), tip, FLOW) is expected


@pytest.mark.parametrize("partner_categories, urgent_only, active, category, urgency, expected", [
    ([], False, True, "forced_labour", "normal", True),  # every kind
    (["forced_labour"], False, True, "forced_labour", "normal", True),
    (["forced_labour"], False, True, "sexual_exploitation", "immediate", False),
    (["forced_labour"], False, True, None, "immediate", True),  # kind not known yet: it may be theirs
    ([], True, True, "online", "normal", False),  # urgent only
    ([], True, True, "online", "immediate", True),
    ([], False, False, "online", "immediate", False),  # deactivated
])
def test_category_urgency_and_active(partner_categories, urgent_only, active, category, urgency, expected):
    partner = Partner(name="p", phone="+15550100059", regions=["32"], categories=partner_categories,
                      urgent_only=urgent_only, active=active)
    tip = Tip(reference="AAAA-2222", reporter="x", urgency=urgency, category=category, place_code="32.73")
    assert matches(partner, tip, FLOW) is expected


# ---- routing stored tips -----------------------------------------------------------------------------

@pytest.fixture
def settings(tmp_path, sqlite_url):
    return make_settings(tmp_path, sqlite_url, oncall_number=ONCALL)


def test_a_kota_bandung_tip_reaches_only_the_west_java_partner(tipline):
    provinces(tipline)
    tip = urgent_tip(tipline, "TEST-2222", place_code="32.73", location="Kota Bandung")
    assert reached(tipline, "TEST-2222") == {"P2TP2A Jawa Barat": "sent"}
    addresses = [address for address, kind, _ in queued(tipline)]
    assert addresses == [JABAR, ONCALL] and JAKARTA not in addresses and JATENG not in addresses
    assert tip.status == "escalated" and tip.routing == "partner"
    assert timeline(tipline, "TEST-2222")[-1].detail == {"to": "partner", "partners": ["P2TP2A Jawa Barat"],
                                                         "oncall": True}


def test_receivers_by_preference_and_the_same_rule_for_telling_the_reporter(tipline):
    provinces(tipline)
    add_partner(tipline, "Bandung NGO", BANDUNG, ["32.73"], preference=1)
    add_partner(tipline, "Online only", EVERYWHERE, ["everywhere"], categories=["online"])
    with storage.reading(tipline.db) as session:
        kota_bandung = Tip(reference="X", reporter="x", urgency="immediate", place_code="32.73", category="begging")
        receivers = urgent_receivers(session, kota_bandung, outbound=tipline.outbound)
        bali = Tip(reference="Y", reporter="x", urgency="immediate", place_code="51", category="begging")
        nowhere = urgent_receivers(session, bali,
                                   outbound=tipline.outbound)
    assert [p.name for p in receivers.partners] == ["Bandung NGO", "P2TP2A Jawa Barat"]
    assert receivers.oncall == ONCALL and receivers.anyone
    assert nowhere.partners == () and nowhere.anyone  # Bali: nobody but the on-call number


def test_no_partner_goes_to_the_on_call_number_and_says_so(tipline):
    provinces(tipline)
    tip = urgent_tip(tipline, "TEST-2222", place_code="51.71", location="Kota Denpasar")
    assert reached(tipline, "TEST-2222") == {}
    assert [(address, kind) for address, kind, _ in queued(tipline)] == [(ONCALL, "escalation"), (ONCALL, "alert")]
    assert "matches no partner" in queued(tipline)[1][2]
    assert tip.routing == "oncall" and tip.status == "new"


def test_a_place_named_later_brings_the_partner_of_that_place(tipline):
    provinces(tipline)
    urgent_tip(tipline, "TEST-2222")  # danger is the first question: no place yet
    assert stored(tipline, "TEST-2222").routing == "oncall"
    from tipline.escalation import after_save

    with storage.writing(tipline.db) as session:
        tip = storage.save_tip(session, reference="TEST-2222", reporter="pseudonym-urgent",
                               fields={"place_code": "32.73", "location": "Kota Bandung"}, now=tipline.clock(),
                               contact_sealed=None)
        after_save(session, tip, now=tipline.clock(), outbound=tipline.outbound)
    assert reached(tipline, "TEST-2222") == {"P2TP2A Jawa Barat": "sent"}
    assert stored(tipline, "TEST-2222").routing == "partner"
    assert [a for a, _, _ in queued(tipline)].count(ONCALL) == 2  # its copy and the alert, once each


# ---- unrouted: no partner and no on-call number -------------------------------------------------------

@pytest.fixture
def unrouted(app, clock):
    """Partners elsewhere only, no on-call number: an urgent Kota Bandung report reaches nobody."""
    tipline = app.extensions["tipline"]
    object.__setattr__(tipline.settings, "oncall_number", None)
    add_partner(tipline, "Polda Jawa Tengah", JATENG, ["33"])
    urgent_tip(tipline, "TEST-2222", place_code="32.73", location="Kota Bandung")
    return tipline


def test_unrouted_is_stored_and_said_in_words_in_the_timeline(unrouted, operator):
    tip = stored(unrouted, "TEST-2222")
    assert tip.routing == "unrouted" and queued(unrouted) == []
    assert timeline(unrouted, "TEST-2222")[-1].detail == {"to": "unrouted"}
    html = operator.get("/dashboard/tips/TEST-2222").get_data(as_text=True)
    timeline_html = html.partition('id="timeline-title"')[2]
    assert "UNROUTED: no partner matches this tip and no on-call number is set" in timeline_html
    assert "Unrouted: nobody received this urgent tip." in html  # at the top of the page too
    indonesian = operator.get("/dashboard/tips/TEST-2222", headers={"Accept-Language": "id"}).get_data(as_text=True)
    assert "TIDAK TERSALURKAN" in indonesian


def test_unrouted_is_pinned_first_in_the_queue_with_a_label(app, unrouted, operator, clock):
    from .dashboard_support import add_tip, at

    add_tip(app, "OLDR-2222", at=at(clock, days=1), urgency="immediate")  # an older emergency, routed or not
    html = operator.get("/dashboard/").get_data(as_text=True)
    nobody = html.partition('id="new-urgent-title"')[0]  # the section before the other open emergencies
    assert 'class="pinned nobody"' in nobody and "TEST-2222" in nobody and "OLDR-2222" not in nobody
    assert "UNROUTED: nobody received it" in nobody
    assert html.index("TEST-2222") < html.index("OLDR-2222")  # first of all, though newer


def test_unrouted_is_listed_first_by_outbox_list(unrouted, monkeypatch):
    for name, value in {"TIPLINE_DATABASE_URL": unrouted.settings.database_url,
                        "TIPLINE_INSTANCE_PATH": str(unrouted.settings.instance_path)}.items():
        monkeypatch.setenv(name, value)
    text = CliRunner().invoke(main, ["outbox", "list"])
    assert text.exit_code == 0, text.output
    assert text.output.startswith("WARNING: 1 urgent tip(s) reached nobody")
    assert "TEST-2222" in text.output and "unrouted: no partner matches and no on-call number is set" in text.output
    rows = json.loads(CliRunner().invoke(main, ["outbox", "list", "--json"]).output)
    assert rows[0]["tip"] == "TEST-2222" and rows[0]["status"] == "unrouted" and rows[0]["id"] is None
    only_sent = json.loads(CliRunner().invoke(main, ["outbox", "list", "--json", "--status", "sent"]).output)
    assert only_sent == []


def test_escalating_an_unrouted_tip_unpins_it(app, unrouted, operator):
    from .dashboard_support import post

    partner_id = add_partner(unrouted, "Rescue NGO", BANDUNG, ["Sulawesi"])
    url = "/dashboard/tips/TEST-2222"
    assert post(operator, f"{url}/escalate", {"partner": partner_id}, token_from=url).status_code == 302
    assert stored(unrouted, "TEST-2222").routing == "partner"
    html = operator.get("/dashboard/").get_data(as_text=True)
    assert 'id="nobody-title"' not in html  # now waiting for the partner's ACK, with the other emergencies
    assert "TEST-2222" in html.partition('id="waiting-title"')[2].partition('id="all-title"')[0]


# ---- end to end: a reporter, the webhook, the worker, the real twilio client, a fake Twilio ----------

ACCOUNT = "AC" + "3" * 32


@pytest.fixture
def fake_twilio():
    with FakeTwilio(ACCOUNT, AUTH_TOKEN) as fake:
        yield fake


def test_an_urgent_report_from_west_java_reaches_only_the_west_java_partner(tmp_path, sqlite_url, fake_twilio,
                                                                             clock, references):
    from tipline import create_app
    from tipline.storage import upgrade

    settings = make_settings(tmp_path, sqlite_url, twilio_account_sid=ACCOUNT, twilio_api_base_url=fake_twilio.base_url,
                             twilio_sms_from="+15550100090", send_rate_per_second=1000.0)
    upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references)
    tipline = app.extensions["tipline"]
    provinces(tipline)
    add_partner(tipline, "Jakarta words", BANDUNG, ["Jakarta"])  # a word region of another province
    person = Reporter(app.test_client(), "+15550100001")
    replies = report_urgent_from_the_list(person, tipline, "32.73", story="Ada anak perempuan ditarik ke mobil")
    assert any("112" in reply for reply in replies)  # the emergency numbers came first
    runner = Worker(tipline, sleep=lambda seconds: clock.advance(seconds=seconds), rng=random.Random(1))
    while runner.run_once():
        pass
    sent = fake_twilio.sent()
    assert {r["form"]["To"] for r in sent} == {JABAR}
    [message] = [r["form"]["Body"] for r in sent]
    assert "URGENT" in message and "Kota Bandung" in message and "5550100001" not in message
    tip = stored(tipline, "TEST-2322")
    assert tip.routing == "partner" and reached(tipline, "TEST-2322") == {"P2TP2A Jawa Barat": "sent"}
    tipline.db.dispose()


def test_a_partner_account_sees_an_urgent_tip_pinned_as_usual(app, unrouted, partner):  # noqa: F811
    from .dashboard_support import escalate

    escalate(app, "TEST-2222", "Rumah Aman")  # the partner account's organisation has it on the dashboard
    html = partner.get("/dashboard/").get_data(as_text=True)
    assert 'class="pinned nobody"' not in html and "nobody received" not in html
    assert "TEST-2222" in html.partition('id="waiting-title"')[2].partition('id="all-title"')[0]
