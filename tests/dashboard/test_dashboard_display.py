"""Values as people read them: words instead of stored codes, times in the deployment's zone, errors in
the page's language (issue 11, items 5 and 6)."""

from __future__ import annotations

import shutil

import pytest

from tipline.engine.flow import FlowError, load_flow
from tipline.settings import SettingsError

from ..conftest import FLOWS, make_settings
from ..dashboard_support import add_tip, at, client_for, make_user, post, visible_text

INDONESIAN = {"Accept-Language": "id-ID,id;q=0.9"}


@pytest.fixture
def tips(app, clock):
    # 07:00 UTC is 14:00 in Jakarta (WIB, UTC+7); the clock says 09:00 UTC (16:00 WIB).
    add_tip(app, "KRJ7-PKSA", at=at(clock, hours=2), urgency="immediate", category="forced_labour",
            status="escalated", description="anak2 disuruh kerja di pabrik sampe malem", location="Cikarang",
            channel="whatsapp", language="id")
    # 18:00 UTC on 1 March is 01:00 WIB on 2 March: a Jakarta operator's 2 March.
    add_tip(app, "MLM4-NYKR", at=at(clock, hours=15), category="child_marriage",
            description="tetangga mau nikahin anaknya yg baru 14 thn", location="Garut")


def test_times_are_shown_in_the_deployment_zone_with_its_abbreviation(app, operator, tips):
    page = operator.get("/dashboard/tips/KRJ7-PKSA").get_data(as_text=True)
    assert "2026-03-02 14:00 WIB" in page
    assert "07:00 UTC" not in page and "Times are in WIB" in page


def test_the_timezone_setting_overrides_the_deployment(make_app, clock):
    app = make_app(timezone="Asia/Makassar")
    add_tip(app, "WTA8-MKSR", at=at(clock, hours=2), description="ada anak dijual di pelabuhan")
    make_user(app, "ops@example.org", "operator")
    page = client_for(app, "ops@example.org").get("/dashboard/tips/WTA8-MKSR").get_data(as_text=True)
    assert "2026-03-02 15:00 WITA" in page and "WIB" not in page


def test_an_unknown_timezone_is_refused_at_start(tmp_path, sqlite_url):
    with pytest.raises(SettingsError, match="TIPLINE_TIMEZONE"):
        make_settings(tmp_path, sqlite_url, timezone="Asia/Atlantis")


def test_an_unknown_timezone_in_the_flows_is_a_flow_error(tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS, flows)
    deployment = flows / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("timezone: Asia/Jakarta", "timezone: Jawa/Barat"))
    with pytest.raises(FlowError, match="timezone"):
        load_flow(flows)
    assert load_flow(FLOWS).timezone == "Asia/Jakarta"


def test_a_day_in_the_filters_is_a_local_day(operator, tips):
    page = operator.get("/dashboard/?since=2026-03-02&until=2026-03-02").get_data(as_text=True)
    assert "MLM4-NYKR" in page and "KRJ7-PKSA" in page  # 01:00 WIB on 2 March is 2 March
    page = operator.get("/dashboard/?until=2026-03-01").get_data(as_text=True)
    assert "MLM4-NYKR" not in page


def test_exports_stay_utc(app, admin, tips):
    response = post(admin, "/dashboard/export", {"format": "json"})
    assert '"created_at": "2026-03-02T07:00:00Z"' in response.get_data(as_text=True).replace('":"', '": "')


def test_values_are_words_in_the_page_language(operator, tips):
    page = visible_text(operator.get("/dashboard/", headers=INDONESIAN).get_data(as_text=True))
    for words in ("kerja paksa", "nikah anak/dini", "diteruskan ke mitra", "bahaya sekarang", "Bahasa Indonesia",
                  "WhatsApp"):
        assert words in page
    for code in ("forced_labour", "child_marriage", "escalated", "whatsapp"):
        assert code not in page
    english = visible_text(operator.get("/dashboard/").get_data(as_text=True))
    assert "forced labour" in english and "child marriage" in english


def test_form_errors_are_in_the_page_language(admin):
    response = post(admin, "/dashboard/partners/new", {"name": "", "phone": "", "channel": "sms", "language": "id",
                                                     "preference": "banyak"}, token_from="/dashboard/partners/new")
    assert response.status_code == 400
    english = response.get_data(as_text=True)
    assert "This field is required." in english and "Not a valid integer value." in english
    admin.post("/dashboard/language", data={"lang": "id", "csrf_token": _token(admin)})
    response = post(admin, "/dashboard/partners/new", {"name": "", "phone": "", "channel": "sms", "language": "id",
                                                     "preference": "banyak"}, token_from="/dashboard/partners/new")
    indonesian = response.get_data(as_text=True)
    assert "Kolom ini wajib diisi." in indonesian and "Bukan bilangan bulat yang valid." in indonesian
    assert "This field is required." not in indonesian


def _token(client) -> str:
    from ..dashboard_support import csrf_token

    return csrf_token(client, "/dashboard/")
