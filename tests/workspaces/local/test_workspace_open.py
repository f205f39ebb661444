"""Opening and creating local workspaces, and every way that can go wrong."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from studio.core.errors import WorkspaceError
from studio.sdk import Experiment, Workspace
from studio.workspaces.local.backend import LocalBackend
from studio.workspaces.local.paths import default_workspace_path, resolve_workspace_path
from studio.workspaces.local.schema import SCHEMA_VERSION
from studio.workspaces.local.workspace import LocalWorkspace
from tests.mounts import remount_read_only, tmpfs


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_workspace_uses_wal_and_current_schema(ws_path: Path) -> None:
    LocalWorkspace(ws_path).close()
    conn = sqlite3.connect(ws_path / "workspace.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert (ws_path / "runs").is_dir()


def test_busy_timeout_is_set(ws_path: Path) -> None:
    ws = LocalWorkspace(ws_path)
    assert ws.connection().execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
    ws.close()


def test_default_location_comes_from_env_then_platformdirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_workspace_path(None) == default_workspace_path()
    assert default_workspace_path().parts[-2:] == ("workspaces", "default")
    monkeypatch.setenv("STUDIO_WORKSPACE", str(tmp_path / "envws"))
    assert resolve_workspace_path(None) == tmp_path / "envws"
    assert resolve_workspace_path(tmp_path / "explicit") == tmp_path / "explicit"
    ws = Workspace()
    assert ws.path == tmp_path / "envws"
    assert (tmp_path / "envws" / "workspace.db").is_file()


def test_corrupt_database_gives_clear_error_and_is_untouched(ws_path: Path) -> None:
    ws_path.mkdir()
    db = ws_path / "workspace.db"
    db.write_bytes(b"this is not a database at all" * 100)
    before = _digest(db)
    with pytest.raises(WorkspaceError, match="damaged or is not a Studio workspace"):
        Workspace(ws_path)
    assert _digest(db) == before
    assert sorted(p.name for p in ws_path.iterdir()) == ["workspace.db"]


def test_database_with_damaged_pages_gives_clear_error(ws_path: Path) -> None:
    LocalWorkspace(ws_path).close()
    db = ws_path / "workspace.db"
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wreck the schema page, keep the header
    db.write_bytes(bytes(data))
    with pytest.raises(WorkspaceError, match=r"damaged|Studio"):
        Workspace(ws_path)


def test_newer_schema_is_refused_without_changes(ws_path: Path) -> None:
    LocalWorkspace(ws_path).close()
    db = ws_path / "workspace.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    conn.close()
    before = _digest(db)
    with pytest.raises(WorkspaceError, match="newer Studio"):
        LocalBackend(ws_path)
    assert _digest(db) == before


def test_other_applications_database_is_refused(ws_path: Path) -> None:
    ws_path.mkdir()
    conn = sqlite3.connect(ws_path / "workspace.db")
    conn.execute("PRAGMA application_id=1234")
    conn.execute("CREATE TABLE t(x)")
    conn.close()
    with pytest.raises(WorkspaceError, match="another application"):
        Workspace(ws_path)


def test_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(WorkspaceError, match="is a file"):
        Workspace(target)


def test_read_only_workspace_can_be_read_but_not_written(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt") as mnt:
        ws = Workspace(mnt / "ws")
        run = Experiment(workspace=ws, name="exp").start_logging()
        run.log("loss", 0.5)
        run.complete()
        ws.backend.workspace.close()
        remount_read_only(mnt)
        backend = LocalBackend(mnt / "ws")
        assert backend.info().read_only
        runs = backend.list_runs("exp").runs
        assert [r.status.value for r in runs] == ["Completed"]
        assert backend.get_series(runs[0].id, "loss").values.tolist() == [0.5]
        backend.close()
        ro = Workspace(mnt / "ws")
        with pytest.raises(WorkspaceError, match="read-only"):
            Experiment(workspace=ro, name="other")
        with pytest.raises(WorkspaceError, match=r"read-only|Cannot create"):
            Workspace(mnt / "new")


def test_full_disk_gives_clear_error_and_keeps_what_was_written(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", size="1m") as mnt:
        ws = Workspace(mnt / "ws")
        run = Experiment(workspace=ws, name="exp").start_logging()
        run.log("kept", 1.0)
        run.flush()
        big = tmp_path / "big.bin"
        big.write_bytes(b"\0" * (3 << 20))
        with pytest.raises(WorkspaceError, match="disk is full"):
            run.upload_file("outputs/big.bin", str(big))
        assert run.get_file_names() == []  # no partial file left behind
        with pytest.raises(WorkspaceError, match="full"):
            for i in range(300_000):
                run.log("filler", float(i))
            run.flush()
        # Nothing logged before is lost, and the database is sound.
        conn = sqlite3.connect(mnt / "ws" / "workspace.db")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        assert LocalBackend(mnt / "ws").get_series(run.id, "kept").values.tolist() == [1.0]
        run._writer._writer._series.clear()  # drop the points that cannot be written, so exit does not retry
        run._writer._writer._records.clear()
        run._series.clear()


def test_a_version_1_workspace_is_migrated_and_keeps_its_runs(ws_path: Path) -> None:
    from studio.workspaces.local.schema import MIGRATIONS, _statements

    ws_path.mkdir()
    conn = sqlite3.connect(ws_path / "workspace.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN")
    for statement in _statements(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    conn.execute("INSERT INTO workspace_state VALUES ('changes', 0)")
    conn.execute("INSERT INTO experiments(id, name, created_at) VALUES (1, 'old', 0)")
    conn.execute(
        "INSERT INTO runs(seq, id, experiment_id, number, display_name, status, created_at) "
        "VALUES (1, 'old_1_abc', 1, 1, 'from v1', 'Completed', 0)"
    )
    conn.execute("COMMIT")
    conn.close()
    backend = LocalBackend(ws_path)
    assert [r.display_name for r in backend.list_runs("old").runs] == ["from v1"]
    assert [c.name for c in backend.list_compute()] == ["local"]
    check = sqlite3.connect(ws_path / "workspace.db")
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    backend.close()


def test_opening_a_workspace_twice_keeps_sqlites_locks(ws_path: Path) -> None:
    """Regression: reading the file's header with open()/close() dropped this process's POSIX
    locks, so another process closing its connection deleted the WAL under ours."""
    import subprocess
    import sys

    first = LocalWorkspace(ws_path)
    first.connection().execute("SELECT count(*) FROM runs").fetchone()  # holds its shared lock
    LocalWorkspace(ws_path).close()  # a second open in the same process (the GUI does this)
    code = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT 1 FROM runs'); c.close()"
    subprocess.run([sys.executable, "-c", code, str(ws_path / "workspace.db")], check=True)
    assert (ws_path / "workspace.db-wal").exists()
    with first.write() as conn:
        conn.execute("INSERT INTO experiments(name, created_at) VALUES ('seen', 0)")
    other = LocalWorkspace(ws_path)
    names = [r[0] for r in other.connection().execute("SELECT name FROM experiments")]
    assert names == ["seen"]
    other.close()
    first.close()


def test_an_empty_database_file_is_refused(ws_path: Path) -> None:
    ws_path.mkdir()
    (ws_path / "workspace.db").write_bytes(b"")
    with pytest.raises(WorkspaceError, match="damaged"):
        Workspace(ws_path)
    assert (ws_path / "workspace.db").stat().st_size == 0
