"""Script jobs in the runs table: queueing, claiming by a compute instance, active job lists."""

from __future__ import annotations

import sqlite3
from typing import Any

from studio.core.status import RunStatus
from studio.workspaces.local import runs_store

#: Statuses of a job that a daemon owns (claimed, not yet ended).
ACTIVE = (
    RunStatus.PREPARING.value,
    RunStatus.STARTING.value,
    RunStatus.RUNNING.value,
    RunStatus.FINALIZING.value,
    RunStatus.CANCEL_REQUESTED.value,
)
_ACTIVE_SQL = ",".join(f"'{s}'" for s in ACTIVE)


def waiting_reason(compute: str) -> str:
    """Why a queued run waits while its instance is not running."""
    return f"Waiting for compute instance {compute} to start."


def create_job(
    conn: sqlite3.Connection,
    experiment: str,
    compute: str,
    details: dict[str, Any],
    change: int,
    reason: str,
    display_name: str | None = None,
) -> tuple[int, str]:
    """A new NotStarted script run on ``compute`` (queued once its snapshot is in place)."""
    seq, run_id = runs_store.create_run(
        conn,
        experiment,
        status=RunStatus.NOT_STARTED,
        change=change,
        run_type="script",
        details=details,
        display_name=display_name,
    )
    conn.execute("UPDATE runs SET compute = ?, status_reason = ? WHERE seq = ?", (compute, reason, seq))
    return seq, run_id


def claim_queued(conn: sqlite3.Connection, compute: str, limit: int, change: int) -> list[tuple[int, str]]:
    """Take up to ``limit`` queued runs of ``compute`` (oldest first) and mark them Preparing."""
    if limit <= 0:
        return []
    rows = conn.execute(
        "SELECT seq, id FROM runs WHERE compute = ? AND status = 'Queued' ORDER BY seq LIMIT ?", (compute, limit)
    ).fetchall()
    for seq, _ in rows:
        runs_store.set_status(conn, seq, RunStatus.PREPARING, change=change, reason="Preparing the job.")
    return [(int(s), str(i)) for s, i in rows]


def active_jobs(conn: sqlite3.Connection, compute: str) -> list[tuple[int, str, str, int | None]]:
    """(seq, id, status, job pid) of the runs an instance owns."""
    rows = conn.execute(
        f"SELECT seq, id, status, job_pid FROM runs WHERE compute = ? AND status IN ({_ACTIVE_SQL}) ORDER BY seq",
        (compute,),
    ).fetchall()
    return [(int(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]


def queued_count(conn: sqlite3.Connection, compute: str) -> int:
    """How many runs wait for ``compute``."""
    return int(
        conn.execute("SELECT count(*) FROM runs WHERE compute = ? AND status = 'Queued'", (compute,)).fetchone()[0]
    )


def set_queue_reason(conn: sqlite3.Connection, compute: str, reason: str, change: int) -> None:
    """Explain why the queued runs of ``compute`` wait."""
    conn.execute(
        "UPDATE runs SET status_reason = ?, changed = ? WHERE compute = ? AND status = 'Queued' AND status_reason != ?",
        (reason, change, compute, reason),
    )


def set_job_pid(conn: sqlite3.Connection, seq: int, pid: int | None) -> None:
    """Record the process that executes a job's script."""
    conn.execute("UPDATE runs SET job_pid = ? WHERE seq = ?", (pid, seq))


def job_compute(conn: sqlite3.Connection, seq: int) -> str | None:
    """The instance a run was submitted to (None for inline runs)."""
    row = conn.execute("SELECT compute FROM runs WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else row[0]
