"""Whatever arrives at the signed webhook, the answer is TwiML or a plain 4xx, never a 500.

Hypothesis throws Twilio-shaped forms with strange values (any script, emoji, NUL bytes, 1,600+
characters, garbage media counts and coordinates, huge MessageSids, WhatsApp senders, unknown
fields) and raw bodies at one app per store. Each form is signed as Twilio would sign it, so the
request gets past the signature check and into the conversation and the database.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from tests.conftest import AUTH_TOKEN, WEBHOOK, make_settings

FUZZ = hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)



@pytest.fixture
def settings(tmp_path, database_url):
    """Overrides conftest's SQLite-only settings: conftest's app then runs on every store."""
    return make_settings(tmp_path, database_url)


_unique = itertools.count(1)


def unique_sid() -> str:
    """Fresh per call, so hypothesis' replays of an example are new messages, not retries."""
    return f"SM{next(_unique):032x}"


SENDERS = [
    "+15550100001", "+15550100002", "15550100003", "whatsapp:+15550100004", "WhatsApp:+15550100005",
    "whatsapp:15550100006", "sms:+15550100007",
]
KEYWORDS = [
    "", "1", "2", "3", "4", "0", "7", "Hi", "MENU", "STOP", "stop", "START", "HELP", "LANG", "EXIT", "YES", "no",
    "ADD", "ADD TEST-2222 more words", "STATUS TEST-2222", "STATUS 7KQ2-9PXM", "add", "status zzzz",
    "BERHENTI", "Halo", "skip",
]

any_text = st.text(max_size=40)
bodies = st.one_of(
    st.sampled_from(KEYWORDS),
    any_text,
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1595, max_size=1700),
    st.text(alphabet="\x00\x01\x1f\x7f\ufffe\uffff\u200b\u202e\U0001F600\u0000a", max_size=20),
    st.sampled_from(["\U0001F600" * 400, "Anak di bawah umur 🙏", "儿童在危险中", "طفل في خطر", "बच्चा", "\x00STOP"]),
    st.builds(lambda k, t: f"{k} {t}", st.sampled_from(["1", "ADD", "STATUS"]), any_text),
)
numbers = st.one_of(
    st.sampled_from(["0", "1", "10", "11", "-1", "99999999999999999999", "1e3", "NaN", "", " 2 ", "٣", "0x10"]),
    any_text,
    st.integers().map(str),
)
coordinates = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "1e309", "-6.2", "106.8", "91", "-181", "", "1_0", "0x1p3"]),
    any_text,
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
sids = st.one_of(
    st.builds(unique_sid),
    st.builds(lambda: unique_sid()[:10]),
    st.sampled_from(["", "SM", "S", "SM" + "a" * 64, "SM" + "a" * 65, "SM" + "9" * 5000, "SM\x00abc", " SM1 "]),
    any_text,
)
senders = st.one_of(st.sampled_from(SENDERS), any_text, st.just(""), st.just("whatsapp:"))
twilio_fields = st.fixed_dictionaries(
    {"MessageSid": sids, "From": senders, "Body": bodies},
    optional={
        "NumMedia": numbers,
        "MediaUrl0": any_text,
        "MediaContentType0": any_text,
        "Latitude": coordinates,
        "Longitude": coordinates,
        "Address": any_text,
        "Label": any_text,
        "ProfileName": any_text,
        "WaId": any_text,
        "OptOutType": st.sampled_from(["STOP", "START", "HELP", "stop", "", "garbage"]),
        "FromCity": any_text,
        "NumSegments": numbers,
        "SmsMessageSid": sids,
        "To": st.sampled_from(["+15550100099", "whatsapp:+15550100099", ""]),
    },
)
extra_pairs = st.lists(st.tuples(st.text(max_size=20), st.text(max_size=60)), max_size=5)


@st.composite
def form_pairs(draw) -> list[tuple[str, str]]:
    """Twilio's fields, random extra fields, now and then a key repeated with another value."""
    pairs = list(draw(twilio_fields).items()) + draw(extra_pairs)
    if pairs and draw(st.booleans()):
        key, _ = draw(st.sampled_from(pairs))
        pairs.append((key, draw(any_text)))
    return draw(st.permutations(pairs))


raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.just(b""),
    st.builds(lambda s: s.encode("utf-8", "surrogatepass"), st.text(max_size=200)),
    st.just(b"MessageSid=SM1&From=%2B15550100001&Body=%FF%FE%ED%A0%80"),
    st.just(b"MessageSid=SM2&From=%2B15550100001&Body=\xff\xfe"),
    st.just(b"=&&==&From&MessageSid"),
)
content_types = st.sampled_from(
    ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8",
     "multipart/form-data; boundary=x", "application/json", "text/plain", ""]
)


def parsed_form(body: bytes, content_type: str) -> MultiDict:
    """The form as the app will read it, so the signature matches what it checks."""
    environ = EnvironBuilder(method="POST", data=body, content_type=content_type or None).get_environ()
    return Request(environ).form


def post(client, body: bytes, content_type: str, signed_params):
    signature = RequestValidator(AUTH_TOKEN).compute_signature(WEBHOOK, signed_params)
    return client.post("/twilio/messages", data=body, content_type=content_type or None,
                       headers={"X-Twilio-Signature": signature})


def assert_well_behaved(response) -> None:
    """200 with well-formed TwiML, or a 4xx with a plain reason. Never a 5xx."""
    data = response.get_data()
    assert response.status_code < 500, data
    if response.status_code == 200:
        assert response.mimetype in ("application/xml", "text/xml")
        root = ET.fromstring(data)  # raises on anything that is not well-formed XML
        assert root.tag == "Response"
        for child in root:
            assert child.tag == "Message"
            assert (child.text or "").strip(), "an empty <Message> would send an empty SMS"
        return
    assert 400 <= response.status_code < 500
    assert response.mimetype == "text/plain"
    assert data.strip()


@FUZZ
@given(pairs=st.lists(form_pairs(), min_size=1, max_size=4))
def test_signed_forms_never_get_a_500(client, pairs):
    for fields in pairs:
        body = urlencode(fields).encode()
        response = post(client, body, "application/x-www-form-urlencoded", MultiDict(fields))
        assert_well_behaved(response)


@FUZZ
@given(body=raw_bodies, content_type=content_types, sign_parsed=st.booleans())
def test_raw_bodies_never_get_a_500(client, body, content_type, sign_parsed):
    signed = parsed_form(body, content_type) if sign_parsed else {}
    assert_well_behaved(post(client, body, content_type, signed))


@hypothesis_settings(FUZZ, max_examples=60)  # each example is a whole conversation
@given(
    sender=st.sampled_from(SENDERS),
    texts=st.lists(st.one_of(st.sampled_from(["Hi", "1", "2", "0", "6", "1"]), bodies), min_size=3, max_size=7),
    latitude=coordinates,
    media=numbers,
)
def test_strange_words_deep_in_a_report_get_twiml(client, sender, texts, latitude, media):
    """Into the report first, so strange words reach the stored tip and the summary."""
    for body in ["Hi", "1", "2", *texts]:
        fields = {"MessageSid": unique_sid(), "From": sender, "To": "+15550100099", "Body": body,
                  "NumMedia": media, "Latitude": latitude, "Longitude": "106.8", "Address": body[:50]}
        response = post(client, urlencode(fields).encode(), "application/x-www-form-urlencoded", fields)
        assert_well_behaved(response)
        assert response.status_code == 200
