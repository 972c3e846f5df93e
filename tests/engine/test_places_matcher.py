"""One place matcher for typed places (issue 9.1): confident, ambiguous or none, and the conversation's use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tipline.engine import load_flow
from tipline.engine.places import Place, PlaceMatcher, PlaceWords

from .. import engine_support
from ..engine_support import Talk

FLOWS = Path(__file__).resolve().parents[2] / "flows"


@pytest.fixture(scope="module")
def flow():
    return load_flow(FLOWS)


@pytest.mark.parametrize("typed,code", [
    ("Kota Bandung", "32.73"), ("kota bandung", "32.73"), ("KAB BANDUNG", "32.04"), ("Kabupaten Bandung", "32.04"),
    ("kab. bekasi", "32.16"), ("Kota Bekasi", "32.75"), ("Bandung Barat", "32.17"), ("Surabaya", "35.78"),
    ("Surabya", "35.78"), ("Kota Surabaya", "35.78"), ("Pasar Baru, Kota Surabaya", "35.78"), ("Denpasar", "51.71"),
    ("Makasar", "73.71"), ("Ujung Pandang", "73.71"), ("jaksel", "31.74"), ("Jakarta Selatan", "31.74"),
    ("Jl. Melati 4, Jakarta Timur", "31.75"), ("East Jakarta", "31.75"), ("Jakarta", "31"), ("DKI Jakarta", "31"),
    ("Solo", "33.72"), ("Jogja", "34"), ("Jawa Barat", "32"), ("jabar", "32"), ("NTT", "53"),
    ("kec. Cibinong, kab. Bogor", "32.01"), ("Desa Sukamaju, kab Bogor", "32.01"), ("Batu", "35.79"),
    ("Kota Batu", "35.79"), ("Prov. Bali", "51"), ("Kepulauan Seribu", "31.01"), ("Tangsel", "36.74"),
])
def test_confident_matches_keep_the_place_code(flow, typed, code):
    match = flow.match_place(typed)
    assert match.kind == "confident" and match.place.code == code


@pytest.mark.parametrize("typed,codes", [
    ("Bekasi", ["32.16", "32.75"]), ("bekasih", ["32.16", "32.75"]), ("Bekasi, Jawa Barat", ["32.16", "32.75"]),
    ("Malang", ["35.07", "35.73"]), ("Malang Jawa Timur", ["35.07", "35.73"]), ("Bogor", ["32.01", "32.71"]),
    ("semarng", ["33.22", "33.74"]), ("Tasik", ["32.06", "32.78"]),
    ("dekat batu besar", ["35.79"]),  # a short everyday word: asked, never assumed
    ("dari Surabaya dibawa ke Bandung", ["32.04", "32.73", "35.78"]),
])
def test_ambiguous_names_give_candidates_in_alphabetical_order(flow, typed, codes):
    match = flow.match_place(typed)
    assert match.kind == "ambiguous" and match.place is None
    assert [p.code for p in match.candidates] == codes


@pytest.mark.parametrize("typed", ["pasar malam", "the fish market", "behind the old cinema",
                                   "Terminal Kampung Rambutan", "rumah sebelah", "dekat masjid", "Kuala Lumpur", "",
                                   "12345", "\U0001F600"])
def test_words_that_name_no_place_are_none(flow, typed):
    assert flow.match_place(typed).kind == "none"


def test_within_keeps_to_one_province(flow):
    assert flow.match_place("Bekasi", within="32").kind == "ambiguous"
    assert flow.match_place("Surabaya", within="32").kind == "none"
    assert flow.match_place("kota bekasi", within="32").place.code == "32.75"


def test_the_matcher_works_on_any_tree_without_place_words():
    tree = (Place("1", "Alpha", (Place("1.01", "Kab. Beta"), Place("1.71", "Kota Beta"))),)
    matcher = PlaceMatcher(tree, PlaceWords())
    assert matcher.match("Beta").kind == "ambiguous"
    assert matcher.match("Kota Beta").place.code == "1.71"
    assert matcher.label(matcher.place("1.71")) == "Kota Beta, Alpha"


# ---- in the conversation -----------------------------------------------------------------------------

def to_where(flow, language="id"):
    return engine_support.to_where(flow, language)


def test_an_ambiguous_place_is_asked_back_with_a_numbered_choice(flow):
    talk = to_where(flow)
    assert talk.send("Jl. Kenanga 14, Bekasi") == [
        "Maksudnya yang mana? Pilih angka:\n1 Kab. Bekasi, Jawa Barat\n2 Kota Bekasi, Jawa Barat\n"
        "0 Tidak ada yang cocok"]
    assert talk.send("2")[0].startswith("Kapan Anda melihatnya?")
    fields = talk.saved()[-1].fields
    assert fields["location"] == "Jl. Kenanga 14, Bekasi" and fields["place_code"] == "32.75"


def test_none_of_these_keeps_the_words_without_a_code(flow):
    talk = to_where(flow)
    talk.send("Bekasi")
    talk.send("0")
    fields = talk.saved()[-1].fields
    assert fields["location"] == "Bekasi" and fields["place_code"] is None


def test_other_words_at_the_choice_are_read_as_the_place_again(flow):
    talk = to_where(flow)
    talk.send("Bekasi")
    assert talk.send("kota bekasi")[0].startswith("Kapan")
    assert talk.saved()[-1].fields["place_code"] == "32.75"


def test_a_long_choice_pages_alphabetically_with_9_more(flow):
    talk = to_where(flow, "en")
    first = talk.send("Bogor Bandung Bekasi Malang Semarang Tegal")[0]
    assert first.startswith("Which one do you mean? Pick a number:\n1 Kab. Bandung, Jawa Barat\n2 Kota Bandung")
    assert "9 More" in first and first.endswith("0 None of these")
    assert "8 Kota Malang, Jawa Timur" in first  # Bandung, Bekasi, Bogor, Malang: Kab. then Kota
    second = talk.send("9")[0]
    assert second.startswith("Which one do you mean? Pick a number:\n1 Kab. Semarang, Jawa Tengah\n")
    assert "4 Kota Tegal, Jawa Tengah\n9 More" in second
    assert talk.send("9")[0] == first  # round again
    talk.send("9")
    talk.send("4")
    assert talk.saved()[-1].fields["place_code"] == "33.76"


def test_the_volunteers_area_uses_the_same_matcher(flow):
    from tipline.engine import Subscribe

    talk = Talk(flow, language="id")
    for text in ("halo", "5", "1"):
        talk.send(text)
    assert talk.send("Malang")[0].startswith("Maksudnya yang mana?")
    talk.send("1")
    assert talk.last_events == [Subscribe("id", "Malang", "35.07")]
