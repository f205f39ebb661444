"""LocalTracking: the TrackingBackend protocol (studio.core.tracking) over a local workspace folder.

A mix-in of LocalBackend: the SDK logs through the same object the studio reads with.
Metrics go through the process's one MetricWriter per workspace (metric_writer.py); each
run gets a small ``LocalRunMetrics`` that binds that writer to the run's row.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import Any, BinaryIO

from studio.core.errors import NotFoundError
from studio.core.status import RunStatus
from studio.core.tracking import ProcessIdentity
from studio.core.types import MetricKind
from studio.core.validation import check_metric_name, check_run_id, relative_file_name
from studio.workspaces.local import files_store, liveness, metric_writer, runs_store
from studio.workspaces.local.metric_writer import MetricWriter, RecordBuffer, SeriesBuffer
from studio.workspaces.local.workspace import LocalWorkspace


class LocalRunMetrics:
    """One run's view of the workspace's MetricWriter (a RunMetricWriter)."""

    def __init__(self, workspace: LocalWorkspace, run_seq: int) -> None:
        self._workspace = workspace
        self._seq = run_seq
        self._bind()
        _live_run_metrics.add(self)

    def _bind(self) -> None:
        # After a fork the child gets fresh writers; binding again keeps it from writing the
        # parent's pending points a second time.
        self._writer: MetricWriter = metric_writer.writer_for(self._workspace)
        self.lock: threading.Lock = self._writer.lock

    @property
    def interval(self) -> float:
        """Seconds between background flushes."""
        return self._writer.interval

    def series(self, name: str, description: str = "") -> SeriesBuffer:
        """The buffer of numeric metric ``name``."""
        return self._writer.series(self._seq, name, description)

    def records(self, name: str, kind: MetricKind, description: str = "") -> RecordBuffer:
        """The buffer of non-numeric metric ``name``."""
        return self._writer.records(self._seq, name, kind, description)

    def add_record(self, buffer: RecordBuffer, value: Any, step: int | None = None) -> None:
        """Queue one record."""
        self._writer.add_record(buffer, value, step)

    def flush(self) -> None:
        """Write everything buffered for the workspace now."""
        self._writer.flush()


class LocalTracking:
    """The TrackingBackend methods of LocalBackend; expects ``self.workspace``."""

    workspace: LocalWorkspace

    def create_experiment(self, name: str) -> None:
        """Create experiment ``name`` unless it exists."""
        with self.workspace.write() as conn:
            runs_store.ensure_experiment(conn, name)

    def this_process(self) -> ProcessIdentity:
        """pid, host and start time of this process."""
        pid, host, started = liveness.current_process_identity()
        return ProcessIdentity(pid, host, started)

    def start_run(
        self,
        experiment: str,
        *,
        parent_id: str | None = None,
        display_name: str | None = None,
        details: dict[str, Any] | None = None,
        process: ProcessIdentity | None = None,
    ) -> str:
        """Create a Running run, record its process and keep its heartbeat while it is open here."""
        ws = self.workspace
        who = process or self.this_process()
        parent_seq = runs_store.run_seq(ws.connection(), check_run_id(parent_id)) if parent_id else None
        with ws.write() as conn:
            seq, run_id = runs_store.create_run(
                conn,
                experiment,
                status=RunStatus.RUNNING,
                change=ws.bump_changes(conn),
                parent_seq=parent_seq,
                parent_id=parent_id,
                display_name=display_name,
                details=details
                if details is not None
                else {"target": "local", "submittedBy": runs_store.current_user()},
            )
            runs_store.set_process(conn, seq, who.pid, who.host, who.started_at)
        metric_writer.writer_for(ws).watch_run(seq)
        return run_id

    def find_run(self, run_id: str) -> str:
        """The experiment of run ``run_id``."""
        row = (
            self.workspace.connection()
            .execute(
                "SELECT e.name FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id = ?",
                (check_run_id(run_id),),
            )
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"There is no run {run_id!r} in this workspace.")
        return str(row[0])

    def list_descendants(self, run_id: str) -> list[str]:
        """Children, grandchildren... in creation order."""
        return runs_store.descendants(self.workspace.connection(), check_run_id(run_id))

    def metric_writer(self, run_id: str) -> LocalRunMetrics:
        """The run's buffers in this process."""
        return LocalRunMetrics(self.workspace, runs_store.run_seq(self.workspace.connection(), check_run_id(run_id)))

    def flush_metrics(self) -> None:
        """Write this process's buffered metrics of the workspace."""
        metric_writer.writer_for(self.workspace).flush()

    def end_run(self, run_id: str, status: RunStatus, *, error: dict[str, Any] | None = None, reason: str = "") -> None:
        """Set the final status and stop the run's heartbeat."""
        ws = self.workspace
        seq = runs_store.run_seq(ws.connection(), check_run_id(run_id))
        with ws.write() as conn:
            runs_store.set_status(conn, seq, status, change=ws.bump_changes(conn), error=error, reason=reason)
        metric_writer.writer_for(ws).unwatch_run(seq)

    def add_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Set tags, keeping the others."""
        self._add_pairs("run_tags", run_id, tags)

    def add_properties(self, run_id: str, properties: dict[str, str]) -> None:
        """Set properties, keeping the others."""
        self._add_pairs("run_properties", run_id, properties)

    def _add_pairs(self, table: str, run_id: str, pairs: dict[str, str]) -> None:
        for key in pairs:
            check_metric_name(key)
        ws = self.workspace
        seq = runs_store.run_seq(ws.connection(), check_run_id(run_id))
        with ws.write() as conn:
            runs_store.set_pairs(conn, table, seq, [(k, str(v)) for k, v in pairs.items()], ws.bump_changes(conn))

    def file_exists(self, run_id: str, name: str) -> bool:
        """True if the run has the file."""
        return files_store.safe_path(self._tracked_run_root(run_id), name).exists()

    def upload_file(self, run_id: str, name: str, source: Path | BinaryIO, *, overwrite: bool = False) -> str:
        """Store a file in the run (temporary name, then rename)."""
        dest = files_store.safe_path(self._tracked_run_root(run_id), name)
        if not overwrite and dest.exists():
            raise FileExistsError(f"run {run_id} already has a file named {relative_file_name(name)!r}")
        if isinstance(source, (str, os.PathLike)):
            files_store.write_file(dest, Path(source), overwrite=overwrite)
        else:
            files_store.write_stream(dest, source, overwrite=overwrite)
        return relative_file_name(name)

    def _tracked_run_root(self, run_id: str) -> Path:
        runs_store.run_seq(self.workspace.connection(), check_run_id(run_id))  # NotFoundError for unknown runs
        return self.workspace.run_dir(run_id)


_live_run_metrics: weakref.WeakSet[LocalRunMetrics] = weakref.WeakSet()


def _rebind_in_child() -> None:
    for run_metrics in list(_live_run_metrics):
        run_metrics._bind()


metric_writer._fork_hooks.append(_rebind_in_child)
