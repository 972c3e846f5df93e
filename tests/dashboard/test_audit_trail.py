"""The audit trail is append-only in the database itself, and records who looked at the queue.

The database refuses UPDATE, DELETE and TRUNCATE on audit_entry (PostgreSQL: triggers; SQLite
has no TRUNCATE), so the retention purge must never need to delete from it. Queue pages show
the start of every description, so each view is recorded with its filters; a search is recorded
as a keyed fingerprint, never its words (a name or a place someone looked for).
"""

from __future__ import annotations

import json
from datetime import timedelta
from uuid import uuid4

import pytest
import sqlalchemy as sa

from tipline import create_app, storage
from tipline.worker import purge

from ..conftest import make_settings
from ..dashboard_support import add_tip, at, audit_log, client_for, escalate, make_user


@pytest.fixture
def store_app(tmp_path, database_url, clock, references):
    """An app with an admin who has logged in, on each store."""
    settings = make_settings(tmp_path, database_url)
    storage.upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references)
    make_user(app, "admin@example.org", "admin")
    client_for(app, "admin@example.org")  # one login_success entry
    yield app
    app.extensions["tipline"].db.dispose()


@pytest.mark.parametrize("statement", [
    "DELETE FROM audit_entry",
    "DELETE FROM audit_entry WHERE action = 'login_success'",
    "UPDATE audit_entry SET actor = 'someone else'",
])
def test_the_database_refuses_to_change_or_delete_audit_entries(store_app, statement):
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with storage.writing(store_app.extensions["tipline"].db) as session:
            session.exec(sa.text(statement))
    assert [e.actor for e in audit_log(store_app)] == ["admin@example.org"]


@pytest.mark.postgres
def test_postgresql_refuses_truncate(tmp_path, postgres_url, clock, references):
    settings = make_settings(tmp_path, postgres_url)
    storage.upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references)
    try:
        with storage.writing(app.extensions["tipline"].db) as session:
            storage.record_audit(session, actor="cli", action="user_created", at=clock.now, target="a@example.org")
        for statement in ("TRUNCATE audit_entry", "TRUNCATE audit_entry RESTART IDENTITY CASCADE"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                with storage.writing(app.extensions["tipline"].db) as session:
                    session.exec(sa.text(statement))
        assert [e.action for e in audit_log(app)] == ["user_created"]
    finally:
        app.extensions["tipline"].db.dispose()


def test_retention_never_needs_to_delete_audit_entries(store_app, clock):
    add_tip(store_app, "AAAA-2222", at=at(clock, days=500), status="closed")
    tipline = store_app.extensions["tipline"]
    counts = purge(tipline, now=clock.now + timedelta(days=400), dry_run=False)
    assert counts["closed_tip_text"] == 1
    assert len(audit_log(store_app)) == 1  # still there, and the purge did not fail on it


# ---- who looked at the queue ------------------------------------------------------------------------

@pytest.fixture
def tips(app, clock):
    add_tip(app, "AAAA-2222", at=at(clock, days=2), description="anak-anak dikurung di gudang dekat pasar Melati")
    add_tip(app, "BBBB-2222", at=at(clock, days=1), urgency="immediate", description="boys on a boat in Batam")
    add_tip(app, "CCCC-2222", at=at(clock, hours=1), status="closed")


def test_every_queue_view_is_recorded_with_its_filters_and_the_tips_shown(app, operator, tips):
    assert operator.get("/dashboard/?status=new&category=begging&since=2026-02-01&until=2026-03-01").status_code == 200
    assert operator.get("/dashboard/").status_code == 200
    filtered, plain = audit_log(app, action="queue_viewed")[::-1]
    assert filtered.actor == "operator@example.org" and filtered.address == "127.0.0.1"
    assert filtered.detail["filters"] == {"status": "new", "category": "begging", "since": "2026-02-01",
                                          "until": "2026-03-01"}
    assert plain.detail["filters"] == {} and plain.detail["page"] == 1
    assert sorted(plain.detail["shown"]) == ["AAAA-2222", "BBBB-2222", "CCCC-2222"]


def test_a_search_is_recorded_without_its_words(app, operator, tips):
    operator.get("/dashboard/?q=pasar+Melati")
    operator.get("/dashboard/?q=PASAR  melati&urgency=normal")
    operator.get("/dashboard/?q=Batam")
    first, again, other = audit_log(app, action="queue_searched")[::-1]
    assert first.detail["shown"] == ["AAAA-2222"] and first.detail["search"]["words"] == 2
    assert again.detail["search"]["fingerprint"] == first.detail["search"]["fingerprint"]  # same words, seen
    assert other.detail["search"]["fingerprint"] != first.detail["search"]["fingerprint"]
    assert again.detail["filters"] == {"urgency": "normal"}
    trail = json.dumps([(e.action, e.target, e.detail) for e in audit_log(app)]).lower()
    assert "melati" not in trail and "pasar" not in trail and "batam" not in trail


def test_the_queue_reloading_itself_is_recorded_once_until_it_shows_something_new(app, operator, tips, clock):
    """The open queue reloads every minute: the same view is one entry for 15 minutes; a new tip is another."""
    for _ in range(5):
        response = operator.get("/dashboard/")
        assert response.headers["Refresh"].startswith("60")
        clock.advance(minutes=1)
    assert len(audit_log(app, action="queue_viewed")) == 1
    add_tip(app, "DDDD-2222", at=clock.now, urgency="immediate", description="anak dibawa ke kapal malam ini")
    operator.get("/dashboard/")
    newest = audit_log(app, action="queue_viewed")[0]
    assert len(audit_log(app, action="queue_viewed")) == 2 and "DDDD-2222" in newest.detail["shown"]
    clock.advance(minutes=16)
    operator.get("/dashboard/")  # the same view, but long enough after: recorded again
    assert len(audit_log(app, action="queue_viewed")) == 3


def test_a_partner_queue_view_records_only_their_tips(app, partner, tips):
    escalate(app, "AAAA-2222", "Rumah Aman")
    partner.get("/dashboard/")
    [entry] = audit_log(app, action="queue_viewed")
    assert entry.actor == "ngo@example.org" and entry.detail["shown"] == ["AAAA-2222"]


# ---- the deployment note: a server role that cannot touch the trail -------------------------------------

@pytest.mark.postgres
def test_a_server_role_without_those_rights_runs_the_tip_line(tmp_path, postgres_url, clock, references):
    """README's deployment notes, run: the owner migrates; the server's role may not change, delete,
    truncate or un-trigger the audit trail, and still serves messages and writes the trail."""
    from sqlalchemy.engine import make_url

    from ..conftest import inbound_fields, signed_post

    storage.upgrade(postgres_url)  # as the owner
    owner = sa.create_engine(postgres_url)
    role = f"tipline_app_{uuid4().hex[:10]}"
    with owner.begin() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
        for statement in (
            f"CREATE ROLE {role} LOGIN",
            f"GRANT USAGE ON SCHEMA {schema} TO {role}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
            f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_entry FROM {role}",
        ):
            conn.exec_driver_sql(statement)
    server_url = make_url(postgres_url).set(username=role).render_as_string(hide_password=False)
    app = None
    try:
        storage.upgrade(server_url)  # what `tipline serve` does first: nothing left to migrate
        app = create_app(make_settings(tmp_path, server_url), clock=clock, reference_maker=references)
        assert signed_post(app.test_client(), inbound_fields("halo")).status_code == 200
        make_user(app, "admin@example.org", "admin")
        client_for(app, "admin@example.org")
        assert [e.action for e in audit_log(app)] == ["login_success"]
        for statement in ("DELETE FROM audit_entry", "TRUNCATE audit_entry",
                          "ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_delete",
                          "DROP TRIGGER audit_entry_no_delete ON audit_entry"):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied|must be owner"):
                with storage.writing(app.extensions["tipline"].db) as session:
                    session.exec(sa.text(statement))
    finally:
        if app is not None:
            app.extensions["tipline"].db.dispose()
        with owner.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        owner.dispose()
