"""Actions own their rules and their record: a partner added from the command line is checked and audited
exactly as one added on the dashboard, and the two adapters refuse the same input for the same reason."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tipline import storage
from tipline.actions import COMMAND_LINE, Actor
from tipline.actions.community import poll_problem, set_idea_status
from tipline.actions.partners import PartnerInvalid, check_partner
from tipline.cli import main

from ..dashboard_support import audit_log, post


@pytest.fixture
def command_line(tipline, cli_env):
    """`tipline` run against the test's database."""
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args))


def add_on_the_dashboard(client, **fields):
    data = {"name": "Yayasan Pelita Bandung", "phone": "+1 555 010 0071", "channel": "sms", "language": "id",
            "regions": "32", "preference": "100", **fields}
    return post(client, "/dashboard/partners/new", data, token_from="/dashboard/partners/new")


def test_a_partner_added_from_the_command_line_is_audited_like_one_added_on_the_dashboard(app, admin, command_line):
    result = command_line("partners", "add", "LBH Anak Semarang", "--phone", "+15550100072", "--region", "33.74",
                          "--lang", "id")
    assert result.exit_code == 0, result.output
    assert add_on_the_dashboard(admin).status_code == 302
    entries = {entry.target: entry for entry in audit_log(app, action="partner_added")}
    cli, dashboard = entries["LBH Anak Semarang"], entries["Yayasan Pelita Bandung"]
    assert (cli.actor, dashboard.actor) == ("cli", "admin@example.org")
    assert cli.detail == {"phone": "***72", "channel": "sms", "regions": ["33.74"], "categories": [],
                          "urgent_only": False, "preference": 100}
    assert dashboard.detail == cli.detail | {"phone": "***71", "regions": ["32"]}


def test_the_command_line_and_the_dashboard_refuse_the_same_partner(app, tipline, admin, command_line):
    typo = command_line("partners", "add", "Yayasan Typo", "--phone", "+15550100073", "--region", "32.999")
    assert typo.exit_code == 2 and "no place with code 32.999" in typo.output
    page = add_on_the_dashboard(admin, name="Yayasan Typo", regions="32.999")
    assert page.status_code == 400 and "No place with code 32.999" in page.get_data(as_text=True)

    assert command_line("partners", "add", "LBH Anak Semarang", "--phone", "+15550100072").exit_code == 0
    taken = command_line("partners", "add", "LBH Anak Semarang", "--phone", "+15550100074")
    assert taken.exit_code == 1 and "exists already" in taken.output
    page = add_on_the_dashboard(admin, name="LBH Anak Semarang", phone="+15550100075")
    assert page.status_code == 400 and "A partner with this name exists already." in page.get_data(as_text=True)
    number = add_on_the_dashboard(admin, name="Yayasan Lain", phone="+1 555 010 0072")
    assert number.status_code == 400 and "Another partner has this phone number." in number.get_data(as_text=True)
    with storage.reading(tipline.db) as session:
        assert [p.name for p in storage.list_partners(session, active_only=False)] == ["LBH Anak Semarang"]
    assert [e.target for e in audit_log(app, action="partner_added")] == ["LBH Anak Semarang"]


def test_the_command_line_takes_a_place_by_its_name(tipline, command_line):
    result = command_line("partners", "add", "P2TP2A Jawa Barat", "--phone", "+15550100076", "--place", "jawa barat",
                          "--place", "Kota Semarang", "--region", "Pangandaran")
    assert result.exit_code == 0, result.output
    assert "32 (Jawa Barat)" in result.output and "33.74 (Kota Semarang)" in result.output
    with storage.reading(tipline.db) as session:
        assert storage.partner_by_name(session, name="P2TP2A Jawa Barat").regions == ["Pangandaran", "32", "33.74"]
    both = command_line("partners", "add", "Yayasan Bekasi", "--phone", "+15550100077", "--place", "Bekasi")
    assert both.exit_code == 2 and "32.16" in both.output and "32.75" in both.output
    nowhere = command_line("partners", "add", "Yayasan Atlantis", "--phone", "+15550100078", "--place", "Atlantis")
    assert nowhere.exit_code == 2 and "no place called 'Atlantis'" in nowhere.output


def test_one_validation_cleans_a_partner_and_lists_every_problem(tipline):
    flow = tipline.flow
    values = check_partner(flow, name="  Rumah   Aman ", phone="whatsapp:+1 555 010 0079", channel="whatsapp",
                           language="id", regions=[" 32 ", "everywhere", ""], categories=["online", "online"],
                           urgent_only=True, preference=5)
    assert (values.name, values.phone, values.regions, values.categories) == (
        "Rumah Aman", "+15550100079", ("everywhere",), ("online",))
    with pytest.raises(PartnerInvalid) as refused:
        check_partner(flow, name=" ", phone="bukan nomor", channel="pager", language="xx", regions=["99.99"],
                      categories=["nope"], urgent_only=False, preference=-1)
    assert [(p.field, p.code) for p in refused.value.problems] == [
        ("name", "required"), ("phone", "invalid"), ("channel", "unknown"), ("language", "unknown"),
        ("regions", "unknown_place"), ("categories", "unknown"), ("preference", "out_of_range")]
    kept = check_partner(flow, name="Rumah Aman", phone="", channel="sms", language="en", regions=[], categories=[],
                         urgent_only=False, preference=1, active=False, editing=True)
    assert (kept.phone, kept.active, kept.regions) == (None, False, ("everywhere",))
    assert "phone" not in kept.values()


def test_an_action_writes_its_audit_entry_in_the_callers_transaction(app, tipline, clock):
    with storage.writing(tipline.db) as session:
        idea = storage.add_idea(session, reporter="pseudonym-1", language="id",
                                text="Tolong ada penyuluhan di sekolah soal kerja ke luar negeri", now=clock.now)
    with pytest.raises(RuntimeError), storage.writing(tipline.db) as session:
        set_idea_status(session, COMMAND_LINE, storage.idea_by_id(session, idea_id=idea.id), "done", now=clock.now)
        raise RuntimeError("the transaction fails after the action")
    assert audit_log(app, action="idea_status_changed") == []
    with storage.writing(tipline.db) as session:
        assert set_idea_status(session, Actor.operator("op@example.org", "192.0.2.7"),
                               storage.idea_by_id(session, idea_id=idea.id), "considered", now=clock.now)
    [entry] = audit_log(app, action="idea_status_changed")
    assert (entry.actor, entry.address) == ("op@example.org", "192.0.2.7")
    assert entry.detail == {"from": "new", "to": "considered"}
    with storage.reading(tipline.db) as session:
        assert storage.idea_by_id(session, idea_id=idea.id).status == "considered"


@pytest.mark.parametrize("questions, options, code", [
    ({"id": "Di mana anak bekerja malam hari?"}, {"id": ["Pasar", "Pelabuhan"]}, None),
    ({"en": "Where?"}, {"en": ["Markets", "Ports"]}, "default_language"),
    ({"id": "Di mana?", "en": "Where?"}, {"id": ["Pasar", "Pelabuhan"]}, "question_without_options"),
    ({"id": "Di mana?", "en": "Where?"}, {"id": ["Pasar", "Pelabuhan"], "en": ["Markets"]}, "option_counts_differ"),
    ({"id": "Di mana?"}, {"id": ["Pasar"]}, "option_count"),
    ({"id": "Di mana?"}, {"id": ["Pasar", "Warung kopi di pinggir jalan dekat terminal bus malam"]}, "option_too_long"),
])
def test_a_poll_is_checked_once_for_every_adapter(questions, options, code):
    assert poll_problem(questions, options, "id") == code
