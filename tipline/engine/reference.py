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
