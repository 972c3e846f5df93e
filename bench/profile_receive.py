#!/usr/bin/env python3
"""Where the time of one inbound message goes: TipLine.receive in-process, without HTTP.

The same fictional reporters and answers as bench/webhook.py, on a fresh SQLite file and, with
--postgres (or TIPLINE_TEST_DATABASE_URL), a fresh PostgreSQL schema, one after the other in one
run. For each database it prints milliseconds per message without a profiler, the SQL
statements per message by kind (SELECT, INSERT, UPDATE, upsert = INSERT ... ON CONFLICT, DELETE,
BEGIN-COMMIT = one per transaction) and by table, then cProfile's cumulative time per message for
the tip line's own functions and the heaviest library calls under them.

    .venv/bin/python bench/profile_receive.py [--postgres URL] [--messages 2000] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import re
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import webhook as bench  # noqa: E402  (bench/webhook.py: reporters, answers, databases)
from cryptography.fernet import Fernet  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

KINDS = ("SELECT", "INSERT", "UPDATE", "upsert", "DELETE", "BEGIN-COMMIT", "other")
_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


class StatementCount:
    """SQL statements an engine sends, by kind and by table, counted with SQLAlchemy's events.

    BEGIN and COMMIT are counted per transaction from the engine's begin/commit events: psycopg
    sends BEGIN on its own and SQLite's COMMIT is no cursor statement, so the cursor alone misses them.
    """

    def __init__(self, engine):
        import sqlalchemy as sa

        self.kinds: Counter = Counter()
        self.tables: Counter = Counter()
        self.transactions = 0
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine, "commit", self._commit)
        sa.event.listen(engine, "rollback", self._commit)

    def _statement(self, _conn, _cursor, statement: str, *_args) -> None:
        words = statement.lstrip().split(None, 1)
        verb = words[0].upper() if words else ""
        if verb == "BEGIN":
            return  # counted once per transaction, with its COMMIT
        kind = "upsert" if verb == "INSERT" and "ON CONFLICT" in statement.upper() else verb
        self.kinds[kind if kind in KINDS else "other"] += 1
        found = _TABLE.search(statement)
        self.tables[f"{kind} {found.group(1) if found else '-'}"] += 1

    def _commit(self, _conn) -> None:
        self.transactions += 1

    @property
    def total(self) -> int:
        return sum(self.kinds.values()) + self.transactions


def profile(kind: str, database: bench.Database, folder: Path, args) -> dict:
    from tipline import storage
    from tipline.service import TipLine
    from tipline.settings import Settings
    from tipline.webhook import parse_inbound

    reporters = bench.make_reporters(args.reporters)
    steps = max(2, -(-args.messages // len(reporters)))
    try:
        storage.upgrade(database.url)
        settings = Settings.from_env({
            "TIPLINE_INSTANCE_PATH": str(folder / "instance"), "TIPLINE_DATABASE_URL": database.url,
            "TIPLINE_SECRET_KEY": secrets.token_urlsafe(32), "TIPLINE_PSEUDONYM_KEY": secrets.token_urlsafe(32),
            "TIPLINE_CONTACT_KEY": Fernet.generate_key().decode(), "TWILIO_AUTH_TOKEN": bench.AUTH_TOKEN,
        })
        tipline = TipLine(settings)
        lanes = []
        for reporter in reporters:
            first, answers = bench.reporter_messages(reporter, steps)
            lanes.append(([parse_inbound(MultiDict(bench.twilio_fields(reporter, m))) for m in first],
                          [parse_inbound(MultiDict(bench.twilio_fields(reporter, m))) for m in answers]))
        for first, _ in lanes:
            for message in first:
                tipline.receive(message)
        timed = [answers[i] for i in range(steps) for _, answers in lanes]
        half = len(timed) // 2

        began = time.perf_counter()
        for message in timed[:half]:
            tipline.receive(message)
        plain_ms = 1000 * (time.perf_counter() - began) / half

        count = StatementCount(tipline.db)
        profiler = cProfile.Profile()
        profiler.enable()
        for message in timed[half:]:
            tipline.receive(message)
        profiler.disable()
        tipline.db.dispose()
    finally:
        if database.drop:
            database.drop()
    return {"kind": kind, "plain_ms": plain_ms, "timed": half, "profiled": len(timed) - half,
            "count": count, "profiler": profiler}


def show(result: dict, top: int) -> None:
    profiled, count = result["profiled"], result["count"]
    print(f"\n=== {result['kind']}: {result['plain_ms']:.2f} ms per message without profiler "
          f"({result['timed']} messages), {count.total / profiled:.2f} SQL statements per message")
    kinds = {k: count.kinds[k] for k in KINDS if count.kinds[k]} | {"BEGIN-COMMIT": count.transactions}
    print("  by kind:  " + ", ".join(f"{k} {n / profiled:.2f}" for k, n in kinds.items()))
    print("  by table: " + ", ".join(f"{t} {n / profiled:.2f}" for t, n in count.tables.most_common()))
    stats = pstats.Stats(result["profiler"]).stats
    rows = []
    for (filename, line, name), (_, calls, _, cumulative, _) in stats.items():
        rows.append((cumulative / profiled * 1000, calls / profiled, f"{Path(filename).name}:{line}({name})", filename))
    rows.sort(reverse=True)
    print("\n  cumulative ms per message (profiled, so inflated), tip line's own functions:")
    for ms, calls, label, filename in rows:
        if "/tipline/" in filename and ms >= 0.02:
            print(f"    {ms:8.3f} ms  {calls:6.2f} calls  {label}")
    print("\n  heaviest library functions:")
    shown = 0
    for ms, calls, label, filename in rows:
        if "/tipline/" not in filename and "site-packages" in filename and shown < top:
            package = filename.split("site-packages/")[1].split("/")[0]
            print(f"    {ms:8.3f} ms  {calls:6.2f} calls  {package}: {label}")
            shown += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("TIPLINE_TEST_DATABASE_URL"),
                        help="PostgreSQL URL, a fresh schema is used (default: TIPLINE_TEST_DATABASE_URL)")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--messages", type=int, default=2000, help="messages timed, half of them profiled")
    parser.add_argument("--reporters", type=int, default=100)
    parser.add_argument("--top", type=int, default=25, help="library functions shown")
    args = parser.parse_args(argv)
    logging.getLogger("tipline").setLevel(logging.ERROR)  # per-message INFO lines are not the subject

    results = []
    with tempfile.TemporaryDirectory(prefix="tipline-profile-") as tmp:
        results.append(profile("sqlite", bench.sqlite_database(Path(tmp)), Path(tmp), args))
    if args.postgres and not args.sqlite_only:
        with tempfile.TemporaryDirectory(prefix="tipline-profile-") as tmp:
            results.append(profile("postgresql", bench.postgres_database(args.postgres), Path(tmp), args))
    for result in results:
        show(result, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
