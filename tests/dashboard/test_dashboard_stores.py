"""The dashboard's queries on both stores: SQLite and PostgreSQL (skipped without it, except under CI)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tipline import storage
from tipline.actions import Actor
from tipline.actions import tips as tip_actions

from ..dashboard_support import add_tip, at, audit_log, escalate, make_user


@pytest.fixture
def seeded(store_app, clock):
    add_tip(store_app, "AAAA-2222", at=at(clock, days=3), category="begging", location="Pasar Minggu ")
    add_tip(store_app, "BBBB-2222", at=at(clock, days=2), urgency="immediate", description="50% in a BOAT")
    add_tip(store_app, "CCCC-2222", at=at(clock, hours=1), urgency="immediate", status="closed",
            location="pasar minggu")
    return store_app


def queue(app, **filters):
    with storage.reading(app.extensions["tipline"].db) as session:
        page = storage.tip_queue(session, filters=storage.QueueFilter(**filters), role="operator", partner=None)
    return [t.reference for t in page.pinned], [t.reference for t in page.tips], page.total


def test_queue_order_filters_and_search(seeded):
    assert queue(seeded) == (["BBBB-2222"], ["CCCC-2222", "BBBB-2222", "AAAA-2222"], 3)
    assert queue(seeded, search="boat") == (["BBBB-2222"], ["BBBB-2222"], 1)
    assert queue(seeded, search="50%") == (["BBBB-2222"], ["BBBB-2222"], 1)
    assert queue(seeded, search="_") == ([], [], 0)
    assert queue(seeded, search="PASAR") == ([], ["CCCC-2222", "AAAA-2222"], 2)
    assert queue(seeded, category="begging", complete=True) == ([], ["AAAA-2222"], 1)


def test_partner_scope(seeded):
    escalate(seeded, "AAAA-2222", "Rumah Aman")
    with storage.reading(seeded.extensions["tipline"].db) as session:
        mine = storage.tip_queue(session, filters=storage.QueueFilter(), role="partner", partner="Rumah Aman")
        other = storage.tip_queue(session, filters=storage.QueueFilter(), role="partner", partner="Other NGO")
        assert storage.visible_tip(session, reference="AAAA-2222", role="partner", partner="Other NGO") is None
    assert [t.reference for t in mine.tips] == ["AAAA-2222"] and other.tips == [] and other.pinned == []


def test_statistics(seeded, clock):
    with storage.writing(seeded.extensions["tipline"].db) as session:
        tip = storage.tip_by_reference(session, reference="BBBB-2222")
        tip_actions.change_status(session, tip, actor=Actor.operator("operator@example.org"), to="triaged",
                               now=clock.now)
    with storage.reading(seeded.extensions["tipline"].db) as session:
        numbers = storage.tip_figures(session, since=at(clock, days=10), until=clock.now)
    assert numbers["total"] == 3
    assert numbers["per_day"] == {"2026-02-27": {"normal": 1}, "2026-02-28": {"immediate": 1},
                                  "2026-03-02": {"immediate": 1}}
    assert dict(numbers["by_status"]) == {"new": 1, "triaged": 1, "closed": 1}
    assert dict(numbers["by_category"]) == {"begging": 1, None: 2}
    assert numbers["median_triage_seconds"] == 2 * 86400 and numbers["triaged"] == 1


def test_audit_trail_is_append_only(store_app, clock):
    with storage.writing(store_app.extensions["tipline"].db) as session:
        storage.record_audit(session, actor="admin@example.org", action="export", at=clock.now)
    with pytest.raises(sa.exc.DatabaseError):
        with storage.writing(store_app.extensions["tipline"].db) as session:
            session.exec(sa.text("UPDATE audit_entry SET action = 'nothing'"))
    assert [e.action for e in audit_log(store_app)] == ["export"]


def test_accounts(store_app):
    user = make_user(store_app, "Person@Example.org", "operator")
    with storage.reading(store_app.extensions["tipline"].db) as session:
        assert storage.user_by_email(session, email="PERSON@example.org").id == user.id
    with pytest.raises(sa.exc.IntegrityError):
        make_user(store_app, "person@example.org", "admin")
