#!/usr/bin/env python3
"""How much the tip line costs over a bare signed-TwiML endpoint, under the same gunicorn, on
SQLite and PostgreSQL in one run.

Starts gunicorn servers on free loopback ports with the same worker count: bench/bare_app.py,
which only checks X-Twilio-Signature and answers fixed TwiML, and the real app
(`tipline:create_app()`) once on a fresh SQLite file and once on a fresh PostgreSQL schema
(--postgres URL, or TIPLINE_TEST_DATABASE_URL). Every request is built and signed before any
timing: 3,000 fictional reporters (+1 555 010 xxxx), first brought into the middle of a report
("hi", "1", "2", what they saw: the tip exists), then each round one more answer from every
reporter, with a unique MessageSid each (category digits, places, a WhatsApp location, ...).
Rounds alternate bare, full on SQLite, bare, full on PostgreSQL; each pair sends byte for byte
the same requests. Prints per database throughput and p50/p99 latency per run, the full/bare
ratio of the median throughputs and of the median p99s, errors, and the messages recorded
against those accepted, with the machine's load average (other work on the cores makes every
number noisier: run it more than once). Exits 1 when any request failed or a database did not
record every accepted message.

    .venv/bin/python bench/webhook.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/webhook.py --sqlite-only --app 'variants:sqlite_synchronous_full()'

Only loopback addresses are used; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

LOOPBACK = "127.0.0.1"
# Both servers check signatures against this URL (TIPLINE_PUBLIC_URL, as behind a proxy), so
# the very same signed bytes are valid for either. `.invalid` is reserved: nothing goes there.
PUBLIC_URL = "https://tipline.bench.invalid"
WEBHOOK_PATH = "/twilio/messages"
AUTH_TOKEN = "bench-auth-token-not-a-real-secret"
ACCOUNT_SID = "AC" + "0" * 32
TIPLINE_NUMBER = "+15550100000"  # fictional, as every number here
# Issue 13: full/bare throughput at least this, p99 at most this many times the bare p99.
TARGETS = {"sqlite": {"ratio": 0.5, "p99_ratio": 4.0}, "postgresql": {"ratio": 0.4, "p99_ratio": 4.0}}

WARM_UP = ("hi", "1", "2")  # welcome, report a concern, not in danger now: inside the flow
FIRST_ANSWERS = 1  # and what they saw (the tip is created): the timed answers are mid-report
DESCRIPTIONS = (
    "A boy of about ten sells candy at the bus station every night until 2am",
    "Two girls work in the kitchen of the noodle stall and never go to school",
    "A man offers teenagers jobs in the city and keeps their identity cards",
    "Children carry bricks at the kiln behind the market, they look very tired",
    "Someone online asks my niece for photos and to move to a private app",
)
PLACES = ("Terminal Kampung Rambutan", "Pasar Baru, near the mosque", "Jalan Merdeka 12", "the fish market")
WHEN = ("last night", "today", "every evening this week", "0")
COUNTS = ("1", "2", "about five", "0")
WHATSAPP_PLACE = {"Latitude": "-6.30979", "Longitude": "106.88273", "Label": "Bus terminal", "Address": "East Jakarta"}


# ---- requests -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reporter:
    index: int
    address: str
    channel: str


def make_reporters(count: int) -> list[Reporter]:
    """Fictional senders +1555010xxxx; every fourth one writes on WhatsApp."""
    reporters = []
    for n in range(1, count + 1):
        number = f"+1555010{n:04d}"
        whatsapp = n % 4 == 0
        reporters.append(Reporter(n, f"whatsapp:{number}" if whatsapp else number, "whatsapp" if whatsapp else "sms"))
    return reporters


def report_answers(reporter: Reporter, count: int) -> list[dict[str, str]]:
    """`count` answers that walk the report flow from "what did you see" round and round.

    Each lap: description, kind, place, when, how many, contact yes/no, send; then "1" (report a
    concern) and "2" (not in danger now) lead back to the description.
    """
    answers: list[dict[str, str]] = []
    lap = 0
    while len(answers) < count:
        k = reporter.index + lap
        shared = reporter.channel == "whatsapp" and lap % 2
        place = {"Body": ""} | WHATSAPP_PLACE if shared else {"Body": PLACES[k % len(PLACES)]}
        answers += [
            {"Body": DESCRIPTIONS[k % len(DESCRIPTIONS)]},
            {"Body": str(1 + k % 7)},
            place,
            {"Body": WHEN[k % len(WHEN)]},
            {"Body": COUNTS[k % len(COUNTS)]},
            {"Body": "1" if k % 2 else "2"},
            {"Body": "1"},
            {"Body": "1"},
            {"Body": "2"},
        ]
        lap += 1
    return answers[:count]


def twilio_fields(reporter: Reporter, message: dict[str, str]) -> dict[str, str]:
    """The form Twilio posts for one inbound message, with a fresh MessageSid."""
    sid = "SM" + uuid.uuid4().hex
    fields = {
        "ToCountry": "US", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "", "FromZip": "",
        "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "", "FromCountry": "US",
        "To": TIPLINE_NUMBER, "ToZip": "", "NumSegments": "1", "MessageSid": sid, "AccountSid": ACCOUNT_SID,
        "From": reporter.address, "ApiVersion": "2010-04-01",
    }
    if reporter.channel == "whatsapp":
        for name in ("ToCountry", "ToState", "ToCity", "FromZip", "FromState", "FromCity", "FromCountry", "ToZip"):
            del fields[name]
        fields |= {
            "To": f"whatsapp:{TIPLINE_NUMBER}", "ProfileName": "Bench Reporter", "WaId": reporter.address[10:],
            "MessageType": "location" if "Latitude" in message else "text", "ReferralNumMedia": "0",
        }
    return fields | message


def signed_request(fields: dict[str, str], validator: RequestValidator) -> bytes:
    """The whole HTTP request, signed as Twilio signs it, ready to write to a socket."""
    body = urlencode(fields).encode()
    signature = validator.compute_signature(PUBLIC_URL + WEBHOOK_PATH, fields)
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\n"
        "Host: tipline.bench.invalid\r\n"
        "User-Agent: TwilioProxy/1.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Twilio-Signature: {signature}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Plan:
    """Every request of the bench, signed. lanes[i] is one reporter's messages, in order."""

    warm_up: list[list[bytes]]
    rounds: list[list[list[bytes]]]

    @property
    def warm_up_count(self) -> int:
        return sum(map(len, self.warm_up))


def reporter_messages(reporter: Reporter, timed: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """A reporter's untimed way into the middle of a report, and then `timed` answers inside it."""
    answers = report_answers(reporter, FIRST_ANSWERS + timed)
    return [{"Body": text} for text in WARM_UP] + answers[:FIRST_ANSWERS], answers[FIRST_ANSWERS:]


def build_plan(reporters: list[Reporter], steps: int, rounds: int) -> Plan:
    validator = RequestValidator(AUTH_TOKEN)
    warm_up, laps = [], [[] for _ in range(rounds)]
    for reporter in reporters:
        first, timed = reporter_messages(reporter, steps * rounds)
        warm_up.append([signed_request(twilio_fields(reporter, m), validator) for m in first])
        signed = [signed_request(twilio_fields(reporter, m), validator) for m in timed]
        for k in range(rounds):
            laps[k].append(signed[k * steps : (k + 1) * steps])
    return Plan(warm_up, laps)


# ---- load ----------------------------------------------------------------------------------------

@dataclass
class RunResult:
    server: str
    round: int
    sent: int = 0
    ok: int = 0
    errors: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    timed_out: bool = False

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the successful requests' latency, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]

    def as_dict(self) -> dict:
        return {
            "server": self.server, "round": self.round, "sent": self.sent, "ok": self.ok,
            "errors": sum(self.errors.values()), "error_kinds": dict(self.errors),
            "seconds": round(self.elapsed, 3), "throughput": round(self.throughput, 1),
            "p50_ms": round(self.percentile(50), 2), "p99_ms": round(self.percentile(99), 2),
            "stopped_at_time_limit": self.timed_out,
        }


def send(port: int, request: bytes, timeout: float) -> str | None:
    """One request on its own connection (gunicorn's sync workers close after each answer).

    Returns None when the answer is a 200 with TwiML, else what went wrong.
    """
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return f"socket: {type(exc).__name__}"
    answer = b"".join(chunks)
    status = answer.split(b"\r\n", 1)[0].split(b" ")
    if len(status) < 2 or not status[1].isdigit():
        return "no HTTP answer"
    if status[1] != b"200":
        return f"HTTP {status[1].decode()}"
    if b"<Response" not in answer:
        return "not TwiML"
    return None


def run_load(port: int, lanes: list[list[bytes]], *, server: str, round_: int, concurrency: int,
             time_limit: float, timeout: float) -> RunResult:
    """Send every lane's requests in order with `concurrency` clients; stop at the time limit.

    Client i owns lanes i, i+C, ...: a reporter's messages never overtake each other, and each
    client goes through its reporters in turn, so many conversations are open at once.
    """
    result = RunResult(server, round_)
    lock = threading.Lock()
    clients = min(concurrency, len(lanes))
    start_line = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(mine: list[list[bytes]]) -> None:
        latencies, errors, sent, stopped = [], Counter(), 0, False
        start_line.wait()
        steps = max(map(len, mine), default=0)
        for step in range(steps):
            for lane in mine:
                if step >= len(lane):
                    continue
                if time.perf_counter() > deadline[0]:
                    stopped = True
                    break
                began = time.perf_counter()
                problem = send(port, lane[step], timeout)
                sent += 1
                if problem is None:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors[problem] += 1
            if stopped:
                break
        with lock:
            result.sent += sent
            result.ok += len(latencies)
            result.latencies += latencies
            result.errors += errors
            result.timed_out |= stopped

    threads = [threading.Thread(target=client, args=(lanes[i::clients],), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + time_limit
    start_line.wait()
    for thread in threads:
        thread.join(time_limit + timeout + 5)
    result.elapsed = time.perf_counter() - began
    return result


# ---- servers -------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


class Gunicorn:
    """One gunicorn master on a free loopback port; the same options for both apps."""

    def __init__(self, name: str, target: str, env: dict[str, str], workers: int, logdir: Path,
                 pythonpath: Path | None = None):
        self.name, self.port = name, free_port()
        self.log_path = logdir / f"{name}.log"
        command = [
            sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
            "--bind", f"{LOOPBACK}:{self.port}", "--timeout", "30", "--graceful-timeout", "5",
        ]
        if pythonpath:
            command += ["--pythonpath", str(pythonpath)]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command + [target], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    def wait_ready(self, seconds: float = 30) -> None:
        """Until the master listens; workers still booting just make the warm-up wait."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} server exited at start:\n{self.log_tail()}")
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} server did not listen within {seconds:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def clean_env() -> dict[str, str]:
    """The environment without any tip line or Twilio setting, so nothing real leaks in."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TIPLINE_", "TWILIO_", "BENCH_"))}


@dataclass
class Database:
    url: str
    kind: str
    drop: Callable[[], None] | None = None  # PostgreSQL: drops the bench's schema


def sqlite_database(folder: Path) -> Database:
    return Database(f"sqlite:///{folder / 'tipline.db'}", "sqlite")


def postgres_database(base: str) -> Database:
    """A fresh schema for this bench, dropped afterwards, as the tests' postgres_url fixture."""
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()

    sep = "&" if "?" in base else "?"
    return Database(f"{base}{sep}options=-csearch_path%3D{schema}", "postgresql", drop)


def stored_messages(url: str) -> int:
    """How many messages the tip line recorded as processed: each accepted one exactly once."""
    import sqlalchemy as sa
    from sqlmodel import select

    from tipline import storage
    from tipline.models import ProcessedMessage

    engine = storage.make_engine(url)
    try:
        with storage.reading(engine) as session:
            return session.exec(select(sa.func.count()).select_from(ProcessedMessage)).one()
    finally:
        engine.dispose()


# ---- the bench ------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for each server (default 2)")
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per run (default 3000)")
    parser.add_argument("--reporters", type=int, default=3000, help="fictional senders (default 3000)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="bare+full pairs per database (default 3)")
    parser.add_argument("--time-limit", type=float, default=120, help="seconds at most per run (default 120)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds at most per request (default 30)")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("TIPLINE_TEST_DATABASE_URL"),
                        help="PostgreSQL URL to bench on besides SQLite, in a fresh schema "
                             "(default: TIPLINE_TEST_DATABASE_URL; without either, SQLite only)")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--postgres-only", action="store_true", help="skip SQLite")
    parser.add_argument("--app", default="tipline:create_app()",
                        help="gunicorn target of the full app, to compare a variant; bench/ is on its path "
                             "(default tipline:create_app(); e.g. 'variants:sqlite_synchronous_full()')")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--fail-under-target", action="store_true",
                        help="also exit 3 when a database misses a target (ratio, p99 ratio)")
    args = parser.parse_args(argv)
    for name in ("workers", "requests", "reporters", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if not 1 <= args.reporters <= 9999:
        parser.error("--reporters must be between 1 and 9999 (fictional numbers +1555010xxxx)")
    if args.sqlite_only:
        args.postgres = None
    if args.postgres and not args.postgres.startswith("postgresql"):
        parser.error("--postgres takes a postgresql+psycopg://... URL")
    if args.postgres_only and not args.postgres:
        parser.error("--postgres-only needs --postgres URL or TIPLINE_TEST_DATABASE_URL")
    return args


def summarize(runs: list[RunResult]) -> dict:
    return {
        "throughput": round(statistics.median(r.throughput for r in runs), 1),
        "p50_ms": round(statistics.median(r.percentile(50) for r in runs), 2),
        "p99_ms": round(statistics.median(r.percentile(99) for r in runs), 2),
        "errors": sum(sum(r.errors.values()) for r in runs),
    }


def load_average() -> str:
    """The machine's load (as `uptime` shows it): other work on the cores makes every number noisier."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def full_env(database: Database, folder: Path) -> dict[str, str]:
    return clean_env() | {
        "TIPLINE_INSTANCE_PATH": str(folder / "instance"),
        "TIPLINE_DATABASE_URL": database.url,
        "TIPLINE_SECRET_KEY": secrets.token_urlsafe(32),
        "TIPLINE_PSEUDONYM_KEY": secrets.token_urlsafe(32),
        "TIPLINE_CONTACT_KEY": Fernet.generate_key().decode(),
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TIPLINE_PUBLIC_URL": PUBLIC_URL,
    }


def bench(args: argparse.Namespace, say) -> dict:
    """Bare and full servers on every database, in alternating rounds: bare, full (SQLite), bare,
    full (PostgreSQL), then the next round. Each pair sends the same signed bytes."""
    from tipline import storage

    reporters = make_reporters(args.reporters)
    steps = math.ceil(args.requests / len(reporters))
    say(f"signing {len(reporters) * (len(WARM_UP) + FIRST_ANSWERS + steps * args.rounds)} requests ...")
    plan = build_plan(reporters, steps, args.rounds)
    load_before = load_average()

    with tempfile.TemporaryDirectory(prefix="tipline-bench-") as tmp:
        folder = Path(tmp)
        databases: list[Database] = []
        if not args.postgres_only:
            databases.append(sqlite_database(folder))
        if args.postgres:
            databases.append(postgres_database(args.postgres))
        servers: dict[str, Gunicorn] = {}
        try:
            bare_env = clean_env() | {"BENCH_AUTH_TOKEN": AUTH_TOKEN, "BENCH_PUBLIC_URL": PUBLIC_URL}
            servers["bare"] = Gunicorn("bare", "bare_app:create_app()", bare_env, args.workers, folder,
                                       pythonpath=BENCH)
            for database in databases:
                storage.upgrade(database.url)
                home = folder / database.kind
                home.mkdir()
                servers[database.kind] = Gunicorn(database.kind, args.app, full_env(database, home), args.workers,
                                                  folder, pythonpath=BENCH)
            for server in servers.values():
                server.wait_ready()

            load = dict(concurrency=args.concurrency, time_limit=args.time_limit, timeout=args.timeout)
            say(f"warm-up: {plan.warm_up_count} requests to each server (not timed) ...")
            warm = {name: run_load(s.port, plan.warm_up, server=name, round_=0, **load) for name, s in servers.items()}
            runs: dict[str, list[RunResult]] = {d.kind: [] for d in databases}
            for k, lanes in enumerate(plan.rounds, start=1):
                for database in databases:
                    for name in ("bare", database.kind):  # the same signed bytes to both
                        run = run_load(servers[name].port, lanes, server=name, round_=k, **load)
                        runs[database.kind].append(run)
                        say(f"round {k} {database.kind} {name}: {run.throughput:.1f} req/s, "
                            f"p99 {run.percentile(99):.1f} ms, {sum(run.errors.values())} errors")
            reports = {}
            for database in databases:
                server = servers[database.kind]
                expected = warm[database.kind].ok + sum(r.ok for r in runs[database.kind] if r.server != "bare")
                reports[database.kind] = database_report(
                    database.kind, runs[database.kind], warm["bare"], warm[database.kind], expected,
                    stored_messages(database.url), {"bare": servers["bare"].log_tail(40), "full": server.log_tail(40)},
                )
        finally:
            for server in servers.values():
                server.stop()
            for database in databases:
                if database.drop:
                    database.drop()

    return {
        "workers": args.workers,
        "reporters": len(reporters),
        "concurrency": args.concurrency,
        "requests_per_run": len(reporters) * steps,
        "app": args.app,
        "load_average": {"before": load_before, "after": load_average()},
        "databases": reports,
    }


def database_report(kind: str, runs: list[RunResult], warm_bare: RunResult, warm_full: RunResult, expected: int,
                    recorded: int, logs: dict[str, str]) -> dict:
    bare_runs = [r for r in runs if r.server == "bare"]
    full_runs = [r for r in runs if r.server != "bare"]
    bare, full = summarize(bare_runs), summarize(full_runs)
    ratio = full["throughput"] / bare["throughput"] if bare["throughput"] else 0.0
    p99_ratio = full["p99_ms"] / bare["p99_ms"] if bare["p99_ms"] else math.inf
    warm_errors = sum(warm_bare.errors.values()) + sum(warm_full.errors.values())
    errors = bare["errors"] + full["errors"] + warm_errors
    target = TARGETS[kind]
    return {
        "runs": [r.as_dict() for r in runs],
        "warm_up_errors": warm_errors,
        "median": {"bare": bare, "full": full},
        "ratio": round(ratio, 3),
        "round_ratios": [round(f.throughput / b.throughput, 3) if b.throughput else 0.0
                         for b, f in zip(bare_runs, full_runs, strict=False)],
        "p99_ratio": round(p99_ratio, 2),
        "target": target,
        "meets_target": ratio >= target["ratio"] and p99_ratio <= target["p99_ratio"] and not errors,
        "errors": errors,
        "messages_expected": expected,
        "messages_recorded": recorded,
        "server_logs": logs if errors or recorded != expected else {},
    }


def print_table(report: dict) -> None:
    print(
        f"tipline webhook bench: {report['workers']} gunicorn workers each, {report['reporters']} reporters "
        f"mid-report, {report['concurrency']} clients, {report['requests_per_run']} requests a run; "
        f"load average {report['load_average']['before']} before, {report['load_average']['after']} after"
    )
    for kind, db in report["databases"].items():
        print(f"\n{kind}")
        print(f"{'run':<8}{'server':<12}{'ok':>7}{'errors':>8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        for run in db["runs"]:
            note = "  (stopped at time limit)" if run["stopped_at_time_limit"] else ""
            name = "bare" if run["server"] == "bare" else "full"
            print(f"{run['round']:<8}{name:<12}{run['ok']:>7}{run['errors']:>8}{run['throughput']:>10.1f}"
                  f"{run['p50_ms']:>10.2f}{run['p99_ms']:>10.2f}{note}")
        for name, m in db["median"].items():
            print(f"{'median':<8}{name:<12}{'':>7}{m['errors']:>8}{m['throughput']:>10.1f}{m['p50_ms']:>10.2f}"
                  f"{m['p99_ms']:>10.2f}")
        target = db["target"]
        verdict = "met" if db["meets_target"] else "MISSED"
        print(f"{kind}: full/bare throughput {db['ratio']:.2f} (per round "
              f"{', '.join(f'{r:.2f}' for r in db['round_ratios'])}; target >= {target['ratio']}), "
              f"p99 full/bare {db['p99_ratio']:.1f}x (target <= {target['p99_ratio']}x), errors {db['errors']} "
              f"(warm-up {db['warm_up_errors']}): {verdict}")
        print(f"{kind}: messages recorded {db['messages_recorded']} of {db['messages_expected']} accepted")
        for name, tail in db["server_logs"].items():
            print(f"--- last lines of the {kind} {name} server's log ---\n{tail}", file=sys.stderr)


def failed(report: dict) -> bool:
    return any(db["errors"] or db["messages_recorded"] != db["messages_expected"]
               for db in report["databases"].values())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if not args.json else (lambda text: None)
    report = bench(args, say)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    if failed(report):
        return 1
    if args.fail_under_target and not all(db["meets_target"] for db in report["databases"].values()):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
