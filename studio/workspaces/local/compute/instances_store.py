"""Compute instances and the job queue in the workspace database."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from studio.core.compute import ComputeInfo, ComputeState
from studio.core.errors import NotFoundError
from studio.core.validation import check_compute_name

LOCAL = "local"
check_name = check_compute_name


_COLUMNS = (
    "c.name, c.state, c.max_concurrent_jobs, c.idle_shutdown_minutes, c.running_jobs, "
    "(SELECT count(*) FROM runs r WHERE r.compute = c.name AND r.status = 'Queued'), "
    "c.state_reason, c.created_at, c.started_at"
)


def _info(row: tuple[Any, ...]) -> ComputeInfo:
    return ComputeInfo(
        name=row[0],
        state=ComputeState(row[1]),
        max_concurrent_jobs=row[2],
        idle_shutdown_minutes=row[3],
        running_jobs=row[4],
        queued_jobs=row[5],
        state_reason=row[6],
        created_at=row[7],
        started_at=row[8],
        deletable=row[0] != LOCAL,
    )


def list_instances(conn: sqlite3.Connection) -> list[ComputeInfo]:
    """Every instance, ``local`` first, then by name."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM compute_instances c ORDER BY c.name != 'local', c.name COLLATE NOCASE"
    ).fetchall()
    return [_info(r) for r in rows]


def get_instance(conn: sqlite3.Connection, name: str) -> ComputeInfo:
    """One instance, or NotFoundError."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM compute_instances c WHERE c.name = ?", (name,)).fetchone()
    if row is None:
        raise NotFoundError(f"There is no compute instance named {name!r}.")
    return _info(row)


def insert_instance(
    conn: sqlite3.Connection, name: str, max_concurrent_jobs: int, idle_shutdown_minutes: float | None, change: int
) -> None:
    """Add an instance in state Creating; ValueError if the name is taken."""
    if conn.execute("SELECT 1 FROM compute_instances WHERE name = ?", (name,)).fetchone():
        raise ValueError(f"a compute instance named {name!r} already exists")
    conn.execute(
        "INSERT INTO compute_instances(name, max_concurrent_jobs, idle_shutdown_minutes, state, created_at, changed) "
        "VALUES (?, ?, ?, 'Creating', ?, ?)",
        (name, max_concurrent_jobs, idle_shutdown_minutes, time.time(), change),
    )


def set_state(
    conn: sqlite3.Connection,
    name: str,
    state: ComputeState,
    change: int,
    reason: str = "",
    *,
    expect: tuple[ComputeState, ...] | None = None,
) -> bool:
    """Move an instance to ``state`` (only from ``expect`` states when given); returns whether it moved."""
    row = conn.execute("SELECT state FROM compute_instances WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFoundError(f"There is no compute instance named {name!r}.")
    if expect is not None and ComputeState(row[0]) not in expect:
        return False
    started = ", started_at = ?" if state == ComputeState.RUNNING and row[0] != state else ""
    params: list[Any] = [state.value, reason, change]
    if started:
        params.append(time.time())
    conn.execute(
        f"UPDATE compute_instances SET state = ?, state_reason = ?, changed = ?{started} WHERE name = ?",
        (*params, name),
    )
    if state in (ComputeState.STOPPED, ComputeState.UNUSABLE):
        conn.execute("UPDATE compute_instances SET pid = NULL, running_jobs = 0 WHERE name = ?", (name,))
    return True


def set_daemon(conn: sqlite3.Connection, name: str, pid: int, host: str, pid_started_at: float) -> None:
    """Record the daemon process of an instance."""
    conn.execute(
        "UPDATE compute_instances SET pid = ?, host = ?, pid_started_at = ?, heartbeat_at = ? WHERE name = ?",
        (pid, host, pid_started_at, time.time(), name),
    )


def daemon_of(conn: sqlite3.Connection, name: str) -> tuple[int | None, str | None, float | None, float | None]:
    """(pid, host, pid start time, heartbeat) of an instance's daemon."""
    row = conn.execute(
        "SELECT pid, host, pid_started_at, heartbeat_at FROM compute_instances WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"There is no compute instance named {name!r}.")
    return row[0], row[1], row[2], row[3]


def state_of(conn: sqlite3.Connection, name: str) -> ComputeState:
    """The current state of an instance."""
    row = conn.execute("SELECT state FROM compute_instances WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFoundError(f"There is no compute instance named {name!r}.")
    return ComputeState(row[0])


def settings_of(conn: sqlite3.Connection, name: str) -> tuple[int, float | None]:
    """(max concurrent jobs, idle shutdown minutes) of an instance."""
    row = conn.execute(
        "SELECT max_concurrent_jobs, idle_shutdown_minutes FROM compute_instances WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"There is no compute instance named {name!r}.")
    return int(row[0]), row[1]


def delete_instance(conn: sqlite3.Connection, name: str) -> None:
    """Remove an instance row; its queued runs are canceled."""
    conn.execute("DELETE FROM compute_instances WHERE name = ?", (name,))
