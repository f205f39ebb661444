"""Opening (and creating) a local workspace folder, with one SQLite connection per thread."""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

from studio.core.errors import WorkspaceError
from studio.workspaces.local import database
from studio.workspaces.local.schema import APPLICATION_ID, SCHEMA_VERSION, migrate

DB_NAME = "workspace.db"
RUNS_DIR = "runs"


class LocalWorkspace:
    """A workspace folder: ``workspace.db`` plus ``runs/<run id>/`` files.

    Opening checks the database before touching it: a corrupt file, a database from a
    newer Studio or a read-only folder gives a WorkspaceError and changes nothing.
    """

    def __init__(self, root: str | os.PathLike[str], *, create: bool = True) -> None:
        self.root = Path(os.path.abspath(Path(root).expanduser()))
        self.db_path = self.root / DB_NAME
        # One connection per OS thread, by thread id rather than threading.local: a Qt thread
        # pool gives each task a fresh Python thread state (and so a fresh threading.local) on
        # the same thread, and every task opened a connection that was never closed.
        self._by_thread: dict[int, sqlite3.Connection] = {}
        self._busy: dict[int, int] = {}  # thread id -> calls in progress there (see in_use)
        self._close_when_done: set[int] = set()  # threads whose connection close() could not close yet
        self._lock = threading.Lock()
        self._open(create)
        _open_workspaces.add(self)

    @property
    def name(self) -> str:
        """The folder's name, shown as the workspace's name."""
        return self.root.name or str(self.root)

    @property
    def runs_root(self) -> Path:
        """The folder holding one sub-folder of files per run."""
        return self.root / RUNS_DIR

    def _open(self, create: bool) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise WorkspaceError(f"{self.root} is a file, not a workspace folder.")
        if not self.db_path.exists():
            if not create:
                raise WorkspaceError(f"{self.root} is not a Studio workspace (no {DB_NAME}).")
            self._create()
            return
        if not self.db_path.is_file():
            raise WorkspaceError(f"{self.db_path} is not a file.")
        # Never open the database file with plain open(): closing any descriptor of it drops
        # every POSIX lock this process holds there, and another process closing its last
        # connection would then delete the WAL under our feet. SQLite itself spots a file
        # that is not a database; only the empty file needs a word here.
        if self.db_path.stat().st_size == 0:
            raise WorkspaceError(
                f"{self.db_path} is damaged or is not a Studio workspace database; it was left untouched."
            )
        self.read_only = not (os.access(self.root, os.W_OK) and os.access(self.db_path, os.W_OK))
        conn = database.connect(self.db_path, read_only=self.read_only)
        try:
            app_id, version = _identity(conn, self.db_path)
            if app_id not in (0, APPLICATION_ID):
                raise WorkspaceError(f"{self.db_path} is a SQLite database of another application.")
            if version > SCHEMA_VERSION:
                raise WorkspaceError(
                    f"{self.root} was written by a newer Studio (schema {version}; this one knows "
                    f"up to {SCHEMA_VERSION}). Update Studio to open it; nothing was changed."
                )
            if version < SCHEMA_VERSION:
                if self.read_only:
                    raise WorkspaceError(f"{self.root} needs an upgrade but is read-only.")
                self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._adopt(conn)

    def _create(self) -> None:
        """Build the database under a private name, then link it into place atomically.

        Another process opening (or creating) the same workspace at the same moment sees
        either no database or a complete one, never a half-written file.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.runs_root.mkdir(exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"Cannot create a workspace in {self.root}: {exc.strerror}.") from exc
        tmp = self.db_path.with_name(f".{DB_NAME}.creating-{secrets.token_hex(4)}")
        try:
            conn = database.connect(tmp)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                self._migrate(conn, tmp)
            finally:
                conn.close()
            with contextlib.suppress(FileExistsError):  # another process won the race: use its database
                os.link(tmp, self.db_path)
        except sqlite3.Error as exc:
            raise database.translate(exc, self.root) from exc
        except OSError as exc:
            raise database.translate(exc, self.root) from exc
        finally:
            for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
                leftover.unlink(missing_ok=True)
        self._open(create=False)

    def _migrate(self, conn: sqlite3.Connection, where: Path | None = None) -> None:
        with database.write_transaction(conn, where or self.db_path):
            # Read inside the write lock: another process may have just migrated it.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                migrate(conn, version)

    def _adopt(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            old = self._by_thread.get(threading.get_ident())
            self._by_thread[threading.get_ident()] = conn
        if old is not None and old is not conn:
            old.close()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use).

        A thread that reuses the id of one that ended gets its connection: SQLite allows that,
        and it bounds the connections by the threads alive at once rather than ever made.
        """
        conn = self._by_thread.get(threading.get_ident())
        if conn is None:
            conn = database.connect(self.db_path, read_only=self.read_only)
            self._adopt(conn)
        return conn

    @contextlib.contextmanager
    def in_use(self) -> Iterator[None]:
        """Mark this thread's connection as in use for the block, so that ``close()`` from
        another thread leaves it open until the block ends (and closes it then).

        Closing a connection while another thread ran a query on it crashed Python's sqlite3
        module (a use after free): the window closes its backend while background work may
        still be running.
        """
        ident = threading.get_ident()
        with self._lock:
            self._busy[ident] = self._busy.get(ident, 0) + 1
        try:
            yield
        finally:
            conn = None
            with self._lock:
                depth = self._busy.pop(ident) - 1
                if depth:
                    self._busy[ident] = depth
                elif ident in self._close_when_done:
                    self._close_when_done.discard(ident)
                    conn = self._by_thread.pop(ident, None)
            if conn is not None:
                conn.close()

    @property
    def open_connections(self) -> int:
        """How many SQLite connections this object holds open."""
        return len(self._by_thread)

    def close_thread_connection(self) -> None:
        """Close this thread's connection (for threads that end)."""
        with self._lock:
            conn = self._by_thread.pop(threading.get_ident(), None)
        if conn is not None:
            conn.close()

    def write(self):  # type: ignore[no-untyped-def]
        """A write transaction on this thread's connection (a context manager)."""
        if self.read_only:
            raise WorkspaceError(f"{self.root} is read-only; nothing can be logged or changed there.")
        return database.write_transaction(self.connection(), self.db_path)

    def bump_changes(self, conn: sqlite3.Connection) -> int:
        """Advance the workspace change counter inside a write transaction; returns its new value."""
        row = conn.execute(
            "UPDATE workspace_state SET value = value + 1 WHERE key = 'changes' RETURNING value"
        ).fetchone()
        return int(row[0])

    def run_dir(self, run_id: str) -> Path:
        """The folder of a run's files (not created here)."""
        return self.runs_root / run_id

    def close(self) -> None:
        """Close every connection this object opened; one in use (``in_use``) closes when its use ends."""
        me = threading.get_ident()
        with self._lock:
            busy = {t for t in self._by_thread if t in self._busy and t != me}
            conns = [c for t, c in self._by_thread.items() if t not in busy]
            self._by_thread = {t: c for t, c in self._by_thread.items() if t in busy}
            self._close_when_done |= busy
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def __enter__(self) -> LocalWorkspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _identity(conn: sqlite3.Connection, where: Path) -> tuple[int, int]:
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise database.translate(exc, where) from exc
    return int(app_id), int(version)


#: Every LocalWorkspace of this process, so that a forked child can drop their connections.
_open_workspaces: weakref.WeakSet[LocalWorkspace] = weakref.WeakSet()
_inherited: list[sqlite3.Connection] = []


def _after_fork_in_child() -> None:
    # SQLite connections must not be used (nor closed: closing may checkpoint) in a forked
    # child. Keep them referenced forever and let each workspace open fresh ones.
    for ws in list(_open_workspaces):
        _inherited.extend(ws._by_thread.values())
        ws._by_thread = {}
        ws._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
