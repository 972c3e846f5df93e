"""Community participation over the webhook: volunteers join and leave, ideas are kept."""

from __future__ import annotations

from sqlmodel import select

from tipline import storage
from tipline.models import Idea, Volunteer

from .conftest import Reporter


def volunteers(tipline):
    with storage.reading(tipline.db) as session:
        return list(session.exec(select(Volunteer)))


def test_join_records_consent_place_and_sealed_address_and_stop_leaves(client, tipline, clock):
    person = Reporter(client, "whatsapp:+15550100041")
    person.send("hi")
    person.send("JOIN")
    person.send("1")
    assert "Thank you for joining" in person.send("Desa Sukamaju, kab Bogor")[0]
    [volunteer] = volunteers(tipline)
    assert volunteer.active and volunteer.channel == "whatsapp" and volunteer.language == "en"
    # The typed words are kept; the place matcher adds the code of Kab. Bogor.
    assert volunteer.place == "Desa Sukamaju, kab Bogor" and volunteer.place_code == "32.01"
    assert "never confront" in volunteer.consent_wording and volunteer.consent_at == clock.now
    assert tipline.contacts.open(volunteer.address_sealed) == "whatsapp:+15550100041"
    assert volunteer.reporter == tipline.reporter_of("+15550100041")

    clock.advance(days=3)
    # Twilio confirms STOP only on SMS: on WhatsApp the bot says it worked.
    assert person.send("STOP") == ["You will get no more messages from us. Send START to come back."]
    [volunteer] = volunteers(tipline)
    assert not volunteer.active and volunteer.address_sealed is None and volunteer.left_at == clock.now
    with storage.reading(tipline.db) as session:
        assert storage.volunteers_in(session, place_codes=[]) == []


def test_place_from_the_list_targets_a_province(client, tipline):
    person = Reporter(client, "+15550100042")
    person.send("halo")
    person.send("5")
    person.send("1")
    person.send("9")
    flow = tipline.flow
    pages = flow.place_pages("id", None)
    [(page_number, index)] = [(n, i) for n, page in enumerate(pages) for i, p in enumerate(page, 1) if p.code == "33"]
    for _ in range(page_number):
        person.send("9")
    person.send(str(index))  # Jawa Tengah
    person.send("1")  # its first regency
    [volunteer] = volunteers(tipline)
    assert volunteer.place_code.startswith("33.")
    with storage.reading(tipline.db) as session:
        assert [v.id for v in storage.volunteers_in(session, place_codes=["33"])] == [volunteer.id]
        assert storage.volunteers_in(session, place_codes=["32"]) == []


def test_declining_or_reporting_never_subscribes(client, tipline):
    declined = Reporter(client, "+15550100043")
    for text in ("hi", "5", "2"):
        declined.send(text)
    reporter = Reporter(client, "+15550100044")
    for text in ("hi", "1", "2", "A girl works at night at the stall", "1", "0", "0", "0", "1", "1"):
        reporter.send(text)
    assert volunteers(tipline) == []


def test_idea_is_stored_under_a_pseudonym(client, tipline):
    person = Reporter(client, "+15550100045")
    assert person.send("IDEA talks about safe migration at the mosque") == ["Thank you. Your idea goes to our team."]
    with storage.reading(tipline.db) as session:
        [idea] = session.exec(select(Idea)).all()
    assert idea.text == "talks about safe migration at the mosque" and idea.status == "new"
    assert idea.reporter == tipline.reporter_of("+15550100045") and "5550100045" not in idea.reporter
