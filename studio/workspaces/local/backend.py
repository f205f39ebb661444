"""LocalBackend: the WorkspaceBackend protocol over a local workspace folder."""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from studio.core.backend import DEFAULT_PAGE_SIZE
from studio.core.compute import ComputeInfo, ComputeOptions, ComputeRefresh
from studio.core.errors import RunStateError
from studio.core.status import RunStatus
from studio.core.tasks import CancelToken, ProgressCallback
from studio.core.types import (
    ExperimentInfo,
    FileInfo,
    MetricInfo,
    MetricKind,
    MetricRecord,
    MetricSeries,
    RunInfo,
    RunKeys,
    RunPage,
    RunQuery,
    StatusChange,
    WorkspaceInfo,
)
from studio.core.validation import check_metric_name, check_run_id
from studio.workspaces.local import files_store, liveness, metrics_store, runs_store, series_store
from studio.workspaces.local.compute import control, jobs_store
from studio.workspaces.local.compute import instances_store as compute_store
from studio.workspaces.local.compute import liveness as compute_liveness
from studio.workspaces.local.compute.interpreter import job_python_text, save_python
from studio.workspaces.local.tracking import LocalTracking
from studio.workspaces.local.workspace import LocalWorkspace

REAP_INTERVAL_S = 1.0
_T = TypeVar("_T")


def _calls_mark_their_connection_in_use(cls: type[_T]) -> type[_T]:
    """Run every public method inside ``workspace.in_use()``, so ``close()`` never pulls the
    connection from under a call still running on another thread."""

    def guarded(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(self: LocalBackend, *args: Any, **kwargs: Any) -> Any:
            with self.workspace.in_use():
                return method(self, *args, **kwargs)

        return call

    for name, member in list(vars(cls).items()):
        if inspect.isfunction(member) and not name.startswith("_") and name != "close":
            setattr(cls, name, guarded(member))
    return cls


_calls_mark_their_connection_in_use(LocalTracking)  # the logging methods LocalBackend inherits


@_calls_mark_their_connection_in_use
class LocalBackend(LocalTracking):
    """Reads a local workspace, and logs into it (TrackingBackend); safe to call from several threads at once."""

    def __init__(self, workspace: LocalWorkspace | str | Path) -> None:
        self.workspace = workspace if isinstance(workspace, LocalWorkspace) else LocalWorkspace(workspace)
        self._last_reap = 0.0
        self._reap_lock = threading.Lock()

    def info(self) -> WorkspaceInfo:
        """Name, kind and folder of the workspace."""
        ws = self.workspace
        return WorkspaceInfo(name=ws.name, kind="local", location=str(ws.root), read_only=ws.read_only)

    def change_token(self) -> int:
        """The workspace change counter (one indexed read)."""
        self.reap_dead_runs()
        row = self._conn().execute("SELECT value FROM workspace_state WHERE key = 'changes'").fetchone()
        return int(row[0])

    def reap_dead_runs(self, force: bool = False) -> list[str]:
        """Fail active runs whose process died (at most once a second unless forced)."""
        if self.workspace.read_only:
            return []
        with self._reap_lock:
            now = time.monotonic()
            if not force and now - self._last_reap < REAP_INTERVAL_S:
                return []
            self._last_reap = now
        compute_liveness.reap_instances(self.workspace)
        return liveness.reap_dead_runs(self._conn(), self.workspace.write, self.workspace.bump_changes)

    def list_experiments(self) -> list[ExperimentInfo]:
        """All experiments by name."""
        return runs_store.list_experiments(self._conn())

    def list_runs(
        self,
        experiment: str,
        query: RunQuery | None = None,
        page_token: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> RunPage:
        """A page of runs; the token says where the next page starts (QueryError for a malformed filter)."""
        self.reap_dead_runs()
        runs, token = runs_store.page_runs(self._conn(), experiment, query or RunQuery(), page_token, max(1, page_size))
        return RunPage(runs=runs, next_token=token)

    def count_runs(self, experiment: str, query: RunQuery | None = None) -> int:
        """How many runs match."""
        return runs_store.count_runs(self._conn(), experiment, query or RunQuery())

    def list_run_keys(self, experiment: str) -> RunKeys:
        """Metric, tag and property names of the experiment's top-level runs, with run counts."""
        return runs_store.run_keys(self._conn(), experiment)

    def get_run(self, run_id: str) -> RunInfo:
        """One run."""
        self.reap_dead_runs()
        return runs_store.get_run(self._conn(), check_run_id(run_id))

    def get_run_details(self, run_id: str) -> dict[str, object]:
        """Run type and the submission details (compute target, script, arguments, environment)."""
        conn = self._conn()
        run_type, details = runs_store.run_details(conn, runs_store.run_seq(conn, check_run_id(run_id)))
        return {"runType": run_type, **details}

    def list_children(self, run_id: str) -> list[RunInfo]:
        """Direct children, oldest first."""
        return runs_store.list_children(self._conn(), check_run_id(run_id))

    def status_history(self, run_id: str) -> list[StatusChange]:
        """Status changes, oldest first."""
        return runs_store.status_history(self._conn(), check_run_id(run_id))

    def list_metrics(self, run_id: str) -> list[MetricInfo]:
        """Metrics in the order first logged."""
        conn = self._conn()
        return metrics_store.list_metrics(conn, runs_store.run_seq(conn, check_run_id(run_id)))

    def get_series(self, run_id: str, name: str, start: int = 0) -> MetricSeries:
        """A numeric series from point ``start``."""
        conn = self._conn()
        seq = runs_store.run_seq(conn, check_run_id(run_id))
        metric_id, kind, _ = metrics_store.metric_id_of(conn, seq, name, run_id)
        if kind != MetricKind.SCALAR.value:
            raise ValueError(f"metric {name!r} of run {run_id} holds {kind} values, not numbers")
        steps, values, times = series_store.read_points(conn, metric_id, max(0, start))
        return MetricSeries(name=name, steps=steps, values=values, times=times, start=max(0, start))

    def get_metric_records(self, run_id: str, name: str, start: int = 0) -> list[MetricRecord]:
        """Records of a non-numeric metric from index ``start``."""
        conn = self._conn()
        seq = runs_store.run_seq(conn, check_run_id(run_id))
        metric_id, kind, _ = metrics_store.metric_id_of(conn, seq, name, run_id)
        if kind == MetricKind.SCALAR.value:
            raise ValueError(f"metric {name!r} of run {run_id} is numeric; read it with get_series")
        return metrics_store.read_records(conn, metric_id, max(0, start))

    def list_files(self, run_id: str, prefix: str = "") -> list[FileInfo]:
        """The run's files under ``prefix``."""
        return files_store.list_files(self._run_root(run_id), prefix)

    def read_file_range(self, run_id: str, path: str, offset: int, length: int) -> bytes:
        """A byte range of one file."""
        return files_store.read_range(self._run_root(run_id), path, offset, length)

    def download_files(
        self,
        run_id: str,
        paths: list[str],
        destination: Path,
        *,
        strip_prefix: str = "",
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[Path]:
        """Copy files out of the run (temporary name, then rename)."""
        return files_store.download(
            self._run_root(run_id),
            paths,
            Path(destination),
            strip_prefix=strip_prefix,
            overwrite=overwrite,
            progress=progress,
            cancel=cancel,
        )

    def list_changed_runs(self, since: int, limit: int = 1000) -> tuple[list[RunInfo], int]:
        """Runs whose change counter is above ``since``, oldest change first."""
        self.reap_dead_runs()
        return runs_store.changed_runs(self._conn(), since, limit)

    def submit_script(
        self,
        experiment: str,
        source_directory: str,
        script: str,
        arguments: list[Any] | None = None,
        compute: str | None = None,
        *,
        environment: dict[str, Any] | None = None,
        display_name: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Submit a script job (see studio.workspaces.local.compute.submit)."""
        from studio.workspaces.local.compute.submit import submit

        _, run_id = submit(
            self.workspace,
            experiment,
            source_directory=source_directory,
            script=script,
            arguments=list(arguments or []),
            compute=compute,
            environment=environment,
            display_name=display_name,
            tags=tags,
        )
        return run_id

    def set_run_metadata(
        self,
        run_id: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> RunInfo:
        """Edit a run's display name, description and tags in one transaction."""
        ws = self.workspace
        conn = self._conn()
        seq = runs_store.run_seq(conn, check_run_id(run_id))
        with ws.write() as wconn:
            change = ws.bump_changes(wconn)
            if display_name is not None:
                runs_store.set_text(wconn, seq, "display_name", display_name, change)
            if description is not None:
                runs_store.set_text(wconn, seq, "description", description, change)
            if tags is not None:
                for key in tags:
                    check_metric_name(key)
                wconn.execute("DELETE FROM run_tags WHERE run_seq = ?", (seq,))
                runs_store.set_pairs(wconn, "run_tags", seq, [(k, str(v)) for k, v in tags.items()], change)
        return runs_store.get_run(conn, run_id)

    def cancel_run(self, run_id: str) -> RunStatus:
        """Cancel a run: a job through its compute, an inline run at once."""
        conn = self._conn()
        seq = runs_store.run_seq(conn, check_run_id(run_id))
        ended = runs_store.get_run(conn, run_id).status
        if ended.is_terminal:  # also spares the change counter a bump for a change that never happens
            raise RunStateError(f"Run {run_id} already ended ({ended}); there is nothing to cancel.")
        if jobs_store.job_compute(conn, seq):
            return control.cancel_job(self.workspace, seq)
        ws = self.workspace
        with ws.write() as wconn:
            runs_store.set_status(
                wconn, seq, RunStatus.CANCELED, change=ws.bump_changes(wconn), reason="Canceled by the user."
            )
        return runs_store.get_run(conn, run_id).status

    def list_compute(self) -> list[ComputeInfo]:
        """Instances, ``local`` first, each saying which Python runs its jobs."""
        self.reap_dead_runs()
        runtime = job_python_text()
        return [replace(info, runtime=runtime) for info in compute_store.list_instances(self._conn())]

    def get_compute(self, name: str) -> ComputeInfo:
        """One instance."""
        self.reap_dead_runs()
        return replace(compute_store.get_instance(self._conn(), name), runtime=job_python_text())

    def set_job_python(self, path: str) -> str:
        """Check ``path`` and keep it as the Python for local jobs (``default``: the default again), for every
        local workspace of this user (``studio --python``); returns it in words. InterpreterError says why not."""
        save_python(path)
        return job_python_text()

    def compute_refresh(self) -> ComputeRefresh:
        """The database is local: list once a second, five times a second while an instance changes state."""
        return ComputeRefresh(idle_s=1.0, moving_s=0.2)

    def compute_options(self) -> ComputeOptions:
        """Instances have a concurrency setting and no sizes; environments are package lists; snapshot limits."""
        from studio.workspaces.local.compute.snapshot import MAX_SNAPSHOT_BYTES, MAX_SNAPSHOT_FILES

        return ComputeOptions(snapshot_max_bytes=MAX_SNAPSHOT_BYTES, snapshot_max_files=MAX_SNAPSHOT_FILES)

    def create_compute(
        self,
        name: str,
        max_concurrent_jobs: int = 1,
        idle_shutdown_minutes: float | None = None,
        wait: bool = False,
        *,
        vm_size: str | None = None,
    ) -> ComputeInfo:
        """Create and start an instance (waiting for it to run when ``wait``); local instances have no size."""
        return control.create(self.workspace, name, max_concurrent_jobs, idle_shutdown_minutes, wait=wait)

    def start_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """Start an instance."""
        return control.start(self.workspace, name, wait=wait)

    def stop_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """Stop an instance."""
        return control.stop(self.workspace, name, wait=wait)

    def restart_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """Restart an instance."""
        return control.restart(self.workspace, name, wait=wait)

    def delete_compute(self, name: str, wait: bool = True) -> None:
        """Delete an instance (the local kind always finishes before returning)."""
        control.delete(self.workspace, name)

    def wait_compute(self, name: str, cancel: CancelToken | None = None) -> ComputeInfo | None:
        """Poll the instance until its state settles (None once it is gone)."""
        return control.wait_settled(self.workspace, name, cancel)

    def close(self) -> None:
        """Close the database connections."""
        self.workspace.close()

    def _conn(self):  # type: ignore[no-untyped-def]
        return self.workspace.connection()

    def _run_root(self, run_id: str) -> Path:
        runs_store.run_seq(self._conn(), check_run_id(run_id))  # NotFoundError for unknown runs
        return self.workspace.run_dir(run_id)
