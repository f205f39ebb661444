"""The WorkspaceBackend protocol: how the GUI (and tools) read a workspace, local or remote.

It is shaped for remote latency: runs come in pages with a continuation token, numeric
series can be fetched incrementally from a point index, files are read by byte range,
and ``change_token`` is a cheap call to poll for live refresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from studio.core.compute import ComputeInfo
from studio.core.status import RunStatus
from studio.core.tasks import CancelToken, ProgressCallback
from studio.core.types import (
    ExperimentInfo,
    FileInfo,
    MetricInfo,
    MetricRecord,
    MetricSeries,
    RunInfo,
    RunPage,
    RunQuery,
    StatusChange,
    WorkspaceInfo,
)

DEFAULT_PAGE_SIZE = 200


@runtime_checkable
class WorkspaceBackend(Protocol):
    """Read access to one workspace. Every method may block on I/O: call it off the GUI thread."""

    def info(self) -> WorkspaceInfo:
        """Name, kind and location of the workspace."""
        ...

    def change_token(self) -> int:
        """A number that changes whenever anything in the workspace changes; cheap to call."""
        ...

    def list_experiments(self) -> list[ExperimentInfo]:
        """All experiments, by name."""
        ...

    def list_runs(
        self,
        experiment: str,
        query: RunQuery | None = None,
        page_token: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> RunPage:
        """One page of an experiment's runs (newest first unless the query says otherwise)."""
        ...

    def count_runs(self, experiment: str, query: RunQuery | None = None) -> int:
        """How many runs match the query."""
        ...

    def get_run(self, run_id: str) -> RunInfo:
        """One run; NotFoundError if there is none with that id."""
        ...

    def get_run_details(self, run_id: str) -> dict[str, object]:
        """How a run was made: ``runType``, ``target`` (compute), ``script``, ``arguments``, ``environment``, ..."""
        ...

    def list_children(self, run_id: str) -> list[RunInfo]:
        """The direct child runs of a run, oldest first."""
        ...

    def status_history(self, run_id: str) -> list[StatusChange]:
        """Every status the run went through, with timestamps, oldest first."""
        ...

    def list_metrics(self, run_id: str) -> list[MetricInfo]:
        """The run's metrics with their kinds."""
        ...

    def get_series(self, run_id: str, name: str, start: int = 0) -> MetricSeries:
        """A numeric series as numpy arrays, from point index ``start`` on."""
        ...

    def get_metric_records(self, run_id: str, name: str, start: int = 0) -> list[MetricRecord]:
        """The logged values of a string, list, row, table or image metric, from index ``start``."""
        ...

    def list_files(self, run_id: str, prefix: str = "") -> list[FileInfo]:
        """The run's files whose path starts with ``prefix``, sorted by path."""
        ...

    def read_file_range(self, run_id: str, path: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes of a run's file starting at ``offset`` (fewer at its end)."""
        ...

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
        """Copy run files into ``destination``, keeping their relative paths minus ``strip_prefix``.

        Each file is written under a temporary name and renamed when complete, so a
        cancelled or failed download never leaves a file that looks complete. Existing
        files raise FileExistsError unless ``overwrite``.
        """
        ...

    def list_changed_runs(self, since: int, limit: int = 1000) -> tuple[list[RunInfo], int]:
        """Runs changed after change token ``since`` (oldest change first) and the token to ask from next."""
        ...

    def submit_script(
        self,
        experiment: str,
        source_directory: str,
        script: str,
        arguments: list[str] | None = None,
        compute: str | None = None,
    ) -> str:
        """Queue ``python script arguments`` from a source folder on a compute instance; returns the run id."""
        ...

    def set_run_metadata(
        self,
        run_id: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> RunInfo:
        """Change a run's display name, description or tags; returns the run as it is now."""
        ...

    def cancel_run(self, run_id: str) -> RunStatus:
        """Cancel a queued or running run; returns its status afterwards (CancelRequested while it stops)."""
        ...

    def list_compute(self) -> list[ComputeInfo]:
        """Compute instances with their state and running / queued job counts."""
        ...

    def get_compute(self, name: str) -> ComputeInfo:
        """One compute instance; NotFoundError if there is none."""
        ...

    def create_compute(
        self, name: str, max_concurrent_jobs: int = 1, idle_shutdown_minutes: float | None = None
    ) -> ComputeInfo:
        """Create a compute instance and start it."""
        ...

    def start_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """Start an instance (no change if it runs); RunStateError if its state forbids it."""
        ...

    def stop_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """Stop an instance; its running jobs are canceled, queued ones wait."""
        ...

    def restart_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """Restart an instance."""
        ...

    def delete_compute(self, name: str) -> None:
        """Delete an instance (stopping it first)."""
        ...

    def close(self) -> None:
        """Release connections and other resources."""
        ...
