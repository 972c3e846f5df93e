#!/usr/bin/env python3
"""Where the time of one inbound message goes: TipLine.receive in-process, without HTTP.

The same fictional reporters and answers as bench/webhook.py, on a fresh SQLite file (or a
fresh PostgreSQL schema with --postgres). Prints milliseconds per message without a profiler,
SQL statements per message, then cProfile's cumulative time per message for the tip line's
own functions and the heaviest library calls under them.

    .venv/bin/python bench/profile_receive.py [--postgres URL] [--messages 2000]
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import webhook as bench  # noqa: E402  (bench/webhook.py: reporters, answers, databases)

from cryptography.fernet import Fernet  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL URL (a fresh schema is used)")
    parser.add_argument("--messages", type=int, default=2000, help="messages timed, half of them profiled")
    parser.add_argument("--reporters", type=int, default=100)
    parser.add_argument("--top", type=int, default=25, help="library functions shown")
    args = parser.parse_args(argv)

    import sqlalchemy as sa

    from tipline import storage
    from tipline.service import TipLine
    from tipline.settings import Settings
    from tipline.webhook import parse_inbound

    logging.getLogger("tipline").setLevel(logging.ERROR)  # per-message INFO lines are not the subject
    reporters = bench.make_reporters(args.reporters)
    steps = max(2, -(-args.messages // len(reporters)))
    with tempfile.TemporaryDirectory(prefix="tipline-profile-") as tmp:
        database = bench.postgres_database(args.postgres) if args.postgres else bench.sqlite_database(Path(tmp))
        try:
            storage.upgrade(database.url)
            settings = Settings.from_env({
                "TIPLINE_INSTANCE_PATH": str(Path(tmp) / "instance"), "TIPLINE_DATABASE_URL": database.url,
                "TIPLINE_SECRET_KEY": secrets.token_urlsafe(32), "TIPLINE_PSEUDONYM_KEY": secrets.token_urlsafe(32),
                "TIPLINE_CONTACT_KEY": Fernet.generate_key().decode(), "TWILIO_AUTH_TOKEN": bench.AUTH_TOKEN,
            })
            tipline = TipLine(settings)
            lanes = [
                [parse_inbound(bench.twilio_fields(r, m)) for m in
                 [{"Body": text} for text in bench.WARM_UP] + bench.report_answers(r, steps)]
                for r in reporters
            ]
            for lane in lanes:
                for message in lane[: len(bench.WARM_UP)]:
                    tipline.receive(message)
            timed = [lane[i] for i in range(len(bench.WARM_UP), len(bench.WARM_UP) + steps) for lane in lanes]
            half = len(timed) // 2

            began = time.perf_counter()
            for message in timed[:half]:
                tipline.receive(message)
            plain_ms = 1000 * (time.perf_counter() - began) / half

            statements = [0]
            sa.event.listen(tipline.db, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
            profile = cProfile.Profile()
            profile.enable()
            for message in timed[half:]:
                tipline.receive(message)
            profile.disable()
            profiled = len(timed) - half
            tipline.db.dispose()
        finally:
            if database.drop:
                database.drop()

    print(f"{database.kind}: {plain_ms:.2f} ms per message without profiler ({half} messages), "
          f"{statements[0] / profiled:.1f} SQL statements per message")
    stats = pstats.Stats(profile).stats
    rows = []
    for (filename, line, name), (_, calls, _, cumulative, _) in stats.items():
        rows.append((cumulative / profiled * 1000, calls / profiled, f"{Path(filename).name}:{line}({name})", filename))
    rows.sort(reverse=True)
    print("\ncumulative ms per message (profiled, so inflated), tip line's own functions:")
    for ms, calls, label, filename in rows:
        if "/tipline/" in filename and ms >= 0.02:
            print(f"  {ms:8.3f} ms  {calls:6.2f} calls  {label}")
    print("\nheaviest library functions:")
    shown = 0
    for ms, calls, label, filename in rows:
        if "/tipline/" not in filename and "site-packages" in filename and shown < args.top:
            package = filename.split("site-packages/")[1].split("/")[0]
            print(f"  {ms:8.3f} ms  {calls:6.2f} calls  {package}: {label}")
            shown += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
