"""A reporter finishes a report over the signed webhook; the tip comes out of the store."""

from tipline import storage


def test_complete_report_is_stored_under_a_pseudonym(reporter, tipline):
    replies = reporter.send("Hi")
    assert "1 Report a concern" in replies[0]
    reporter.send("1")
    reporter.send("2")  # not in danger right now
    reporter.send("A boy sells candy at the bus station every night until 2am")
    reporter.send("6")
    reporter.send("Terminal Kampung Rambutan")
    reporter.send("last night")
    reporter.send("1")
    reporter.send("2")
    final = reporter.send("1")
    assert "TEST-" in final[0]
    with storage.reading(tipline.db) as session:
        tips = list(storage.export_tips(session, shown=tipline.flow.shown_fields))
    assert len(tips) == 1
    tip = tips[0]
    assert tip["complete"] is True
    assert tip["category"] == "begging"
    assert tip["location"] == "Terminal Kampung Rambutan"
    assert "5550100001" not in tip["reporter"]
