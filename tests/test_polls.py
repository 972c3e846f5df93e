"""Polls: created in the dashboard, sent to volunteers, answered with one digit, tallied, results sent back."""

from __future__ import annotations

import re

import pytest

from tipline import storage

from .community_support import (
    BANDUNG,
    BOGOR,
    QUESTION,
    REPORTER_ONLY,
    SEMARANG,
    post,
    run_worker,
    send_poll,
    tally,
)
from .conftest import Reporter


@pytest.fixture
def app(watch_app):
    """This module's app sends through the fake Twilio server, on SQLite and on PostgreSQL."""
    return watch_app


@pytest.fixture
def operator(watch_operator):
    return watch_operator


def test_poll_reaches_volunteers_and_answers_are_tallied(app, tipline, volunteers, operator, fake_twilio, clock):
    poll_id, _ = send_poll(operator, tipline, clock, places=["32"])
    bodies = {r["form"]["To"]: r["form"]["Body"] for r in fake_twilio.sent()}
    assert set(bodies) == {BANDUNG, BOGOR}
    assert bodies[BANDUNG] == ("Info Anak poll: Where do children work at night in your area?\n"
                               "1 Markets\n2 Ports\n3 Karaoke bars\nReply with one number.")
    assert "1 Pasar\n2 Pelabuhan\n3 Tempat karaoke" in bodies[BOGOR]

    client = app.test_client()
    clock.advance(minutes=10)
    assert Reporter(client, BANDUNG).send("2") == ["Thank you, your answer 2 is counted."]
    bogor = Reporter(client, BOGOR)
    assert "dihitung" in bogor.send("satu")[0]  # number words count too
    clock.advance(minutes=1)
    # Only the first reply after the poll is its answer (issue 9): a later digit is a menu choice again.
    assert "dihitung" not in " ".join(bogor.send("3"))
    assert tally(tipline, poll_id) == {1: 1, 2: 1}

    page = operator.get(f"/dashboard/community/polls/{poll_id}").get_data(as_text=True)
    counts = re.findall(r'<td class="count">(\d+)</td>', page)
    assert counts == ["1", "1", "0"] and "2 answers." in page
    assert "<svg" in page and "<script" not in page


def test_digits_that_are_not_poll_answers_go_to_the_conversation(app, tipline, volunteers, operator, fake_twilio,
                                                                 clock):
    poll_id, _ = send_poll(operator, tipline, clock)
    client = app.test_client()
    flow = tipline.flow

    # Out of the options: the ordinary conversation answers.
    assert "counted" not in " ".join(Reporter(client, BANDUNG).send("7"))
    # Wrote something else after the poll reached them: a digit is a menu choice again.
    semarang = Reporter(client, SEMARANG)
    semarang.send("halo")
    assert "dihitung" not in " ".join(semarang.send("2"))
    # Someone who is not a volunteer gets the normal menu, and nothing is counted.
    reply = Reporter(client, REPORTER_ONLY).send("1")
    assert reply[0].startswith(flow.say(flow.default_language, "welcome"))
    assert flow.say(flow.default_language, "menu") in reply[0] and "dihitung" not in " ".join(reply)
    assert tally(tipline, poll_id) == {}


def test_a_closed_poll_counts_nothing_more(app, tipline, volunteers, operator, fake_twilio, clock):
    poll_id, _ = send_poll(operator, tipline, clock)
    path = f"/dashboard/community/polls/{poll_id}"
    assert post(operator, f"{path}/close", {}, token_from=path).status_code == 302
    assert "dihitung" not in " ".join(Reporter(app.test_client(), BOGOR).send("1"))
    assert tally(tipline, poll_id) == {}


def test_results_and_what_will_change_go_back_to_the_participants(app, tipline, volunteers, operator, fake_twilio,
                                                                  clock):
    poll_id, _ = send_poll(operator, tipline, clock)
    client = app.test_client()
    clock.advance(minutes=10)
    Reporter(client, BANDUNG).send("1")
    Reporter(client, BOGOR).send("3")
    already = len(fake_twilio.sent())

    path = f"/dashboard/community/polls/{poll_id}"
    response = post(operator, f"{path}/results", {"change_en": "We will visit the markets with the police.",
                                                  "change_id": "Kami akan mengunjungi pasar bersama polisi."},
                    token_from=path)
    assert response.status_code == 302
    broadcast_path = response.headers["Location"]
    assert "2 volunteers would receive it now." in operator.get(broadcast_path).get_data(as_text=True)
    post(operator, f"{broadcast_path}/send", {"action": "now"}, token_from=broadcast_path)
    run_worker(tipline, clock)

    results = {r["form"]["To"]: r["form"]["Body"] for r in fake_twilio.sent()[already:]}
    assert set(results) == {BANDUNG, BOGOR}  # Semarang did not answer
    assert results[BANDUNG] == ("Info Anak poll results: Where do children work at night in your area?\n"
                                "1 Markets: 50%\n2 Ports: 0%\n3 Karaoke bars: 50%\n"
                                "We will visit the markets with the police.")
    assert results[BOGOR].startswith("Info Anak hasil survei:")
    with storage.reading(tipline.db) as session:
        actions = {e.action for e in storage.audit_entries(session, per_page=100)[0]}
    assert {"poll_created", "broadcast_scheduled", "poll_results_drafted"} <= actions


@pytest.mark.parametrize("fields, problem", [
    ({"options_en": "Only one"}, "same number of options"),
    ({"options_en": "\n".join("abcdefghij"), "options_id": "\n".join("abcdefghij")}, "2 to 9 options"),
    ({"question_id": "", "options_id": ""}, "default language"),
])
def test_a_malformed_poll_is_refused(app, operator, fields, problem):
    response = post(operator, "/dashboard/community/polls/new", {**QUESTION, **fields},
                    token_from="/dashboard/community/polls/new")
    assert response.status_code == 400 and problem in response.get_data(as_text=True)


def test_odd_digits_after_a_poll_are_read_as_digits_never_a_500(app, tipline, volunteers, operator, fake_twilio,
                                                                 clock):
    """'²' and '٣' are digits to str.isdigit but not to int(): folded to 2 and 3 first; '⑩' is out of range."""
    poll_id, _ = send_poll(operator, tipline, clock)
    clock.advance(minutes=10)
    client = app.test_client()
    assert "counted" in " ".join(Reporter(client, BANDUNG).send("²"))
    assert "dihitung" in " ".join(Reporter(client, BOGOR).send("٣"))
    assert "dihitung" not in " ".join(Reporter(client, SEMARANG).send("⑩"))  # the conversation answers
    assert tally(tipline, poll_id) == {2: 1, 3: 1}
