"""An answer in the middle of a report costs four SQL statements, on SQLite and PostgreSQL (issue 13).

Counted with SQLAlchemy's cursor and transaction events on the app's own engine, never timed:
the sender's conversation locked, the unfinished tip updated, the conversation updated, the
MessageSid claimed with its answer; one transaction. A reporter mid-report is never looked up
as a volunteer, a poll participant, a partner or someone with a follow-up question pending.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.conftest import Reporter, inbound_fields, signed_post
from tipline import storage
from tipline.models import ProcessedMessage, Tip, TipEvent

SENDER = "+15550100071"
STORY = "ada anak2 disuruh jualan di lampu merah sampe tengah malam, kayaknya ga sekolah"
# Answers inside the report, as people write them: kind, where, when, how many.
ANSWERS = ("2", "deket pasar cianjur", "tiap malem", "3 anak kecil")
_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


@pytest.fixture
def app(store_app):
    return store_app  # on SQLite, then PostgreSQL


class Statements:
    """Statements the engine sends (BEGIN apart) as "VERB table", and its committed transactions."""

    def __init__(self, engine: sa.Engine):
        self.engine, self.sent, self.commits = engine, [], 0
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine, "commit", self._commit)

    def _statement(self, _conn, _cursor, statement: str, *_args) -> None:
        verb = statement.split(None, 1)[0].upper()
        if verb != "BEGIN":  # SQLite's BEGIN IMMEDIATE; psycopg sends its BEGIN unseen: both are the transaction
            table = _TABLE.search(statement)
            self.sent.append(f"{verb} {table.group(1) if table else '-'}")

    def _commit(self, _conn) -> None:
        self.commits += 1

    def __enter__(self):
        self.sent.clear()
        self.commits = 0
        return self

    def __exit__(self, *_exc) -> None:
        pass


def test_an_answer_in_the_middle_of_a_report_costs_four_statements(client, tipline, clock):
    reporter = Reporter(client, SENDER)
    for text in ("halo", "1", "2", STORY):  # the tip exists from the story on
        reporter.send(text)
    counted = Statements(tipline.db)
    for text in ANSWERS:
        clock.advance(minutes=1)
        with counted:
            replies = reporter.send(text)
        assert replies, "every answer gets the next question"
        four = ["SELECT conversation", "UPDATE tip", "UPDATE conversation", "INSERT processed_message"]
        assert counted.sent == four, text
        assert counted.commits == 1
    with storage.reading(tipline.db) as session:
        [tip] = session.exec(sa.select(Tip)).scalars()
    assert tip.description == STORY and tip.category == "sexual_exploitation"
    assert tip.answers == {"when": "tiap malem", "children": "3 anak kecil"} and not tip.complete


def test_a_place_the_list_lacks_adds_its_timeline_event_and_nothing_else(client, tipline, clock):
    reporter = Reporter(client, SENDER)
    for text in ("halo", "1", "2", STORY, "2"):
        reporter.send(text)
    counted = Statements(tipline.db)
    with counted:
        reporter.send("gang sempit belakang pabrik tahu")  # no place in the list: kept as typed
    assert counted.sent == ["SELECT conversation", "UPDATE tip", "INSERT tip_event", "UPDATE conversation",
                            "INSERT processed_message"]
    with storage.reading(tipline.db) as session:
        kinds = session.exec(sa.select(TipEvent.kind)).scalars().all()
    assert kinds.count("place_not_matched") == 1


def test_a_repeated_answer_gets_its_first_reply_and_changes_nothing(client, tipline, clock):
    reporter = Reporter(client, SENDER)
    for text in ("halo", "1", "2", STORY, "2", "deket pasar cianjur"):
        reporter.send(text)
    fields = inbound_fields("tiap malem", sender=SENDER)  # the answer to "when"
    first = signed_post(client, fields)
    clock.advance(minutes=1)
    again = signed_post(client, fields)  # Twilio's retry: processed again, it would answer "how many"
    assert again.status_code == 200 and again.get_data() == first.get_data()
    with storage.reading(tipline.db) as session:
        [tip] = session.exec(sa.select(Tip)).scalars()
        sids = session.exec(sa.select(ProcessedMessage.message_sid)).scalars().all()
    assert sids.count(fields["MessageSid"]) == 1
    assert tip.answers == {"when": "tiap malem"} and tip.description == STORY


def test_the_count_sees_a_statement_more(client, tipline):
    """The listener itself: the new sender's first message costs more (the conversation is created)."""
    counted = Statements(tipline.db)
    with counted:
        Reporter(client, "+15550100072").send("halo")
    assert "INSERT conversation" in counted.sent and len(counted.sent) > 4


def test_a_mid_report_sender_is_never_looked_up_as_volunteer_partner_or_poll_participant(client, tipline):
    reporter = Reporter(client, SENDER)
    for text in ("halo", "1", "2"):
        reporter.send(text)
    counted = Statements(tipline.db)
    with counted:
        for text in (STORY, *ANSWERS):
            reporter.send(text)
    looked_up = {entry.split()[1] for entry in counted.sent}
    assert not looked_up & {"volunteer", "poll", "poll_answer", "broadcast_recipient", "partner", "follow_up"}
