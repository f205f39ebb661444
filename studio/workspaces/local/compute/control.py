"""Creating, starting, stopping, restarting and deleting compute instances; cancelling jobs.

Every transition is decided inside one write transaction, so two callers racing to
start the same instance start one daemon. Daemons poll their state ten times a
second (no signals: a signal could reach a daemon before it can handle it). Waits
poll too and notice a daemon that died (the instance becomes Unusable) instead of
hanging.
"""

from __future__ import annotations

import time

from studio.core.compute import ComputeInfo, ComputeState
from studio.core.errors import NotFoundError, RunStateError, StudioError
from studio.core.status import RunStatus
from studio.core.tasks import CancelToken
from studio.workspaces.local import runs_store
from studio.workspaces.local.compute import instances_store as compute_store
from studio.workspaces.local.compute.interpreter import job_python
from studio.workspaces.local.compute.job import CANCEL_GRACE_S
from studio.workspaces.local.compute.launcher import log_tail, spawn_daemon
from studio.workspaces.local.compute.liveness import reap_instances
from studio.workspaces.local.liveness import this_host
from studio.workspaces.local.workspace import LocalWorkspace

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = CANCEL_GRACE_S + 30.0
_RUNNING = (ComputeState.RUNNING, ComputeState.JOB_RUNNING)


def create(
    ws: LocalWorkspace,
    name: str,
    max_concurrent_jobs: int = 1,
    idle_shutdown_minutes: float | None = None,
    *,
    start_now: bool = True,
    wait: bool = True,
) -> ComputeInfo:
    """Create an instance (and start it unless ``start_now`` is False)."""
    compute_store.check_name(name)
    if isinstance(max_concurrent_jobs, bool) or not isinstance(max_concurrent_jobs, int) or max_concurrent_jobs < 1:
        raise ValueError("max_concurrent_jobs must be an integer >= 1")
    if idle_shutdown_minutes is not None and (
        isinstance(idle_shutdown_minutes, bool)
        or not isinstance(idle_shutdown_minutes, (int, float))
        or idle_shutdown_minutes <= 0
    ):
        raise ValueError("idle_shutdown_minutes must be a positive number of minutes, or None")
    with ws.write() as conn:
        change = ws.bump_changes(conn)
        compute_store.insert_instance(conn, name, max_concurrent_jobs, idle_shutdown_minutes, change)
    if start_now:
        return start(ws, name, wait=wait)
    with ws.write() as conn:
        compute_store.set_state(conn, name, ComputeState.STOPPED, ws.bump_changes(conn))
    return compute_store.get_instance(ws.connection(), name)


def start(ws: LocalWorkspace, name: str, *, wait: bool = True, timeout: float = START_TIMEOUT_S) -> ComputeInfo:
    """Start a stopped (or unusable) instance; starting a started one changes nothing."""
    reap_instances(ws)
    with ws.write() as conn:
        state = compute_store.state_of(conn, name)
        if state in (ComputeState.STOPPING, ComputeState.RESTARTING, ComputeState.DELETING):
            raise RunStateError(f"{name} is {state}; start it when it is Stopped.")
        spawn = state in (ComputeState.STOPPED, ComputeState.UNUSABLE, ComputeState.CREATING)
    if spawn:
        job_python()  # a missing or too old interpreter is said now, not by each job failing later
        if spawn:
            change = ws.bump_changes(conn)
            compute_store.set_state(conn, name, ComputeState.STARTING, change, "Starting.")
            conn.execute("UPDATE compute_instances SET pid = NULL WHERE name = ?", (name,))
    if spawn:
        try:
            pid, started = spawn_daemon(ws.root, name)
        except Exception as exc:
            with ws.write() as conn:
                compute_store.set_state(conn, name, ComputeState.UNUSABLE, ws.bump_changes(conn), str(exc))
            raise StudioError(f"Could not start {name}: {exc}") from exc
        with ws.write() as conn:
            row = conn.execute("SELECT pid FROM compute_instances WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] is None:
                compute_store.set_daemon(conn, name, pid, this_host(), started)
    if wait:
        info = wait_for(ws, name, _RUNNING, timeout)
        if info.state not in _RUNNING:
            tail = log_tail(ws.root, name)
            raise StudioError(
                f"{name} did not start ({info.state}: {info.state_reason})" + (f"\n{tail}" if tail else "")
            )
    return compute_store.get_instance(ws.connection(), name)


def stop(ws: LocalWorkspace, name: str, *, wait: bool = True, timeout: float = STOP_TIMEOUT_S) -> ComputeInfo:
    """Stop an instance: running jobs are canceled, queued ones stay queued."""
    reap_instances(ws)
    with ws.write() as conn:
        state = compute_store.state_of(conn, name)
        change = ws.bump_changes(conn)
        if state == ComputeState.UNUSABLE:
            compute_store.set_state(conn, name, ComputeState.STOPPED, change, "")
        elif state in (ComputeState.CREATING, ComputeState.DELETING):
            raise RunStateError(f"{name} is {state}; stop it when it is Running.")
        elif state not in (ComputeState.STOPPED, ComputeState.STOPPING):
            compute_store.set_state(conn, name, ComputeState.STOPPING, change, "Stopping.")
    if wait:
        info = wait_for(ws, name, (ComputeState.STOPPED,), timeout)
        if info.state == ComputeState.UNUSABLE:
            return stop(ws, name, wait=False)
    return compute_store.get_instance(ws.connection(), name)


def restart(
    ws: LocalWorkspace, name: str, *, wait: bool = True, timeout: float = STOP_TIMEOUT_S + START_TIMEOUT_S
) -> ComputeInfo:
    """Restart: running jobs are canceled, the daemon is replaced, queued jobs then run."""
    reap_instances(ws)
    with ws.write() as conn:
        state = compute_store.state_of(conn, name)
        if state in _RUNNING:
            compute_store.set_state(conn, name, ComputeState.RESTARTING, ws.bump_changes(conn), "Restarting.")
        elif state not in (ComputeState.STOPPED, ComputeState.UNUSABLE, ComputeState.RESTARTING, ComputeState.STARTING):
            raise RunStateError(f"{name} is {state}; restart it when it is Running or Stopped.")
    if state in (ComputeState.STOPPED, ComputeState.UNUSABLE):
        return start(ws, name, wait=wait, timeout=timeout)
    if wait:
        deadline = time.monotonic() + timeout
        wait_for(ws, name, (ComputeState.STARTING, *_RUNNING, ComputeState.UNUSABLE, ComputeState.STOPPED), timeout)
        info = wait_for(ws, name, _RUNNING, max(1.0, deadline - time.monotonic()))
        if info.state not in _RUNNING:
            raise StudioError(f"{name} did not come back after the restart ({info.state}: {info.state_reason})")
    return compute_store.get_instance(ws.connection(), name)


def delete(ws: LocalWorkspace, name: str) -> None:
    """Delete an instance (stopping it first); its queued runs are canceled."""
    if name == compute_store.LOCAL:
        raise RunStateError(
            "The local compute instance belongs to the workspace and cannot be deleted; stop it instead."
        )
    info = compute_store.get_instance(ws.connection(), name)
    if info.state != ComputeState.STOPPED:
        stop(ws, name, wait=True)
    with ws.write() as conn:
        change = ws.bump_changes(conn)
        compute_store.set_state(conn, name, ComputeState.DELETING, change)
        for (seq,) in conn.execute("SELECT seq FROM runs WHERE compute = ? AND status = 'Queued'", (name,)).fetchall():
            runs_store.set_status(
                conn, seq, RunStatus.CANCELED, change=change, reason=f"Compute instance {name} was deleted."
            )
        compute_store.delete_instance(conn, name)


def wait_for(ws: LocalWorkspace, name: str, states: tuple[ComputeState, ...], timeout: float) -> ComputeInfo:
    """Poll until the instance is in one of ``states`` (or Unusable, or stopped while starting)."""
    deadline = time.monotonic() + timeout
    conn = ws.connection()
    while True:
        reap_instances(ws)
        info = compute_store.get_instance(conn, name)
        if info.state in states or info.state == ComputeState.UNUSABLE:
            return info
        if ComputeState.STOPPED not in states and info.state == ComputeState.STOPPED:
            return info
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} is still {info.state} after {timeout:.0f} s")
        time.sleep(0.02)


def wait_settled(ws: LocalWorkspace, name: str, cancel: CancelToken | None = None) -> ComputeInfo | None:
    """Poll until the instance leaves its transitional state (None once deleted); CancelledError on ``cancel``."""
    conn = ws.connection()
    while True:
        reap_instances(ws)
        try:
            info = compute_store.get_instance(conn, name)
        except NotFoundError:
            return None
        if not info.state.is_transitional:
            return info
        if cancel is not None:
            cancel.raise_if_cancelled()
        time.sleep(0.05)


def cancel_job(ws: LocalWorkspace, seq: int) -> RunStatus:
    """Cancel a submitted run: a queued one at once, a running one through its daemon."""
    with ws.write() as conn:
        row = conn.execute("SELECT status, compute FROM runs WHERE seq = ?", (seq,)).fetchone()
        status = RunStatus(row[0])
        change = ws.bump_changes(conn)
        if status in (RunStatus.QUEUED, RunStatus.NOT_STARTED):
            runs_store.set_status(conn, seq, RunStatus.CANCELED, change=change, reason="Canceled by the user.")
        elif status.is_active and status != RunStatus.CANCEL_REQUESTED:
            runs_store.set_status(conn, seq, RunStatus.CANCEL_REQUESTED, change=change, reason="Cancel requested.")
    return RunStatus(ws.connection().execute("SELECT status FROM runs WHERE seq = ?", (seq,)).fetchone()[0])
