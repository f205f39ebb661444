"""Buffered metric writing: log calls append to memory, a flush thread writes batches.

Scripts log millions of points; one SQL transaction per point would be far too slow.
Points go to per-metric buffers and are written in one transaction at most
``FLUSH_INTERVAL_S`` later, on ``flush()`` and at exit. A failed write (a full disk,
say) puts the points back so nothing is lost, and the error is raised by the next
explicit ``flush()``.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from studio.core.errors import StudioError
from studio.core.types import MetricKind
from studio.workspaces.local import metrics_store, series_store, summaries_store
from studio.workspaces.local.liveness import HEARTBEAT_INTERVAL_S
from studio.workspaces.local.workspace import LocalWorkspace

FLUSH_INTERVAL_S = 0.5


class SeriesBuffer:
    """Pending points of one numeric metric; ``values`` is appended last so it bounds the others."""

    __slots__ = ("auto_steps", "description", "name", "run_seq", "steps", "times", "value_type", "values")

    def __init__(self, run_seq: int, name: str, description: str) -> None:
        self.run_seq = run_seq
        self.name = name
        self.description = description
        self.steps: list[int | None] = []
        self.values: list[float] = []
        self.times: list[float] = []
        self.auto_steps = True
        self.value_type = ""


class RecordBuffer:
    """Pending records (step or None, time, JSON text) of one non-numeric metric."""

    __slots__ = ("description", "kind", "name", "records", "run_seq")

    def __init__(self, run_seq: int, name: str, kind: MetricKind, description: str) -> None:
        self.run_seq = run_seq
        self.name = name
        self.kind = kind
        self.description = description
        self.records: list[tuple[int | None, float, str]] = []


class MetricWriter:
    """Owns the buffers of every run this process logs into one workspace."""

    def __init__(self, workspace: LocalWorkspace, interval: float = FLUSH_INTERVAL_S) -> None:
        self.workspace = workspace
        self.interval = interval
        self.lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._series: dict[tuple[int, str], SeriesBuffer] = {}
        self._records: dict[tuple[int, str], RecordBuffer] = {}
        self._active_runs: set[int] = set()
        self._error: BaseException | None = None
        self._warned = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_heartbeat = 0.0

    # -- buffers ------------------------------------------------------------------------------

    def series(self, run_seq: int, name: str, description: str = "") -> SeriesBuffer:
        """The buffer of a numeric metric; ValueError if the name holds another kind."""
        key = (run_seq, name)
        buf = self._series.get(key)
        if buf is None:
            self._check_kind(run_seq, name, MetricKind.SCALAR)
            with self.lock:  # the flush thread walks this dict under the lock
                buf = self._series.setdefault(key, SeriesBuffer(run_seq, name, description))
            self._ensure_thread()
        elif description:
            buf.description = description
        return buf

    def records(self, run_seq: int, name: str, kind: MetricKind, description: str = "") -> RecordBuffer:
        """The buffer of a string, list, row, table or image metric."""
        key = (run_seq, name)
        buf = self._records.get(key)
        if buf is None or buf.kind != kind:
            self._check_kind(run_seq, name, kind)
            with self.lock:  # the flush thread walks this dict under the lock
                buf = self._records.setdefault(key, RecordBuffer(run_seq, name, kind, description))
            self._ensure_thread()
        elif description:
            buf.description = description
        return buf

    def add_record(self, buf: RecordBuffer, value: Any, step: int | None = None) -> None:
        """Queue one record; ``value`` must be JSON-serialisable (NaN and infinities allowed)."""
        text = json.dumps(value)
        with self.lock:
            buf.records.append((step, time.time(), text))

    def _check_kind(self, run_seq: int, name: str, kind: MetricKind) -> None:
        other_series = (run_seq, name) in self._series
        other_record = self._records.get((run_seq, name))
        if (
            (kind == MetricKind.SCALAR and other_record)
            or (kind != MetricKind.SCALAR and other_series)
            or (other_record is not None and other_record.kind != kind)
        ):
            existing = MetricKind.SCALAR if other_series else other_record.kind  # type: ignore[union-attr]
            raise ValueError(f"metric {name!r} holds {existing} values; cannot add {kind} values to it")
        found = metrics_store.find_metric(self.workspace.connection(), run_seq, name)
        if found is not None and found[1] != kind.value:
            raise ValueError(f"metric {name!r} holds {found[1]} values; cannot add {kind} values to it")

    # -- runs ---------------------------------------------------------------------------------

    def watch_run(self, run_seq: int) -> None:
        """Keep the heartbeat of a run this process is executing."""
        with self.lock:
            self._active_runs.add(run_seq)
        self._ensure_thread()

    def unwatch_run(self, run_seq: int) -> None:
        """Stop the heartbeat of a run that ended."""
        with self.lock:
            self._active_runs.discard(run_seq)

    # -- flushing -----------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="studio-metric-flush", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._flush_once()
            except BaseException as exc:
                self._error = exc
                if not self._warned:
                    self._warned = True
                    print(f"studio: could not write metrics yet, will retry: {exc}", file=sys.stderr)

    def flush(self) -> None:
        """Write everything buffered now; raises the error of a failed write."""
        self._error = None
        self._flush_once()

    def _flush_once(self) -> None:
        with self._flush_lock:
            with self.lock:
                # Take and reset each buffer in one step: nothing in here can fail half-way with points taken
                # but not yet in ``series`` (which _put_back returns on a failed write).
                series = []
                for b in self._series.values():
                    if b.values:
                        series.append((b, b.steps, b.values, b.times, b.auto_steps, b.value_type))
                        b.steps, b.values, b.times, b.auto_steps = [], [], [], True
                records = [(r, r.records) for r in self._records.values() if r.records]
                for r, _ in records:
                    r.records = []
                heartbeat = self._active_runs and time.time() - self._last_heartbeat > HEARTBEAT_INTERVAL_S
                active = list(self._active_runs)
            if not series and not records and not heartbeat:
                return
            try:
                self._write(series, records, active if heartbeat else [])
            except BaseException:
                self._put_back(series, records)
                raise
            self._warned = False

    def _write(
        self, series: list[tuple[Any, ...]], records: list[tuple[RecordBuffer, list[Any]]], heartbeat: list[int]
    ) -> None:
        ws = self.workspace
        now = time.time()
        with ws.write() as conn:
            change = ws.bump_changes(conn)
            touched: set[int] = set()
            for buf, steps, values, times, auto, value_type in series:
                metric_id, count, old_type = metrics_store.ensure_metric(
                    conn, buf.run_seq, buf.name, MetricKind.SCALAR, buf.description
                )
                n = len(values)
                step_array = _steps(steps, count, auto)  # swapped together under the lock: same lengths
                value_array = np.asarray(values, dtype=np.float64)
                series_store.append_points(conn, metric_id, count, step_array, value_array, np.asarray(times))
                # From the flushed points alone: the stored summary covers the rest of the series.
                summaries_store.merge(conn, buf.run_seq, buf.name, summaries_store.summarize(step_array, value_array))
                new_type = metrics_store.widest(old_type, value_type)
                metrics_store.update_after_append(conn, metric_id, count + n, new_type, _typed(values[-1], new_type))
                touched.add(buf.run_seq)
            for rbuf, items in records:
                metric_id, count, _ = metrics_store.ensure_metric(
                    conn, rbuf.run_seq, rbuf.name, rbuf.kind, rbuf.description
                )
                metrics_store.append_records(conn, metric_id, count, items)
                metrics_store.update_after_append(conn, metric_id, count + len(items), "", json.loads(items[-1][2]))
                touched.add(rbuf.run_seq)
            if touched:
                marks = ",".join("?" * len(touched))
                conn.execute(f"UPDATE runs SET changed = ? WHERE seq IN ({marks})", (change, *touched))
            if heartbeat:
                marks = ",".join("?" * len(heartbeat))
                conn.execute(f"UPDATE runs SET heartbeat_at = ? WHERE seq IN ({marks})", (now, *heartbeat))
        if heartbeat:
            self._last_heartbeat = now

    def _put_back(self, series: list[tuple[Any, ...]], records: list[tuple[RecordBuffer, list[Any]]]) -> None:
        with self.lock:
            for buf, steps, values, times, auto, value_type in series:
                buf.steps = steps + buf.steps
                buf.times = times + buf.times
                buf.values = values + buf.values
                buf.auto_steps = buf.auto_steps and auto
                buf.value_type = metrics_store.widest(buf.value_type, value_type)
            for rbuf, items in records:
                rbuf.records = items + rbuf.records

    def close(self) -> None:
        """Stop the flush thread after a last flush."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.flush()


def _steps(steps: list[int | None], base: int, auto: bool) -> np.ndarray:
    n = len(steps)
    if auto:
        return np.arange(base, base + n, dtype=np.int64)
    return np.fromiter((base + i if s is None else s for i, s in enumerate(steps)), dtype=np.int64, count=n)


def _typed(value: float, value_type: str) -> Any:
    if value_type == "int":
        return int(value)
    if value_type == "bool":
        return bool(value)
    return float(value)


_writers: dict[str, MetricWriter] = {}
_writers_lock = threading.Lock()


def writer_for(workspace: LocalWorkspace) -> MetricWriter:
    """The one writer of this process for a workspace."""
    key = str(workspace.db_path)
    with _writers_lock:
        writer = _writers.get(key)
        if writer is None:
            writer = _writers[key] = MetricWriter(workspace)
        return writer


def flush_all_writers() -> None:
    """Flush every writer of this process (at exit); errors go to stderr."""
    with _writers_lock:
        writers = list(_writers.values())
    for writer in writers:
        try:
            writer.close()
        except StudioError as exc:
            print(f"studio: metrics could not be written at exit: {exc}", file=sys.stderr)


def _after_fork_in_child() -> None:
    # A forked child must not write its parent's buffered points a second time, and the
    # parent's lock may have been held by the flush thread at the moment of the fork.
    global _writers_lock
    _writers.clear()
    _writers_lock = threading.Lock()
    for hook in _fork_hooks:
        hook()


#: Called in a forked child after the writers are dropped (the SDK clears its caches).
_fork_hooks: list[Callable[[], None]] = []

atexit.register(flush_all_writers)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
