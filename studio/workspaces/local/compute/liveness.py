"""Noticing compute daemons that died, and failing the jobs they were running."""

from __future__ import annotations

import contextlib
import os
import signal
import time

from studio.core.compute import ComputeState
from studio.core.status import RunStatus
from studio.workspaces.local import runs_store
from studio.workspaces.local.compute import instances_store as compute_store
from studio.workspaces.local.compute import jobs_store
from studio.workspaces.local.liveness import STALE_HEARTBEAT_S, is_alive, this_host
from studio.workspaces.local.workspace import LocalWorkspace

_UP = tuple(s.value for s in ComputeState if s.is_up)


def reap_instances(ws: LocalWorkspace) -> list[str]:
    """Mark instances whose daemon is gone Unusable (Stopped if it was stopping); returns their names."""
    marks = ",".join("?" * len(_UP))
    rows = (
        ws.connection()
        .execute(
            f"SELECT name, state, pid, host, pid_started_at, heartbeat_at FROM compute_instances WHERE state IN ({marks})",
            _UP,
        )
        .fetchall()
    )
    host, now = this_host(), time.time()
    dead = []
    for name, state, pid, run_host, started, heartbeat in rows:
        if pid is None:
            continue  # being started: the starter records the pid in a moment
        if run_host == host:
            if not is_alive(pid, started):
                dead.append((name, state, pid))
        elif heartbeat is not None and now - heartbeat > STALE_HEARTBEAT_S:
            dead.append((name, state, pid))
    for name, state, pid in dead:
        _mark_dead(ws, name, state, pid)
    return [d[0] for d in dead]


def _mark_dead(ws: LocalWorkspace, name: str, state: str, pid: int) -> None:
    reason = f"The daemon process of {name} (pid {pid}) ended unexpectedly."
    with ws.write() as conn:
        current = conn.execute("SELECT state, pid FROM compute_instances WHERE name = ?", (name,)).fetchone()
        if current is None or current[1] != pid or current[0] != state:
            return  # it moved on meanwhile
        change = ws.bump_changes(conn)
        final = ComputeState.STOPPED if state == ComputeState.STOPPING.value else ComputeState.UNUSABLE
        compute_store.set_state(conn, name, final, change, reason if final == ComputeState.UNUSABLE else "")
        fail_orphans(conn, name, change, f"Compute instance {name} stopped unexpectedly while the job ran.")
        jobs_store.set_queue_reason(conn, name, jobs_store.waiting_reason(name), change)


def fail_orphans(conn: object, name: str, change: int, reason: str) -> int:
    """Fail the active jobs of an instance whose daemon is gone, killing their processes."""
    count = 0
    for seq, run_id, _status, job_pid in jobs_store.active_jobs(conn, name):  # type: ignore[arg-type]
        if job_pid:
            kill_job_group(job_pid, run_id)
        runs_store.set_status(
            conn,  # type: ignore[arg-type]
            seq,
            RunStatus.FAILED,
            change=change,
            reason=reason,
            error={"code": "ComputeStopped", "message": reason},
        )
        count += 1
    return count


def kill_job_group(pid: int, run_id: str) -> None:
    """SIGKILL a job's process group, if ``pid`` still is that job's process."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.environ().get("STUDIO_RUN_ID") != run_id:
            return  # the pid was reused by something else
    except (psutil.Error, OSError):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
