"""Adding a report question is a change to flows/ only (issue 12): a copy of the flows with one more
question ("Berapa umur anak itu?", field `age`) and its words, no code changed, and the answer a
reporter gives through the signed webhook reaches the export, the tip page and the partner's message;
`tipline flows check` checks its words and counts its cost with the rest."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest
from sqlmodel import select

from tipline import storage
from tipline.engine import load_flow
from tipline.engine.check import check_flow
from tipline.models import Tip

from .conftest import FLOWS, Reporter, inbound_fields, make_settings, signed_post, twiml_messages
from .dashboard_support import post
from .routing_support import JABAR, provinces

AGE = "kira2 12 thn"


def _edit(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name}: {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def flows_with_age(folder):
    """flows/ plus one question, as a contributor would add it: the state, the field, its words."""
    shutil.copytree(FLOWS, folder)
    _edit(folder / "flow.yaml", "    field: children\n    next: report_contact\n",
          "    field: children\n    next: report_age\n\n"
          "  report_age:\n    ask: ask_age\n    answer: text\n    field: age\n    next: report_contact\n")
    _edit(folder / "flow.yaml", "  children: {kind: text, label: label_children, partner: 40}\n",
          "  children: {kind: text, label: label_children, partner: 40}\n"
          "  age: {kind: text, label: label_age, summary: 12, partner: 12}\n")
    # The confirm summary could show it as {age} too, but the Indonesian one has no room left in 2 SMS.
    for code, ask, label, partner_line in (
        ("en", "How old is the child? A guess is fine. 0 to skip.", "Age of the child", "Age"),
        ("id", "Berapa umur anak itu? Kira-kira saja. 0 untuk lewati.", "Umur anak", "Umur"),
    ):
        messages = folder / "messages" / f"{code}.yaml"
        words = f'  ask_age: "{ask}"\n  label_age: "{label}"\n'
        _edit(messages, '  summary_skipped: "-"\n', '  summary_skipped: "-"\n' + words)
        outbound_children = "Children: {children}." if code == "en" else "Anak: {children}."
        text = (folder / "outbound.yaml").read_text(encoding="utf-8")
        at = text.index(f"\n{code}:")
        text = text[:at] + text[at:].replace(outbound_children, f"{outbound_children} {partner_line}: {{age}}.", 1)
        (folder / "outbound.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def settings(tmp_path, sqlite_url):
    """The app of this module runs on the flows with the extra question."""
    return make_settings(tmp_path, sqlite_url, flows_path=flows_with_age(tmp_path / "flows"))


def test_the_flows_check_asks_the_new_question_too(tmp_path):
    """Its words pass every check; the scripted report now answers it, so a report costs one segment
    more than the budget allows: the check says so (a real new question must make room for itself)."""
    folder = flows_with_age(tmp_path / "flows")
    assert "age" in load_flow(folder).fields
    faults = check_flow(folder)
    assert len(faults) == 8, faults  # 2 languages x with/without danger x place typed/picked
    assert all("costs 13 segments; at most 12" in f or "costs 16 segments; at most 15" in f for f in faults)


def test_an_answer_to_the_new_question_reaches_export_tip_page_and_partner(app, tipline, admin):  # noqa: F811
    provinces(tipline)  # a West Java partner, in English
    person = Reporter(app.test_client())
    replies = person.send("halo") + person.send("1") + person.send("iya ada")
    assert "112" in replies[-1]
    person.send("Kota Bandung")
    person.send("ada anak cewek ditarik masuk mobil, nangis")
    [reference] = [t.reference for t in _tips(tipline)]
    ack = signed_post(app.test_client(), inbound_fields(f"ACK {reference}", sender=JABAR))
    assert "acknowledged" in twiml_messages(ack.get_data(as_text=True))[0]
    person.send("2")  # sexual exploitation
    asked = person.send("1 anak")
    assert asked == ["Berapa umur anak itu? Kira-kira saja. 0 untuk lewati."]
    person.send(AGE)
    person.send("2")  # not safe to text
    assert "Kode laporan" in person.send("1")[0]

    # the export (the dashboard's, the same writer as `tipline tips export`)
    exported = json.loads(post(admin, "/dashboard/export", {"format": "json"}).get_data(as_text=True))
    assert exported[0]["age"] == AGE and exported[0]["children"] == "1 anak"
    rows = list(csv.DictReader(io.StringIO(post(admin, "/dashboard/export", {"format": "csv"}).get_data(as_text=True))))
    assert rows[0]["age"] == AGE and list(rows[0]).index("age") == list(rows[0]).index("children") + 1

    # the tip page, under the label the flow gives it
    page = admin.get(f"/dashboard/tips/{reference}").get_data(as_text=True)
    assert "<dt>Age of the child</dt>" in page and AGE in page

    # the partner's update at completion, in the partner's language
    with storage.reading(tipline.db) as session:
        bodies = [m.body for m in storage.list_outbox(session) if m.kind == "update"]
    assert bodies and f"Age: {AGE}." in bodies[0]


def _tips(tipline):
    with storage.reading(tipline.db) as session:
        return list(session.exec(select(Tip)))
