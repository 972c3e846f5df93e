"""A tip line wired to the fake gateway, and a reporter texting it from a basic phone."""

from __future__ import annotations

import random

from tests.conftest import make_settings
from tests.fake_smsgate import PASSWORD, SIGNING_KEY, USERNAME, received, sign
from tipline import create_app
from tipline.storage import upgrade
from tipline.worker import Worker

EVENTS = "/smsgate/events"
# Fictional Indonesian mobile numbers, written the way a phone reports them.
LOCAL = "0812-0000-0101"
E164 = "+6281200000101"


def gateway_app(tmp_path, database_url, fake, clock, references, **overrides):
    gateway = {"smsgate_url": fake.base_url, "smsgate_username": USERNAME, "smsgate_password": PASSWORD,
               "smsgate_signing_key": SIGNING_KEY}
    settings = make_settings(tmp_path, database_url, **{**gateway, **overrides})
    upgrade(settings.database_url)
    app = create_app(settings, clock=clock, reference_maker=references)
    app.config["TESTING"] = True
    return app


def make_worker(tipline, clock) -> Worker:
    return Worker(tipline, clock=clock, sleep=lambda seconds: clock.advance(seconds=seconds), rng=random.Random(7))


def post_event(client, body: bytes, *, clock, key: str = SIGNING_KEY, skew: int = 0, headers: dict | None = None):
    """Deliver `body` the way the app does, signed at the tip line's own clock (plus `skew` seconds)."""
    signed = sign(body, int(clock().timestamp()) + skew, key)
    return client.post(EVENTS, data=body, content_type="application/json", headers={**signed, **(headers or {})})


class Phone:
    """A reporter texting the tip line's local SIM; the worker then sends the replies through the gateway."""

    def __init__(self, client, tipline, fake, clock, *, sender: str = LOCAL, number: str = E164):
        self.client, self.tipline, self.fake, self.clock = client, tipline, fake, clock
        self.sender, self.number = sender, number
        self.worker = make_worker(tipline, clock)

    def text(self, words: str) -> list[str]:
        """Send `words`; the SMS the reporter receives back, in the order they were sent."""
        before = len(self.fake.texts_to(self.number))
        response = post_event(self.client, received(self.sender, words), clock=self.clock)
        assert response.status_code == 200, response.get_data(as_text=True)
        self.clock.advance(seconds=5)
        self.worker.run_once()
        return self.fake.texts_to(self.number)[before:]
