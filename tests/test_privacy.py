"""Pseudonyms and sealed contacts: what stands between a reporter's number and the database."""

from __future__ import annotations

import hashlib
import hmac

import sqlalchemy as sa
from cryptography.fernet import Fernet

from tipline import storage
from tipline.models import Tip
from tipline.privacy import ContactBox, normalize_address, pseudonym

from .conftest import Reporter

KEY = "pseudonym-key-for-tests-only-0123456789"


def test_pseudonym_is_hmac_sha256_of_the_normalized_address():
    expected = hmac.new(KEY.encode(), b"+15550100001", hashlib.sha256).hexdigest()
    assert pseudonym("+15550100001", KEY) == expected
    # The same person on SMS and WhatsApp, however the address is written, is one reporter.
    for variant in ("whatsapp:+15550100001", "WhatsApp:+1 555-010-0001", " +15550100001 ", "15550100001"):
        assert pseudonym(variant, KEY) == expected
    assert pseudonym("+15550100002", KEY) != expected
    assert pseudonym("+15550100001", KEY + "x") != expected
    assert normalize_address("whatsapp:+1 (555) 010-0001") == "+15550100001"


def test_contact_box_round_trip_and_wrong_key():
    box = ContactBox(Fernet.generate_key().decode())
    sealed = box.seal("whatsapp:+15550100001")
    assert "5550100001" not in sealed
    assert box.open(sealed) == "whatsapp:+15550100001"
    assert ContactBox(Fernet.generate_key().decode()).open(sealed) is None


def _dump_database(engine) -> str:
    """Every value in every table, as text."""
    dump = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                dump.append(" ".join(str(v) for v in row))
    return "\n".join(dump)


def test_the_number_is_stored_only_sealed_and_only_with_consent(client, tipline):
    yes = Reporter(client, "+15550100021")
    for text in ("hi", "1", "2", "A girl is kept from school to work", "1", "0", "0", "0", "1", "1"):
        yes.send(text)
    no = Reporter(client, "whatsapp:+15550100022")
    for text in ("hi", "1", "2", "Boys sleep at the fishing platform", "1", "0", "0", "0", "2", "1"):
        no.send(text, ProfileName="Siti Example", FromCity="Bogor", WaId="15550100022")
    dump = _dump_database(tipline.db)
    for secret in ("5550100021", "5550100022", "Siti Example", "Bogor"):
        assert secret not in dump
    with storage.reading(tipline.db) as session:
        tips = {t.reporter: t for t in session.exec(sa.select(Tip)).scalars()}
    with_consent = tips[tipline.reporter_of("+15550100021")]
    without = tips[tipline.reporter_of("whatsapp:+15550100022")]
    assert tipline.contacts.open(with_consent.contact_sealed) == "+15550100021"
    assert without.contact_sealed is None and without.contact_consent is False


def test_stop_and_exit_delete_the_contact_address(client, tipline):
    reporter = Reporter(client, "+15550100023")
    for text in ("hi", "1", "2", "Girls recruited for work abroad", "3", "0", "0", "0", "1", "1"):
        reporter.send(text)
    with storage.reading(tipline.db) as session:
        assert session.exec(sa.select(Tip.contact_sealed)).scalars().one() is not None
    assert reporter.send("STOP") == []
    with storage.reading(tipline.db) as session:
        tip = session.exec(sa.select(Tip)).scalars().one()
    assert tip.contact_sealed is None and tip.contact_consent is False and tip.complete is True
