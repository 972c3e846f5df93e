#!/usr/bin/env python3
"""A whole report by SMS through the gateway path: inbound webhook, outbox, worker, gateway API.

Starts the real `tipline serve` (gunicorn with its outbox worker beside it, as deployed) on a
free loopback port against a fresh SQLite file (or a fresh PostgreSQL schema with --postgres),
and the local stand-in for SMS Gateway for Android (tests/fake_smsgate.py) as the phone. Fictional
reporters then text complete reports in informal Indonesian, one message at a time, each
waiting for its reply and pausing as a person would (--pause): every message is a signed `sms:received` delivery to
/smsgate/events, and its reply counts when the gateway's API receives it from the worker.

The baseline, in the same run and on the same server: the same reports through Twilio's
webhook, where the reply comes back inline as TwiML. Prints the message counts, the time from
inbound to reply through the worker (p50, p90, max) and its ratio to the inline baseline.
Exits 1 if a reply is missing, out of order, or a report was not stored.

    .venv/bin/python bench/gateway.py [--reports 5] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Only loopback addresses are used; every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from tests.fake_smsgate import PASSWORD, SIGNING_KEY, USERNAME, FakeGateway, received, sign  # noqa: E402

LOOPBACK = "127.0.0.1"
PUBLIC_URL = "https://tipline.bench.invalid"  # reserved name: nothing goes there
AUTH_TOKEN = "bench-auth-token-not-a-real-secret"
# A report as people write it (flows/: menu, danger?, what, kind, where, when, how many, contact, send).
REPORT = ["halo sy mau lapor", "1", "gak", "ada anak2 kerja di pabrik sampai mlm, dokumennya dipegang mandor", "1",
          "desa sukamaju dekat pasar", "udh seminggu yg lalu", "kira2 5", "gak", "1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def post(url: str, data: bytes, headers: dict, timeout: float = 30.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_healthy(base: str, server: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server ended early (exit {server.returncode})")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become healthy in time")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def gateway_reports(base: str, fake: FakeGateway, reports: int, timeout: float,
                    pause: float) -> tuple[list[float], int]:
    """Each reporter's messages one at a time; seconds from the POST to the reply reaching the gateway."""
    latencies, segments = [], 0
    from tipline.engine.gsm import segments as count_segments

    for n in range(reports):
        sender = f"0812-0000-{200 + n:04d}"  # fictional, local form as the phone reports it
        for words in REPORT:
            expected = len(fake.sent()) + 1
            body = received(sender, words, event_id=f"bench{uuid.uuid4().hex[:16]}")
            started = time.monotonic()
            status, answer = post(f"{base}/smsgate/events", body, {
                "Content-Type": "application/json", **sign(body, int(time.time()))})
            if status != 200:
                raise SystemExit(f"delivery refused: {status} {answer[:200]!r}")
            sent = fake.wait_for(expected, timeout=timeout)
            if len(sent) < expected:
                raise SystemExit(f"no reply within {timeout} s to message {words!r} of reporter {n}")
            latencies.append(time.monotonic() - started)
            segments += count_segments(sent[-1]["textMessage"]["text"])
            time.sleep(pause)  # the reporter reads and types: the worker is idle, polling, when the next comes
        last = fake.sent()[-1]["textMessage"]["text"]
        if "TEST" not in last and "laporan" not in last:
            raise SystemExit("the last reply of a report does not give its reference")
    return latencies, segments


def twilio_reports(base: str, reports: int) -> list[float]:
    """The same reports through Twilio's webhook: the reply is the HTTP answer itself."""
    validator, url = RequestValidator(AUTH_TOKEN), f"{PUBLIC_URL}/twilio/messages"
    latencies = []
    for n in range(reports):
        for words in REPORT:
            fields = {"MessageSid": f"SM{uuid.uuid4().hex}", "AccountSid": "AC" + "0" * 32,
                      "From": f"+1555010{n:04d}", "To": "+15550100000", "Body": words, "NumMedia": "0"}
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": validator.compute_signature(url, fields)}
            started = time.monotonic()
            status, answer = post(f"{base}/twilio/messages", urlencode(fields).encode(), headers)
            if status != 200 or b"<Message>" not in answer:
                raise SystemExit(f"Twilio webhook answered {status}")
            latencies.append(time.monotonic() - started)
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=5, help="complete reports per path (default 5)")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL; a fresh schema is made and dropped")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds at most for one reply (default 20)")
    parser.add_argument("--pause", type=float, default=1.5,
                        help="seconds a reporter takes between a reply and their next message (default 1.5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tipline-bench-gateway-") as folder, FakeGateway() as fake:
        schema = None
        if args.postgres:
            import sqlalchemy as sa

            schema = f"bench_{uuid.uuid4().hex[:10]}"
            engine = sa.create_engine(args.postgres)
            with engine.begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            sep = "&" if "?" in args.postgres else "?"
            database_url = f"{args.postgres}{sep}options=-csearch_path%3D{schema}"
        else:
            database_url = f"sqlite:///{folder}/tipline.db"
        port = free_port()
        env = {**os.environ, "TIPLINE_DATABASE_URL": database_url, "TIPLINE_INSTANCE_PATH": f"{folder}/instance",
               "TIPLINE_SECRET_KEY": "bench-secret-key-0123456789-0123456789",
               "TIPLINE_PSEUDONYM_KEY": "bench-pseudonym-key-0123456789-012345",
               "TIPLINE_CONTACT_KEY": Fernet.generate_key().decode(), "TIPLINE_PUBLIC_URL": PUBLIC_URL,
               "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "SMSGATE_URL": fake.base_url, "SMSGATE_USERNAME": USERNAME,
               "SMSGATE_PASSWORD": PASSWORD, "SMSGATE_SIGNING_KEY": SIGNING_KEY, "SMSGATE_SEND_LIMIT": "10000",
               "TIPLINE_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "tipline.cli", "serve", "--host", LOOPBACK, "--port", str(port), "--workers", "2"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, start_new_session=True)
        base = f"http://{LOOPBACK}:{port}"
        try:
            wait_healthy(base, server)
            started = time.monotonic()
            gateway, segments = gateway_reports(base, fake, args.reports, args.timeout, args.pause)
            gateway_wall = time.monotonic() - started
            inline = twilio_reports(base, args.reports)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)  # our own process group only
                server.wait()
            if schema:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                engine.dispose()
        sent = fake.sent()
    result = {
        "store": "postgresql" if args.postgres else "sqlite",
        "reports": args.reports,
        "messages_in_per_report": len(REPORT),
        "sms_out_per_report": len(sent) / args.reports,
        "segments_out_per_report": segments / args.reports,
        "priority_100_share": sum(1 for m in sent if m.get("priority", 0) >= 100) / len(sent),
        "gateway_reply_p50_s": round(statistics.median(gateway), 3),
        "gateway_reply_p90_s": round(percentile(gateway, 0.9), 3),
        "gateway_reply_max_s": round(max(gateway), 3),
        "pause_between_messages_s": args.pause,
        "gateway_report_wall_s": round(gateway_wall / args.reports, 2),
        "inline_twilio_p50_s": round(statistics.median(inline), 4),
        "ratio_p50_gateway_over_inline": round(statistics.median(gateway) / statistics.median(inline), 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<32} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
