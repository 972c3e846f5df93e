"""Helpers for the dashboard tests: accounts, tips at fixed times, logging in through the real form."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser

import pyotp
import pytest
from sqlmodel import select

from tipline import models, storage
from tipline.dashboard.security import hash_password, new_session_token
from tipline.report_fields import tip_values

PASSWORD = "correct horse battery staple"
_phones = itertools.count(200)
_TOKEN = re.compile(r'name="(?:[\w-]*-)?csrf_token" type="hidden" value="([^"]+)"')


def make_user(app, email: str, role: str, *, partner: str | None = None, **columns):
    with storage.writing(app.extensions["tipline"].db) as session:
        user = storage.create_user(
            session, email=email, role=role, partner=partner, password_hash=hash_password(PASSWORD),
            session_token=new_session_token(), now=app.extensions["tipline"].clock(),
        )
        if columns:
            storage.update_user(session, user_id=user.id, **columns)
        return user


def add_tip(app, reference: str, *, at: datetime, status: str = "new", reporter: str = "pseudonym-1", **fields):
    """A stored tip as the conversation would leave it, arrived at `at`, in `status`."""
    fields = {"urgency": "normal", "description": f"report {reference}", "complete": True, **fields}
    values = tip_values(fields, app.extensions["tipline"].flow.fields)  # as the webhook keeps a report
    with storage.writing(app.extensions["tipline"].db) as session:
        tip = storage.save_tip(session, reference=reference, reporter=reporter, fields=values, now=at,
                               contact_sealed=fields.get("contact_sealed"))
        tip.status = status
        session.add(tip)
        return tip


def escalate(app, reference: str, partner_name: str) -> None:
    """Record an escalation of the tip to the partner, the way the escalation feature stores it."""
    with storage.writing(app.extensions["tipline"].db) as session:
        partner = session.exec(
            select(models.Partner).where(models.Partner.name == partner_name)
        ).first()
        if partner is None:
            partner = models.Partner(name=partner_name, phone=f"+155501{next(_phones):05d}")
            session.add(partner)
            session.flush()
        tip = storage.tip_by_reference(session, reference=reference)
        session.add(models.Escalation(tip_id=tip.id, partner_id=partner.id))


def csrf_token(client, path: str = "/dashboard/login") -> str:
    page = client.get(path)
    found = _TOKEN.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


def login(client, email: str, password: str = PASSWORD):
    return client.post("/dashboard/login", data={"email": email, "password": password,
                                                 "csrf_token": csrf_token(client)})


def post(client, path: str, data: dict | None = None, *, token_from: str = "/dashboard/"):
    """A form post with a valid CSRF token, as the browser sends it."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_from)})


class _Text(HTMLParser):
    HIDDEN = ("style", "script")

    def __init__(self, skip_class: str | None):
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0
        self.skip_class = skip_class
        self.open: list[bool] = []  # per open element: whether it hides its text

    def handle_starttag(self, tag, attrs) -> None:
        classes = (dict(attrs).get("class") or "").split()
        hides = tag in self.HIDDEN or (self.skip_class is not None and self.skip_class in classes)
        if tag not in ("br", "input", "meta", "link", "img", "hr"):
            self.open.append(hides)
        self.hidden += hides

    def handle_endtag(self, tag) -> None:
        if tag not in ("br", "input", "meta", "link", "img", "hr") and self.open:
            self.hidden -= self.open.pop()

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str, *, skip_class: str | None = None) -> str:
    """What a person reads on a page: its text, without tags, attribute values (a select's values), style
    sheets and scripts."""
    parser = _Text(skip_class)
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def audit_log(app, **filters) -> list:
    with storage.reading(app.extensions["tipline"].db) as session:
        entries, _total = storage.audit_entries(session, per_page=1000, **filters)
    return entries


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    """argon2id with the smallest cost: the real parameters take half a second a hash."""
    from argon2 import PasswordHasher

    from tipline.dashboard import security

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(security, "_hasher", cheap)
    monkeypatch.setattr(security, "_DUMMY_HASH", cheap.hash("dummy"))


@pytest.fixture
def accounts(app):
    return {
        "admin": make_user(app, "admin@example.org", "admin"),
        "operator": make_user(app, "operator@example.org", "operator"),
        "partner": make_user(app, "ngo@example.org", "partner", partner="Rumah Aman"),
        "other_partner": make_user(app, "other@example.org", "partner", partner="Other NGO"),
    }


def client_for(app, email: str):
    client = app.test_client()
    response = login(client, email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def admin(app, accounts):
    return client_for(app, "admin@example.org")


@pytest.fixture
def operator(app, accounts):
    return client_for(app, "operator@example.org")


@pytest.fixture
def partner(app, accounts):
    return client_for(app, "ngo@example.org")


def at(clock, **ago) -> datetime:
    return clock.now - timedelta(**ago)


def enrol_two_factor(client, clock) -> str:
    """Turn on two-factor codes for the signed-in account, as its owner would; the TOTP secret."""
    page = client.get("/dashboard/account/2fa").get_data(as_text=True)
    secret = page.split('<code class="secret">', 1)[1].split("<", 1)[0]
    code = pyotp.TOTP(secret).at(clock.now)
    response = post(client, "/dashboard/account/2fa", {"code": code}, token_from="/dashboard/account/2fa")
    assert response.status_code == 302
    return secret


@pytest.fixture
def store_app(tmp_path, database_url, clock, references):
    """The app on each store in turn: SQLite, then PostgreSQL (skipped without it, except under CI)."""
    from tipline import create_app

    from .conftest import make_settings

    settings = make_settings(tmp_path, database_url)
    storage.upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references)
    app.config["TESTING"] = True
    yield app
    app.extensions["tipline"].db.dispose()
