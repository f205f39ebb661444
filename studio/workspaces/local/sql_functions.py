"""SQL functions every workspace connection has, so that SQL answers text matches exactly as Python does.

SQLite's LIKE folds ASCII letters only, and ``lower()`` likewise; the run search's reference
(``studio.core.search``) uses Python's Unicode rules. Queries use SQLite's own operators where they agree
(ASCII text) and call these where they may not, so the answer is Python's either way.
"""

from __future__ import annotations

import sqlite3

from studio.core.search import like_pattern


def studio_like(pattern: str | None, ignore_case: int, value: object) -> int:
    """1 when ``value`` matches the SQL LIKE ``pattern`` as ``studio.core.search`` reads it (``%``, ``_``)."""
    if pattern is None or value is None:
        return 0
    return int(like_pattern(pattern, bool(ignore_case)).fullmatch(str(value)) is not None)


def studio_contains(value: object, needle: str | None) -> int:
    """1 when ``needle.lower()`` is in ``value.lower()`` (the quick words' rule)."""
    if value is None or needle is None:
        return 0
    return int(needle.lower() in str(value).lower())


def register(conn: sqlite3.Connection) -> None:
    """Add the functions to a connection (deterministic: SQLite may use them in indexes and constant folding)."""
    conn.create_function("studio_like", 3, studio_like, deterministic=True)
    conn.create_function("studio_contains", 2, studio_contains, deterministic=True)
