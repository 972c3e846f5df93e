"""Whatever someone writes, in whatever state the conversation is, through the signed webhook: never a
500, and never a message's words lost (issue 8). Hypothesis writes the messages.

"Lost" means: a message that is not a command or an answer word, sent during a report, or telling a
story or calling for help anywhere, whose words then appear nowhere in what is kept for that sender
(their tips and additions, their conversation, their volunteer area, their ideas).
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlmodel import select

from tipline import storage
from tipline.engine import command_of, fold
from tipline.engine.conversation import PICKING, SUSPENDED, WHICH, is_report_state
from tipline.engine.reading import words
from tipline.models import ConversationRow, Idea, Tip, TipAddition, Volunteer
from tipline.service import xml_safe
from tipline.storage import inbound
from tipline.webhook import MAX_BODY

from .conftest import signed_post, twiml_messages

PROPERTY = hypothesis_settings(
    max_examples=250, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

TOLD = {"danger": False, "description": "Anak2 kerja di pabrik", "_told": True}
# (state, answers, minutes since the last message): every kind of place a message can arrive at.
STATES = [
    (None, {}, 0), ("menu", {}, 1), ("learn", {}, 1), ("help", {}, 1), ("language", {}, 1), ("join", {}, 1),
    ("join_place", {"consent": True}, 1), ("report_danger", {}, 1), ("report_what", {"danger": False}, 1),
    ("report_kind", TOLD, 1), ("report_where", {**TOLD, "category": "begging"}, 1),
    ("report_where", {**TOLD, PICKING: {"parent": None, "page": 0}}, 1),
    ("report_where", {**TOLD, PICKING: {"parent": "32", "page": 1}}, 1),
    ("report_where", {**TOLD, WHICH: {"codes": ["32.16", "32.75"], "page": 0, "words": "Bekasi", "parent": None}}, 1),
    ("report_when", {**TOLD, "location": "Bekasi"}, 1), ("report_count", TOLD, 1), ("report_contact", TOLD, 1),
    ("report_confirm", {**TOLD, "contact_consent": False}, 1), ("urgent_where", {"danger": True}, 1),
    ("urgent_what", {"danger": True, "location": "Bekasi"}, 1),
    ("_resume", {**TOLD, SUSPENDED: "report_kind"}, 90), ("report_kind", TOLD, 90),  # after a silence
]
VOCABULARY = [
    "ada", "anak", "tolong", "TOLONG!!", "darurat", "bahaya", "sos", "help", "me", "ya", "iya", "gak", "tidak", "ok",
    "kirim", "hapus", "satu", "dua", "1", "2", "0", "9", "②", "²", "dikurung", "majikan", "girl", "locked", "the",
    "di", "pabrik", "Bekasi", "Kota", "Bandung", "jaksel", "halo", "menu", "lapor", "umurnya", "14", "thn", "sy",
    "yg", "kemarin", "malam", "tanda", "please", "van", "station", "udh", "gatau", "iyaaa", "muhun", "ora",
]
messages = st.one_of(
    st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=12).map(" ".join),
    st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=6).map(lambda ws: ", ".join(ws) + "!!"),
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Zs", "So"]), min_size=1, max_size=80),
)
_senders = itertools.count(1)


def kept_for(tipline, reporter: str) -> set[str]:
    """Every word kept for this sender, folded."""
    with storage.reading(tipline.db) as session:
        tips = list(session.exec(select(Tip).where(Tip.reporter == reporter)))
        ids = [t.id for t in tips]
        additions = list(session.exec(select(TipAddition).where(TipAddition.tip_id.in_(ids)))) if ids else []
        row = session.exec(select(ConversationRow).where(ConversationRow.reporter == reporter)).first()
        volunteer = session.exec(select(Volunteer).where(Volunteer.reporter == reporter)).first()
        ideas = list(session.exec(select(Idea).where(Idea.reporter == reporter)))
    kept = [value for t in tips for value in (t.description, t.location, *t.answers.values())]
    texts = [value for value in kept if isinstance(value, str) and value]
    texts += [a.text for a in additions] + [i.text for i in ideas]
    texts += [json.dumps(row.data, ensure_ascii=False)] if row else []
    texts += [volunteer.place] if volunteer and volunteer.place else []
    return {w for text in texts for w in words(text)}


def must_be_kept(tipline, state: str | None, text: str) -> bool:
    flow = tipline.flow
    found = words(text)
    if not found or all(w.isdigit() or w in flow.signals.greetings for w in found):
        return False
    if any(command_of(flow, language, text) for language in flow.languages):
        return False  # EXIT, STOP, ADD <ref>, ...: commands, not words to keep
    if any(flow.lexicons[language].answer(text) for language in flow.languages):
        return False  # "ya", "gak ada kok", "2 kerja": an answer
    if flow.signals.only_panic(text):
        return False  # "TOLONG!!": the urgent report is the answer; there is nothing to describe
    return is_report_state(flow, state) or flow.signals.is_story(text) or flow.signals.is_panic(text)


@PROPERTY
@given(start=st.sampled_from(STATES), text=messages)
def test_no_message_at_any_state_gets_a_500_or_loses_its_words(client, tipline, clock, start, text):
    state, answers, quiet_minutes = start
    sender = f"+1555019{next(_senders):04d}"
    reporter = tipline.reporter_of(sender)
    clock.advance(minutes=1)
    with storage.writing_transaction(tipline.db) as tx:
        row = inbound.lock_conversation(tx.conn, reporter=reporter, channel="sms")
        row.state, row.language = state, "id"
        row.data = {"answers": dict(answers), "tip": None, "lesson": 0}
        row.last_seen_at = clock.now - timedelta(minutes=quiet_minutes) if state else None
        inbound.save_conversation(tx.conn, row)
    fields = {"MessageSid": f"SM{next(_senders):032x}", "From": sender, "To": "+15550100099", "Body": text,
              "NumMedia": "0"}
    response = signed_post(client, fields)
    assert response.status_code == 200, response.get_data(as_text=True)
    twiml_messages(response.get_data(as_text=True))  # well-formed TwiML
    sent = xml_safe(text)[:MAX_BODY]
    if must_be_kept(tipline, state, sent):
        missing = set(words(sent)) - kept_for(tipline, reporter)
        assert not missing, f"{state}: {sent!r} lost {missing}"


def test_the_oracle_itself_sees_a_lost_message(tipline):
    """The property would fail if words were dropped: a story at the menu must be kept, "ok" need not."""
    assert must_be_kept(tipline, "menu", "ada anak kecil disuruh ngemis tiap malam")
    assert not must_be_kept(tipline, "report_kind", "ok")
    assert must_be_kept(tipline, "report_kind", "umurnya 14 thn")
    assert fold("Ｔolong") == "TOLONG"


@pytest.mark.parametrize("text", ["²", "①", "٣", "⑩", "௰", "1️⃣", "½", "Ⅻ", "\u0000", "\U0001F600" * 50])
@pytest.mark.parametrize("state", ["menu", "report_danger", "report_kind", "report_confirm", "language"])
def test_odd_digits_and_symbols_at_numbered_questions_are_never_a_500(client, tipline, clock, text, state):
    sender = f"+1555018{next(_senders):04d}"
    with storage.writing_transaction(tipline.db) as tx:
        row = inbound.lock_conversation(tx.conn, reporter=tipline.reporter_of(sender), channel="sms")
        row.state, row.language, row.data, row.last_seen_at = state, "id", {"answers": TOLD}, clock.now
        inbound.save_conversation(tx.conn, row)
    fields = {"MessageSid": f"SM{next(_senders):032x}", "From": sender, "To": "+15550100099", "Body": text}
    response = signed_post(client, fields)
    assert response.status_code == 200
    assert twiml_messages(response.get_data(as_text=True))  # always some reply
