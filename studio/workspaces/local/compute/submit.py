"""Submitting a script job: snapshot the source, queue the run, start `local` if needed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from studio.core.compute import ComputeState
from studio.core.errors import NotFoundError, StudioError
from studio.core.status import RunStatus
from studio.core.validation import check_experiment_name, relative_file_name
from studio.workspaces.local import runs_store
from studio.workspaces.local.compute import control, jobs_store
from studio.workspaces.local.compute import instances_store as compute_store
from studio.workspaces.local.compute.interpreter import job_python
from studio.workspaces.local.compute.liveness import reap_instances
from studio.workspaces.local.compute.snapshot import copy_snapshot, snapshot_files
from studio.workspaces.local.workspace import LocalWorkspace


def submit(
    ws: LocalWorkspace,
    experiment: str,
    *,
    source_directory: str | Path,
    script: str,
    arguments: list[Any] | None = None,
    compute: str | None = None,
    environment: dict[str, Any] | None = None,
    display_name: str | None = None,
    tags: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Queue ``python script arguments`` on an instance; returns the new run's (seq, id).

    The snapshot is copied before the run is queued, so no daemon can pick it up half made.
    """
    check_experiment_name(experiment)
    source = Path(source_directory).expanduser().absolute()
    if not source.is_dir():
        raise NotFoundError(f"The source directory {source} does not exist.")
    script_name = relative_file_name(script)
    if not (source / script_name).is_file():
        raise NotFoundError(f"The script {script_name} is not in {source}.")
    args = [_argument(a) for a in (arguments or [])]
    job_python()  # an interpreter that cannot run the script is said now, before a run waits for it in vain
    target = compute or compute_store.LOCAL
    reap_instances(ws)  # a daemon that died must not look up
    state = compute_store.state_of(ws.connection(), target)  # NotFoundError for unknown instances
    if state == ComputeState.DELETING:
        raise StudioError(f"Compute instance {target} is being deleted.")
    files = snapshot_files(source)
    details = {
        "target": target,
        "script": script_name,
        "arguments": args,
        "source_directory": str(source),
        "experiment": experiment,
        "environment": environment,
        "submittedBy": runs_store.current_user(),
    }
    with ws.write() as conn:
        change = ws.bump_changes(conn)
        seq, run_id = jobs_store.create_job(
            conn, experiment, target, details, change, "Copying the snapshot.", display_name
        )
        if tags:
            runs_store.set_pairs(conn, "run_tags", seq, tags.items(), change)
    try:
        copy_snapshot(files, ws.run_dir(run_id) / "snapshot")
    except OSError as exc:
        shutil.rmtree(ws.run_dir(run_id) / "snapshot", ignore_errors=True)
        with ws.write() as conn:
            message = f"Could not copy the snapshot: {exc}"
            runs_store.set_status(
                conn, seq, RunStatus.FAILED, change=ws.bump_changes(conn), reason=message, error={"message": message}
            )
        raise StudioError(message) from exc
    if target == compute_store.LOCAL and state == ComputeState.STOPPING:
        state = control.wait_for(ws, target, (ComputeState.STOPPED,), control.STOP_TIMEOUT_S).state
    up = state.is_up and state != ComputeState.STOPPING
    with ws.write() as conn:
        reason = "" if up else jobs_store.waiting_reason(target)
        _queue(conn, seq, ws.bump_changes(conn), reason)
    if not up and target == compute_store.LOCAL:
        control.start(ws, target, wait=False)
    return seq, run_id


def _queue(conn: Any, seq: int, change: int, reason: str) -> None:
    runs_store.set_status(conn, seq, RunStatus.QUEUED, change=change, reason=reason)


def _argument(value: Any) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, bool):
        return str(value)
    raise TypeError(f"script arguments must be strings or numbers, not {type(value).__name__}")
