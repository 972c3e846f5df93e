"""The volunteers page (issue 11 item 8): how many community watch volunteers, where and in which
language; never a number, a pseudonym or the words a volunteer used for their place."""

from __future__ import annotations

import re

import pytest

from tipline import storage

VOLUNTEERS = {  # number: (language, place code, their words for the place)
    "+15550100151": ("id", "32.73", "kota bandung, deket alun2"),
    "+15550100152": ("id", "32.73", "bandung"),
    "+15550100153": ("en", "32", "jabar"),
    "+15550100154": ("id", "33.74", "semarang"),
    "+15550100155": ("id", None, "kampung sebelah sungai"),
}


@pytest.fixture
def watch(app, clock):
    tipline = app.extensions["tipline"]
    with storage.writing(tipline.db) as session:
        for number, (language, code, words) in VOLUNTEERS.items():
            storage.subscribe_volunteer(session, reporter=tipline.reporter_of(number),
                                        address_sealed=tipline.contacts.seal(number), channel="sms",
                                        language=language, place=words, place_code=code, consent_wording="setuju",
                                        now=clock.now)
        left = storage.subscribe_volunteer(
            session, reporter=tipline.reporter_of("+15550100156"), address_sealed=tipline.contacts.seal("+15550100156"),
            channel="sms", language="id", place=None, place_code="32", consent_wording="setuju", now=clock.now)
        left.active = False  # left the watch: not counted
        session.add(left)


def rows(html: str) -> list[list[str]]:
    body = html.partition('class="provinces volunteers"')[2].partition("<tbody>")[2].partition("</tbody>")[0]
    return [[re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip() for cell in
             re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_volunteers_are_counted_by_place_and_language(app, operator, watch):
    html = operator.get("/dashboard/community/volunteers").get_data(as_text=True)
    assert re.search(r'id="volunteer-total">5<', html)
    assert rows(html) == [
        ["Jawa Barat", "3", "Kota Bandung: 2; the province only: 1"],
        ["Jawa Tengah", "1", "Kota Semarang: 1"],
    ]
    assert "matched no listed place: 1" in html
    assert "Bahasa Indonesia: <strong>4</strong>" in html and "English: <strong>1</strong>" in html
    tiles = dict(re.findall(r'data-code="(\d+)"><title>[^<]*</title>.*?<text[^>]*>\w+</text><text[^>]*>(\d+)</text>',
                            html))
    assert tiles["32"] == "3" and tiles["33"] == "1" and tiles["31"] == "0"
    assert "Jawa Barat: 3 volunteers" in html


def test_never_a_number_a_pseudonym_or_their_words(app, operator, watch):
    html = operator.get("/dashboard/community/volunteers").get_data(as_text=True)
    tipline = app.extensions["tipline"]
    for number, (_language, _code, words) in VOLUNTEERS.items():
        assert number not in html and number[-4:] not in html
        assert tipline.reporter_of(number) not in html
        assert words not in html


def test_the_page_is_linked_and_empty_at_first(operator):
    html = operator.get("/dashboard/community/volunteers").get_data(as_text=True)
    assert "No volunteers yet." in html and "<svg" not in html
    assert 'href="/dashboard/community/volunteers"' in operator.get("/dashboard/community/ideas").get_data(as_text=True)


def test_partners_do_not_see_volunteers(partner):
    assert partner.get("/dashboard/community/volunteers").status_code == 403
