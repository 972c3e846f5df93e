"""A report's fields onto the tip and back (issue 12): one mapping for every writer, answers in words for
partners."""

from __future__ import annotations

from tipline.engine import load_flow
from tipline.engine.flow import FieldSpec
from tipline.report_fields import tip_values

from .conftest import FLOWS


def test_tip_values_puts_columns_apart_and_the_other_answers_in_json():
    """What the webhook's write path stores for a report as the engine hands it over (SaveTip.fields)."""
    report = {
        "urgency": "immediate", "category": "sexual_exploitation", "description": "ada anak cewek ditarik ke mobil",
        "location": "dkt pasar cianjur", "when": None, "children": "2 anak", "contact_consent": False,
        "place_code": "32.03", "media_count": 1, "complete": False, "channel": "whatsapp", "language": "id",
    }
    assert tip_values(report, load_flow(FLOWS).fields) == {
        "urgency": "immediate", "place_code": "32.03", "media_count": 1, "complete": False, "channel": "whatsapp",
        "language": "id", "category": "sexual_exploitation", "description": "ada anak cewek ditarik ke mobil",
        "location": "dkt pasar cianjur", "contact_consent": False,
        "answers": {"children": "2 anak"},  # a skipped question (when) keeps nothing
    }


def test_a_partial_report_writes_only_what_it_has():
    assert tip_values({"location": "Kota Bandung", "place_code": "32.73"}, load_flow(FLOWS).fields) == {
        "location": "Kota Bandung", "place_code": "32.73", "answers": {}}


def test_partners_read_a_yes_no_or_a_choice_in_words_and_text_clipped(tipline):
    outbound, flow = tipline.outbound, tipline.flow
    alone = FieldSpec("alone", "yes_no", partner=10)
    assert outbound.answer("id", alone, True) == flow.say("id", "summary_yes")
    assert outbound.answer("en", alone, False) == flow.say("en", "summary_no")
    assert outbound.answer("id", flow.fields["category"], "begging") == flow.say("id", "category_begging")
    assert outbound.answer("id", flow.fields["when"], "tiap malam jam 11an sampe subuh, di pinggir jalan") == (
        "tiap malam jam 11an sampe subuh, di p...")
    assert outbound.answer("en", flow.fields["when"], None) == outbound.say("en", "unknown")
