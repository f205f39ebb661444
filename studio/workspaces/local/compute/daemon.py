"""The compute daemon: ``python -m studio.workspaces.local.compute.daemon WORKSPACE NAME``.

It records its pid and a heartbeat, picks queued runs of its instance up to the
concurrency limit, runs each as a Job, honours cancel requests, stops when asked (or
after the idle time), and on restart starts its successor before it exits.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

from studio.core.compute import ComputeState
from studio.core.errors import NotFoundError
from studio.workspaces.local.compute import instances_store as compute_store
from studio.workspaces.local.compute import jobs_store
from studio.workspaces.local.compute.job import CANCEL_GRACE_S, Job
from studio.workspaces.local.compute.launcher import spawn_daemon
from studio.workspaces.local.compute.liveness import fail_orphans
from studio.workspaces.local.liveness import current_process_identity, this_host
from studio.workspaces.local.workspace import LocalWorkspace

POLL_S = 0.1
HEARTBEAT_S = 1.0


class Daemon:
    """The loop of one compute instance."""

    def __init__(self, ws: LocalWorkspace, name: str) -> None:
        self.ws = ws
        self.name = name
        self.jobs: dict[int, Job] = {}
        self.wake = threading.Event()
        self.terminate = False
        self.last_activity = time.monotonic()
        self.last_heartbeat = 0.0
        self.work_root = ws.root / "compute" / name / "work"

    def _on_sigterm(self, *_: object) -> None:
        self.terminate = True
        self.wake.set()

    def run(self) -> int:
        """Serve until stopped; returns the exit code."""
        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGINT, self._on_sigterm)
        pid, host, started = current_process_identity()
        ws = self.ws
        with ws.write() as conn:
            change = ws.bump_changes(conn)
            compute_store.set_daemon(conn, self.name, pid, host, started)
            fail_orphans(conn, self.name, change, f"Compute instance {self.name} restarted while the job ran.")
            compute_store.set_state(
                conn, self.name, ComputeState.RUNNING, change, expect=(ComputeState.STARTING, ComputeState.CREATING)
            )
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {self.name}: daemon {pid} running", flush=True)
        while True:
            self.wake.wait(POLL_S)
            self.wake.clear()
            try:
                state = compute_store.state_of(ws.connection(), self.name)
            except NotFoundError:
                self._shutdown(None, "The compute instance was deleted.")
                return 0
            if self.terminate or state in (ComputeState.STOPPING, ComputeState.DELETING):
                self._shutdown(ComputeState.STOPPED, "")
                return 0
            if state == ComputeState.RESTARTING:
                self._shutdown(ComputeState.STARTING, "Restarting.", restart=True)
                return 0
            self._tick()

    def _tick(self) -> None:
        ws, now = self.ws, time.monotonic()
        conn = ws.connection()
        for seq, _run_id, status, _pid in jobs_store.active_jobs(conn, self.name):
            if status == "CancelRequested" and seq in self.jobs:
                self.jobs[seq].cancel("Canceled by the user.")
        for seq in [s for s, job in self.jobs.items() if job.done]:
            del self.jobs[seq]
            self.last_activity = now
        max_jobs, idle_minutes = compute_store.settings_of(conn, self.name)
        queued = jobs_store.queued_count(conn, self.name)
        free = max_jobs - len(self.jobs)
        claimed: list[tuple[int, str]] = []
        desired = ComputeState.JOB_RUNNING if self.jobs or (queued and free > 0) else ComputeState.RUNNING
        row = conn.execute("SELECT state, running_jobs FROM compute_instances WHERE name = ?", (self.name,)).fetchone()
        heartbeat_due = now - self.last_heartbeat >= HEARTBEAT_S
        if (queued and free > 0) or heartbeat_due or row[0] != desired.value or row[1] != len(self.jobs):
            with ws.write() as wconn:
                change = (
                    ws.bump_changes(wconn) if (queued or row[0] != desired.value or row[1] != len(self.jobs)) else 0
                )
                if queued and free > 0:
                    claimed = jobs_store.claim_queued(wconn, self.name, free, change)
                running = len(self.jobs) + len(claimed)
                desired = ComputeState.JOB_RUNNING if running else ComputeState.RUNNING
                if row[0] != desired.value or row[1] != running:
                    compute_store.set_state(
                        wconn, self.name, desired, change, expect=(ComputeState.RUNNING, ComputeState.JOB_RUNNING)
                    )
                    wconn.execute("UPDATE compute_instances SET running_jobs = ? WHERE name = ?", (running, self.name))
                if queued > len(claimed):
                    reason = f"Waiting for a free slot on {self.name} ({running} of {max_jobs} jobs running)."
                    jobs_store.set_queue_reason(wconn, self.name, reason, change or ws.bump_changes(wconn))
                wconn.execute("UPDATE compute_instances SET heartbeat_at = ? WHERE name = ?", (time.time(), self.name))
            self.last_heartbeat = now
        for seq, run_id in claimed:
            job = Job(ws, self.name, seq, run_id, self.work_root)
            self.jobs[seq] = job
            job.start()
            self.last_activity = now
        if idle_minutes is not None and not self.jobs and not queued and now - self.last_activity >= idle_minutes * 60:
            self._shutdown(ComputeState.STOPPED, f"Stopped after {idle_minutes:g} idle minutes.")
            sys.exit(0)

    def _shutdown(self, final: ComputeState | None, reason: str, restart: bool = False) -> None:
        why = "restarted" if restart else "stopped"
        for job in self.jobs.values():
            job.cancel(f"Canceled: compute instance {self.name} was {why}.")
        deadline = time.monotonic() + CANCEL_GRACE_S + 15
        for job in self.jobs.values():
            job.thread.join(timeout=max(0.1, deadline - time.monotonic()))
        if final is None:
            return
        ws = self.ws
        with ws.write() as conn:
            change = ws.bump_changes(conn)
            compute_store.set_state(conn, self.name, final, change, reason)
            if not restart:
                jobs_store.set_queue_reason(conn, self.name, jobs_store.waiting_reason(self.name), change)
        if restart:
            # The state says Starting before the successor exists, so that it boots into Running.
            pid, started = spawn_daemon(ws.root, self.name)
            with ws.write() as conn:
                compute_store.set_daemon(conn, self.name, pid, this_host(), started)
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {self.name}: daemon {why}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the daemon process."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m studio.workspaces.local.compute.daemon WORKSPACE NAME", file=sys.stderr)
        return 2
    ws = LocalWorkspace(Path(args[0]), create=False)
    return Daemon(ws, args[1]).run()


if __name__ == "__main__":
    sys.exit(main())
