"""What stands between a reporter's number and everything we store: pseudonyms and sealed contacts.

The carrier always knows the number, so we promise confidentiality, not anonymity: the number
becomes a keyed HMAC pseudonym, and only a reporter who says yes to contact leaves their
address behind, encrypted.
"""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken

CHANNEL_PREFIXES = ("whatsapp:", "sms:", "rcs:")


def normalize_address(address: str) -> str:
    """One canonical form per person: no channel prefix, E.164 where it parses as a number."""
    bare = address.strip()
    lowered = bare.lower()
    for prefix in CHANNEL_PREFIXES:
        if lowered.startswith(prefix):
            bare = bare[len(prefix):].strip()
            break
    try:
        number = phonenumbers.parse(bare if bare.startswith("+") else f"+{bare}", None)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return bare.lower()


def pseudonym(address: str, key: str) -> str:
    """A stable, keyed pseudonym: the same sender on SMS or WhatsApp, never reversible."""
    digest = hmac.new(key.encode(), normalize_address(address).encode(), hashlib.sha256)
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
