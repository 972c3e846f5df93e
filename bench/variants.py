"""Variants of the full app for `bench/webhook.py --app`, to measure one choice against another.

    .venv/bin/python bench/webhook.py --sqlite-only --app 'variants:sqlite_synchronous_full()'
"""

from __future__ import annotations


def sqlite_synchronous_full():
    """The tip line with SQLite's synchronous=FULL (an fsync of the WAL at every commit) instead of NORMAL."""
    from tipline import create_app
    from tipline.storage import db

    db.SQLITE_SYNCHRONOUS = "FULL"
    return create_app()
