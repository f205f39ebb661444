"""SQLite connections for a workspace: WAL, busy timeout, and errors a person can read."""

from __future__ import annotations

import contextlib
import errno
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from studio.core.errors import WorkspaceError
from studio.workspaces.local import sql_functions

BUSY_TIMEOUT_S = 60.0


def connect(db_path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open a connection with the workspace's pragmas. Raises WorkspaceError on failure."""
    try:
        if read_only:
            conn = _connect_read_only(db_path)
        else:
            conn = sqlite3.connect(str(db_path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")  # in WAL: durable across process crashes
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: big series read from cache
        sql_functions.register(conn)
        return conn
    except sqlite3.Error as exc:
        raise translate(exc, db_path) from exc


def _connect_read_only(db_path: Path) -> sqlite3.Connection:
    uri = db_path.resolve().as_uri()
    try:
        conn = sqlite3.connect(
            f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        # On read-only media SQLite cannot create the WAL index; read the file as it is.
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None, check_same_thread=False)


def translate(exc: BaseException, where: Path) -> WorkspaceError:
    """Turn a sqlite3 or OS error into a WorkspaceError that says what happened and where."""
    text = str(exc)
    low = text.lower()
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "disk is full" in low:
        return WorkspaceError(f"The disk holding {where} is full; nothing more can be written.")
    if (isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)) or "readonly" in low:
        return WorkspaceError(f"{where} is read-only; this change could not be written.")
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return WorkspaceError(f"{where} is damaged or is not a Studio workspace database ({text}).")
    if "locked" in low or "busy" in low:
        return WorkspaceError(f"{where} stayed locked by another process for {BUSY_TIMEOUT_S:.0f} s.")
    if "unable to open" in low:
        return WorkspaceError(f"Cannot open {where} ({text}).")
    return WorkspaceError(f"{where}: {text}")


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection, where: Path) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error; SQLite errors become WorkspaceError.

    IMMEDIATE takes the write lock up front so that concurrent writers wait in the busy
    handler instead of failing on a read-to-write upgrade.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise translate(exc, where) from exc
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise translate(exc, where) from exc
        raise
