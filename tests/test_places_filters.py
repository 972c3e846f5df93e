"""Places everywhere: the queue filters by province or regency, partners cover place codes."""

from __future__ import annotations

import re

from click.testing import CliRunner
from sqlmodel import select

from tipline import storage
from tipline.cli import main
from tipline.engine import load_flow
from tipline.escalation import matches
from tipline.models import Partner, Tip

from .conftest import FLOWS, Reporter
from .dashboard_support import add_tip, at

REF = re.compile(r'href="/dashboard/tips/([A-Z0-9]{4}-[A-Z0-9]{4})"')


def test_queue_filters_by_province_or_regency(app, clock, operator):
    add_tip(app, "AAAA-2222", at=at(clock, hours=3), place_code="32.04", location="Kab. Bandung")
    add_tip(app, "BBBB-2222", at=at(clock, hours=2), place_code="32", location="Jawa Barat")
    add_tip(app, "CCCC-2222", at=at(clock, hours=1), place_code="33.74", location="Kota Semarang")
    add_tip(app, "DDDD-2222", at=at(clock, minutes=5), location="somewhere by the river")

    def shown(query: str) -> list[str]:
        response = operator.get(f"/dashboard/{query}")
        assert response.status_code == 200
        return REF.findall(response.get_data(as_text=True))

    assert shown("?place=32") == ["BBBB-2222", "AAAA-2222"]
    assert shown("?place=32.04") == ["AAAA-2222"]
    assert shown("?place=33") == ["CCCC-2222"]
    assert len(shown("")) == 4
    assert len(shown("?place=not-a-place")) == 4  # an unknown place is shown as an error and ignored
    assert 'value="32.04"' in operator.get("/dashboard/").get_data(as_text=True)


def partner(regions: list[str]) -> Partner:
    return Partner(name="p", phone="+15550100059", regions=regions)


def test_a_partner_covering_a_province_takes_its_regencies():
    flow = load_flow(FLOWS)
    tip = Tip(reference="AAAA-2222", reporter="x", urgency="immediate", place_code="32.04", location="Kab. Bandung")
    assert matches(partner(["32"]), tip, flow) and matches(partner(["32.04"]), tip, flow)
    assert not matches(partner(["33"]), tip, flow) and not matches(partner(["32.01"]), tip, flow)
    assert not matches(partner(["3"]), tip, flow)  # "3" is not a prefix of province 32
    assert matches(partner(["Bandung"]), tip, flow)  # words still match the place's name
    assert not matches(partner(["32"]), Tip(reference="B", reporter="x", location="Bandung"), flow)


def test_urgent_report_from_the_place_list_reaches_the_partner_of_that_province(app, client, tipline):
    with storage.writing(tipline.db) as session:
        for name, phone, regions in (("Jabar Org", "+15550100056", ["32"]), ("Jateng Org", "+15550100057", ["33"])):
            storage.add_partner(session, name=name, phone=phone, channel="sms", language="en", regions=regions,
                                categories=[], urgent_only=False, preference=1, now=tipline.clock())
    person = Reporter(client, "+15550100001")
    for text in ("Hello", "1", "1", "9"):  # urgent: where the child is now comes first
        person.send(text)
    pages = tipline.flow.place_pages("en", None)
    [(page_number, index)] = [(n, i) for n, page in enumerate(pages) for i, p in enumerate(page, 1) if p.code == "32"]
    for _ in range(page_number):
        person.send("9")
    person.send(str(index))  # Jawa Barat
    person.send("1")  # its first regency
    with storage.reading(tipline.db) as session:
        [tip] = session.exec(select(Tip)).all()
        reached = {storage.partner_by_id(session, partner_id=e.partner_id).name
                   for e in storage.escalations_for_tip(session, tip_id=tip.id)}
    assert tip.place_code.startswith("32.") and reached == {"Jabar Org"}


def test_partners_add_accepts_place_codes(tmp_path, monkeypatch, tipline):
    for name, value in {"TIPLINE_DATABASE_URL": tipline.settings.database_url,
                        "TIPLINE_INSTANCE_PATH": str(tipline.settings.instance_path)}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    result = runner.invoke(main, ["partners", "add", "Jabar NGO", "--phone", "+15550100058", "--region", "32",
                                  "--region", "33.74", "--region", "Bekasi"])
    assert result.exit_code == 0, result.output
    assert "32 (Jawa Barat)" in result.output and "33.74 (Kota Semarang)" in result.output
    with storage.reading(tipline.db) as session:
        assert storage.partner_by_name(session, name="Jabar NGO").regions == ["32", "33.74", "Bekasi"]
    unknown = runner.invoke(main, ["partners", "add", "Typo NGO", "--phone", "+15550100059", "--region", "32.999"])
    assert unknown.exit_code == 2 and "32.999" in unknown.output
