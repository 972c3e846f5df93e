"""A small Twilio-compatible REST server on 127.0.0.1 for tests, used through TWILIO_API_BASE_URL.

It implements POST /2010-04-01/Accounts/{sid}/Messages.json, answers Twilio-shaped JSON, keeps
every request it got, and can be told to fail the next requests (or those to one number) with
a given HTTP status and Twilio error code, or to answer too slowly.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$")


@dataclass
class Failure:
    status: int
    code: int | None = None
    to: str | None = None  # only requests to this number; None: any
    times: int = 1
    delay: float = 0.0  # seconds to wait before answering (a timeout for a short client timeout)


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    requests: list[dict] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._sids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def fail(self, status: int, code: int | None = None, *, to: str | None = None, times: int = 1,
             delay: float = 0.0) -> None:
        with self._lock:
            self.failures.append(Failure(status, code, to, times, delay))

    def sent(self) -> list[dict]:
        """The requests that were answered with success."""
        with self._lock:
            return [r for r in self.requests if r["answered"] == 201]

    def _answer(self, form: dict[str, str]) -> tuple[int, dict, float]:
        with self._lock:
            for failure in self.failures:
                if failure.times > 0 and (failure.to is None or failure.to == form.get("To")):
                    failure.times -= 1
                    body = {"code": failure.code, "message": "fake failure", "more_info": "", "status": failure.status}
                    return failure.status, body, failure.delay
            sid = f"SM{next(self._sids):032x}"
        return 201, {
            "sid": sid, "account_sid": self.account_sid, "to": form.get("To"), "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"), "body": form.get("Body"),
            "status": "queued", "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
            "error_code": None, "error_message": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }, 0.0

    def __enter__(self) -> FakeTwilio:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _handler(fake: FakeTwilio):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _reply(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802 - http.server's naming
            match = PATH.match(self.path)
            if not match or match.group(1) != fake.account_sid:
                return self._reply(404, {"code": 20404, "message": "not found", "status": 404})
            expected = "Basic " + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                return self._reply(401, {"code": 20003, "message": "authenticate", "status": 401})
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode(), keep_blank_values=True).items()}
            status, payload, delay = fake._answer(form)
            record = {"form": form, "answered": status, "at": time.monotonic()}
            with fake._lock:
                fake.requests.append(record)
            if delay:
                time.sleep(delay)
            try:
                self._reply(status, payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler
