"""The statistics page (issue 11 item 4): words not keys, whole-number axes, a clean empty state, tips
by status, partners' time to acknowledge, open urgent tips by age, a map of provinces beside a table,
and every chart's numbers as a table."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from tipline import models, storage
from tipline.dashboard.stats.charts import integer_ticks
from tipline.dashboard.stats.tile_map import bands
from tipline.engine.check import check_flow
from tipline.engine.flow import FlowError, load_flow
from tipline.engine.place_map import load_place_map
from tipline.storage import open_urgent_by_age, partner_response_times, percentile, tip_figures

from ..dashboard_support import add_tip, at


@pytest.fixture
def app(store_app):
    """Every test here on SQLite and on PostgreSQL: the queries group by day, zone and partner."""
    return store_app


def escalation(app, reference: str, partner: str, *, sent, acknowledged=None) -> None:
    with storage.writing(app.extensions["tipline"].db) as session:
        found = storage.partner_by_name(session, name=partner)
        if found is None:
            found = models.Partner(name=partner, phone=f"+1555010{len(partner):03d}")
            session.add(found)
            session.flush()
        tip = storage.tip_by_reference(session, reference=reference)
        session.add(models.Escalation(tip_id=tip.id, partner_id=found.id, created_at=sent,
                                      acknowledged_at=acknowledged, status="acknowledged" if acknowledged else "sent"))


def page(client, query: str = "") -> str:
    response = client.get("/dashboard/statistics" + query)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def table_after(html: str, marker: str) -> list[list[str]]:
    """The rows (cells as text) of the first table after the marker."""
    table = html.partition(marker)[2].partition("<tbody>")[2].partition("</tbody>")[0]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]


# ---- numbers ------------------------------------------------------------------------------------

def test_whole_number_ticks():
    assert integer_ticks(0) == [0, 1]
    assert integer_ticks(3) == [0, 1, 2, 3]
    assert integer_ticks(7) == [0, 2, 4, 6, 8]
    assert integer_ticks(99) == [0, 20, 40, 60, 80, 100]
    for most in range(1, 500):
        ticks = integer_ticks(most)
        assert ticks[-1] >= most and len(ticks) <= 6 and all(isinstance(t, int) for t in ticks)


def test_percentiles():
    assert percentile([], 0.5) is None
    assert percentile([60.0], 0.9) == 60.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.5) == 25.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == pytest.approx(9.1)


def test_map_shades_in_whole_number_bands():
    assert bands(0) == []
    assert bands(1) == [(1, 1)]
    assert bands(3) == [(1, 1), (2, 2), (3, 3)]
    assert bands(10) == [(1, 3), (4, 5), (6, 8), (9, 10)]


def test_partner_response_times(app, clock):
    sent = at(clock, days=1)
    for n, minutes in enumerate((5, 10, 15, 20, 60)):
        add_tip(app, f"AAAA-22{n}2", at=sent, urgency="immediate")
        escalation(app, f"AAAA-22{n}2", "Rumah Aman", sent=sent, acknowledged=sent + timedelta(minutes=minutes))
    add_tip(app, "BBBB-2222", at=sent, urgency="immediate")
    escalation(app, "BBBB-2222", "Rumah Aman", sent=sent)  # never acknowledged
    add_tip(app, "CCCC-2222", at=sent, urgency="immediate")
    escalation(app, "CCCC-2222", "LBH Anak", sent=sent)
    with storage.reading(app.extensions["tipline"].db) as session:
        rows = partner_response_times(session, since=at(clock, days=2), until=clock.now)
    by_name = {row.partner: row for row in rows}
    rumah = by_name["Rumah Aman"]
    assert (rumah.sent, rumah.acknowledged) == (6, 5)
    assert rumah.median_seconds == 15 * 60
    assert rumah.p90_seconds == pytest.approx((20 + 0.6 * 40) * 60)
    assert by_name["LBH Anak"].acknowledged == 0 and by_name["LBH Anak"].median_seconds is None
    assert [row.partner for row in rows] == ["LBH Anak", "Rumah Aman"]  # acknowledged nothing: first


def test_open_urgent_tips_by_age(app, clock):
    add_tip(app, "AAAA-2222", at=at(clock, minutes=20), urgency="immediate")
    add_tip(app, "BBBB-2222", at=at(clock, hours=3), urgency="immediate", status="escalated")
    add_tip(app, "CCCC-2222", at=at(clock, days=10), urgency="immediate", status="triaged")
    add_tip(app, "DDDD-2222", at=at(clock, hours=3), urgency="immediate", status="closed")  # done
    add_tip(app, "EEEE-2222", at=at(clock, hours=3), urgency="immediate", status="acknowledged")  # in hand
    add_tip(app, "FFFF-2222", at=at(clock, hours=3))  # not urgent
    with storage.reading(app.extensions["tipline"].db) as session:
        ages = dict(open_urgent_by_age(session, now=clock.now))
    assert ages == {"under_1h": 1, "1h_6h": 1, "6h_24h": 0, "1d_3d": 0, "3d_7d": 0, "over_7d": 1}


# ---- the page -----------------------------------------------------------------------------------

def test_empty_period_says_so_in_words_without_drawing_empty_charts(operator):
    html = page(operator, "?since=2026-02-01&until=2026-02-02")
    assert "No tips arrived in this period" in html
    assert "No tips in this period" not in html  # pygal's huge clipped no-data text
    assert html.count("<svg") == 1  # only the map, every province at 0
    assert "Nothing to show for this period." in html


def test_statistics_show_words_and_tables_for_every_chart(app, clock, operator):
    add_tip(app, "AAAA-2222", at=at(clock, days=2), category="forced_labour", language="id", channel="whatsapp",
            description="anak2 disuruh kerja di kapal ikan sampe malem", location="Muara Angke")
    add_tip(app, "BBBB-2222", at=at(clock, days=1), category="forced_labour", status="triaged",
            description="ada anak kecil jualan tisu tiap malem di lampu merah")
    add_tip(app, "CCCC-2222", at=at(clock, hours=2), urgency="immediate", status="escalated",
            description="tolong ada anak perempuan dibawa pake mobil van")
    html = page(operator)
    assert "forced_labour" not in html and "forced labour" in html  # the words, not the key
    assert html.count("<details class=\"numbers\">") == html.count("aria-hidden=\"true\"") >= 6
    assert table_after(html, "<figcaption>By status") == [["new", "1"], ["triaged", "1"], ["escalated", "1"]]
    assert table_after(html, "<figcaption>Open urgent tips by age, now")[1] == ["1 to 6 hours", "1"]
    assert re.search(r'id="open-urgent">1<', html)
    assert "<script" not in html


def test_count_axes_have_whole_number_ticks(app, clock, operator):
    for n in range(3):
        add_tip(app, f"AAAA-22{n}2", at=at(clock, days=1), category="begging")
    html = page(operator)
    chart = html.partition("<figcaption>By category")[2].partition("</svg>")[0]
    labels = re.findall(r"<text[^>]*y=\"120.0\"[^>]*>([^<]*)</text>", chart)  # the count axis, at the foot
    assert labels == ["0", "1", "2", "3"]
    assert "<title>Pygal</title>" not in chart


def test_map_of_provinces_beside_a_table(app, clock, operator):
    add_tip(app, "CCCC-2222", at=clock.now, place_code="32.01", location="kab bogor deket pasar")
    add_tip(app, "DDDD-2222", at=clock.now, place_code="32", location="jabar")
    add_tip(app, "EEEE-2222", at=clock.now, place_code="51.71", location="denpasar")
    add_tip(app, "FFFF-2222", at=clock.now, location="di rumah pak rt")  # matched no place
    html = page(operator)
    tile_map = html.partition('class="tile-map"')[2].partition("</svg>")[0]
    tiles = dict(re.findall(r'data-code="(\d+)"><title>[^<]*</title>.*?<text[^>]*>\w+</text><text[^>]*>(\d+)</text>',
                            tile_map))
    assert len(tiles) == 38 and tiles["32"] == "2" and tiles["51"] == "1" and tiles["31"] == "0"
    assert "Jawa Barat: 2 tips" in tile_map
    assert table_after(html, 'class="provinces"') == [["Jawa Barat", "2"], ["Bali", "1"]]
    assert "matched no listed place: 1" in html
    assert table_after(html, "<figcaption>By regency or city") == [["Kab. Bogor", "1"], ["Kota Denpasar", "1"]]
    assert "<image" not in tile_map and "href" not in tile_map  # nothing fetched


def test_partner_response_table(app, clock, operator):
    sent = at(clock, hours=5)
    add_tip(app, "AAAA-2222", at=sent, urgency="immediate", status="acknowledged")
    escalation(app, "AAAA-2222", "Rumah Aman", sent=sent, acknowledged=sent + timedelta(minutes=12))
    html = page(operator)
    assert table_after(html, 'class="responses"') == [["Rumah Aman", "1", "1", "12 minutes", "12 minutes"]]


def test_days_are_the_deployments_local_days(app):
    """A tip at 23:30 WIB on 1 March (16:30 UTC) counts on 1 March, not on the UTC day."""
    add_tip(app, "AAAA-2222", at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC))
    add_tip(app, "BBBB-2222", at=datetime(2026, 3, 1, 17, 30, tzinfo=UTC))  # 00:30 on 2 March
    zone = ZoneInfo("Asia/Jakarta")
    with storage.reading(app.extensions["tipline"].db) as session:
        figures = tip_figures(session, since=datetime(2026, 2, 28, 17, tzinfo=UTC),
                              until=datetime(2026, 3, 2, 17, tzinfo=UTC), zone=zone)
    assert figures["per_day"] == {"2026-03-01": {"normal": 1}, "2026-03-02": {"normal": 1}}


def test_statistics_survive_odd_dates(operator):
    for query in ("?since=junk&until=2026-13-45", "?until=9999-12-31", "?since=0001-01-01",
                  "?since=2026-03-02&until=2020-01-01"):
        assert operator.get("/dashboard/statistics" + query).status_code == 200


# ---- the map's data file ----------------------------------------------------------------------

def test_every_province_has_one_tile(app):
    flow = app.extensions["tipline"].flow
    tiles = load_place_map(app.extensions["tipline"].settings.flows_path, flow.places)
    assert set(tiles) == {place.code for place in flow.places}
    assert len({(tile.col, tile.row) for tile in tiles.values()}) == len(tiles)


@pytest.mark.parametrize("change, fault", [
    (lambda tiles: tiles.pop("31"), "missing: 31"),
    (lambda tiles: tiles["31"].update(col=0, row=0), "share the square"),
    (lambda tiles: tiles["31"].update(short="Daerah Khusus Ibukota"), "short label"),
])
def test_flows_check_finds_a_broken_map(tmp_path, app, change, fault):
    source = app.extensions["tipline"].settings.flows_path
    shutil.copytree(source, tmp_path / "flows")
    path = tmp_path / "flows" / "place_map.yaml"
    raw = yaml.safe_load(path.read_text())
    change(raw["tiles"])
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(FlowError, match=fault):
        load_place_map(tmp_path / "flows", load_flow(tmp_path / "flows").places)
    assert any(fault in line for line in check_flow(tmp_path / "flows"))

