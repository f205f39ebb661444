"""What the Metrics tab fetches on a worker thread: a metric's new points, prepared for drawing, or its records.

A fetch task runs a few ``MetricFetch`` jobs one after the other; each returns its result or its exception, so
one metric's failure does not hide the others of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.core.backend import WorkspaceBackend
from studio.ui.charts.axes import XMode
from studio.ui.charts.chart_lines import Points, Prepared, Smoothed, prepare


def fetch_series(
    backend: WorkspaceBackend,
    run_id: str,
    name: str,
    start: int,
    base: Points | None,
    mode: XMode,
    weight: float,
    smoothed: Smoothed | None,
) -> tuple[int, Prepared]:
    """(next start, the line's points prepared for drawing): runs on a worker thread.

    ``base``: the points the chart has (None from the start); the new ones are added to them.
    """
    series = backend.get_series(run_id, name, start)
    points = Points.of(series.steps, series.values, series.times)
    if base is not None:
        points = base.extended(points.steps, points.values, points.times)
    return series.next_start, prepare(points, mode, weight, smoothed)


def run_fetches(backend: WorkspaceBackend, run_id: str, jobs: list[MetricFetch]) -> list[tuple[MetricFetch, Any]]:
    """Each job with its result (or its exception), one after the other (worker thread)."""
    return [(job, job.run(backend, run_id)) for job in jobs]


@dataclass(frozen=True)
class MetricFetch:
    """What to fetch for one metric (and what its chart has of it)."""

    name: str
    start: int
    records: bool  # a string or list metric
    base: Prepared | None = None
    mode: XMode = XMode.STEP
    weight: float = 0.0

    def run(self, backend: WorkspaceBackend, run_id: str) -> Any:
        """The records, or (next start, prepared points); the exception if it failed (worker thread)."""
        try:
            if self.records:
                return backend.get_metric_records(run_id, self.name, self.start)
            base = self.base
            smoothed = None if base is None else base.smoothed
            return fetch_series(
                backend,
                run_id,
                self.name,
                self.start,
                None if base is None else base.points,
                self.mode,
                self.weight,
                smoothed,
            )
        except Exception as exc:
            # One metric's failure is reported; the others of the batch still arrive.
            return exc
