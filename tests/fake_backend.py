"""FakeBackend: an in-memory WorkspaceBackend for tests that need no real storage.

It passes the same contract suite as the local kind (tests/workspaces/test_backend_contract.py),
so a GUI test on it shows the GUI needs nothing beyond the protocol. It is populated through
its own small API (``add_experiment``, ``add_run``, ``log_series``, ``log_records``,
``add_file``, ``set_status``) and is safe to call from several threads at once: one lock
guards everything, and every answer is a copy or an immutable record.
FakeBackend is not a ComputeBackend (it has no compute methods, so the GUI hides the Compute
pane); FakeComputeBackend adds in-memory compute instances whose state changes are immediate.
FakeServerBackend answers like a tracking server (MLflow): it cannot cancel, counts only a page
of runs per experiment, and notes the filters it says it answered on the client.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.backend import DEFAULT_PAGE_SIZE
from studio.core.compute import ComputeInfo, ComputeOptions, ComputeRefresh, ComputeState
from studio.core.errors import CancelledError, NotFoundError, RunStateError, UnsupportedOperation
from studio.core.search import apply_query, run_keys_of
from studio.core.status import TERMINAL_STATUSES, RunStatus
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
from studio.core.validation import check_compute_name, check_experiment_name, check_metric_name, relative_file_name

COPY_BLOCK = 256 * 1024  # downloads check cancel and report progress once per block
_VALUE_TYPES = ("bool", "int", "float")


@dataclass
class _Metric:
    kind: MetricKind
    steps: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    value_type: str = ""


@dataclass
class _Run:
    info: RunInfo
    seq: int
    changed: int
    history: list[StatusChange]
    details: dict[str, object]
    metrics: dict[str, _Metric] = field(default_factory=dict)
    files: dict[str, tuple[bytes, float]] = field(default_factory=dict)  # path -> (data, modified at)


class FakeBackend:
    """An in-memory workspace: experiments, nested runs, metrics and files, all in dicts."""

    def __init__(self, name: str = "fake", location: str = "fake://workspace") -> None:
        self._info = WorkspaceInfo(name=name, kind="fake", location=location)
        self._lock = threading.RLock()
        self._experiments: dict[str, float] = {}  # name -> created at
        self._runs: dict[str, _Run] = {}  # insertion order is creation order
        self._changes = 0
        self.closed = False

    # -- populating --------------------------------------------------------------------------

    def add_experiment(self, name: str) -> None:
        """Create an experiment (no change if it exists)."""
        with self._lock:
            if check_experiment_name(name) not in self._experiments:
                self._experiments[name] = time.time()
                self._bump()

    def add_run(
        self,
        experiment: str,
        display_name: str,
        *,
        parent_id: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        details: dict[str, object] | None = None,
    ) -> str:
        """Start a Running run (a child when ``parent_id`` is given); returns its id."""
        with self._lock:
            self.add_experiment(experiment)
            change = self._bump()
            number = 1 + sum(1 for r in self._runs.values() if r.info.experiment == experiment)
            if parent_id is not None:
                parent = self._run(parent_id)
                run_id = f"{parent_id}_{parent.info.child_count}"
                parent.info = replace(parent.info, child_count=parent.info.child_count + 1)
                parent.changed = change
            else:
                run_id = f"{experiment}_{number}_{secrets.token_hex(3)}"
            now = time.time()
            info = RunInfo(
                id=run_id,
                experiment=experiment,
                number=number,
                display_name=display_name,
                status=RunStatus.RUNNING,
                created_at=now,
                started_at=now,
                parent_id=parent_id,
                description=description,
                tags=dict(tags or {}),
                properties=dict(properties or {}),
            )
            history = [StatusChange(RunStatus.RUNNING, now)]
            run_details = {"runType": "fake", "target": "memory", **(details or {})}
            self._runs[run_id] = _Run(info, len(self._runs) + 1, change, history, run_details)
            return run_id

    def set_status(
        self, run_id: str, status: RunStatus, *, reason: str = "", error: dict[str, Any] | None = None
    ) -> bool:
        """Move a run to ``status`` unless it already ended; returns whether it changed."""
        with self._lock:
            run = self._run(run_id)
            if run.info.status.is_terminal or run.info.status == status:
                return False
            now = time.time()
            ended = now if status in TERMINAL_STATUSES else None
            run.info = replace(run.info, status=status, status_reason=reason, ended_at=ended, error=error)
            run.history.append(StatusChange(status, now))
            run.changed = self._bump()
            return True

    def log_series(
        self, run_id: str, name: str, values: Any, steps: list[int] | None = None, *, times: list[float] | None = None
    ) -> None:
        """Append numbers (bool, int or float) to a numeric series; steps default to point indexes, times to now."""
        values = list(values)
        if times is not None and len(times) != len(values):
            raise ValueError("one time per value")
        with self._lock:
            metric = self._metric_for_write(run_id, name, MetricKind.SCALAR)
            first = len(metric.values)
            for value in values:
                kind = "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else "float"
                metric.value_type = max(metric.value_type or kind, kind, key=_VALUE_TYPES.index)
            metric.steps += list(steps) if steps is not None else list(range(first, first + len(values)))
            metric.values += [float(v) for v in values]
            metric.times += [float(t) for t in times] if times is not None else [time.time()] * len(values)
            self._run(run_id).changed = self._bump()

    def log_records(self, run_id: str, name: str, kind: MetricKind, values: list[Any]) -> None:
        """Append values of a string, list, row, table or image metric (an image is a file path)."""
        if kind == MetricKind.SCALAR:
            raise ValueError("use log_series for numbers")
        with self._lock:
            metric = self._metric_for_write(run_id, name, kind)
            first = len(metric.values)
            metric.steps += range(first, first + len(values))
            metric.values += values
            metric.times += [time.time()] * len(values)
            self._run(run_id).changed = self._bump()

    def add_file(self, run_id: str, path: str, data: bytes) -> None:
        """Add (or replace) a file of a run."""
        with self._lock:
            self._run(run_id).files[relative_file_name(path)] = (bytes(data), time.time())
            self._run(run_id).changed = self._bump()

    def remove_file(self, run_id: str, path: str) -> None:
        """Delete a file of a run, as if removed from storage behind the reader's back."""
        with self._lock:
            self._file(run_id, path)
            del self._run(run_id).files[relative_file_name(path)]
            self._run(run_id).changed = self._bump()

    # -- WorkspaceBackend ----------------------------------------------------------------------

    def info(self) -> WorkspaceInfo:
        """Name, kind ("fake") and location."""
        return self._info

    def change_token(self) -> int:
        """The change counter: every write adds one."""
        with self._lock:
            return self._changes

    def list_experiments(self) -> list[ExperimentInfo]:
        """Experiments by name (case-insensitive), counting top-level runs."""
        with self._lock:
            out = []
            for name, created in self._experiments.items():
                top = [r.info for r in self._runs.values() if r.info.experiment == name and r.info.parent_id is None]
                last = top[-1].created_at if top else None
                out.append(ExperimentInfo(name=name, created_at=created, run_count=len(top), last_run_at=last))
            return sorted(out, key=lambda e: e.name.lower())

    def list_runs(
        self,
        experiment: str,
        query: RunQuery | None = None,
        page_token: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> RunPage:
        """A page of matching runs; the token is the position after the page's last run."""
        matching = self._matching(experiment, query or RunQuery())
        try:
            start = int(page_token) if page_token is not None else 0
        except ValueError:
            raise NotFoundError(f"invalid page token {page_token!r}") from None
        end = start + max(1, page_size)
        return RunPage(runs=matching[start:end], next_token=str(end) if end < len(matching) else None)

    def count_runs(self, experiment: str, query: RunQuery | None = None) -> int:
        """How many runs match."""
        return len(self._matching(experiment, query or RunQuery()))

    def list_run_keys(self, experiment: str) -> RunKeys:
        """Names used by the experiment's top-level runs, with run counts."""
        return run_keys_of(self._matching(experiment, RunQuery()))

    def set_params(self, run_id: str, params: dict[str, str]) -> None:
        """Give a run MLflow-style parameters (the local kind has none; remote kinds do)."""
        with self._lock:
            run = self._run(run_id)
            run.info = replace(run.info, params={**run.info.params, **{k: str(v) for k, v in params.items()}})
            run.changed = self._bump()

    def get_run(self, run_id: str) -> RunInfo:
        """One run."""
        with self._lock:
            return self._full_info(self._run(run_id))

    def get_run_details(self, run_id: str) -> dict[str, object]:
        """``runType`` and ``target``."""
        with self._lock:
            return dict(self._run(run_id).details)

    def list_children(self, run_id: str) -> list[RunInfo]:
        """Direct children, oldest first."""
        with self._lock:
            self._run(run_id)
            return [self._full_info(r) for r in self._runs.values() if r.info.parent_id == run_id]

    def status_history(self, run_id: str) -> list[StatusChange]:
        """Status changes, oldest first."""
        with self._lock:
            return list(self._run(run_id).history)

    def list_metrics(self, run_id: str) -> list[MetricInfo]:
        """Metrics in the order first logged."""
        with self._lock:
            return [
                MetricInfo(
                    name=name,
                    kind=m.kind,
                    count=len(m.values),
                    last_value=m.values[-1] if m.values else None,
                    value_type=m.value_type,
                )
                for name, m in self._run(run_id).metrics.items()
            ]

    def get_series(self, run_id: str, name: str, start: int = 0) -> MetricSeries:
        """A numeric series from point ``start``."""
        start = max(0, start)
        with self._lock:
            metric = self._metric(run_id, name)
            if metric.kind != MetricKind.SCALAR:
                raise ValueError(f"metric {name!r} of run {run_id} holds {metric.kind} values, not numbers")
            steps, values, times = metric.steps[start:], metric.values[start:], metric.times[start:]
        return MetricSeries(
            name=name,
            steps=np.array(steps, dtype=np.int64),
            values=np.array(values, dtype=np.float64),
            times=np.array(times, dtype=np.float64),
            start=start,
        )

    def get_metric_records(self, run_id: str, name: str, start: int = 0) -> list[MetricRecord]:
        """Records of a non-numeric metric from index ``start``."""
        with self._lock:
            metric = self._metric(run_id, name)
            if metric.kind == MetricKind.SCALAR:
                raise ValueError(f"metric {name!r} of run {run_id} is numeric; read it with get_series")
            triples = list(zip(metric.values, metric.steps, metric.times, strict=True))[max(0, start) :]
        return [MetricRecord(value=v, step=s, time=t) for v, s, t in triples]

    def list_files(self, run_id: str, prefix: str = "") -> list[FileInfo]:
        """The run's files under ``prefix``, sorted by path."""
        with self._lock:
            files = self._run(run_id).files
            return [
                FileInfo(path=path, size=len(data), modified_at=at)
                for path, (data, at) in sorted(files.items())
                if path.startswith(prefix)
            ]

    def read_file_range(self, run_id: str, path: str, offset: int, length: int) -> bytes:
        """A byte range of one file."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be >= 0")
        return self._file(run_id, path)[offset : offset + length]

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
        """Write files under ``destination`` through a temporary name each; every check before any write."""
        destination = Path(destination)
        plan = [(self._file(run_id, name), _target(destination, name, strip_prefix)) for name in paths]
        clashes = [dest for _, dest in plan if dest.exists() or dest.is_symlink()]
        if clashes and not overwrite:
            raise FileExistsError(f"{clashes[0]} already exists; nothing was written")
        total, done = sum(len(data) for data, _ in plan), 0
        report = progress or (lambda d, t: None)
        report(0, total)
        for data, dest in plan:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.fake-tmp-{secrets.token_hex(4)}")
            try:
                with tmp.open("wb") as out:
                    for lo in range(0, max(1, len(data)), COPY_BLOCK):
                        if cancel is not None and cancel.cancelled:
                            raise CancelledError("cancelled")
                        out.write(data[lo : lo + COPY_BLOCK])
                        done += len(data[lo : lo + COPY_BLOCK])
                        report(done, total)
                if cancel is not None and cancel.cancelled:
                    raise CancelledError("cancelled")
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
        return [dest for _, dest in plan]

    def list_changed_runs(self, since: int, limit: int = 1000) -> tuple[list[RunInfo], int]:
        """Runs whose last change is after ``since``, oldest change first."""
        with self._lock:
            changed = sorted((r for r in self._runs.values() if r.changed > since), key=lambda r: r.changed)
            if not changed:
                return [], max(since, self._changes)
            changed = changed[: max(1, limit)]
            return [self._full_info(r) for r in changed], changed[-1].changed

    def set_run_metadata(
        self,
        run_id: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> RunInfo:
        """Change display name, description or tags (tags are replaced as a whole); all or nothing."""
        for key in tags or {}:
            check_metric_name(key)
        with self._lock:
            run = self._run(run_id)
            run.info = replace(
                run.info,
                display_name=run.info.display_name if display_name is None else display_name,
                description=run.info.description if description is None else description,
                tags=run.info.tags if tags is None else {k: str(v) for k, v in tags.items()},
            )
            run.changed = self._bump()
            return run.info

    def cancel_run(self, run_id: str) -> RunStatus:
        """Cancel an active run at once; RunStateError if it already ended."""
        with self._lock:
            run = self._run(run_id)
            if run.info.status.is_terminal:
                raise RunStateError(f"Run {run_id} already ended ({run.info.status}); there is nothing to cancel.")
            self.set_status(run_id, RunStatus.CANCELED, reason="Canceled by the user.")
            return run.info.status

    def close(self) -> None:
        """Nothing to release; remembers that it was called."""
        self.closed = True

    # -- internals -----------------------------------------------------------------------------

    def _bump(self) -> int:
        self._changes += 1
        return self._changes

    def _run(self, run_id: str) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            raise NotFoundError(f"There is no run with id {run_id!r}.")
        return run

    def _metric(self, run_id: str, name: str) -> _Metric:
        metric = self._run(run_id).metrics.get(name)
        if metric is None:
            raise NotFoundError(f"Run {run_id} has no metric named {name!r}.")
        return metric

    def _metric_for_write(self, run_id: str, name: str, kind: MetricKind) -> _Metric:
        metric = self._run(run_id).metrics.setdefault(check_metric_name(name), _Metric(kind))
        if metric.kind != kind:
            raise ValueError(f"metric {name!r} holds {metric.kind} values; cannot add {kind} values to it")
        return metric

    def _file(self, run_id: str, path: str) -> bytes:
        clean = relative_file_name(path)  # ValueError for ../x, absolute paths, NUL
        with self._lock:
            found = self._run(run_id).files.get(clean)
        if found is None:
            raise NotFoundError(f"The run has no file {path!r}.")
        return found[0]

    def _matching(self, experiment: str, query: RunQuery) -> list[RunInfo]:
        with self._lock:
            if experiment not in self._experiments:
                raise NotFoundError(f"There is no experiment named {experiment!r}.")
            if query.parent_id is not None:
                self._run(query.parent_id)
            runs = [
                self._full_info(r)
                for r in self._runs.values()
                if r.info.experiment == experiment and r.info.parent_id == query.parent_id
            ]
        return apply_query(query, runs)

    def _full_info(self, run: _Run) -> RunInfo:
        """The run's info with ``metrics``: the last value (highest step, last logged) of each numeric series."""
        last: dict[str, float] = {}
        for name, metric in run.metrics.items():
            if metric.kind == MetricKind.SCALAR and metric.values:
                top = max(metric.steps)
                at = max(i for i, step in enumerate(metric.steps) if step == top)
                last[name] = metric.values[at]
        return replace(run.info, metrics=last)


def _target(destination: Path, name: str, strip_prefix: str) -> Path:
    """Where a run file lands: its path minus ``strip_prefix``, refused if it would leave ``destination``."""
    rel = relative_file_name(name)
    if strip_prefix and rel.startswith(strip_prefix):
        rel = rel[len(strip_prefix) :].lstrip("/") or Path(rel).name
    target = destination / rel
    if destination.resolve() not in target.resolve().parents:
        raise ValueError(f"invalid file name {name!r}: leads outside {destination}")
    return target


class FakeServerBackend(FakeBackend):
    """A FakeBackend that answers like an MLflow server: ``info().can_cancel`` is False (cancel_run raises
    UnsupportedOperation), an experiment with more than ``count_limit`` top-level runs reports ``count_limit``
    with ``run_count_exact=False``, and the first page of a filtered query carries ``filter_note``."""

    def __init__(
        self,
        name: str = "fake-server",
        location: str = "fake://server",
        count_limit: int = 100,
        filter_note: str = "The server cannot compare tags with IN: Studio checks that on the runs it sends.",
    ) -> None:
        super().__init__(name, location)
        self._info = replace(self._info, can_cancel=False)
        self.count_limit, self.filter_note = count_limit, filter_note

    def list_experiments(self) -> list[ExperimentInfo]:
        """Counts capped at ``count_limit`` (then inexact), as a server counting one page."""
        return [
            replace(e, run_count=self.count_limit, run_count_exact=False) if e.run_count > self.count_limit else e
            for e in super().list_experiments()
        ]

    def list_runs(
        self,
        experiment: str,
        query: RunQuery | None = None,
        page_token: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> RunPage:
        """A page; the first page of a filtered query notes that part of it was answered here."""
        page = super().list_runs(experiment, query, page_token, page_size)
        if query is not None and query.filter and page_token is None:
            return replace(page, note=self.filter_note)
        return page

    def cancel_run(self, run_id: str) -> RunStatus:
        """A tracking server only records runs: it cannot stop one."""
        raise UnsupportedOperation("An MLflow server only records runs: it cannot cancel them.")


class FakeComputeBackend(FakeBackend):
    """A FakeBackend that is also a ComputeBackend: in-memory instances whose state changes are immediate.

    It starts with one Running instance, ``local``. ``submit_script`` queues a run and nothing
    ever executes it; cancel ends a queued run at once.
    """

    def __init__(self, name: str = "fake-compute", location: str = "fake://compute") -> None:
        super().__init__(name, location)
        self._info = replace(self._info, kind="fake-compute")
        self._instances: dict[str, ComputeInfo] = {}
        self._add_instance("local", 1, None, ComputeState.RUNNING)

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
        """Queue a run on an instance (``local`` by default); it stays Queued until canceled."""
        target = self.get_compute(compute or "local").name
        details = {"runType": "script", "target": target, "script": script, "arguments": list(arguments or [])}
        with self._lock:
            run_id = self.add_run(experiment, display_name or script, tags=tags, details=details)
            run = self._run(run_id)
            run.info = replace(run.info, status=RunStatus.QUEUED, started_at=None)
            run.history[:] = [StatusChange(RunStatus.QUEUED, run.info.created_at)]
            self._instances[target] = replace(self._instances[target], queued_jobs=self._queued(target))
            return run_id

    def list_compute(self) -> list[ComputeInfo]:
        """Instances by name."""
        with self._lock:
            return [self._instances[n] for n in sorted(self._instances)]

    def get_compute(self, name: str) -> ComputeInfo:
        """One instance."""
        with self._lock:
            if name not in self._instances:
                raise NotFoundError(f"There is no compute instance named {name!r}.")
            return self._instances[name]

    def compute_refresh(self) -> ComputeRefresh:
        """In memory: as often as the local kind."""
        return ComputeRefresh(idle_s=1.0, moving_s=0.2)

    def compute_options(self) -> ComputeOptions:
        """What the local kind offers."""
        return ComputeOptions()

    def wait_compute(self, name: str, cancel: CancelToken | None = None) -> ComputeInfo | None:
        """Every change is at once: the state now (None when gone)."""
        with self._lock:
            return self._instances.get(name)

    def create_compute(
        self,
        name: str,
        max_concurrent_jobs: int = 1,
        idle_shutdown_minutes: float | None = None,
        wait: bool = False,
        *,
        vm_size: str | None = None,
    ) -> ComputeInfo:
        """Create a Running instance."""
        check_compute_name(name)
        with self._lock:
            if name in self._instances:
                raise ValueError(f"a compute instance named {name!r} already exists")
            return self._add_instance(name, max_concurrent_jobs, idle_shutdown_minutes, ComputeState.RUNNING)

    def start_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """Running at once (no change if it runs)."""
        return self._set_state(name, ComputeState.RUNNING)

    def stop_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """Stopped at once."""
        return self._set_state(name, ComputeState.STOPPED)

    def restart_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """Running at once."""
        return self._set_state(name, ComputeState.RUNNING)

    def delete_compute(self, name: str, wait: bool = True) -> None:
        """Remove an instance (not ``local``); its queued runs are canceled."""
        with self._lock:
            self.get_compute(name)
            if name == "local":
                raise RunStateError("The local compute instance cannot be deleted.")
            for run in list(self._runs.values()):
                if run.details.get("target") == name and run.info.status == RunStatus.QUEUED:
                    self.set_status(run.info.id, RunStatus.CANCELED, reason=f"Compute instance {name} was deleted.")
            del self._instances[name]
            self._bump()

    def cancel_run(self, run_id: str) -> RunStatus:
        """Cancel at once, and count the instance's queue again."""
        with self._lock:
            status = super().cancel_run(run_id)
            target = str(self._run(run_id).details.get("target", ""))
            if target in self._instances:
                self._instances[target] = replace(self._instances[target], queued_jobs=self._queued(target))
            return status

    def _add_instance(self, name: str, jobs: int, idle: float | None, state: ComputeState) -> ComputeInfo:
        now = time.time()
        self._instances[name] = ComputeInfo(
            name, state, jobs, idle, 0, 0, created_at=now, started_at=now, deletable=name != "local"
        )
        self._bump()
        return self._instances[name]

    def _set_state(self, name: str, state: ComputeState) -> ComputeInfo:
        with self._lock:
            self._instances[name] = replace(self.get_compute(name), state=state)
            self._bump()
            return self._instances[name]

    def _queued(self, target: str) -> int:
        return sum(
            1 for r in self._runs.values() if r.details.get("target") == target and r.info.status == RunStatus.QUEUED
        )
