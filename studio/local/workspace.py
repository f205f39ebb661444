"""Opening (and creating) a local workspace folder, with one SQLite connection per thread."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from studio.core.errors import WorkspaceError
from studio.local import database
from studio.local.schema import APPLICATION_ID, SCHEMA_VERSION, migrate

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
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._open(create)

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
        if not database.looks_like_sqlite(self.db_path):
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
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.runs_root.mkdir(exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"Cannot create a workspace in {self.root}: {exc.strerror}.") from exc
        self.read_only = False
        conn = database.connect(self.db_path)
        try:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.Error as exc:
                raise database.translate(exc, self.db_path) from exc
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._adopt(conn)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        with database.write_transaction(conn, self.db_path):
            # Read inside the write lock: another process may have just migrated it.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                migrate(conn, version)

    def _adopt(self, conn: sqlite3.Connection) -> None:
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = database.connect(self.db_path, read_only=self.read_only)
            self._adopt(conn)
        return conn

    def close_thread_connection(self) -> None:
        """Close this thread's connection (for threads that end)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
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
        """Close every connection this object opened."""
        with self._lock:
            conns, self._connections = self._connections, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

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
