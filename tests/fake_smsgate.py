"""A stand-in for SMS Gateway for Android on 127.0.0.1, and the signed webhook deliveries the app makes.

The server speaks the app's local-server API as far as the tip line uses it: POST /messages
(Basic auth, textMessage.text, phoneNumbers in E.164, priority, ttl, our own id, 409 for an id it
has already), GET /messages/{id}, GET /health and GET /webhooks. It keeps every request, and can
be told to fail the next requests with a status, to drop the connection, or to answer too slowly.
`signed_event` builds a delivery exactly as the app signs it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIGNING_KEY = "gateway-signing-key-for-tests-only"
USERNAME, PASSWORD = "sms", "gateway-password-for-tests"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
HEALTHY = {
    "status": "pass", "version": "1.50.0", "releaseId": 1,
    "checks": {
        "battery:level": {"description": "Battery level in percent", "observedUnit": "percent",
                          "observedValue": 94, "status": "pass"},
        "connection:status": {"description": "Internet connection status", "observedUnit": "boolean",
                              "observedValue": 1, "status": "pass"},
        "messages:failed": {"description": "Failed messages for last hour", "observedUnit": "messages",
                            "observedValue": 0, "status": "pass"},
    },
}


@dataclass
class Failure:
    status: int  # 0: drop the connection without an answer
    times: int = 1
    delay: float = 0.0


@dataclass
class FakeGateway:
    username: str = USERNAME
    password: str = PASSWORD
    requests: list[dict] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    health: dict = field(default_factory=lambda: json.loads(json.dumps(HEALTHY)))
    webhooks: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self.messages: dict[str, dict] = {}
        self._events = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.arrived = threading.Condition(self._lock)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def fail(self, status: int, *, times: int = 1, delay: float = 0.0) -> None:
        with self._lock:
            self.failures.append(Failure(status, times, delay))

    def sent(self) -> list[dict]:
        """Messages the gateway accepted, in the order it accepted them."""
        with self._lock:
            return [r["json"] for r in self.requests if r["method"] == "POST" and r["answered"] == 202]

    def texts_to(self, number: str) -> list[str]:
        return [m["textMessage"]["text"] for m in self.sent() if m["phoneNumbers"] == [number]]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        """Block until `count` messages were accepted (for tests and the benchmark with a live worker)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len([r for r in self.requests if r["method"] == "POST" and r["answered"] == 202]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.arrived.wait(left)
        return self.sent()

    def _failure(self) -> Failure | None:
        for failure in self.failures:
            if failure.times > 0:
                failure.times -= 1
                return failure
        return None

    def __enter__(self) -> FakeGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _state(message: dict, state: str = "Pending") -> dict:
    return {
        "id": message["id"], "deviceId": "fake-device-0001", "state": state, "isHashed": False,
        "isEncrypted": False, "states": {},
        "recipients": [{"phoneNumber": n, "state": state, "error": None} for n in message["phoneNumbers"]],
    }


def _handler(fake: FakeGateway):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _reply(self, status: int, payload) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            expected = "Basic " + base64.b64encode(f"{fake.username}:{fake.password}".encode()).decode()
            return self.headers.get("Authorization") == expected

        def _answer(self, method: str, body: dict | None) -> tuple[int, object, float]:
            with fake._lock:
                failure = fake._failure() if self.path.startswith("/messages") else None
                if failure is not None:
                    return failure.status, {"message": "fake failure"}, failure.delay
                if self.path == "/health":
                    return (500 if fake.health["status"] == "fail" else 200), fake.health, 0.0
                if not self._authorised():
                    return 401, {"message": "Unauthorized"}, 0.0
                if method == "GET" and self.path == "/webhooks":
                    return 200, fake.webhooks, 0.0
                if method == "GET" and self.path.startswith("/messages/"):
                    message = fake.messages.get(self.path.removeprefix("/messages/"))
                    return (404, {"message": "not found"}, 0.0) if message is None else (200, message["state"], 0.0)
                if method == "POST" and self.path.split("?")[0] == "/messages":
                    return self._accept(body)
            return 404, {"message": "not found"}, 0.0

        def _accept(self, body) -> tuple[int, object, float]:
            text = ((body or {}).get("textMessage") or {}).get("text")
            numbers = (body or {}).get("phoneNumbers")
            if not text or not isinstance(numbers, list) or not numbers or not all(
                    isinstance(n, str) and E164.match(n) for n in numbers):
                return 400, {"message": "textMessage.text and E.164 phoneNumbers are required"}, 0.0
            priority = body.get("priority", 0)
            if not isinstance(priority, int) or not -128 <= priority <= 127:
                return 400, {"message": "priority must be -128..127"}, 0.0
            message_id = body.get("id") or f"fake{len(fake.messages) + 1}"
            if message_id in fake.messages:
                return 409, {"message": "Message with the same ID already exists"}, 0.0
            message = {"id": message_id, "phoneNumbers": numbers}
            message["state"] = _state(message)
            fake.messages[message_id] = message
            return 202, message["state"], 0.0

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            status, payload, delay = self._answer(method, body)
            with fake.arrived:
                fake.requests.append({"method": method, "path": self.path, "json": body, "answered": status,
                                      "auth": self.headers.get("Authorization"), "at": time.monotonic()})
                fake.arrived.notify_all()
            if delay:
                time.sleep(delay)
            if status == 0:  # an outage: the connection closes without an answer
                self.close_connection = True
                self.connection.close()
                return
            try:
                self._reply(status, payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_POST(self):  # noqa: N802 - http.server's naming
            self._handle("POST")

        def do_GET(self):  # noqa: N802
            self._handle("GET")

    return Handler


# ---- the app's webhook deliveries -------------------------------------------------------------------

_delivery_ids = itertools.count(1)


def delivery_id() -> str:
    """A fresh delivery id shaped like the app's (a 21-character nanoid)."""
    return f"Ev{next(_delivery_ids):019d}"


def delivery(event: str, payload: dict, *, event_id: str | None = None) -> bytes:
    """One webhook body as the app sends it."""
    return json.dumps({
        "deviceId": "ffffffffceb0b1db0000018e937c815b", "event": event, "id": event_id or delivery_id(),
        "payload": payload, "webhookId": "LreFUt-Z3sSq0JufY9uWB",
    }).encode()


def sign(body: bytes, timestamp: int, key: str = SIGNING_KEY) -> dict:
    """The headers the app adds: hex HMAC-SHA256 of the raw body followed by the timestamp."""
    signature = hmac.new(key.encode(), body + str(timestamp).encode(), hashlib.sha256).hexdigest()
    return {"X-Signature": signature, "X-Timestamp": str(timestamp)}


def received(sender: str, text: str, *, at: str = "2026-03-02T16:00:00.000+07:00",
             event_id: str | None = None) -> bytes:
    """An sms:received delivery: `sender` as the phone reports it (0812... or +62812...)."""
    return delivery("sms:received", {
        "messageId": hashlib.md5(text.encode()).hexdigest()[:16],  # content-derived, like the app's
        "message": text, "sender": sender, "recipient": "+6281100000199", "phoneNumber": sender,
        "simNumber": 1, "receivedAt": at,
    }, event_id=event_id)


def status(event: str, message_id: str, recipient: str, **extra) -> bytes:
    """sms:sent, sms:delivered or sms:failed for a message the tip line sent."""
    return delivery(event, {"messageId": message_id, "sender": "+6281100000199", "recipient": recipient,
                            "phoneNumber": recipient, "simNumber": 1, **extra})
