"""A corpus of replies as people really send them, each with the meaning it must get (issue 8).

Indonesian (informal spellings, abbreviations, Javanese and Sundanese yes/no), English, mixed,
typos, repeated letters, punctuation, words after the answer, odd Unicode digits. Each line is
`language | question | text | meaning`, where the question is the message key being answered
(or `-` for none) and the meaning is YES, NO, SKIP, SEND, DELETE, a number, PANIC (a call for
help), STORY (a report told unasked) or NONE (not an answer: asked again briefly, words kept).
At a yes/no question the digits mean what the question lists: 1 yes, 2 no, 0 skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tipline.engine import load_flow

FLOWS = Path(__file__).resolve().parents[2] / "flows"

CORPUS = """
id | ask_danger | ada | YES
id | ask_danger | Ada | YES
id | ask_danger | ADA! | YES
id | ask_danger | ada bu | YES
id | ask_danger | ada pak | YES
id | ask_danger | ada kok | YES
id | ask_danger | iya ada | YES
id | ask_danger | iya | YES
id | ask_danger | iyaa | YES
id | ask_danger | iyaaaa | YES
id | ask_danger | Iya. | YES
id | ask_danger | iy | YES
id | ask_danger | iyo | YES
id | ask_danger | iyoo | YES
id | ask_danger | ya | YES
id | ask_danger | Ya! | YES
id | ask_danger | yaa | YES
id | ask_danger | ya ada | YES
id | ask_danger | y | YES
id | ask_danger | Y | YES
id | ask_danger | ok | YES
id | ask_danger | OK | YES
id | ask_danger | oke | YES
id | ask_danger | okee | YES
id | ask_danger | okay | YES
id | ask_danger | sip | YES
id | ask_danger | betul | YES
id | ask_danger | benar | YES
id | ask_danger | bener | YES
id | ask_danger | nggih | YES
id | ask_danger | Nggih pak | YES
id | ask_danger | inggih | YES
id | ask_danger | enggih | YES
id | ask_danger | muhun | YES
id | ask_danger | muhun bu | YES
id | ask_danger | leres | YES
id | ask_danger | hooh | YES
id | ask_danger | yoi | YES
id | ask_danger | 1 | YES
id | ask_danger | 1. | YES
id | ask_danger | 1) | YES
id | ask_danger | 1 ya | YES
id | ask_danger | satu | YES
id | ask_danger | Satu | YES
id | ask_danger | ① | YES
id | ask_danger | ¹ | YES
id | ask_danger | １ | YES
id | ask_danger | 1️⃣ | YES
id | ask_danger | ۱ | YES
id | ask_danger | ada bahaya | PANIC
id | ask_danger | dalam bahaya | PANIC
id | ask_danger | tidak | NO
id | ask_danger | Tidak. | NO
id | ask_danger | tidak ada | NO
id | ask_danger | TIDAK ADA | NO
id | ask_danger | tdk | NO
id | ask_danger | tdk ada | NO
id | ask_danger | tak | NO
id | ask_danger | gak | NO
id | ask_danger | gak ada | NO
id | ask_danger | gak ada kok | NO
id | ask_danger | gaaak | NO
id | ask_danger | ga | NO
id | ask_danger | ga ada | NO
id | ask_danger | nggak | NO
id | ask_danger | ngga | NO
id | ask_danger | ngak | NO
id | ask_danger | nggak ada | NO
id | ask_danger | enggak | NO
id | ask_danger | enggak kok | NO
id | ask_danger | engga | NO
id | ask_danger | kagak | NO
id | ask_danger | ndak | NO
id | ask_danger | ndak ada | NO
id | ask_danger | nda | NO
id | ask_danger | ora | NO
id | ask_danger | ora ana | NO
id | ask_danger | mboten | NO
id | ask_danger | mboten wonten | NO
id | ask_danger | boten | NO
id | ask_danger | teu | NO
id | ask_danger | henteu | NO
id | ask_danger | teu aya | NO
id | ask_danger | bukan | NO
id | ask_danger | 2 | NO
id | ask_danger | dua | NO
id | ask_danger | ② | NO
id | ask_danger | ² | NO
id | ask_danger | ٢ | NO
id | ask_danger | loro | NO
id | ask_danger | aman | NO
id | ask_danger | aman kok | NO
id | ask_danger | tidak bahaya | NO
id | ask_danger | gak bahaya kok | NO
id | ask_danger | no | NO
id | ask_danger | 0 | SKIP
id | ask_danger | nol | SKIP
id | ask_danger | kosong | SKIP
id | ask_danger | lewati | SKIP
id | ask_danger | lewat | SKIP
id | ask_danger | skip | SKIP
id | ask_danger | gak tau | SKIP
id | ask_danger | ga tau | SKIP
id | ask_danger | gatau | SKIP
id | ask_danger | gaktau | SKIP
id | ask_danger | tidak tahu | SKIP
id | ask_danger | tdk tau | SKIP
id | ask_danger | nggak tau | SKIP
id | ask_danger | enggak tau | SKIP
id | ask_danger | ndak tau | SKIP
id | ask_danger | kurang tahu | SKIP
id | ask_danger | belum tahu | SKIP
id | ask_danger | entah | SKIP
id | ask_danger | entahlah | SKIP
id | ask_danger | gak yakin | SKIP
id | ask_danger | tidak yakin | SKIP
id | ask_danger | ora ngerti | SKIP
id | ask_danger | mboten ngertos | SKIP
id | ask_danger | teuing | SKIP
id | ask_danger | TOLONG!! | PANIC
id | ask_danger | tolong | PANIC
id | ask_danger | tolongg | PANIC
id | ask_danger | tolongin | PANIC
id | ask_danger | tlg | PANIC
id | ask_danger | darurat | PANIC
id | ask_danger | DARURAT!!! | PANIC
id | ask_danger | bahaya | PANIC
id | ask_danger | BAHAYA | PANIC
id | ask_danger | sos | PANIC
id | ask_danger | SOS SOS | PANIC
id | ask_danger | tolong saya | PANIC
id | ask_danger | tulung | PANIC
id | ask_danger | selamatkan | PANIC
id | ask_danger | hmm | NONE
id | ask_danger | apa maksudnya | NONE
id | ask_danger | 7 | 7
id | ask_danger | sepuluh | NONE
id | ask_danger | ok saya mau lapor dulu | NONE
id | ask_contact | 1 | YES
id | ask_contact | ya | YES
id | ask_contact | iya boleh | YES
id | ask_contact | boleh | YES
id | ask_contact | aman | YES
id | ask_contact | aman kok | YES
id | ask_contact | aman aja | YES
id | ask_contact | silakan | YES
id | ask_contact | bisa | YES
id | ask_contact | 2 | NO
id | ask_contact | tidak | NO
id | ask_contact | tidak aman | NO
id | ask_contact | gak aman | NO
id | ask_contact | jangan | NO
id | ask_contact | jangan sms | NO
id | ask_contact | ga usah | NO
id | confirm | kirim | SEND
id | confirm | Kirim! | SEND
id | confirm | kirimm | SEND
id | confirm | kirimkan | SEND
id | confirm | kirim aja | SEND
id | confirm | kirim saja | SEND
id | confirm | laporkan | SEND
id | confirm | sudah benar | SEND
id | confirm | udah benar | SEND
id | confirm | ya | YES
id | confirm | ok | YES
id | confirm | oke | YES
id | confirm | 1 | 1
id | confirm | hapus | DELETE
id | confirm | Hapus. | DELETE
id | confirm | hapus aja | DELETE
id | confirm | batal | DELETE
id | confirm | batalkan | DELETE
id | confirm | gak jadi | DELETE
id | confirm | ga jadi | DELETE
id | confirm | tidak jadi | DELETE
id | confirm | 2 | 2
id | ask_kind | 1 | 1
id | ask_kind | satu | 1
id | ask_kind | tiga | 3
id | ask_kind | empat | 4
id | ask_kind | lima | 5
id | ask_kind | enam | 6
id | ask_kind | tujuh | 7
id | ask_kind | pitu | 7
id | ask_kind | telu | 3
id | ask_kind | papat | 4
id | ask_kind | tilu | 3
id | ask_kind | opat | 4
id | ask_kind | genep | 6
id | ask_kind | 6. | 6
id | ask_kind | ⑥ | 6
id | ask_kind | ６ | 6
id | ask_kind | 2 kerja paksa | 2
id | ask_kind | umurnya 14 thn | NONE
id | ask_kind | di pabrik dekat rumah | NONE
id | ask_kind | ok | YES
id | menu | 1 | 1
id | menu | 5 | 5
id | menu | lima | 5
id | menu | 5. | 5
id | menu | ٥ | 5
id | - | ada anak kecil disuruh ngemis tiap malam di lampu merah | STORY
id | - | sy liat anak perempuan dikunci di kamar kos sebelah | STORY
id | - | tetangga sy anaknya gak sekolah disuruh kerja terus | STORY
id | - | bocah2 dipaksa jualan tisu sampai malam | STORY
id | - | ada cewek umur 15 dijual online | STORY
id | - | anak sy diculik | STORY
id | - | majikan gak kasih gaji 6 bulan, paspor ditahan | STORY
id | - | Pak tolong anak saya dibawa orang | PANIC
id | - | tolong sy dikurung di rumah majikan gak boleh pulang | PANIC
id | - | tolong ditindaklanjuti | PANIC
id | - | tolong kirim menu | NONE
id | - | tolong jelaskan tanda bahaya | NONE
id | - | tlg ulangi | NONE
id | - | tolong kasih tau nomor SAPA | NONE
id | lesson | tolong ulangi | NONE
id | - | tolong kirim polisi ada anak dikurung di gudang | STORY
id | - | TOLONG saya dikurung majikan | PANIC
id | - | halo | NONE
id | - | Halo, saya mau lapor | NONE
id | - | selamat pagi bu | NONE
id | - | tanda bahaya | NONE
id | - | tanda bahaya apa saja | NONE
id | - | ini nomor apa ya | NONE
en | ask_danger | yes | YES
en | ask_danger | Yes! | YES
en | ask_danger | yesss | YES
en | ask_danger | YES PLEASE | YES
en | ask_danger | yeah | YES
en | ask_danger | yep | YES
en | ask_danger | yup | YES
en | ask_danger | y | YES
en | ask_danger | ok | YES
en | ask_danger | okay | YES
en | ask_danger | sure | YES
en | ask_danger | yes there is | YES
en | ask_danger | one | YES
en | ask_danger | 1 | YES
en | ask_danger | ya | YES
en | ask_danger | iya | YES
en | ask_danger | no | NO
en | ask_danger | No. | NO
en | ask_danger | nope | NO
en | ask_danger | nah | NO
en | ask_danger | n | NO
en | ask_danger | no one | NO
en | ask_danger | nobody | NO
en | ask_danger | not really | NO
en | ask_danger | two | NO
en | ask_danger | safe | NO
en | ask_danger | no danger | NO
en | ask_danger | gak | NO
en | ask_danger | tidak | NO
en | ask_danger | skip | SKIP
en | ask_danger | don't know | SKIP
en | ask_danger | dont know | SKIP
en | ask_danger | dunno | SKIP
en | ask_danger | idk | SKIP
en | ask_danger | not sure | SKIP
en | ask_danger | no idea | SKIP
en | ask_danger | zero | SKIP
en | ask_danger | HELP ME | PANIC
en | ask_danger | help me please | PANIC
en | ask_danger | please help | PANIC
en | ask_danger | help us | PANIC
en | ask_danger | emergency | PANIC
en | ask_danger | SOS | PANIC
en | ask_danger | save me | PANIC
en | ask_danger | help help | PANIC
en | ask_danger | what | NONE
en | ask_contact | yes its safe | YES
en | ask_contact | safe | YES
en | ask_contact | you can | YES
en | ask_contact | not safe | NO
en | ask_contact | do not | NO
en | confirm | send | SEND
en | confirm | Send it | SEND
en | confirm | submit | SEND
en | confirm | confirm | SEND
en | confirm | done | SEND
en | confirm | delete | DELETE
en | confirm | delete it | DELETE
en | confirm | remove | DELETE
en | confirm | discard | DELETE
en | ask_kind | three | 3
en | ask_kind | seven | 7
en | - | Please help a girl is being dragged into a van right now at Blok M station | PANIC
en | - | There is a girl locked in the house next to the mosque | STORY
en | - | my neighbour's kids never go to school and work all day | STORY
en | - | Hello, I need to tell you something | NONE
en | - | not an emergency, just a question | NONE
en | - | please help me understand the signs | NONE
en | - | help me please they took my sister | PANIC
en | - | what is this | NONE
"""


def _cases():
    for line in CORPUS.strip().splitlines():
        language, question, text, meaning = (part.strip() for part in line.split("|"))
        yield pytest.param(language, None if question == "-" else question, text, meaning,
                           id=f"{language}-{question}-{text}")


CASES = list(_cases())


YES_NO = {"ask_danger", "ask_contact"}
AS_LISTED = {"1": "YES", "2": "NO", "0": "SKIP"}


@pytest.fixture(scope="module")
def flow():
    return load_flow(FLOWS)


def test_the_corpus_is_large_and_covers_both_languages():
    assert len(CASES) >= 200
    assert {case.values[0] for case in CASES} == {"id", "en"}


@pytest.mark.parametrize("language,question,text,meaning", CASES)
def test_each_reply_gets_its_meaning(flow, language, question, text, meaning):
    panic = flow.signals.is_panic(text)
    answer = flow.lexicons[language].answer(text, question)
    if meaning == "PANIC":
        assert panic
        return
    assert not panic
    if meaning == "STORY":
        assert flow.signals.is_story(text) and answer is None
    elif meaning == "NONE":
        assert answer is None or answer.meaning not in {"YES", "NO", "SKIP", "SEND", "DELETE"} and not answer.number
        if question is None:
            assert not flow.signals.is_story(text)
    else:
        assert answer is not None
        got = AS_LISTED.get(answer.meaning, answer.meaning) if question in YES_NO else answer.meaning
        assert got == meaning
