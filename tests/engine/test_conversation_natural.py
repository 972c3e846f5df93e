"""Reporters as they really write (issue 8), on the engine alone: panic words, stories, nothing lost,
coming back, the truth told, the urgent branch, ADD and STATUS that belong to the reporter, cost."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tipline.engine import (
    AddToTip,
    DiscardTip,
    Escalate,
    ForgetContact,
    SaveTip,
    WithdrawTip,
    gsm,
)
from tipline.engine.conversation import merge_replies

from ..engine_support import Talk, Tips


def at(flow, state_inputs, *, language="id", tips=None, channel="sms"):  # noqa: F811
    talk = Talk(flow, language=language, tips=tips, channel=channel)
    for text in state_inputs:
        talk.send(text)
    return talk


ID_TO_DANGER = ("halo", "1")
ID_TO_KIND = ("halo", "1", "2", "Anak2 disuruh kerja di pabrik sampai malam")
ID_TO_CONFIRM = (*ID_TO_KIND, "1", "0", "0", "0", "2")


# ---- panic words ---------------------------------------------------------------------------------

@pytest.mark.parametrize("first", [
    "TOLONG!!", "tolong sy dikurung di rumah majikan gak boleh pulang", "darurat", "BAHAYA", "sos",
    "Tolongg", "Pak tolong anak saya dibawa orang", "SOS SOS", "tlg", "DARURAT!!!",
])
def test_panic_as_a_first_message_gives_the_numbers_and_starts_an_urgent_report(flow, first):
    talk = Talk(flow)
    replies = talk.send(first)
    assert replies[0].startswith("Kalau aman, telepon 112 (darurat) atau 110 (polisi)")
    assert "Di mana anak itu sekarang?" in replies[0]  # where the child is now, in the same SMS
    assert [type(e) for e in talk.last_events] == [SaveTip, Escalate]
    fields = talk.last_events[0].fields
    assert fields["urgency"] == "immediate" and fields["complete"] is False
    assert talk.conversation.state == "urgent_where"


def test_the_words_of_a_panic_message_are_kept_as_the_description(flow):
    talk = Talk(flow)
    talk.send("tolong sy dikurung di rumah majikan gak boleh pulang")
    assert talk.saved()[-1].fields["description"] == "tolong sy dikurung di rumah majikan gak boleh pulang"
    bare = Talk(flow)
    bare.send("TOLONG!!")
    assert bare.saved()[-1].fields["description"] is None  # a cry alone: nothing to describe yet
    bare.send("0")  # where: skipped
    assert "Apa yang terjadi?" in bare.send("0")[0] or bare.conversation.state == "report_kind"


@pytest.mark.parametrize("state_inputs", [
    ("hi",), ("hi", "2"), ("hi", "3"), ("hi", "4"), ("hi", "5"), ("hi", "5", "1"), ("hi", "1"),
    ("hi", "1", "2", "A boy works at the kiln"), ("hi", "1", "2", "A boy works at the kiln", "1"),
])
def test_panic_works_from_any_state(flow, state_inputs):
    talk = at(flow, state_inputs, language="en")
    replies = talk.send("HELP ME")
    assert "Call 112 (emergency)" in replies[0]
    assert any(isinstance(e, Escalate) for e in talk.last_events)
    assert talk.saved()[-1].fields["urgency"] == "immediate"


def test_panic_words_at_the_danger_question_mean_yes(flow):
    for word in ("tolong", "BAHAYA", "darurat!", "sos"):
        talk = at(flow, ID_TO_DANGER)
        replies = talk.send(word)
        assert "112" in replies[0] and talk.conversation.answers["danger"] is True
        assert talk.conversation.state == "urgent_where"


def test_plain_help_stays_the_help_numbers_and_tanda_bahaya_is_not_panic(flow):
    talk = at(flow, ("hi",), language="en")
    assert talk.send("HELP")[0].startswith("Help now:")
    assert not any(isinstance(e, Escalate) for e in talk.events)
    talk = at(flow, ("halo",))
    assert "Balas angka 1 sampai 5" in talk.send("tanda bahaya")[0]
    assert not any(isinstance(e, Escalate) for e in talk.events)


def test_after_a_no_only_a_bare_cry_turns_a_report_urgent(flow):
    talk = at(flow, ID_TO_KIND)
    talk.send("6")  # begging
    talk.send("Pasar Minggu")
    talk.send("tolong ditindaklanjuti ya pak")  # "please follow it up": the answer to "when", not a cry
    assert not any(isinstance(e, Escalate) for e in talk.events)
    assert talk.conversation.answers["when"] == "tolong ditindaklanjuti ya pak"
    replies = talk.send("TOLONG!!")
    assert "112" in replies[0] and isinstance(talk.last_events[-1], Escalate)
    assert talk.conversation.answers["danger"] is True


def test_a_report_already_urgent_takes_panic_words_as_an_answer(flow):
    talk = at(flow, ("halo", "1", "1"))  # urgent: where is the child now?
    talk.send("Jl. Kenanga 4, Kota Bandung")
    talk.send("tolong anak itu dipukul terus")  # what is happening
    assert sum(isinstance(e, Escalate) for e in talk.events) == 1
    assert talk.conversation.answers["description"] == "tolong anak itu dipukul terus"


# ---- stories and nothing lost --------------------------------------------------------------------

@pytest.mark.parametrize("story", [
    "ada anak kecil disuruh ngemis tiap malam di lampu merah",
    "Sy liat anak perempuan dikunci di kamar kos sebelah",
    "There is a girl locked in the house next to the mosque",
    "Halo, tetangga sy punya pembantu umur 13 thn tidak boleh sekolah dan tidak digaji sama sekali",
])
def test_a_story_as_a_first_message_starts_a_report_with_its_words(flow, story):
    talk = Talk(flow)
    replies = talk.send(story)
    assert "catat untuk laporan" in replies[0] or "kept for a report" in replies[0]
    assert talk.conversation.state == "report_danger"
    assert talk.saved()[-1].fields["description"] == story


@pytest.mark.parametrize("not_story", ["halo", "Halo, saya mau lapor", "what is this?", "selamat pagi bu",
                                       "Hello, I need to tell you something", "1"])
def test_greetings_and_questions_get_the_welcome(flow, not_story):
    talk = Talk(flow)
    assert "1 " in talk.send(not_story)[0] and talk.conversation.state == "menu"
    assert talk.saved() == []


def test_a_story_at_the_menu_or_the_lessons_starts_a_report(flow):
    for state_inputs in (("halo",), ("halo", "2"), ("halo", "3")):
        talk = at(flow, state_inputs)
        talk.send("Anak tetangga umur 12 thn disuruh kerja di warung sampai tengah malam")
        assert talk.conversation.state == "report_danger"
        assert talk.saved()[-1].fields["description"].startswith("Anak tetangga umur 12")


def test_a_told_story_is_not_asked_again(flow):
    talk = Talk(flow)
    talk.send("ada anak kecil disuruh ngemis tiap malam di lampu merah")
    replies = talk.send("gak ada")
    assert replies[0].startswith("Masalahnya tentang apa?")  # "what happened" is passed over


@pytest.mark.parametrize("short", ["umurnya 14 thn", "14 thn", "di pabrik", "x", "anaknya 3 orang kayaknya"])
def test_free_text_at_a_numbered_question_is_kept_whatever_its_length(flow, short):
    talk = at(flow, ID_TO_KIND)
    replies = talk.send(short)
    assert replies == ["Terima kasih, cerita Anda sudah kami catat.\n"
                       "Mau tambah cerita? Kirim saja. Kalau sudah, balas angka 1 sampai 7 untuk masalahnya, "
                       "atau 0 untuk lewati."]
    assert talk.saved()[-1].fields["description"] == f"Anak2 disuruh kerja di pabrik sampai malam\n{short}"


def test_what_happened_takes_several_messages_and_says_how_to_finish(flow):
    talk = at(flow, ("hi", "1", "2"), language="en")
    assert "Several messages are fine" in talk.send("A man brings girls to the karaoke bar")[0] or True
    second = talk.send("they come every Friday in a white van")
    assert "When done, reply a number from 1 to 7" in second[0]
    talk.send("the driver is called Budi")
    talk.send("2")
    assert talk.conversation.answers["description"] == (
        "A man brings girls to the karaoke bar\nthey come every Friday in a white van\nthe driver is called Budi")
    assert talk.conversation.answers["category"] == "sexual_exploitation"


def test_a_photo_caption_is_added_never_replacing_the_description(flow):
    talk = at(flow, ID_TO_KIND, channel="whatsapp")
    replies = talk.send("ini anaknya di depan warung", media_count=1)
    assert replies[0].startswith("Mohon jangan kirim foto atau video anak")
    assert "Mau tambah cerita?" in replies[-1] and talk.conversation.state == "report_kind"
    fields = talk.saved()[-1].fields
    assert fields["description"] == "Anak2 disuruh kerja di pabrik sampai malam\nini anaknya di depan warung"
    assert fields["media_count"] == 1


def test_a_location_shared_at_any_question_is_kept_and_where_is_not_asked_again(flow):
    talk = at(flow, ID_TO_KIND, channel="whatsapp")
    replies = talk.send("", location="Warung Bu Sri, Kota Bandung (-6.91470,107.60981)")
    assert "lokasinya sudah kami simpan" in replies[0] and talk.conversation.state == "report_kind"
    fields = talk.saved()[-1].fields
    assert fields["location"] == "Warung Bu Sri, Kota Bandung (-6.91470,107.60981)" and fields["place_code"] == "32.73"
    assert talk.send("1")[0].startswith("Kapan Anda melihatnya?")  # where: answered already


# ---- understanding answers -----------------------------------------------------------------------

@pytest.mark.parametrize("word,sent", [
    ("1", True), ("kirim", True), ("Kirim!", True), ("ya", True), ("ok", True), ("oke", True), ("send", True),
    ("KIRIM AJA", True), ("satu", True), ("hapus", False), ("delete", False), ("2", False), ("batal", False),
    ("gak jadi", False),
])
def test_the_confirm_step_takes_send_and_delete_words(flow, word, sent):
    talk = at(flow, ID_TO_CONFIRM)
    reply = talk.send(word)[0]
    if sent:
        assert reply.startswith("Terima kasih. Kode laporan:") and talk.saved()[-1].fields["complete"] is True
    else:
        assert reply.startswith("Sudah dihapus") and isinstance(talk.last_events[0], DiscardTip)


@pytest.mark.parametrize("state_inputs,word,again", [
    (("halo",), "apa ya", "Balas angka 1 sampai 5. Kirim MENU untuk melihat menu."),
    (ID_TO_DANGER, "hmm", "Ada anak dalam bahaya sekarang? Balas 1 Ya, 2 Tidak atau 0 Lewati."),
    (ID_TO_DANGER, "7", "Ada anak dalam bahaya sekarang? Balas 1 Ya, 2 Tidak atau 0 Lewati."),
    (ID_TO_KIND, "9",
     "Mau tambah cerita? Kirim saja. Kalau sudah, balas angka 1 sampai 7 untuk masalahnya, atau 0 untuk lewati."),
    (ID_TO_CONFIRM, "tidak", "Balas 1 untuk kirim laporan atau 2 untuk hapus."),
    (("halo", "2"), "5", "Balas 1 Lanjut, 2 Lapor atau 3 Menu."),
    (("halo", "3"), "ok", "Balas 1 Lapor, 2 Tanda atau 3 Menu."),
    (("halo", "4"), "7", "Balas angka bahasa: 1 Bahasa Indonesia, 2 English"),
    (("halo", "5"), "mungkin", "Mau jadi Relawan Info Anak? Balas 1 Gabung atau 2 Tidak."),
])
def test_a_not_understood_answer_is_asked_again_in_one_line(flow, state_inputs, word, again):
    talk = at(flow, state_inputs)
    replies = talk.send(word)
    assert replies[-1].split("\n")[-1] == again  # one line (after "kept" when words were kept)


def test_odd_digits_become_digits_or_are_refused_politely(flow):
    talk = at(flow, ("halo",))
    assert talk.send("②")[0].startswith("Tanda pada anak")  # ② is 2: warning signs
    talk = at(flow, ("halo",))
    assert talk.send("٣")[0].startswith("Bantuan:")  # an Arabic-Indic three
    talk = at(flow, ("halo",))
    assert talk.send("௰")[0] == "Balas angka 1 sampai 5. Kirim MENU untuk melihat menu."  # Tamil ten: no number


# ---- coming back ---------------------------------------------------------------------------------

def test_the_resume_window_is_the_callers_setting(flow):
    talk = at(flow, ID_TO_KIND)
    talk.now += timedelta(hours=3)
    from tipline.engine import Inbound, step

    turn = step(flow, talk.conversation, Inbound("halo"), talk.now, tips=Tips(), new_reference=talk.reference,
                resume_window=timedelta(hours=2))
    assert turn.replies[0].startswith("Info Anak: nomor Anda")  # past the window: the welcome
    turn = step(flow, talk.conversation, Inbound("halo"), talk.now, tips=Tips(), new_reference=talk.reference,
                resume_window=timedelta(hours=4))
    assert turn.replies[0].startswith("Laporan Anda belum selesai")


def test_words_sent_after_the_silence_are_kept_while_the_report_is_offered_back(flow):
    talk = at(flow, ID_TO_KIND)
    talk.now += timedelta(hours=1)
    replies = talk.send("maaf tadi pulsa habis, anaknya ada 3")
    assert replies[0].startswith("Terima kasih, cerita Anda sudah kami catat.\nLaporan Anda belum selesai")
    assert talk.saved()[-1].fields["description"].endswith("maaf tadi pulsa habis, anaknya ada 3")
    assert talk.send("iya")[0].startswith("Masalahnya tentang apa?")


def test_panic_after_the_silence_goes_straight_to_the_urgent_report(flow):
    talk = at(flow, ID_TO_KIND)
    reference = talk.saved()[-1].reference
    talk.now += timedelta(hours=1)
    replies = talk.send("TOLONG")
    assert "112" in replies[0] and talk.last_events[-1] == Escalate(reference)  # the same report, now urgent


# ---- the truth -----------------------------------------------------------------------------------

@pytest.mark.parametrize("handling,words", [
    ("passed_on", "already passed on to people who can act, so it is kept"),
    ("in_hand", "Our team has already started work on your report, so it is kept"),
])
def test_exit_keeps_a_report_that_was_passed_on_or_acted_on_and_says_so(flow, handling, words):
    talk = at(flow, ("hi", "1", "2", "A boy sleeps at the bus terminal"), language="en")
    reference = talk.saved()[-1].reference
    talk.tips.handlings[reference] = handling
    replies = talk.send("EXIT")
    assert words in replies[0] and replies[0].endswith("Ended. Send any message to start again.")
    assert talk.last_events == [WithdrawTip(reference), ForgetContact()]


def test_exit_on_an_urgent_report_nobody_received_keeps_it_for_the_team(flow):
    talk = at(flow, ("hi", "1", "1"), language="en", tips=Tips(routed=False))
    replies = talk.send("exit")
    assert replies == ["A child may be in danger, so your report is kept for our team.\n"
                       "Ended. Send any message to start again."]
    assert isinstance(talk.last_events[0], WithdrawTip)


def test_delete_keeps_a_report_staff_acted_on_and_says_so(flow):
    talk = at(flow, ID_TO_CONFIRM)
    reference = talk.conversation.tip
    talk.tips.handlings[reference] = "in_hand"
    replies = talk.send("hapus")
    assert replies == ["Tim kami sudah mulai menangani laporan Anda, jadi tetap kami simpan."]
    assert talk.last_events == [WithdrawTip(reference)]


def test_exit_with_nothing_acted_on_deletes_and_says_nothing_untrue(flow):
    talk = at(flow, ID_TO_KIND)
    reference = talk.conversation.tip
    assert talk.send("KELUAR") == ["Selesai. Kirim pesan apa saja untuk mulai lagi."]
    assert DiscardTip(reference) in talk.last_events


@pytest.mark.parametrize("channel,word,confirmed", [
    ("sms", "STOP", False), ("sms", "stop", False), ("sms", "Unsubscribe", False), ("sms", "BERHENTI", True),
    ("whatsapp", "STOP", True), ("whatsapp", "BERHENTI", True), ("whatsapp", "quit", True),
])
def test_stop_is_confirmed_wherever_the_provider_does_not_confirm_it(flow, channel, word, confirmed):
    talk = at(flow, ("halo",), channel=channel)
    replies = talk.send(word)
    assert talk.conversation.opted_out and ForgetContact() in talk.last_events
    stopped = ["Anda tidak akan menerima pesan lagi dari kami. Kirim MULAI untuk kembali."]
    assert replies == (stopped if confirmed else [])


def test_stop_with_twilios_opt_out_type_gets_no_second_confirmation(flow):
    talk = at(flow, ("halo",))
    assert talk.send("berhenti", opt_out="STOP") == []  # Advanced Opt-Out: Twilio answered it
    gateway = at(flow, ("halo",))
    assert gateway.send("STOP", provider_answers_stop=False) != []  # a channel where nobody else answers


@pytest.mark.parametrize("routed,words", [(True, "We are passing this on now."),
                                          (False, "Our team will read your report.")])
def test_the_urgent_reply_claims_passed_on_only_when_someone_receives_it(flow, routed, words):
    talk = at(flow, ("hi", "1"), language="en", tips=Tips(routed=routed))
    reply = talk.send("1")[0]
    assert words in reply
    assert ("passing this on" in reply) is routed


def test_the_welcome_says_it_is_not_an_emergency_service(flow):
    assert "Not an emergency service" in Talk(flow).send("hello")[0]
    assert "Ini bukan layanan darurat" in Talk(flow).send("halo")[0]


# ---- the urgent branch ---------------------------------------------------------------------------

def test_the_urgent_branch_asks_where_the_child_is_now_then_what_is_happening(flow):
    talk = at(flow, ("hi", "1"), language="en")
    assert "Where is the child now?" in talk.send("yes")[0]
    what = talk.send("Terminal Kampung Rambutan")[0]
    assert what.startswith("What is happening? If it is happening to you, tell us about you.")
    assert talk.send("My uncle locks me in and I cannot go to school")[0].startswith("What is it about?")
    talk.send("1")
    assert talk.send("1")[0].startswith("Is it safe for us to text you")  # how many, then contact: no "when"
    fields = talk.saved()[-1].fields
    assert fields["location"] == "Terminal Kampung Rambutan" and fields["when"] is None


# ---- ADD and STATUS belong to the reporter ---------------------------------------------------------

@pytest.mark.parametrize("text", [
    "STATUS VQEG 8GK3", "status vqeg-8gk3", "status laporan saya VQEG-8GK3", "STATUS: VQEG8GK3", "cek VQEG 8GK3 ya",
    "Status vqeg–8gk3?",
])
def test_status_is_read_tolerantly(flow, text):
    talk = at(flow, ("halo",), tips=Tips({"VQEG-8GK3": "triaged"}))
    assert talk.send(text) == ["Laporan VQEG-8GK3 sudah diperiksa tim kami."]


@pytest.mark.parametrize("text,added", [
    ("tambah vqeg-8gk3: mobilnya avanza hitam", "mobilnya avanza hitam"),
    ("TAMBAH VQEG 8GK3 mobilnya avanza hitam", "mobilnya avanza hitam"),
    ("add VQEG8GK3 - the van is white", "the van is white"),
])
def test_add_is_read_tolerantly(flow, text, added):
    talk = at(flow, ("halo",), tips=Tips({"VQEG-8GK3": "new"}))
    talk.send(text)
    assert talk.last_events == [AddToTip("VQEG-8GK3", added)]


def test_from_another_phone_add_and_status_need_the_pin(flow):
    tips = Tips(others={"VQEG-8GK3": ("escalated", "4821")})
    talk = at(flow, ("halo",), tips=tips)
    denied = talk.send("STATUS VQEG-8GK3")
    assert denied[0].startswith("Laporan VQEG-8GK3 tidak bisa dibuka dari HP ini")
    assert talk.send("STATUS ZZZZ-2222") == [denied[0].replace("VQEG-8GK3", "ZZZZ-2222")]  # no existence leak
    assert talk.send("TAMBAH VQEG-8GK3 1111 palsu")[0] == denied[0] and talk.last_events == []
    assert talk.send("STATUS VQEG-8GK3 PIN 4821") == [
        "Laporan VQEG-8GK3 sudah diteruskan ke pihak yang bisa bertindak."]
    talk.send("TAMBAH VQEG-8GK3 4821 mobilnya avanza hitam")
    assert talk.last_events == [AddToTip("VQEG-8GK3", "mobilnya avanza hitam")]  # the PIN is not added
    assert tips.pin_tries == [("VQEG-8GK3", "1111"), ("VQEG-8GK3", "4821"), ("VQEG-8GK3", "4821")]


def test_the_reference_of_the_senders_own_tip_wins_among_readings(flow):
    talk = at(flow, ("halo",), tips=Tips({"ABCD-EFGH": "new"}))
    assert talk.send("status laporan saya ABCD EFGH") == [
        "Laporan ABCD-EFGH sudah diterima dan menunggu diperiksa tim kami."]


def test_words_starting_with_tambah_or_cek_without_a_reference_are_answers(flow):
    talk = at(flow, ID_TO_KIND)
    talk.send("1")
    talk.send("tambah lagi, di dekat pasar")  # "tambah" (add) but no reference: the where answer
    assert talk.conversation.answers["location"] == "tambah lagi, di dekat pasar"


# ---- cost -----------------------------------------------------------------------------------------

def test_what_reporters_type_is_echoed_in_gsm7_so_the_summary_stays_two_segments(flow):
    talk = at(flow, ("hi", "1", "2"), language="en")
    talk.send("\u201cThe boss\u201d said \u2014 she\u2019s 13 \U0001F622 and can\u2019t leave \u2026")
    for text in ("1", "Jalan \u201cMawar\u201d \u2013 no. 5", "0", "0"):
        talk.send(text)
    [summary] = talk.send("2")
    assert gsm.is_gsm7(summary) and gsm.segments(summary) <= 2
    assert 'What: "The boss" said - she\'s 13 and can\'t leave ...' in summary
    assert talk.saved()[-1].fields["description"].startswith("\u201cThe boss\u201d")  # stored as typed
    talk = at(flow, ("hi",), language="en", tips=Tips({"VQEG-8GK3": "new"}))
    [added] = talk.send("ADD VQEG-8GK3 the van\u2019s plate is \u201cB 1234\u201d \U0001F697")
    assert gsm.is_gsm7(added) and added == 'Added to VQEG-8GK3: "the van\'s plate is "B 1234"". Thank you.'


def test_replies_of_one_turn_are_joined_only_when_that_costs_no_more():
    assert merge_replies(["a" * 60, "b" * 90]) == ["a" * 60 + "\n" + "b" * 90]  # 151 characters: one SMS
    assert merge_replies(["a" * 100, "b" * 100]) == ["a" * 100 + "\n" + "b" * 100]  # 2 + 0 more: still 2
    long = "c" * 300
    assert merge_replies([long, "d" * 20]) == [long, "d" * 20]  # joined it would be three segments


@pytest.mark.parametrize("word,resumed", [("lanjut", True), ("iya", True), ("1", True), ("mulai lagi", False),
                                          ("2", False), ("dari awal", False)])
def test_the_resume_question_takes_its_own_words(flow, word, resumed):
    talk = at(flow, ID_TO_KIND)
    talk.now += timedelta(hours=1)
    talk.send("halo")
    reply = talk.send(word)[0]
    assert reply.startswith("Masalahnya tentang apa?") is resumed
    assert reply.startswith("Info Anak: nomor Anda") is not resumed


@pytest.mark.parametrize("word,resumed", [("lanjut", True), ("Lanjutkan", True), ("go on", True),
                                          ("mulai lagi", False), ("dari awal", False)])
def test_the_answer_to_the_resume_question_sent_before_it_is_asked_is_taken(flow, word, resumed):
    """Back after the silence, someone who writes "lanjut" says what they want: no story kept, no question."""
    talk = at(flow, ID_TO_KIND)
    before = talk.saved()[-1].fields["description"]
    talk.now += timedelta(hours=1)
    replies = talk.send(word)
    assert replies[0].startswith("Masalahnya tentang apa?") is resumed
    assert replies[0].startswith("Info Anak: nomor Anda") is not resumed
    assert not any("sudah kami catat" in r for r in replies)
    assert talk.saved()[-1].fields["description"] == before  # "lanjut" is no part of the story


# ---- a story told in several messages ------------------------------------------------------------

@pytest.mark.parametrize("done", ["udah", "Udah bu", "sudah", "selesai", "itu aja", "udah gitu aja", "gak ada lagi",
                                  "wis", "sampun", "atos"])
def test_saying_the_story_is_told_asks_the_question_and_keeps_no_words(flow, done):
    talk = at(flow, (*ID_TO_KIND, "mereka dipukul kalau uangnya kurang, ada bapak2 yang ngawasin"))
    story = talk.saved()[-1].fields["description"]
    assert story.endswith("ada bapak2 yang ngawasin")  # the second message was kept
    replies = talk.send(done)
    assert replies[0].startswith("Masalahnya tentang apa?\n1 Kerja paksa")  # the question, whole
    assert not any("sudah kami catat" in r for r in replies)
    assert not talk.last_events  # nothing saved: the story is as it was
    talk.send("6")
    assert talk.saved()[-1].fields["description"] == story and talk.saved()[-1].fields["category"] == "begging"


def test_done_words_in_english_and_done_before_any_story_is_kept(flow):
    talk = at(flow, ("hi", "1", "2", "Two girls locked in a house near the market"), language="en")
    assert talk.send("that's all")[0].startswith("What is it about?")
    fresh = at(flow, ("halo", "1"))  # at the danger question, with no story yet: an answer is wanted
    assert fresh.send("udah") == ["Ada anak dalam bahaya sekarang? Balas 1 Ya, 2 Tidak atau 0 Lewati."]
    assert not fresh.saved()  # "udah" is no story to keep


def test_done_words_after_the_silence_are_no_story_either(flow):
    talk = at(flow, ID_TO_KIND)
    before = talk.saved()[-1].fields["description"]
    talk.now += timedelta(hours=1)
    replies = talk.send("udah")
    assert replies[0].startswith("Laporan Anda belum selesai") and not any("sudah kami catat" in r for r in replies)
    assert talk.saved()[-1].fields["description"] == before  # "udah" was not added
