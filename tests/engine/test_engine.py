"""The engine on its own: no Flask, no database, a fixed clock. What a reporter can rely on."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

from tipline.engine import (
    AddToTip,
    Conversation,
    DiscardTip,
    Escalate,
    ForgetContact,
    SaveTip,
    parse_reference,
)
from tipline.engine.reference import ALPHABET, new_reference

from ..engine_support import Talk, Tips, to_where

ENGINE = Path(__file__).resolve().parents[2] / "tipline" / "engine"


def test_engine_imports_no_web_storage_or_twilio_library():
    forbidden = {"flask", "sqlmodel", "sqlalchemy", "twilio", "werkzeug", "psycopg"}
    for path in ENGINE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"


def test_any_first_message_gets_the_welcome_and_the_main_menu(flow):
    for first in ("hello", "1", "", "what is this?", "\U0001F600"):
        replies = Talk(flow).send(first)
        assert len(replies) == 1
        assert "1 " in replies[0] and "2 " in replies[0] and "3 " in replies[0]


def test_first_message_language_is_detected_and_defaults_to_the_deployment(flow):
    assert Talk(flow).send("Hello")[0].endswith("5 Join the watch")
    assert "Balas angka" in Talk(flow).send("Halo, saya mau lapor")[0]
    assert "Balas angka" in Talk(flow).send("xyz")[0]  # deployment default: Indonesian


def test_danger_first_yes_gives_numbers_at_once_and_escalates_before_other_questions(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    assert "danger right now" in talk.send("1")[0]
    replies = talk.send("1")
    assert "112" in replies[0] and "110" in replies[0]  # emergency numbers come first
    assert replies[0].index("112") < replies[0].index("Where is the child now?")  # then where, in one SMS
    assert len(replies) == 1 and "passing this on now" in replies[0]
    kinds = [type(e) for e in talk.last_events]
    assert kinds == [SaveTip, Escalate]
    saved = talk.last_events[0]
    assert saved.fields["urgency"] == "immediate" and saved.fields["complete"] is False
    assert talk.last_events[1].reference == saved.reference


def test_complete_report_in_contract_order_with_summary_and_reference(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    talk.send("1")
    assert "What happened?" in talk.send("2")[0]
    assert "What is it about?" in talk.send("Two girls work at the karaoke bar at night")[0]
    assert "Where" in talk.send("2")[0]
    assert "When" in talk.send("Jalan Melati 5, Kota Bogor")[0]
    assert "How many" in talk.send("yesterday")[0]
    assert "safe for us to text you" in talk.send("2")[0]
    summary = talk.send("yes")[0]
    assert "Two girls work at the karaoke" in summary and "Sexual exploitation" in summary
    assert "Jalan Melati 5, Kota Bogor" in summary and "Text you: yes" in summary
    final = talk.send("1")
    reference = talk.saved()[-1].reference
    assert reference in final[0]
    assert parse_reference(reference) == reference
    fields = talk.saved()[-1].fields
    assert fields == {
        "urgency": "normal", "category": "sexual_exploitation",
        "description": "Two girls work at the karaoke bar at night", "location": "Jalan Melati 5, Kota Bogor",
        "when": "yesterday", "children": "2", "contact_consent": True, "place_code": "32.71", "media_count": 0,
        "complete": True,
        "channel": "sms", "language": "en",
    }
    assert talk.conversation.tip is None and talk.conversation.answers == {}


def test_every_question_can_be_skipped(flow):
    talk = Talk(flow, language="id")
    talk.send("halo")
    talk.send("1")
    for skip in ("0", "lewati", "0", "SKIP", "0", "0"):
        talk.send(skip)
    assert talk.conversation.state == "report_contact"
    talk.send("2")
    assert talk.conversation.state == "report_confirm"
    final = talk.send("1")
    assert "Kode laporan:" in final[0]
    assert talk.saved()[-1].fields["complete"] is True


def test_numbered_question_answered_with_a_story_keeps_the_words(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    talk.send("1")
    replies = talk.send("there is a boy locked in the house next to the mosque")
    assert replies == ["Thank you, we added your words to the report.\n"
                       "Is a child in danger right now? Reply 1 Yes, 2 No or 0 Skip."]  # asked again, briefly
    assert talk.saved()[-1].fields["description"] == "there is a boy locked in the house next to the mosque"


def test_unrecognised_short_answer_asks_again(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    replies = talk.send("9")
    assert replies == ["Please reply a number from 1 to 5. MENU shows the menu."]  # one line, not the menu
    assert talk.conversation.state == "menu"


def test_exit_discards_an_unfinished_report_and_forgets_contact(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    talk.send("1")
    talk.send("2")
    talk.send("Something I saw")
    reference = talk.saved()[-1].reference
    replies = talk.send("exit")
    assert replies == [flow.say("en", "exit")]
    assert DiscardTip(reference) in talk.last_events and ForgetContact() in talk.last_events
    assert talk.conversation.state is None and talk.conversation.tip is None


def test_exit_keeps_an_immediate_danger_report_already_escalated(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    talk.send("1")
    talk.send("1")
    talk.send("EXIT")
    assert not any(isinstance(e, DiscardTip) for e in talk.events)
    assert ForgetContact() in talk.last_events and talk.conversation.tip is None


def test_idle_conversation_offers_the_report_back_and_keeps_it(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    talk.send("1")
    talk.send("2")
    talk.send("A child sleeps in the warehouse")
    kept = talk.saved()[-1]
    assert kept.fields["complete"] is False
    talk.now += timedelta(minutes=31)
    replies = talk.send("3")
    assert replies == ["Your report is not finished. Go on with it?\n1 Yes, go on\n2 Start again"]
    assert talk.conversation.tip == kept.reference
    assert "What is it about?" in talk.send("1")[0]  # back at the question it stopped at
    assert talk.conversation.state == "report_kind"
    assert not any(isinstance(e, DiscardTip) for e in talk.events)


def test_after_the_resume_window_the_next_message_starts_over_and_the_report_stays(flow):
    talk = Talk(flow, language="en")
    for text in ("hi", "1", "2", "A child sleeps in the warehouse"):
        talk.send(text)
    talk.now += timedelta(hours=25)
    replies = talk.send("3")
    assert "we never share your number" in replies[0]  # the welcome again
    assert talk.conversation.state == "menu" and talk.conversation.tip is None
    assert not any(isinstance(e, DiscardTip) for e in talk.events)


def test_start_again_instead_of_resuming_keeps_the_unfinished_report(flow):
    talk = Talk(flow, language="id")
    for text in ("halo", "1", "2", "Anak2 kerja di pabrik sampai malam"):
        talk.send(text)
    talk.now += timedelta(hours=2)
    assert "belum selesai" in talk.send("halo")[0]
    replies = talk.send("2")
    assert "Balas angka" in replies[0] and talk.conversation.state == "menu" and talk.conversation.tip is None
    assert not any(isinstance(e, DiscardTip) for e in talk.events)


def test_not_idle_after_29_minutes(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    talk.send("1")
    talk.now += timedelta(minutes=29)
    assert "What happened?" in talk.send("2")[0]


def test_stop_gets_no_reply_and_start_opts_back_in(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    for word in ("STOP", "stop", "Unsubscribe", "quit", "STOPALL", "optout"):
        talk.conversation.opted_out = False
        assert talk.send(word) == []
        assert talk.conversation.opted_out is True
    talk.conversation.opted_out = False
    talk.conversation.language = "id"
    # Twilio answers only its own English words: BERHENTI gets our confirmation.
    assert talk.send("BERHENTI") == ["Anda tidak akan menerima pesan lagi dari kami. Kirim MULAI untuk kembali."]
    assert talk.conversation.opted_out is True
    assert ForgetContact() in talk.last_events
    replies = talk.send("START")
    assert talk.conversation.opted_out is False and "Balas angka" in replies[0]


def test_twilio_advanced_opt_out_type_counts_as_stop(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    assert talk.send("stop please", opt_out="STOP") == []
    assert talk.conversation.opted_out


@pytest.mark.parametrize("word,expect", [
    ("MENU", "1 Report a concern"), ("help", "112"), ("LANG", "Choose a language")])
def test_keywords_work_in_every_state(flow, word, expect):
    for state in flow.states:
        talk = Talk(flow, language="en")
        talk.send("hi")
        talk.conversation.state = state
        replies = talk.send(word)
        assert expect in replies[-1], (state, replies)


def test_indonesian_keyword_synonyms(flow):
    talk = Talk(flow, language="id")
    talk.send("halo")
    assert "Bantuan" in talk.send("BANTUAN")[0]
    assert "Pilih bahasa" in talk.send("bahasa")[0]
    talk.send("2")
    assert talk.conversation.language == "en"


def test_language_switch_changes_every_following_message(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    talk.send("4")
    replies = talk.send("1")  # Bahasa Indonesia is listed first (deployment order)
    assert replies[0].startswith("Bahasa diganti: Indonesia.\nBalas angka")  # one SMS


def test_add_and_status_by_reference(flow):
    talk = Talk(flow, language="en", tips=Tips({"7KQ2-9PXM": "escalated", "ABCD-2345": "spam"}))
    talk.send("hi")
    replies = talk.send("add 7kq29pxm the car was a red Avanza")
    assert replies == ['Added to 7KQ2-9PXM: "the car was a red Avanza". Thank you.']
    assert talk.last_events == [AddToTip("7KQ2-9PXM", "the car was a red Avanza")]
    assert "passed to people who can act" in talk.send("STATUS 7KQ2-9PXM")[0]
    assert "is closed" in talk.send("status ABCD-2345")[0]  # spam is never revealed
    assert "cannot be opened from this phone" in talk.send("STATUS 2222-2222")[0]
    assert "send ADD" in talk.send("ADD")[0]
    assert talk.send("TAMBAH 7KQ2-9PXM lagi") == ['Added to 7KQ2-9PXM: "lagi". Thank you.']  # Indonesian word


def test_text_starting_with_add_is_an_answer_not_a_command(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    talk.send("1")
    talk.send("2")
    talk.send("Add to this that the man has a gun")
    assert talk.saved()[-1].fields["description"] == "Add to this that the man has a gun"


def test_media_is_refused_politely_and_only_counted(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    talk.send("1")
    talk.send("2")
    replies = talk.send("", media_count=2)
    assert "do not send photos" in replies[0]
    assert len(replies) == 1
    assert talk.saved()[-1].fields["media_count"] == 2


def test_whatsapp_location_answers_where(flow):
    talk = Talk(flow, channel="whatsapp", language="en")
    talk.send("hi")
    talk.send("1")
    talk.send("2")
    talk.send("children carrying heavy loads at the quarry")
    assert "share a location" in talk.send("1")[0]
    talk.send("", location="Pasar Minggu (-6.29000,106.84000)")
    assert talk.saved()[-1].fields["location"] == "Pasar Minggu (-6.29000,106.84000)"


def test_lessons_page_through_and_end_with_what_to_do(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    pages = [talk.send("2")[0]]
    for _ in range(flow.lesson_count("en") - 1):
        pages.append(talk.send("1")[0])
    assert len(pages) >= 6 and len(set(pages)) == len(pages)
    assert "One sign proves nothing" in pages[0]
    assert "never confront" in pages[-1]
    replies = talk.send("1")
    assert "last lesson" in replies[0] and talk.conversation.state == "menu"


def test_lesson_can_jump_to_report(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    talk.send("2")
    assert "danger right now" in talk.send("2")[0]


def test_help_gives_the_deployments_numbers(flow):
    talk = Talk(flow, language="id")
    talk.send("halo")
    help_text = talk.send("3")[0]
    for number in ("112", "110", "129", "08111-129-129"):
        assert number in help_text


def test_references_use_the_contract_alphabet():
    for _ in range(200):
        reference = new_reference()
        assert len(reference) == 9 and reference[4] == "-"
        assert all(c in ALPHABET for c in reference.replace("-", ""))
    assert parse_reference(" 7kq2-9pxm ") == "7KQ2-9PXM"
    assert parse_reference("7KQ29PXM") == "7KQ2-9PXM"
    assert parse_reference("0KQ2-9PXM") is None  # 0 is not in the alphabet


def test_conversation_round_trips_through_storage_shape(flow):
    talk = Talk(flow, language="en")
    talk.send("hi")
    talk.send("1")
    talk.send("1")
    c = talk.conversation
    back = Conversation.from_row(c.state, c.language, c.to_dict(), c.last_seen, c.opted_out)
    assert back == c


def _pick(talk, parent, code):
    """Page through a place menu to `code` and pick it, as a reporter would."""
    pages = talk.flow.place_pages(talk.conversation.language, parent)
    for page_number, page in enumerate(pages):
        for index, place in enumerate(page, start=1):
            if place.code == code:
                for _ in range(page_number):
                    talk.send("9")
                return talk.send(str(index))
    raise AssertionError(code)


def test_where_offers_numbered_pages_of_provinces_then_regencies(flow):
    talk = to_where(flow)
    first_page = talk.send("9")[0]
    assert first_page.startswith("Pick a number or write the place:\n1 Aceh\n")
    assert "9 More" in first_page and "0 Skip" in first_page
    regencies = _pick(talk, None, "32")
    # Alphabetical, Kab. before Kota of the same name.
    assert regencies[0].startswith("Jawa Barat: pick a number\x20or write the place:\n1 Kab. Bandung\n2 Kota Bandung\n")
    after = _pick(talk, "32", "32.01")
    assert "When did you see it" in after[0]
    fields = talk.saved()[-1].fields
    assert fields["location"] == "Kab. Bogor, Jawa Barat" and fields["place_code"] == "32.01"


def test_where_picker_accepts_words_and_not_sure(flow):
    talk = to_where(flow, "id")
    talk.send("9")
    _pick(talk, None, "35")
    talk.send("Desa Sumberejo dekat pasar")
    fields = talk.saved()[-1].fields
    assert fields["location"] == "Desa Sumberejo dekat pasar, Jawa Timur" and fields["place_code"] == "35"

    talk = to_where(flow)
    talk.send("9")
    _pick(talk, None, "51")
    talk.send("0")  # not sure which regency
    assert talk.saved()[-1].fields["location"] == "Bali" and talk.saved()[-1].fields["place_code"] == "51"


def test_every_place_menu_page_fits_two_segments_in_every_language(flow):
    from tipline.engine import gsm

    for language in flow.languages:
        for parent in (None, *(p.code for p in flow.places)):
            for page in flow.place_pages(language, parent):
                text = flow.place_menu(language, parent, page)
                assert gsm.is_gsm7(text) and gsm.segments(text) <= 2, text
    assert len(flow.places) == 38 and sum(len(p.children) for p in flow.places) == 514


def test_join_asks_consent_then_place_and_subscribes(flow):
    from tipline.engine import Subscribe

    talk = Talk(flow, language="en")
    talk.send("hi")
    explain = talk.send("5")[0]
    assert "never confront" in explain and "keep your number safe" in explain and "STOP" in explain
    assert "Which area" in talk.send("1")[0]
    talk.send("9")
    _pick(talk, None, "31")
    done = _pick(talk, "31", "31.74")
    assert "Thank you for joining" in done[0]
    assert talk.last_events == [Subscribe("en", "Kota Administrasi Jakarta Selatan, DKI Jakarta", "31.74")]
    assert talk.conversation.state == "menu" and talk.conversation.answers == {}


def test_join_keyword_in_indonesian_and_declining(flow):
    from tipline.engine import Subscribe

    talk = Talk(flow, language="id")
    talk.send("halo")
    assert "Relawan" in talk.send("GABUNG")[0]
    assert "GABUNG kalau berubah pikiran" in talk.send("2")[0]
    assert talk.conversation.state == "menu"
    assert not any(isinstance(e, Subscribe) for e in talk.events)


def test_reporting_never_subscribes(flow):
    from tipline.engine import Subscribe

    talk = Talk(flow, language="en")
    for text in ("hi", "1", "2", "Girls taken to the city for work", "3", "0", "0", "0", "1", "1"):
        talk.send(text)
    assert not any(isinstance(e, Subscribe) for e in talk.events)


def test_idea_is_shared_from_any_state(flow):
    from tipline.engine import ShareIdea

    talk = Talk(flow, language="id")
    talk.send("halo")
    talk.send("1")
    assert talk.send("IDE penyuluhan di sekolah desa") == ["Terima kasih. Ide Anda kami teruskan ke tim."]
    assert talk.last_events == [ShareIdea("penyuluhan di sekolah desa", "id")]
    assert talk.conversation.state == "report_danger"  # the conversation carries on where it was
    assert "IDE dan ide Anda" in talk.send("ide")[0]


def test_punctuation_around_keywords_and_greetings(flow):
    assert "Reply a number" in Talk(flow).send("Hello, I need to tell you something")[0]
    talk = Talk(flow, language="en")
    talk.send("hi")
    assert talk.send("Stop.") == [] and talk.conversation.opted_out


def test_command_of_reads_commands_like_the_engine(flow):
    from tipline.engine import command_of

    assert command_of(flow, "en", "Stop.") == "STOP" and command_of(flow, "en", " exit! ") == "EXIT"
    assert command_of(flow, "en", "KELUAR") == "EXIT"  # every language's command words
    assert command_of(flow, "en", "add 7KQ2-9PXM more") == "ADD" and command_of(flow, "id", "ide sekolah") == "IDEA"
    assert command_of(flow, "en", "yes") is None and command_of(flow, "en", "2") is None
    assert command_of(flow, "en", "the man said stop") is None and command_of(flow, "en", "") is None
