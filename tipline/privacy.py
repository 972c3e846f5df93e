"""What stands between a reporter's number and everything we store: pseudonyms and sealed contacts.

The carrier always knows the number, so we promise confidentiality, not anonymity: the number
becomes a keyed HMAC pseudonym, and only a reporter who says yes to contact leaves their
address behind, encrypted.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken

CHANNEL_PREFIXES = ("whatsapp:", "sms:", "rcs:")


def mask(address: str) -> str:
    """An address as a log line or a page may show it: the channel and the last two digits."""
    digits = re.sub(r"\D", "", address)
    prefix = "whatsapp:" if address.lower().startswith("whatsapp:") else ""
    return f"{prefix}***{digits[-2:]}" if digits else f"{prefix}***"


LOCAL_DIGITS = re.compile(r"[0-9][0-9 ().-]*")  # a number written without "+": 0812-0000-0101


def normalize_address(address: str, region: str | None = None) -> str:
    """One canonical form per person: no channel prefix, E.164 where it parses as a number.

    `region` (the deployment's country, e.g. "ID") reads numbers written the local way: an SMS
    gateway on an Indonesian SIM reports senders as 0812... as often as +62812..., and both must
    be one reporter. A number that is valid written internationally keeps the form it always had,
    so no existing pseudonym changes.
    """
    bare = address.strip()
    lowered = bare.lower()
    for prefix in CHANNEL_PREFIXES:
        if lowered.startswith(prefix):
            bare = bare[len(prefix):].strip()
            break
    try:
        number = phonenumbers.parse(bare if bare.startswith("+") else f"+{bare}", None)
    except phonenumbers.NumberParseException:
        number = None
    if region and _written_locally(bare, region) and not (number is not None and phonenumbers.is_valid_number(number)):
        try:
            local = phonenumbers.parse(bare, region)
        except phonenumbers.NumberParseException:
            local = None
        if local is not None and phonenumbers.is_valid_number(local):
            number = local
    if number is None:
        return bare.lower()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _written_locally(bare: str, region: str) -> bool:
    """Digits that start with the region's trunk prefix (0 in Indonesia), as people write at home."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
    prefix = metadata.national_prefix if metadata is not None else None
    return bool(LOCAL_DIGITS.fullmatch(bare)) and (not prefix or bare.startswith(prefix))


def is_phone_number(address: str) -> bool:
    """An E.164 number a message can be sent to (not a short code or a sender name)."""
    return bool(re.fullmatch(r"\+[1-9][0-9]{6,14}", address))


def pseudonym(address: str, key: str, region: str | None = None) -> str:
    """A stable, keyed pseudonym: the same sender on SMS or WhatsApp, never reversible."""
    digest = hmac.new(key.encode(), normalize_address(address, region).encode(), hashlib.sha256)
    return digest.hexdigest()


def pin_hash(reference: str, pin: str, key: str) -> str:
    """The only form a tip's PIN is kept in: keyed (four digits alone would be guessed from a hash
    in a moment) and bound to its reference."""
    return hmac.new(key.encode(), f"pin:{reference}:{pin}".encode(), hashlib.sha256).hexdigest()


def pin_matches(stored: str | None, reference: str, pin: str, key: str) -> bool:
    """Compared in constant time; a tip without a PIN matches nothing."""
    return stored is not None and hmac.compare_digest(stored, pin_hash(reference, pin, key))


class ContactBox:
    """Seals the contact address a reporter agreed to leave, with TIPLINE_CONTACT_KEY."""

    def __init__(self, key: str):
        self._fernet = Fernet(key.encode())

    def seal(self, address: str) -> str:
        return self._fernet.encrypt(address.encode()).decode()

    def open(self, sealed: str) -> str | None:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None
