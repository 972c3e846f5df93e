"""Every dashboard page, rendered in Indonesian for each role, shows words, never a stored code (issue 11,
item 6): no snake_case key (forced_labour, tip_viewed, not_sent), no engine name (SaveTip), no English
value of a status, kind or role.

The pages are every GET route of the dashboard (read from the app's URL map, so a new page is covered or
this test fails), over data that holds every kind of value: tips in each status and category, escalations
acknowledged, overdue and answered, partners' answers, notes, an outbox, broadcasts, a poll, an idea, a
practice chat, and the audit trail all of that writes.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tipline import models, storage

from ..dashboard_support import add_tip, at, post, visible_text

INDONESIAN = {"Accept-Language": "id-ID,id;q=0.9"}
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")
CAMEL = re.compile(r"\b[A-Z][a-z]+[A-Z][A-Za-z]*\b")
PROPER_NAMES = {"WhatsApp"}
# English words that are stored values: on an Indonesian page each must have become a word of its own.
ENGLISH_VALUES = {
    "new", "triaged", "escalated", "acknowledged", "closed", "pending", "sending", "sent", "failed", "dead",
    "cancelled", "draft", "scheduled", "open", "considered", "done", "immediate", "normal", "partner", "online",
    "other", "begging", "recruitment", "reply", "escalation", "alert", "update", "awareness", "lesson", "poll",
    "whatsapp", "sms", "routing", "created", "completed", "addition", "assigned",
}


@pytest.fixture
def everything(app, clock, accounts, admin, partner):
    """One of every kind of value the pages show, made mostly through the pages themselves."""
    tipline = app.extensions["tipline"]
    categories = ("forced_labour", "sexual_exploitation", "recruitment", "online", "child_marriage", "begging",
                  "other")
    statuses = ("new", "triaged", "escalated", "acknowledged", "closed", "spam", "new")
    for n, (category, status) in enumerate(zip(categories, statuses, strict=False)):
        add_tip(app, f"KD{'23456789'[n]}Q-2345", at=at(clock, hours=n + 1), category=category, status=status,
                urgency="immediate" if n % 2 == 0 else "normal", channel="whatsapp" if n % 3 else "sms",
                language="id" if n % 2 else "en", description="anak2 disuruh kerja sampe malem, ga sekolah",
                location="deket pasar", place_code="32.75" if n % 2 else None)
    with storage.writing(tipline.db) as session:
        rumah = storage.add_partner(session, name="Rumah Aman", phone="+15550100093", channel="whatsapp",
                                    language="id", regions=["32"], categories=["forced_labour"], urgent_only=True,
                                    preference=1, now=clock.now)
        storage.add_partner(session, name="LBH Anak", phone="+15550100094", channel="sms", language="en",
                            regions=["everywhere"], categories=[], urgent_only=False, preference=2, now=clock.now)
        for n, (state, due) in enumerate((("sent", 5), ("timed_out", None), ("acknowledged", None))):
            tip = storage.tip_by_reference(session, reference=f"KD{'234'[n]}Q-2345")
            session.add(models.Escalation(tip_id=tip.id, partner_id=rumah.id, status=state,
                                          due_at=clock.now - timedelta(minutes=due) if due else None,
                                          acknowledged_at=clock.now if state == "acknowledged" else None))
        storage.add_idea(session, reporter="pseudonym-9", language="id", text="bikin poster di sekolah", now=clock.now)
        storage.subscribe_volunteer(session, reporter="pseudonym-8",
                                    address_sealed=tipline.contacts.seal("+15550100095"),
                                    channel="sms", language="id", place="Bekasi", place_code="32.75",
                                    consent_wording="ya", now=clock.now)
    tip_page = "/dashboard/tips/KD2Q-2345"
    lbh = str(partner_id(tipline, "LBH Anak"))
    post(admin, "/dashboard/tips/KD6Q-2345/escalate", {"partner": lbh}, token_from=tip_page)
    post(admin, f"{tip_page}/notes", {"text": "sudah telpon polsek"}, token_from=tip_page)
    post(admin, f"{tip_page}/assign", {"assignee": str(accounts["operator"].id)}, token_from=tip_page)
    post(admin, "/dashboard/tips/KD8Q-2345/status", {"status": "triaged"}, token_from=tip_page)
    post(partner, "/dashboard/tips/KD4Q-2345/report-outcome", {"note": "anak sudah aman"}, token_from=tip_page)
    post(partner, "/dashboard/tips/KD2Q-2345/ask-team", {"question": "alamat lengkapnya?"}, token_from=tip_page)
    post(admin, "/dashboard/community/broadcasts/new", {"text_id": "Awasi terminal bus.", "places": ["32"]},
         token_from="/dashboard/community/broadcasts/new")
    post(admin, "/dashboard/community/polls/new", {"question_id": "Di mana anak bekerja malam hari?",
                                                   "options_id": "Pasar\nPelabuhan", "question_en": "Where?",
                                                   "options_en": "Markets\nPorts"},
         token_from="/dashboard/community/polls/new")
    post(admin, "/dashboard/practice/start", {"start-language": "id", "start-channel": "sms"},
         token_from="/dashboard/practice")
    for text in ("halo", "1", "1"):
        post(admin, "/dashboard/practice", {"text": text}, token_from="/dashboard/practice")
    return tipline


def partner_id(tipline, name: str) -> int:
    with storage.reading(tipline.db) as session:
        return storage.partner_by_name(session, name=name).id


def pages(app, tipline) -> list[str]:
    """Every page of the dashboard a GET opens, with the records above filled in."""
    with storage.reading(tipline.db) as session:
        values = {
            "reference": "KD2Q-2345", "partner_id": partner_id(tipline, "Rumah Aman"),
            "broadcast_id": storage.list_broadcasts(session)[0].id, "poll_id": storage.list_polls(session)[0].id,
        }
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.endpoint.startswith("dashboard.") or rule.endpoint.endswith("static"):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:\w+:)?{name}>", str(values[name]), path)
        found.append(path)
    return sorted(found)


def code_keys(html: str) -> set[str]:
    """The codes a person would read on the page; what people wrote (class "words") is theirs, not ours."""
    html = re.sub(r"<code>.*?</code>", " ", html, flags=re.S)  # a command to type is code on purpose
    text = re.sub(r"\S+@\S+", " ", visible_text(html, skip_class="words"))  # an email is an address, not words
    words = set(re.findall(r"[A-Za-z_]+", text))
    return ({w for w in SNAKE.findall(text)} | {w for w in CAMEL.findall(text) if w not in PROPER_NAMES}
            | (words & ENGLISH_VALUES))


def test_every_page_in_indonesian_shows_words_not_codes(app, admin, partner, everything):
    admin.post("/dashboard/language", data={"lang": "id", "csrf_token": _token(admin)})
    partner.post("/dashboard/language", data={"lang": "id", "csrf_token": _token(partner)})
    seen = {}
    for path in pages(app, everything):
        response = admin.get(path)
        if response.status_code == 302:  # the login pages send a signed-in person on
            response = app.test_client().get(path, headers=INDONESIAN)
        assert response.status_code in (200, 302), (path, response.status_code)
        if response.status_code == 200:
            seen[path] = code_keys(response.get_data(as_text=True))
    for path in ("/dashboard/", "/dashboard/tips/KD2Q-2345", "/dashboard/tips/KD4Q-2345"):
        seen[f"partner {path}"] = code_keys(partner.get(path).get_data(as_text=True))
    seen["404"] = code_keys(admin.get("/dashboard/no-such-page").get_data(as_text=True))
    assert {path: keys for path, keys in seen.items() if keys} == {}
    assert len(seen) >= 24


def _token(client) -> str:
    from ..dashboard_support import csrf_token

    return csrf_token(client, "/dashboard/")
