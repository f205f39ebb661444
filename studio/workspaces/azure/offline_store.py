"""OfflineStore: one workspace's persistent cache of listings, a SQLite file in the user cache folder.

Where: ``platformdirs.user_cache_dir("studio", appauthor=False)/azure/<24 hex of the location's SHA-256>/cache.db``
(tests isolate ``XDG_CACHE_HOME`` or pass ``root``). One table of entries, key -> bytes, with the time each was stored
and last used; JSON values are compressed. WAL, one connection behind a lock (readers and writers are worker threads,
each call a few milliseconds at most).

Bounded: the entries of every workspace under the root together stay under ``max_bytes`` (``MAX_BYTES``, 500 MB).
When a write passes it, the folders of the workspaces used longest ago go first (their ``used`` file's time), then
this workspace's entries used longest ago, down to ``LOW_WATER`` of the budget.

Holds no secret: ``put_json`` refuses a value whose text looks like a credential (a SAS signature, a bearer token, a
JWT, an account key, a private key, or, with ``strict_keys``, a field named like a password or secret) and the
caller then simply does not cache it. Nothing else of the backend (credentials, tokens) ever reaches the store.

A damaged file (not a database, a malformed page, an unknown schema) is discarded with one warning and the cache
starts empty: it is only a cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

MAX_BYTES = 500 * 1024 * 1024
"""The budget of the offline cache, all workspaces together."""
LOW_WATER = 0.8
"""Eviction goes down to this share of the budget, so the next writes do not evict again at once."""
SCHEMA = "1"
CHECK_EVERY_BYTES = 4 * 1024 * 1024
"""The budget is checked after this much has been written (and at the first write)."""

_log = logging.getLogger(__name__)
T = TypeVar("T")

# What a credential looks like in text: a SAS signature, a bearer token, a JWT, an account key or connection string,
# a PEM private key. A value holding one is not cached at all.
_SECRET_TEXT = re.compile(
    r"(?:[?&]sig=[^&\s\"']{4,})"
    r"|(?:\bbearer\s+[A-Za-z0-9._~+/=-]{8,})"
    r"|(?:eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,})"
    r"|(?:AccountKey=)|(?:SharedAccessSignature=)"
    r"|(?:-----BEGIN [A-Z ]*PRIVATE KEY)",
    re.IGNORECASE,
)
# Field names that hold secrets in service answers (job details, environment variables).
_SECRET_KEY = re.compile(
    r"password|passwd|secret|credential|api_?key|connection_?string|private_?key|(?:^|[^a-z])token(?:$|[^a-z])",
    re.IGNORECASE,
)


def cache_root() -> Path:
    """The folder of every Azure workspace's cache."""
    import platformdirs  # only when a workspace is cached, not when Studio starts

    return Path(platformdirs.user_cache_dir("studio", appauthor=False)) / "azure"


def folder_name(location: str) -> str:
    """The cache folder of a location: 24 hex of the SHA-256 of its normalised form (case and a trailing / ignored)."""
    normal = location.strip().rstrip("/").lower()
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:24]


def looks_secret(value: Any, *, strict_keys: bool = False) -> bool:
    """Whether a JSON-able value holds text that looks like a credential (see the module docstring)."""
    if isinstance(value, str):
        return bool(_SECRET_TEXT.search(value))
    if isinstance(value, dict):
        for key, item in value.items():
            if strict_keys and isinstance(key, str) and _SECRET_KEY.search(key) and item not in (None, "", {}, []):
                return True
            if looks_secret(key) or looks_secret(item, strict_keys=strict_keys):
                return True
        return False
    if isinstance(value, list | tuple):
        return any(looks_secret(item, strict_keys=strict_keys) for item in value)
    return False


@dataclass(frozen=True)
class Entry:
    """A cached value and when it was stored (seconds since the epoch)."""

    value: bytes
    stored_at: float


class OfflineStore:
    """The cache of one workspace (see the module docstring). Every method is safe from any thread and never raises
    on a damaged file: a miss, a write that did not happen, and one warning."""

    def __init__(
        self,
        location: str,
        root: Path | None = None,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root if root is not None else cache_root()
        self.folder = self.root / folder_name(location)
        self.path = self.folder / "cache.db"
        self.location = location
        self.max_bytes = max_bytes
        self.clock = clock
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._closed = False
        self._warned = False
        self._size = 0  # bytes of this workspace's entries
        self._written = CHECK_EVERY_BYTES  # since the last budget check: the first write checks
        with self._lock:
            self._open()

    # -- reading and writing ----------------------------------------------------------------------

    def get(self, key: str) -> Entry | None:
        """The entry under ``key`` (and it counts as used now), or None."""
        row = self._guarded(lambda db: self._get(db, key), None)
        return row

    def put(self, key: str, value: bytes) -> bool:
        """Keep ``value`` under ``key`` (replacing it); False when the store could not."""
        return self._guarded(lambda db: self._put(db, key, value), False)

    def delete(self, key: str) -> None:
        """Forget the entry under ``key`` (if any)."""
        self._guarded(lambda db: self._delete(db, key), None)

    def get_json(self, key: str) -> Any | None:
        """The JSON value under ``key``, or None (also when it cannot be read: the entry is dropped)."""
        found = self.get_json_stored(key)
        return None if found is None else found[0]

    def get_json_stored(self, key: str) -> tuple[Any, float] | None:
        """The JSON value under ``key`` and when it was stored, or None (a damaged entry is dropped)."""
        entry = self.get(key)
        if entry is None:
            return None
        try:
            return json.loads(zlib.decompress(entry.value)), entry.stored_at
        except (zlib.error, ValueError):
            self.delete(key)
            return None

    def put_json(self, key: str, value: Any, *, strict_keys: bool = False) -> bool:
        """Keep a JSON-able value; False (and nothing kept) when it cannot be written as JSON or looks secret."""
        try:
            text = json.dumps(value, separators=(",", ":"))
        except (TypeError, ValueError):
            return False
        if looks_secret(value, strict_keys=strict_keys):
            self.delete(key)
            return False
        return self.put(key, zlib.compress(text.encode("utf-8"), 1))

    def stored_at(self, key: str) -> float | None:
        """When the entry under ``key`` was stored, without counting as a use."""
        return self._guarded(lambda db: _first(db.execute("SELECT stored_at FROM entries WHERE key=?", (key,))), None)

    def get_meta(self, name: str) -> str | None:
        """A value of the store's own table (the workspace's info, the schema)."""
        return self._guarded(lambda db: _first(db.execute("SELECT value FROM meta WHERE name=?", (name,))), None)

    def put_meta(self, name: str, value: str) -> None:
        """Keep a value in the store's own table."""

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", (name, value))

        self._guarded(write, None)

    @property
    def size(self) -> int:
        """Bytes of this workspace's entries."""
        return self._size

    def close(self) -> None:
        """Close the file (later calls are misses)."""
        with self._lock:
            self._closed = True
            if self._db is not None:
                try:
                    self._db.close()
                except sqlite3.Error:
                    pass
                self._db = None

    # -- internals --------------------------------------------------------------------------------

    def _open(self) -> None:
        """Open (or create) the file; a damaged one is discarded and made anew (lock held)."""
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            self._discard(exc)

    def _connect(self) -> sqlite3.Connection:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "used").touch()  # the workspaces used longest ago are evicted first
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=5.0)
        try:
            # auto_vacuum only takes effect before the first table: the file then gives space back on eviction.
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS entries(key TEXT PRIMARY KEY, value BLOB NOT NULL, size INTEGER NOT NULL,"
                " stored_at REAL NOT NULL, used_at REAL NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS entries_used ON entries(used_at)")
            schema = _first(db.execute("SELECT value FROM meta WHERE name='schema'"))
            if schema is None:
                with db:
                    db.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('schema', ?)", (SCHEMA,))
                    db.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('location', ?)", (self.location,))
            elif schema != SCHEMA:
                raise sqlite3.DatabaseError(f"schema {schema!r}, this version writes {SCHEMA!r}")
            self._size = int(_first(db.execute("SELECT COALESCE(SUM(size), 0) FROM entries")) or 0)
        except BaseException:
            db.close()
            raise
        return db

    def _discard(self, exc: BaseException) -> None:
        """Throw the damaged file away and start empty (lock held). One warning per store."""
        if not self._warned:
            self._warned = True
            _log.warning("The offline cache %s was damaged (%s); it was discarded and starts empty.", self.path, exc)
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError:
                return  # cannot remove it: no cache this session
        try:
            self._db = self._connect()
        except (sqlite3.Error, OSError):
            self._db = None

    def _guarded(self, work: Callable[[sqlite3.Connection], T], fallback: T) -> T:
        with self._lock:
            if self._closed:
                return fallback
            if self._db is None:
                return fallback
            try:
                return work(self._db)
            except sqlite3.DatabaseError as exc:  # damaged meanwhile (also "database disk image is malformed")
                self._discard(exc)
                return fallback
            except (sqlite3.Error, OSError) as exc:  # locked too long, disk full: not cached this time
                _log.debug("offline cache: %s", exc)
                return fallback

    def _get(self, db: sqlite3.Connection, key: str) -> Entry | None:
        row = db.execute("SELECT value, stored_at FROM entries WHERE key=?", (key,)).fetchone()
        if row is None:
            return None
        with db:
            db.execute("UPDATE entries SET used_at=? WHERE key=?", (self.clock(), key))
        return Entry(bytes(row[0]), float(row[1]))

    def _put(self, db: sqlite3.Connection, key: str, value: bytes) -> bool:
        now = self.clock()
        with db:
            old = _first(db.execute("SELECT size FROM entries WHERE key=?", (key,)))
            db.execute(
                "INSERT OR REPLACE INTO entries(key, value, size, stored_at, used_at) VALUES (?, ?, ?, ?, ?)",
                (key, value, len(value) + len(key), now, now),
            )
        self._size += len(value) + len(key) - int(old or 0)
        self._written += len(value)
        if self._written >= CHECK_EVERY_BYTES or self._size > self.max_bytes:
            self._written = 0
            self._keep_budget(db)
        return True

    def _delete(self, db: sqlite3.Connection, key: str) -> None:
        with db:
            old = _first(db.execute("SELECT size FROM entries WHERE key=?", (key,)))
            db.execute("DELETE FROM entries WHERE key=?", (key,))
        self._size -= int(old or 0)

    def _keep_budget(self, db: sqlite3.Connection) -> None:
        """Evict other workspaces used longest ago, then this one's entries used longest ago (lock held)."""
        others = self._other_folders()
        total = self._size + sum(size for _, size, _ in others)
        if total <= self.max_bytes:
            return
        target = int(self.max_bytes * LOW_WATER)
        for folder, size, _used in sorted(others, key=lambda f: f[2]):
            if total <= target:
                break
            shutil.rmtree(folder, ignore_errors=True)
            total -= size
        if total <= target:
            return
        excess = total - target
        rows = db.execute("SELECT key, size FROM entries ORDER BY used_at").fetchall()
        doomed: list[str] = []
        for key, size in rows:
            if excess <= 0:
                break
            doomed.append(key)
            excess -= int(size)
        with db:
            db.executemany("DELETE FROM entries WHERE key=?", [(k,) for k in doomed])
        self._size = int(_first(db.execute("SELECT COALESCE(SUM(size), 0) FROM entries")) or 0)
        db.execute("PRAGMA incremental_vacuum")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _other_folders(self) -> list[tuple[Path, int, float]]:
        """(folder, bytes on disk, last used) of every other workspace's cache under the root."""
        found = []
        try:
            folders = [f for f in self.root.iterdir() if f.is_dir() and f != self.folder]
        except OSError:
            return []
        for folder in folders:
            size = 0
            for name in ("cache.db", "cache.db-wal"):
                try:
                    size += (folder / name).stat().st_size
                except OSError:
                    pass
            try:
                used = (folder / "used").stat().st_mtime
            except OSError:
                used = 0.0
            found.append((folder, size, used))
        return found


def _first(cursor: sqlite3.Cursor) -> Any:
    row = cursor.fetchone()
    return None if row is None else row[0]
