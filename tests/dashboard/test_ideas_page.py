"""The ideas page: IDEA suggestions newest first, filtered by status, status changes audited."""

from __future__ import annotations

import re

from tipline import storage

from ..conftest import Reporter
from ..dashboard_support import audit_log, post


def ideas_on(page: str) -> list[str]:
    return re.findall(r'<p class="words">([^<]*)</p>', page)


def test_ideas_newest_first_with_status_change_and_filter(app, client, tipline, clock, operator):
    Reporter(client, "+15550100081").send("IDEA talks about safe migration at the mosque")
    clock.advance(hours=1)
    Reporter(client, "+15550100082").send("IDEA posters at the bus station")

    page = operator.get("/dashboard/community/ideas").get_data(as_text=True)
    assert ideas_on(page) == ["posters at the bus station", "talks about safe migration at the mosque"]
    assert "5550100081" not in page and "5550100082" not in page

    with storage.reading(tipline.db) as session:
        oldest = storage.list_ideas(session)[-1]
    response = post(operator, f"/dashboard/community/ideas/{oldest.id}/status", {"status": "considered"},
                    token_from="/dashboard/community/ideas")
    assert response.status_code == 302
    considered = operator.get("/dashboard/community/ideas?status=considered").get_data(as_text=True)
    assert ideas_on(considered) == ["talks about safe migration at the mosque"]
    assert ideas_on(operator.get("/dashboard/community/ideas?status=new").get_data(as_text=True)) == [
        "posters at the bus station"]
    [entry] = audit_log(app, action="idea_status_changed")
    assert entry.actor == "operator@example.org" and entry.detail == {"from": "new", "to": "considered"}
    assert entry.target == f"idea {oldest.id}"


def test_bad_status_and_partners_are_refused(app, client, operator, partner):
    Reporter(client, "+15550100083").send("IDEA more lessons")
    assert operator.get("/dashboard/community/ideas?status=bogus").status_code == 400
    assert post(operator, "/dashboard/community/ideas/1/status", {"status": "bogus"},
                token_from="/dashboard/community/ideas").status_code == 400
    assert post(operator, "/dashboard/community/ideas/999/status", {"status": "done"},
                token_from="/dashboard/community/ideas").status_code == 404
    assert partner.get("/dashboard/community/ideas").status_code == 403
    assert audit_log(app, action="idea_status_changed") == []
