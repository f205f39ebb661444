"""The protocols every workspace kind implements, and the one some kinds add.

``WorkspaceBackend`` is what every kind has: experiments, runs, metrics, files, downloads,
metadata edits, change tokens and cancel. ``ComputeBackend`` is what only some kinds have:
compute instances and submitting scripts to them. The GUI shows the Compute pane and the
submit actions only for a backend that ``isinstance(backend, ComputeBackend)``.

Both are shaped for remote latency: runs come in pages with a continuation token, numeric
series can be fetched incrementally from a point index, files are read by byte range, and
``change_token`` is a cheap call to poll for live refresh.

How kinds answer the live-refresh calls:

- local: ``change_token`` is SQLite's ``PRAGMA data_version`` plus a change counter, a
  read of one row (microseconds); ``list_changed_runs`` reads the runs whose change
  sequence is past the token, through an index.
- remote kinds (MLflow servers, Azure ML) have no change feed. ``change_token`` is
  answered by polling: one cheap list call (the newest page of runs ordered by update
  time, or the experiment list) whose answer is hashed into the token, at most once per
  poll interval (seconds, not milliseconds) and cached in between, so the GUI's one-second
  timer costs at most one round trip per interval. ``list_changed_runs`` returns the runs
  whose last-update time or status differs from the previous poll's copy. Such a backend
  says so in its docstring, with its interval and its round trips per poll.

A kind that cannot do something it is asked (a read-only server, an edit the service
refuses) raises ``UnsupportedOperation`` with a sentence a user can act on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from studio.core.compute import ComputeInfo, ComputeOptions, ComputeRefresh
from studio.core.status import RunStatus
from studio.core.tasks import CancelToken, ProgressCallback
from studio.core.types import (
    ExperimentInfo,
    FileInfo,
    MetricInfo,
    MetricRecord,
    MetricSeries,
    RunInfo,
    RunKeys,
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
        """One page of an experiment's runs, in the query's order (``RunQuery`` says which), each with its
        ``metrics`` (last values) filled. A token from a sorted query continues that same order."""
        ...

    def count_runs(self, experiment: str, query: RunQuery | None = None) -> int:
        """How many runs match the query."""
        ...

    def list_run_keys(self, experiment: str) -> RunKeys:
        """The metric, param, tag and property names of an experiment's top-level runs, with run counts."""
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

    def close(self) -> None:
        """Release connections and other resources."""
        ...


@runtime_checkable
class ComputeBackend(Protocol):
    """Compute instances and script jobs, for the kinds that have them (local, Azure ML).

    Every method may block on I/O (a start can take minutes on Azure): call it off the GUI thread.
    """

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
        """Queue ``python script arguments`` from a source folder on a compute instance; returns the run id.

        ``compute`` None means the kind's default target; ``environment`` is the job's environment as the
        SDK's ``Environment`` describes it (name, Python packages); ``display_name`` and ``tags`` label the run.
        """
        ...

    def list_compute(self) -> list[ComputeInfo]:
        """Compute instances (and, for Azure, clusters) with their state; instances first."""
        ...

    def get_compute(self, name: str) -> ComputeInfo:
        """One compute instance or cluster; NotFoundError if there is none."""
        ...

    def compute_refresh(self) -> ComputeRefresh:
        """How often a view should list the compute (no I/O: a constant of the kind)."""
        ...

    def compute_options(self) -> ComputeOptions:
        """VM sizes, environments and limits for the New instance and Submit script dialogs (may do I/O)."""
        ...

    def create_compute(
        self,
        name: str,
        max_concurrent_jobs: int = 1,
        idle_shutdown_minutes: float | None = None,
        wait: bool = False,
        *,
        vm_size: str | None = None,
    ) -> ComputeInfo:
        """Create a compute instance and start it (waiting until it runs when ``wait``).

        ``vm_size`` is one of ``compute_options().vm_sizes`` (None: the kind's default); kinds without
        concurrency settings ignore ``max_concurrent_jobs``.
        """
        ...

    def start_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """Start an instance; RunStateError (with ``ComputeInfo.refusal``'s sentence) if its state forbids it.

        Without ``wait`` it returns once the service accepted the request, with the state shown as the
        transition (Starting); ``wait_compute`` then follows the operation.
        """
        ...

    def stop_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """Stop an instance; its running jobs are canceled, queued ones wait."""
        ...

    def restart_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """Restart an instance."""
        ...

    def delete_compute(self, name: str, wait: bool = True) -> None:
        """Delete an instance (stopping it first); without ``wait`` it returns once the service accepted."""
        ...

    def wait_compute(self, name: str, cancel: CancelToken | None = None) -> ComputeInfo | None:
        """Follow the operation this backend last started on ``name`` (or, with none known, its state) until it ends.

        Returns the state afterwards (None once a delete finished); raises the operation's failure as a
        StudioError with the service's sentence (RunStateError for a refusal), and CancelledError when
        ``cancel`` is set: cancelling stops the waiting, never the operation. Polls at the kind's own interval.
        """
        ...
