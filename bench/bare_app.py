"""The floor bench/webhook.py compares the tip line against: check the signature, answer TwiML.

Nothing else: no database, no conversation, no logging per message. What the real webhook
costs beyond this is what the tip line itself adds. Served by gunicorn exactly as the real
app is (`gunicorn --pythonpath bench 'bare_app:create_app()'`), configured by two variables:

    BENCH_AUTH_TOKEN   the token the bench signs its requests with
    BENCH_PUBLIC_URL   the base URL the requests were signed for (as TIPLINE_PUBLIC_URL)
"""

from __future__ import annotations

import os

from flask import Flask, Response, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

WEBHOOK_PATH = "/twilio/messages"


def create_app() -> Flask:
    """A Flask app with the webhook's route and signature check, and a fixed reply."""
    token = os.environ["BENCH_AUTH_TOKEN"]
    signed_url = os.environ["BENCH_PUBLIC_URL"].rstrip("/") + WEBHOOK_PATH
    app = Flask(__name__)

    @app.post(WEBHOOK_PATH)
    def messages():
        """Inbound message: 403 without a valid signature, else a fixed TwiML reply."""
        signature = request.headers.get("X-Twilio-Signature", "")
        # A validator per request, as the real webhook does, so both pay the same.
        if not signature or not RequestValidator(token).validate(signed_url, request.form, signature):
            return Response("invalid X-Twilio-Signature\n", status=403, mimetype="text/plain")
        reply = MessagingResponse()
        reply.message("What kind of concern?\n1 Forced work\n2 Sexual exploitation\n0 Skip")
        return Response(str(reply), mimetype="application/xml")

    return app
