"""`tipline flows check` passes on flows/ and catches each kind of fault in a broken copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tipline.engine import gsm, load_flow
from tipline.engine.check import REPORT_BUDGET, check_flow, report_cost
from tipline.engine.flow import _Loader as YamlLoader

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def test_shipped_flows_pass():
    assert check_flow(FLOWS) == []


@pytest.mark.parametrize("language", ["en", "id"])
@pytest.mark.parametrize("danger", [False, True])
def test_a_complete_report_fits_the_segment_budget(language, danger):
    assert report_cost(load_flow(FLOWS), language, danger=danger) <= REPORT_BUDGET


def test_gsm_rules():
    assert gsm.is_gsm7("Halo! Jalan Mawar no. 3 @ 10:00 {x} [y] ~ €")
    assert not gsm.is_gsm7("Don\u2019t")  # a curly apostrophe
    assert gsm.segments("a" * 160) == 1 and gsm.segments("a" * 161) == 2
    assert gsm.segments("a" * 306) == 2 and gsm.segments("a" * 307) == 3
    assert gsm.segments("[" * 80) == 1 and gsm.segments("[" * 81) == 2  # extension characters count twice
    assert gsm.segments("\U0001F600" + "a" * 68) == 1 and gsm.segments("\U0001F600" + "a" * 69) == 2
    assert gsm.segments("") == 0


@pytest.fixture
def broken(tmp_path):
    target = tmp_path / "flows"
    shutil.copytree(FLOWS, target)
    return target


def edit(path: Path, change):
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=YamlLoader)  # keeps YES and NO as words
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_missing_message_in_one_language(broken):
    edit(broken / "messages" / "id.yaml", lambda d: d["messages"].pop("ask_when"))
    assert any("id.yaml: message 'ask_when' is missing" in f for f in check_flow(broken))


def test_emoji_and_curly_quotes_are_refused(broken):
    edit(broken / "messages" / "en.yaml", lambda d: d["messages"].update(exit="Bye \U0001F44B, don\u2019t worry"))
    faults = check_flow(broken)
    assert any("'exit': not GSM-7" in f for f in faults)


def test_message_longer_than_two_segments_is_refused(broken):
    edit(broken / "messages" / "en.yaml", lambda d: d["messages"].update(add_usage="word " * 70))
    assert any("'add_usage': 3 SMS segments" in f for f in check_flow(broken))


def test_report_over_budget_is_refused(broken):
    long = "Please tell us where this happened, as precisely as you can: village, district, street. " * 2
    edit(broken / "messages" / "en.yaml", lambda d: d["messages"].update(ask_where=long[:300], ask_when=long[:300]))
    assert any("complete report" in f and "segments" in f for f in check_flow(broken))


def test_unreachable_state_is_refused(broken):
    def add_orphan(d):
        d["states"]["orphan"] = {"ask": "menu", "answer": "menu", "options": {"1": "menu"}}
    edit(broken / "flow.yaml", add_orphan)
    faults = check_flow(broken)
    assert len(faults) == 1 and "orphan" in faults[0]


def test_transition_to_undefined_state_is_refused(broken):
    edit(broken / "flow.yaml", lambda d: d["states"]["menu"]["options"].update({"5": "nowhere"}))
    assert check_flow(broken) == [f"{broken / 'flow.yaml'}: state 'menu' leads to undefined state 'nowhere'"]


def test_unknown_placeholder_is_refused(broken):
    edit(broken / "messages" / "id.yaml", lambda d: d["messages"].update(exit="Selesai {nama}"))
    assert any("'exit' uses unknown placeholder(s) ['nama']" in f for f in check_flow(broken))


def test_fewer_lessons_in_one_language(broken):
    edit(broken / "messages" / "id.yaml", lambda d: d.update(lessons=d["lessons"][:5]))
    faults = check_flow(broken)
    assert any("5 lessons; at least 6" in f for f in faults)


def test_missing_keyword_is_refused(broken):
    edit(broken / "messages" / "id.yaml", lambda d: d["keywords"].pop("EXIT"))
    assert check_flow(broken) == [f"{broken / 'messages' / 'id.yaml'}: keywords.EXIT is missing"]


def test_invalid_yaml_is_a_clear_fault(broken):
    (broken / "flow.yaml").write_text("states: [unclosed", encoding="utf-8")
    faults = check_flow(broken)
    assert len(faults) == 1 and "not valid YAML" in faults[0]


def test_a_long_service_name_is_checked_too():
    faults = check_flow(FLOWS, service_name="The National Child Protection Community Reporting Service")
    # The partners' escalation has its frame at the longest: too little room is left for the description.
    assert len(faults) == 1 and faults[0].startswith("outbound.yaml: id.escalation: 4 SMS segments")
    longer = check_flow(FLOWS, service_name="The National Child Protection Community Reporting and Referral Service")
    assert any("messages/id.yaml: 'join_explain': 3 SMS segments" in f for f in longer)
    assert all("SMS segments" in f for f in longer)


def test_side_files_must_be_complete_and_gsm(broken):
    edit(broken / "outbound.yaml", lambda d: d["id"].pop("info"))
    edit(broken / "community.yaml", lambda d: d["en"].update(poll_thanks="Thanks \U0001F64F"))
    faults = check_flow(broken)
    assert "outbound.yaml: id.info is missing" in faults
    assert any(f.startswith("community.yaml: en.poll_thanks: not GSM-7") for f in faults)


# ---- the words files: outbound.yaml and community.yaml (issue 9) ------------------------------------

def flows_check(folder: Path, tmp_path: Path):
    from click.testing import CliRunner

    from tipline.cli import main

    return CliRunner().invoke(main, ["flows", "check"], env={"TIPLINE_FLOWS_PATH": str(folder),
                                                             "TIPLINE_INSTANCE_PATH": str(tmp_path / "instance")})


@pytest.mark.parametrize("name, language, key, right, typo", [
    ("outbound.yaml", "en", "escalation", "{children}", "{chldren}"),
    ("outbound.yaml", "id", "escalation", "{children}", "{chldren}"),
    ("outbound.yaml", "id", "timeout_alert", "{partner}", "{mitra}"),
    ("community.yaml", "en", "poll", "{question}", "{qestion}"),
    ("community.yaml", "id", "poll_thanks", "{choice}", "{pilihan}"),
])
def test_a_broken_placeholder_in_a_words_file_fails_flows_check(broken, tmp_path, name, language, key, right, typo):
    edit(broken / name, lambda d: d[language].update({key: d[language][key].replace(right, typo)}))
    result = flows_check(broken, tmp_path)
    assert result.exit_code == 1
    assert f"{name}: {language}.{key}: uses unknown placeholder(s) ['{typo[1:-1]}']" in result.output


def test_words_files_are_complete_and_only_hold_messages_the_tip_line_sends(broken):
    edit(broken / "outbound.yaml", lambda d: (d["id"].pop("done_done"), d["en"].update(thanks_partner="Thanks")))
    edit(broken / "community.yaml", lambda d: d.pop("id"))
    faults = check_flow(broken)
    assert "outbound.yaml: id.done_done is missing" in faults
    assert "outbound.yaml: en.thanks_partner is not a message the tip line sends" in faults
    assert "community.yaml: no section for language 'id'" in faults


def test_a_words_message_may_use_the_deployments_numbers_and_must_fit_its_segments(broken):
    edit(broken / "outbound.yaml", lambda d: d["en"].update(usage="Call {police} or reply ACK and the reference."))
    assert check_flow(broken) == []
    edit(broken / "outbound.yaml", lambda d: d["en"].update(ack_done="{reference} " + "thank you " * 40))
    assert any(f.startswith("outbound.yaml: en.ack_done: 3 SMS segments") for f in check_flow(broken))


def test_the_code_supplies_exactly_the_declared_placeholders(broken):
    from tipline.engine.words import Words

    flow = load_flow(broken)
    words = Words.load(broken, "outbound.yaml", flow)
    assert words.say("id", "done_done", reference="TEST-2222").startswith("Terima kasih. Hasil untuk laporan TEST-2222")
    with pytest.raises(TypeError, match="done_done"):
        words.say("en", "done_done", reference="TEST-2222", note="extra")
    edit(broken / "outbound.yaml", lambda d: d["id"].update(done_done="Terima kasih {nama}"))
    words = Words.load(broken, "outbound.yaml", load_flow(broken))
    # A broken translation falls back to English at run time (and fails the check before that).
    assert words.say("id", "done_done", reference="TEST-2222").startswith("Thank you. The outcome for tip TEST-2222")


@pytest.mark.parametrize("language", ["en", "id"])
def test_a_report_with_the_place_picked_from_the_list_fits_its_budget(language):
    from tipline.engine.check import PLACE_LIST_BUDGET

    flow = load_flow(FLOWS)
    for danger in (False, True):
        picked = report_cost(flow, language, danger=danger, place="picked")
        typed = report_cost(flow, language, danger=danger, place="typed")
        assert typed <= REPORT_BUDGET and picked <= REPORT_BUDGET + PLACE_LIST_BUDGET and picked > typed


def test_an_answer_word_claimed_by_two_meanings_is_refused(broken):
    edit(broken / "messages" / "id.yaml", lambda d: d["keywords"]["NO"].append("IYAA"))  # IYA is YES
    assert any("'IYA' is claimed by ['NO', 'YES']" in f for f in check_flow(broken))


def test_a_number_word_that_is_also_an_answer_is_refused(broken):
    edit(broken / "messages" / "en.yaml", lambda d: d["numbers"].update({"OK": 3}))
    assert any("'OK' is claimed by ['3', 'YES']" in f for f in check_flow(broken))


def test_a_command_used_as_an_answer_or_a_panic_word_is_refused(broken):
    edit(broken / "messages" / "en.yaml", lambda d: d["keywords"]["YES"].append("MENU"))
    edit(broken / "messages" / "id.yaml", lambda d: d["panic"].append("BANTUAN"))
    faults = check_flow(broken)
    assert any("'MENU' is both the command MENU and an answer" in f for f in faults)
    assert any("panic word 'BANTUAN' is also the command HELP" in f for f in faults)


def test_question_words_must_name_a_question_and_not_clash(broken):
    def change(d):
        d["question_words"]["ask_nothing"] = {"YES": ["AMAN"]}
        d["question_words"]["ask_contact"]["NO"].append("AMAN")
    edit(broken / "messages" / "id.yaml", change)
    faults = check_flow(broken)
    assert any("question_words.ask_nothing names no question" in f for f in faults)
    assert any("question_words.ask_contact: 'AMAN' is claimed by ['NO', 'YES']" in f for f in faults)


def test_every_numbered_question_needs_its_one_line_again_message(broken):
    edit(broken / "messages" / "en.yaml", lambda d: d["messages"].pop("ask_danger_again"))
    assert any("en.yaml: message 'ask_danger_again' is missing" in f for f in check_flow(broken))


def test_new_engine_messages_are_checked_like_the_others(broken):
    edit(broken / "messages" / "id.yaml",
         lambda d: d["messages"].update(urgent_unrouted="Telepon {emergency} \u2014 sekarang"))
    edit(broken / "messages" / "en.yaml", lambda d: d["messages"].pop("stopped"))
    faults = check_flow(broken)
    assert any("'urgent_unrouted': not GSM-7" in f for f in faults)
    assert any("en.yaml: message 'stopped' is missing" in f for f in faults)


def test_place_words_must_be_well_formed(broken):
    (broken / "place_words.yaml").write_text("kinds: {town: [KOTA]}\n", encoding="utf-8")
    assert any("place_words.yaml" in f and "'kinds'" in f for f in check_flow(broken))


# ---- report fields and state roles (issue 12) ------------------------------------------------------

@pytest.mark.parametrize("change, fault", [
    (lambda d: d["fields"].pop("when"), "state 'report_when' keeps 'when', which 'fields' does not declare"),
    (lambda d: d["fields"]["children"].update(kind="choice"),
     "state 'report_count' takes a text answer, but field 'children' is a choice"),
    (lambda d: d["fields"]["when"].update(role="danger"), "two fields have the role 'danger'"),
    (lambda d: d["fields"]["description"].pop("role"), "no field has the role story"),
    (lambda d: d["fields"]["when"].update(shown=True), "field 'when' has unknown key(s) ['shown']"),
    (lambda d: d["fields"]["when"].update(partner="lots"), "field 'when': partner is a number of characters"),
    (lambda d: d.update(confirm="report_count"), "the confirm state 'report_count' has no option that does submit"),
    (lambda d: d.update(confirm="report_sent"), "confirm state 'report_sent' is not defined"),
    (lambda d: d.pop("help") and d["states"].pop("help") and d["states"]["menu"]["options"].pop("3"),
     "the flow needs a 'help' state"),
])
def test_fields_and_roles_are_checked(broken, change, fault):
    edit(broken / "flow.yaml", change)
    faults = check_flow(broken)
    assert any(fault in f for f in faults), faults


def test_a_column_the_tip_does_not_have_is_refused(broken):
    """`column: true` only for the fields the tip has a column for; the rest live in its answers."""
    from tipline.report_fields import column_faults

    edit(broken / "flow.yaml", lambda d: d["fields"]["when"].update(column=True))
    assert column_faults(load_flow(broken).fields) == [
        "flow.yaml: field 'when' is declared a column, but the tip has columns only for category, description, "
        "location, contact_consent; leave `column` out to keep it in the tip's answers"]
    assert column_faults(load_flow(FLOWS).fields) == []


def test_the_report_is_read_from_the_flow_not_from_state_names(broken):
    """Renamed states keep working: the report is what `report` and `urgent` lead to."""
    text = (broken / "flow.yaml").read_text(encoding="utf-8")
    (broken / "flow.yaml").write_text(text.replace("report_", "lapor_").replace("urgent_", "darurat_"),
                                      encoding="utf-8")
    flow = load_flow(broken)
    assert flow.report_states == {"lapor_danger", "darurat_where", "darurat_what", "lapor_what", "lapor_kind",
                                  "lapor_where", "lapor_when", "lapor_count", "lapor_contact", "lapor_confirm"}
    assert flow.roles["confirm"] == "lapor_confirm"
    assert check_flow(broken) == []
