"""Noticing runs whose logging process died, so that no run stays Running forever.

A run records the pid, host and start time of the process that logs it. Whoever reads
the workspace calls ``reap_dead_runs``: a run on this host whose process is gone (or
is a zombie, or is another process that reused the pid) is marked Failed. A run on
another host (a workspace on a shared disk) is failed when its heartbeat is stale.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Callable

from studio.core.status import RunStatus
from studio.workspaces.local import runs_store

HEARTBEAT_INTERVAL_S = 20.0
STALE_HEARTBEAT_S = 180.0


def this_host() -> str:
    """The name this machine records in runs."""
    return socket.gethostname()


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None if it is not alive.

    A process we may not inspect (another user's) counts as alive, started at an unknown
    time (0.0): better to leave a run Running than to fail a live one.
    """
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(proc.create_time())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return 0.0


def current_process_identity() -> tuple[int, str, float]:
    """(pid, host, start time) of this process."""
    pid = os.getpid()
    return pid, this_host(), process_start_time(pid) or time.time()


def is_alive(pid: int, started_at: float | None) -> bool:
    """True if ``pid`` is the same living process that started at ``started_at``."""
    start = process_start_time(pid)
    if start is None:
        return False
    return started_at is None or start == 0.0 or abs(start - started_at) < 2.0


def reap_dead_runs(
    conn: sqlite3.Connection, write: Callable[[], object], bump: Callable[[sqlite3.Connection], int]
) -> list[str]:
    """Mark active runs whose process is gone as Failed; returns their ids.

    ``write`` opens a write transaction, ``bump`` advances the change counter.
    """
    rows = conn.execute(
        "SELECT seq, id, pid, host, pid_started_at, heartbeat_at FROM runs "
        "WHERE status NOT IN ('Completed', 'Failed', 'Canceled') AND pid IS NOT NULL"
    ).fetchall()
    host, now = this_host(), time.time()
    dead = []
    for seq, run_id, pid, run_host, started, heartbeat in rows:
        if run_host == host:
            if not is_alive(pid, started):
                dead.append((seq, run_id, f"The process that was running it (pid {pid}) ended without completing it."))
        elif heartbeat is not None and now - heartbeat > STALE_HEARTBEAT_S:
            dead.append((seq, run_id, f"Its process on {run_host} stopped reporting {now - heartbeat:.0f} s ago."))
    if not dead:
        return []
    with write() as wconn:  # type: ignore[attr-defined]
        change = bump(wconn)
        for seq, _run_id, reason in dead:
            runs_store.set_status(
                wconn,
                seq,
                RunStatus.FAILED,
                change=change,
                reason=reason,
                error={"code": "ProcessDied", "message": reason},
            )
    return [run_id for _, run_id, _ in dead]
