#!/usr/bin/env python3
"""How fast the operators' queue answers with 100,000 tips in the store.

Seeds a fresh SQLite file (or a fresh PostgreSQL schema with --postgres) with fictional tips
spread over two years (a few immediate-danger ones still open, most old ones closed), logs in
one operator through the real login form, then asks for the queue pages operators use: the
default view, filters, a search, a deep page. The time measured is the server's: the WSGI app
called in-process through Flask's test client, no network. Prints the median and p90 per page
and exits 1 when the default queue's median is over the target (100 ms).

    .venv/bin/python bench/dashboard.py
    .venv/bin/python bench/dashboard.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

TARGET_MS = 100.0
PASSWORD = "bench password not a secret"
PAGES = {
    "queue (default)": "/dashboard/",
    "status=new": "/dashboard/?status=new",
    "category=online": "/dashboard/?category=online",
    "channel+language+complete": "/dashboard/?channel=whatsapp&language=id&complete=yes",
    "date range (one month)": "/dashboard/?since=2026-01-01&until=2026-01-31",
    "search 'harbour'": "/dashboard/?q=harbour",
    "page 500": "/dashboard/?page=500",
}
WORDS = ("market", "harbour", "bus station", "karaoke", "factory", "boat", "school", "mosque", "field", "mall")
CATEGORIES = ("forced_labour", "sexual_exploitation", "recruitment", "online", "child_marriage", "begging", "other")


def seed(engine: sa.Engine, count: int, now: datetime) -> None:
    """Bulk-insert `count` tips (core INSERTs in batches: seeding is not what is measured)."""
    from tipline.models import Tip

    rng = random.Random(7)
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    batch: list[dict] = []
    with engine.begin() as conn:
        for n in range(count):
            created = now - timedelta(seconds=rng.randrange(0, 2 * 365 * 86400))
            age_days = (now - created).days
            urgency = "immediate" if rng.random() < 0.03 else "normal"
            status = rng.choice(("new", "triaged")) if age_days < 3 else rng.choice(
                ("closed", "closed", "closed", "acknowledged", "spam", "escalated"))
            reference = "".join(alphabet[(n >> (5 * i)) % 32] for i in range(8))
            batch.append(dict(
                reference=f"{reference[:4]}-{reference[4:]}", created_at=created, updated_at=created, status=status,
                urgency=urgency, category=rng.choice(CATEGORIES), channel=rng.choice(("sms", "whatsapp")),
                language=rng.choice(("en", "id", "id")), reporter=f"bench{n % 9000:05d}",
                description=f"children seen near the {rng.choice(WORDS)} working late, {rng.randrange(1, 9)} of them",
                location=f"{rng.choice(WORDS)} {rng.randrange(1, 300)}", contact_consent=False,
                complete=rng.random() > 0.1, media_count=0,
            ))
            if len(batch) == 5000:
                conn.execute(sa.insert(Tip), batch)
                batch.clear()
        if batch:
            conn.execute(sa.insert(Tip), batch)
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE tip")


def measure(client, path: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tips", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL URL; a fresh schema is made and dropped")
    options = parser.parse_args()

    from tipline import create_app, storage
    from tipline.dashboard.security import hash_password, new_session_token
    from tipline.models import utcnow
    from tipline.settings import Settings

    now = utcnow()
    with tempfile.TemporaryDirectory() as folder:
        schema = None
        if options.postgres:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin_engine = sa.create_engine(options.postgres)
            with admin_engine.begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            sep = "&" if "?" in options.postgres else "?"
            url = f"{options.postgres}{sep}options=-csearch_path%3D{schema}"
        else:
            url = f"sqlite:///{folder}/bench.db"
        try:
            settings = Settings.from_env({
                "TIPLINE_INSTANCE_PATH": folder, "TIPLINE_DATABASE_URL": url,
                "TIPLINE_SECRET_KEY": secrets.token_urlsafe(32), "TIPLINE_PSEUDONYM_KEY": secrets.token_urlsafe(32),
                "TIPLINE_CONTACT_KEY": Fernet.generate_key().decode(), "TIPLINE_LOG_LEVEL": "WARNING",
            })
            storage.upgrade(url)
            engine = storage.make_engine(url)
            started = time.perf_counter()
            seed(engine, options.tips, now)
            with storage.writing(engine) as session:
                storage.create_user(session, email="bench@example.org", role="operator",
                                    password_hash=hash_password(PASSWORD), session_token=new_session_token(), now=now)
            engine.dispose()
            print(f"seeded {options.tips} tips on {url.split(':', 1)[0]} in {time.perf_counter() - started:.1f} s")

            app = create_app(settings)
            client = app.test_client()
            login_page = client.get("/dashboard/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
            response = client.post("/dashboard/login", data={"email": "bench@example.org", "password": PASSWORD,
                                                             "csrf_token": token})
            if response.status_code != 302:
                raise SystemExit("could not log in")
            medians = {}
            print(f"{'page':<30} {'median ms':>10} {'p90 ms':>10}")
            for name, path in PAGES.items():
                measure(client, path, 3)  # warm caches
                times = sorted(measure(client, path, options.runs))
                medians[name] = statistics.median(times)
                p90 = times[int(len(times) * 0.9) - 1]
                print(f"{name:<30} {medians[name]:>10.1f} {p90:>10.1f}")
            app.extensions["tipline"].db.dispose()
        finally:
            if schema:
                with admin_engine.begin() as conn:
                    conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                admin_engine.dispose()
    default = medians["queue (default)"]
    verdict = "ok" if default <= TARGET_MS else "OVER TARGET"
    print(f"default queue median {default:.1f} ms (target {TARGET_MS:.0f} ms): {verdict}")
    return 0 if default <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
