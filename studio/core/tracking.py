"""The write side of a workspace: what the logging API (``studio.sdk``) needs beyond ``WorkspaceBackend``.

``WorkspaceBackend`` reads; ``TrackingBackend`` records what a script does while it runs:
experiments and runs it creates, metrics it logs, status changes, tags, properties and
files. A kind whose backend is a ``TrackingBackend`` (today: local folders) can be logged
into; the SDK refuses the others with one sentence.

Metrics are buffered in the logging process: ``metric_writer(run_id)`` hands out a
``RunMetricWriter`` whose buffers the SDK appends to under ``lock`` (a list append per
point, so a million points log in about a second). The backend writes them at most
0.5 s later, on ``flush()``, when the run ends and at interpreter exit.

No Qt, no storage: this module only names what a kind must provide.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

from studio.core.status import RunStatus
from studio.core.types import MetricKind


@dataclass(frozen=True)
class ProcessIdentity:
    """Who runs a run: enough to notice later that the process died without ending it."""

    pid: int
    host: str
    started_at: float
    """The process's start time, so a reused pid is not mistaken for it."""


class SeriesBuffer(Protocol):
    """Pending points of one numeric metric of one run.

    The SDK appends to ``steps``, ``times`` and ``values`` (in that order, ``values`` last)
    while holding the writer's ``lock``; ``None`` in ``steps`` means "the next step".
    """

    description: str
    steps: list[int | None]
    times: list[float]
    values: list[float]
    auto_steps: bool
    """True while every pending step is None (the common case, written without a per-point loop)."""
    value_type: str
    """"int", "float" or "bool": the widest type logged so far (a float makes the series float)."""


class RecordBuffer(Protocol):
    """Pending records of one non-numeric metric (string, list, row, table or image)."""

    name: str
    kind: MetricKind


@runtime_checkable
class RunMetricWriter(Protocol):
    """The in-process metric buffers of one run."""

    lock: threading.Lock
    """Held while appending to a buffer; the backend's flush takes the same lock to swap buffers out."""

    def series(self, name: str, description: str = "") -> SeriesBuffer:
        """The buffer of numeric metric ``name``; ValueError if the name already holds another kind."""
        ...

    def records(self, name: str, kind: MetricKind, description: str = "") -> RecordBuffer:
        """The buffer of non-numeric metric ``name``; ValueError if the name already holds another kind."""
        ...

    def add_record(self, buffer: RecordBuffer, value: Any, step: int | None = None) -> None:
        """Queue one record; ``value`` must be JSON-serialisable (NaN and infinities allowed)."""
        ...

    def flush(self) -> None:
        """Write everything buffered now; raises the error of a write that failed meanwhile."""
        ...


@runtime_checkable
class TrackingBackend(Protocol):
    """What logging into a workspace needs beyond reading it.

    Runs are named by their id everywhere; an unknown id raises ``NotFoundError``.
    """

    def create_experiment(self, name: str) -> None:
        """Create experiment ``name`` unless it exists."""
        ...

    def start_run(
        self,
        experiment: str,
        *,
        parent_id: str | None = None,
        display_name: str | None = None,
        details: dict[str, Any] | None = None,
        process: ProcessIdentity | None = None,
    ) -> str:
        """Create a Running run and return its id.

        ``process`` is the process that writes the run (default: this one); the backend keeps
        its heartbeat while the run is open here and fails the run if that process dies.
        ``details`` are the submission details shown by ``get_run_details`` (target, submittedBy...).
        """
        ...

    def this_process(self) -> ProcessIdentity:
        """The identity of the calling process, as ``start_run`` records it."""
        ...

    def find_run(self, run_id: str) -> str:
        """The experiment of run ``run_id`` (NotFoundError if there is no such run)."""
        ...

    def list_descendants(self, run_id: str) -> list[str]:
        """Ids of every run below ``run_id`` (children, their children...), parents before children."""
        ...

    def metric_writer(self, run_id: str) -> RunMetricWriter:
        """The buffers of run ``run_id`` in this process (one writer per workspace behind them)."""
        ...

    def flush_metrics(self) -> None:
        """Write every metric buffered in this process for this workspace now."""
        ...

    def end_run(self, run_id: str, status: RunStatus, *, error: dict[str, Any] | None = None, reason: str = "") -> None:
        """Move the run to ``status`` (Completed, Failed or Canceled), recording ``error`` and ``reason``.

        Stops the heartbeat this process kept for it. ``error`` holds ``message`` and optionally
        ``code`` and ``traceback``.
        """
        ...

    def add_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Set tags, keeping the others (names are checked like metric names)."""
        ...

    def add_properties(self, run_id: str, properties: dict[str, str]) -> None:
        """Set properties, keeping the others; callers refuse changing an existing one."""
        ...

    def file_exists(self, run_id: str, name: str) -> bool:
        """True if the run has a file at relative path ``name``."""
        ...

    def upload_file(self, run_id: str, name: str, source: Path | BinaryIO, *, overwrite: bool = False) -> str:
        """Store a file (a path or a binary stream) at relative path ``name`` in the run; returns the clean name.

        FileExistsError if it exists and ``overwrite`` is False. The file appears whole or not at all.
        """
        ...
