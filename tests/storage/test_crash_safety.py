"""SIGKILL under load: nothing an answer was given for is lost, nothing is doubled (issue 13).

The real server (gunicorn, 2 workers, `tipline:create_app()`) takes reporters' messages from
several clients at once, on SQLite (WAL, synchronous=NORMAL) and on PostgreSQL. Mid-load the
whole server is killed with SIGKILL: no shutdown, no flush, transactions cut anywhere. A new
server on the same database then gets what Twilio would send: every message again, answered or
not (a retry of one already answered must get the same TwiML and change nothing), and the rest.
The tips must then be exactly those of the same messages sent one by one to a server never killed.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from twilio.request_validator import RequestValidator

from tipline import create_app, storage
from tipline.models import ProcessedMessage, Tip
from tipline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_URL = "https://tipline.crash.invalid"
TOKEN = "crash-test-token-not-a-secret"
REPORTERS = 24
CLIENTS = 6
KILL_AFTER = 60  # answered requests before the SIGKILL: the load is in full swing by then
# A report as people write one, each reporter their own words.
REPORT = ("halo", "1", "2", "ada anak {n} thn disuruh ngamen tiap malem di lampu merah", "6",
          "deket pasar cianjur", "tiap malem", "{n} anak", "2")


def messages_of(n: int) -> list[dict[str, str]]:
    sender = f"+1555017{n:04d}"
    return [{"MessageSid": f"SM{uuid.uuid4().hex}", "AccountSid": "AC" + "0" * 32, "From": sender,
             "To": "+15550100099", "Body": text.format(n=n), "NumMedia": "0"} for text in REPORT]


def signed(fields: dict[str, str]) -> bytes:
    body = urlencode(fields).encode()
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC_URL + "/twilio/messages", fields)
    return (f"POST /twilio/messages HTTP/1.1\r\nHost: tipline.crash.invalid\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
            f"X-Twilio-Signature: {signature}\r\nConnection: close\r\n\r\n").encode() + body


def post(port: int, request: bytes) -> bytes | None:
    """The TwiML of a 200 answer, or None when the server gave none (killed, refused, an error)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(request)
            answer = b"".join(iter(lambda: sock.recv(65536), b""))
    except OSError:
        return None
    head, _, body = answer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    # gunicorn writes the head and the body in two sends: a kill between them leaves a head with a
    # short body, which Twilio takes as a failure and retries, as it does a refused connection.
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                   if line.lower().startswith(b"content-length:")), None)
    return body if length is None or len(body) == length else None


def environment(tmp_path: Path, url: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("TIPLINE_", "TWILIO_"))}
    return keep | {
        "TIPLINE_INSTANCE_PATH": str(tmp_path / "instance"), "TIPLINE_DATABASE_URL": url,
        "TIPLINE_SECRET_KEY": secrets.token_urlsafe(32),
        "TIPLINE_PSEUDONYM_KEY": "pseudonym-key-for-tests-only-0123456789",
        "TIPLINE_CONTACT_KEY": Fernet.generate_key().decode(), "TWILIO_AUTH_TOKEN": TOKEN,
        "TIPLINE_PUBLIC_URL": PUBLIC_URL, "TIPLINE_LOG_LEVEL": "WARNING",
    }


class Server:
    """gunicorn in its own process group, so SIGKILL reaches the master and every worker at once."""

    def __init__(self, env: dict[str, str], log: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{self.port}",
                 "tipline:create_app()"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not start:\n{log.read_text(errors='replace')[-2000:]}")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def load_until_killed(server: Server, lanes: list[list[bytes]]) -> dict[bytes, bytes]:
    """Clients send their reporters' messages in order; SIGKILL once KILL_AFTER were answered.

    Returns the answer given to each request that got one.
    """
    answered: dict[bytes, bytes] = {}
    lock = threading.Lock()
    killed = threading.Event()

    def client(mine: list[list[bytes]]) -> None:
        for step in range(len(REPORT)):
            for lane in mine:
                if killed.is_set():
                    return
                body = post(server.port, lane[step])
                if body is None:
                    return  # the server is gone: Twilio retries later
                with lock:
                    answered[lane[step]] = body
                    if len(answered) >= KILL_AFTER and not killed.is_set():
                        killed.set()
                        server.kill()

    threads = [threading.Thread(target=client, args=(lanes[i::CLIENTS],)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert killed.is_set(), "the load ended before the kill: nothing was tested"
    return answered


def tips_by_reporter(url: str) -> dict[str, tuple]:
    engine = storage.make_engine(url)
    try:
        with storage.reading(engine) as session:
            tips = session.exec(sa.select(Tip)).scalars().all()
    finally:
        engine.dispose()
    by_reporter: dict[str, list] = {}
    for tip in tips:
        by_reporter.setdefault(tip.reporter, []).append(
            (tip.description, tip.category, tip.location, tip.place_code, sorted((tip.answers or {}).items()),
             tip.contact_consent, tip.complete, tip.status))
    return {reporter: tuple(sorted(found, key=repr)) for reporter, found in by_reporter.items()}


def processed_sids(url: str) -> list[str]:
    engine = storage.make_engine(url)
    try:
        with storage.reading(engine) as session:
            return list(session.exec(sa.select(ProcessedMessage.message_sid)).scalars())
    finally:
        engine.dispose()


def expected_tips(tmp_path: Path, reports: list[list[dict[str, str]]]) -> dict[str, tuple]:
    """The same messages one by one, in-process, on a server nobody kills."""
    url = f"sqlite:///{tmp_path / 'calm.db'}"
    storage.upgrade(url)
    app = create_app(Settings.from_env(environment(tmp_path / "calm", url)))
    client = app.test_client()
    try:
        for report in reports:
            for fields in report:
                signature = RequestValidator(TOKEN).compute_signature(PUBLIC_URL + "/twilio/messages", fields)
                response = client.post("/twilio/messages", data=urlencode(fields), base_url=PUBLIC_URL,
                                       content_type="application/x-www-form-urlencoded",
                                       headers={"X-Twilio-Signature": signature})
                assert response.status_code == 200
    finally:
        app.extensions["tipline"].db.dispose()
    return tips_by_reporter(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tipline.db'}"
    return request.getfixturevalue("postgres_url")


def test_sigkill_under_load_loses_nothing_answered_and_doubles_nothing(tmp_path, store_url):
    storage.upgrade(store_url)
    env = environment(tmp_path, store_url)
    reports = [messages_of(n) for n in range(1, REPORTERS + 1)]
    lanes = [[signed(fields) for fields in report] for report in reports]
    sids = {request: fields["MessageSid"] for report, lane in zip(reports, lanes, strict=False)
            for fields, request in zip(report, lane, strict=False)}

    answered = load_until_killed(Server(env, tmp_path / "gunicorn.log"), lanes)
    recorded = set(processed_sids(store_url))
    assert {sids[request] for request in answered} <= recorded  # every answer given was kept

    again = Server(env, tmp_path / "gunicorn.log")
    try:
        for lane in lanes:  # Twilio: every message once more, answered or not, in order
            for request in lane:
                body = post(again.port, request)
                assert body is not None, "the restarted server refused a message"
                if request in answered:
                    assert body == answered[request], "a retry got another answer than the first"
    finally:
        again.stop()

    stored = processed_sids(store_url)
    assert sorted(stored) == sorted(sids.values())  # each message exactly once
    assert tips_by_reporter(store_url) == expected_tips(tmp_path, reports)
