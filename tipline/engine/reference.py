"""Tip references: short, unambiguous on a basic phone's keypad, hard to guess."""

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, no 1/I/L confusion
_SHAPE = re.compile(r"^([2-9A-HJ-NP-Z]{4})-?([2-9A-HJ-NP-Z]{4})$")


def new_reference() -> str:
    """A random reference such as 7KQ2-9PXM (40 bits: guessing one is hopeless)."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def parse_reference(text: str) -> str | None:
    """The canonical reference a reporter typed (any case, dash optional), or None."""
    match = _SHAPE.match(text.strip().upper())
    return f"{match.group(1)}-{match.group(2)}" if match else None


def new_pin() -> str:
    """The short PIN given with a reference: ADD and STATUS need it from another phone."""
    return f"{secrets.randbelow(10_000):04d}"


# A reference as people type it: any case, with a dash, a space, a dot or nothing in the middle.
_CANDIDATE = re.compile(
    r"(?<![0-9A-Za-z])(?=([2-9A-HJ-NP-Za-hj-np-z]{4})([ \t._-]*)([2-9A-HJ-NP-Za-hj-np-z]{4})(?![0-9A-Za-z]))"
)
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"))


def find_references(text: str) -> list[tuple[str, int]]:
    """The readings of a reference in a message ("status laporan saya VQEG 8GK3"), likeliest first.

    Each is the reference and where it ends in `text` (which should be NFKC-normalised). Several
    can fit ("SAYA VQEG" is shaped like a reference too): a dashed one first, then one with a
    digit, then by position.
    """
    text = text.translate(_DASHES)
    found: list[tuple[tuple[int, int], str, int]] = []
    for match in _CANDIDATE.finditer(text):
        first, middle, second = match.groups()
        has_digit = any(c.isdigit() for c in first + second)
        rank = 0 if "-" in middle else (1 if has_digit and not middle else 2 if has_digit else 3 if not middle else 4)
        end = match.start() + len(first) + len(middle) + len(second)
        found.append(((rank, match.start()), f"{first.upper()}-{second.upper()}", end))
    return [(reference, end) for _, reference, end in sorted(found)]


_PIN_NEXT = re.compile(r"^[\s:;,.\-]*(?:PIN\s*[:.]?\s*)?(\d{4})(?!\d)", re.IGNORECASE)
_PIN_ANYWHERE = re.compile(r"(?<![0-9A-Za-z])(?:PIN\s*[:.]?\s*)?(\d{4})(?!\d)", re.IGNORECASE)


def find_pin(after: str, *, anywhere: bool) -> tuple[str, str] | None:
    """A PIN right after the reference (ADD: the text follows it), or anywhere after it (STATUS).

    Returns the PIN and the text after it; ASCII digits only.
    """
    match = (_PIN_ANYWHERE.search if anywhere else _PIN_NEXT.match)(after)
    if match is None or not match.group(1).isascii():
        return None
    return match.group(1), after[match.end():]
