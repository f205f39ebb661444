"""Metrics tab and chart drawing: tab load, scrolling, a 1,000,000-point chart, pan/zoom.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_metrics_tab.py [--repeat N]

Budgets: tab with 20 metrics x 100,000 points, from creating the tab to every chart in view
drawn <= 500 ms (charts out of view are built when scrolled to); a 1,000,000-point series
drawn after its data arrives <= 100 ms; no GUI-thread stall over 50 ms (5 ms timer).

"Drawn" is the first paint of a chart's plot after it was built with its points (an event
filter on the plot's viewport), not the time its data was set.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pyqtgraph as pg
import shiboken6
from bench_common import Row, StallMeter, print_table
from PySide6.QtWidgets import QApplication

from studio.sdk import Experiment, Workspace
from studio.ui.background.tasks import TaskRunner
from studio.ui.charts.axes import XMode
from studio.ui.charts.chart_lines import Points, prepare
from studio.ui.charts.metric_chart import MetricChart
from studio.ui.runs.tabs.metrics_tab import MetricsTab
from studio.workspaces.local.backend import LocalBackend

METRICS, POINTS, MILLION = 20, 100_000, 1_000_000
TAB_SIZE = (1400, 900)


def _make_runs(root: Path) -> tuple[Workspace, str, str]:
    ws = Workspace(root / "ws")
    exp = Experiment(ws, "bench")
    run = exp.start_logging()
    rng = np.random.default_rng(0)
    for m in range(METRICS):
        values = (np.cumsum(rng.normal(size=POINTS)) / 100).tolist()
        name = f"metric_{m:02d}"
        for v in values:
            run.log(name, v)
    run.complete()
    big = exp.start_logging()
    for v in np.cumsum(rng.normal(size=MILLION)).tolist():
        big.log("loss", v)
    big.complete()
    return ws, run.id, big.id


class PaintClock:
    """When charts' plots finished painting: first after they were built, or next after a change
    (pyqtgraph's paintEvent, wrapped)."""

    _waiting: dict[Any, list[tuple[MetricChart, dict[MetricChart, float]]]] = {}

    def __init__(self) -> None:
        self.painted: dict[MetricChart, float] = {}

    def watch_tab(self, tab: MetricsTab) -> None:
        """Watch every chart of the tab once it listed its metrics."""

        def listed(_count: int) -> None:
            for panel in tab.panels:
                self.watch(panel.chart)

        tab.sig_listed.connect(listed)

    def watch(self, chart: MetricChart) -> None:
        """Note when the chart's plot first paints (once it is built)."""
        chart.sig_built.connect(lambda c=chart: self._expect(c, self.painted))
        if chart.built:
            self._expect(chart, self.painted)

    def repainted(self, charts: list[MetricChart]) -> dict[MetricChart, float]:
        """When these (built) charts next finish painting (filled in as they do)."""
        into: dict[MetricChart, float] = {}
        for chart in charts:
            self._expect(chart, into)
        return into

    @classmethod
    def _expect(cls, chart: MetricChart, into: dict[MetricChart, float]) -> None:
        cls._waiting.setdefault(chart.plot_widget, []).append((chart, into))

    @classmethod
    def install(cls) -> None:
        paint = pg.GraphicsView.paintEvent

        def timed_paint(view: Any, event: Any) -> Any:
            result = paint(view, event)
            now = time.perf_counter()
            for chart, into in cls._waiting.pop(view, []):
                into.setdefault(chart, now)
            return result

        pg.GraphicsView.paintEvent = timed_paint


def _wait(app: QApplication, done: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark's condition was not reached")
        app.processEvents()


def _idle(app: QApplication, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()


def _close(app: QApplication, tab: MetricsTab, runner: TaskRunner) -> None:
    """Close and delete the tab now, and collect it (deleteLater waits for an event loop this script
    never runs: closed tabs would pile up, and freeing one in a later full collection costs ~60 ms
    that would land in the next measurement)."""
    tab.close()
    runner.shutdown()
    app.processEvents()
    shiboken6.delete(tab)
    app.processEvents()
    gc.collect()


def _in_view(tab: MetricsTab) -> list[MetricChart]:
    grid = tab.grid
    top, height = grid.verticalScrollBar().value(), grid.viewport().height()
    return [
        p.chart
        for p in tab.panels
        if not p.isHidden() and p.geometry().bottom() >= top and p.geometry().top() < top + height
    ]


def _open_tab(app: QApplication, backend: LocalBackend, run_id: str) -> tuple[MetricsTab, TaskRunner, PaintClock]:
    """A shown Metrics tab, its charts in view drawn (the caller measures around this)."""
    runner = TaskRunner()
    clock = PaintClock()
    tab = MetricsTab(backend, runner, run_id)
    tab.resize(*TAB_SIZE)
    tab.show()
    clock.watch_tab(tab)
    tab.ensure_loaded()
    _wait(app, lambda: bool(tab.panels) and all(c in clock.painted for c in _in_view(tab)))
    return tab, runner, clock


def _settle(app: QApplication, tab: MetricsTab) -> None:
    """Wait until the charts near the view are built too, and a little more."""
    _wait(app, lambda: not tab.grid.pending_charts())
    _idle(app, 0.2)


def _tab_load(app: QApplication, backend: LocalBackend, run_id: str) -> dict[str, float]:
    """Open the tab (charts in view drawn), let it settle, then scroll: to the end, and through every chart."""
    stalls = StallMeter()
    stalls.start()
    start = time.perf_counter()
    tab, runner, clock = _open_tab(app, backend, run_id)
    in_view = _in_view(tab)
    first_view = max(clock.painted[c] for c in in_view) - start
    _settle(app, tab)
    load_stall = stalls.stop() / 1000
    built_at_load = sum(p.chart.built for p in tab.panels)

    # Jump to the end (scrollbar dragged to the bottom): the last charts drawn.
    bar = tab.grid.verticalScrollBar()
    stalls.start()
    start = time.perf_counter()
    bar.setValue(bar.maximum())
    _wait(app, lambda: all(c in clock.painted for c in _in_view(tab)))
    jump = max(clock.painted[c] for c in _in_view(tab)) - start
    _wait(app, lambda: not tab.grid.pending_charts())
    jump_stall = stalls.stop() / 1000
    _close(app, tab, runner)

    # A fresh tab, scrolled from top to bottom like a mouse wheel (3 lines of 20 px per notch, 60 notches/s).
    tab, runner, clock = _open_tab(app, backend, run_id)
    _settle(app, tab)
    bar = tab.grid.verticalScrollBar()
    stalls.start()
    start = time.perf_counter()
    while bar.value() < bar.maximum():
        bar.setValue(bar.value() + 60)
        _idle(app, 1 / 60)
    at_end = time.perf_counter()
    _wait(app, lambda: all(p.chart in clock.painted for p in tab.panels))
    through = max(clock.painted.values()) - start
    lag = max(0.0, max(clock.painted.values()) - at_end)
    scroll_stall = stalls.stop() / 1000
    _close(app, tab, runner)
    return {
        "first_view": first_view,
        "load_stall": load_stall,
        "built_at_load": built_at_load,
        "in_view": len(in_view),
        "jump": jump,
        "jump_stall": jump_stall,
        "through": through,
        "lag": lag,
        "scroll_stall": scroll_stall,
    }


def _options(app: QApplication, backend: LocalBackend, run_id: str) -> dict[str, tuple[float, float]]:
    """The loaded tab (its charts near the view built), each display option changed in turn:
    (longest stall, time until every chart in view has it and painted)."""
    tab, runner, clock = _open_tab(app, backend, run_id)
    _settle(app, tab)
    stalls = StallMeter()
    changes: list[tuple[str, Callable[[], None]]] = [
        ("x axis: wall time", lambda: tab.x_mode_combo.setCurrentIndex(tab.x_mode_combo.findData("wall"))),
        ("x axis: step", lambda: tab.x_mode_combo.setCurrentIndex(tab.x_mode_combo.findData("step"))),
        ("log y on", lambda: tab.log_y_check.setChecked(True)),
        ("log y off", lambda: tab.log_y_check.setChecked(False)),
        ("smoothing 0.6", lambda: tab.smoothing_slider.setValue(60)),
        ("smoothing off", lambda: tab.smoothing_slider.setValue(0)),
        ("ignore outliers on", lambda: tab.outliers_check.setChecked(True)),
        ("ignore outliers off", lambda: tab.outliers_check.setChecked(False)),
    ]
    result: dict[str, tuple[float, float]] = {}
    for what, change in changes:
        stalls.start()
        start = time.perf_counter()
        change()  # (the smoothing slider waits 60 ms for the slider to rest: counted)
        in_view = _in_view(tab)
        _wait(app, partial(_all_applied, tab, in_view))
        applied = time.perf_counter()
        repainted = clock.repainted(in_view)
        _wait(app, partial(_all_repainted, repainted, in_view, applied + 1.0))  # (or 1 s without a repaint)
        done = max([applied, *repainted.values()]) - start
        _idle(app, 0.3)
        result[what] = (stalls.stop() / 1000, done)
    _close(app, tab, runner)
    return result


def _all_applied(tab: MetricsTab, charts: list[MetricChart]) -> bool:
    return all(tab.options.applied(c) for c in charts)


def _all_repainted(repainted: dict[MetricChart, float], charts: list[MetricChart], deadline: float) -> bool:
    return all(c in repainted for c in charts) or time.perf_counter() > deadline


def _million_tab(app: QApplication, backend: LocalBackend, run_id: str) -> tuple[float, float]:
    """A tab on a run with one 1,000,000-point metric: its data arrives on the GUI thread -> chart drawn."""
    runner = TaskRunner()
    clock = PaintClock()
    tab = MetricsTab(backend, runner, run_id)
    tab.resize(*TAB_SIZE)
    tab.show()
    arrived: list[float] = []
    fetched = tab._fetched  # time from the fetch task's result reaching the GUI thread

    def arrival(*args: Any) -> None:
        arrived.append(time.perf_counter())
        fetched(*args)

    tab._fetched = arrival  # type: ignore[method-assign,assignment]
    clock.watch_tab(tab)
    stalls = StallMeter()
    stalls.start()
    tab.ensure_loaded()
    _wait(app, lambda: bool(tab.panels) and tab.panels[0].chart in clock.painted)
    drawn = clock.painted[tab.panels[0].chart] - arrived[0]
    _idle(app, 0.1)
    stall = stalls.stop() / 1000
    _close(app, tab, runner)
    return drawn, stall


def _million_chart(app: QApplication) -> tuple[float, float, float]:
    """A chart on screen: 1,000,000 points prepared on a worker -> drawn; the same given raw on the GUI thread; pan."""
    rng = np.random.default_rng(1)
    steps = np.arange(MILLION, dtype=np.int64)
    values = np.cumsum(rng.normal(size=MILLION))
    times = 1.7e9 + steps * 0.01
    chart = MetricChart()
    chart.resize(900, 400)
    chart.show()
    app.processEvents()
    runner = TaskRunner()
    result: list[float] = []

    def arrived(prepared: Any) -> None:
        start = time.perf_counter()
        chart.set_prepared("m", "m", prepared)
        chart.plot_widget.grab()
        result.append(time.perf_counter() - start)

    runner.submit(lambda: prepare(Points.of(steps, values, times), XMode.STEP, 0.0), success=arrived)
    _wait(app, lambda: bool(result))
    runner.shutdown()
    chart.remove("m")
    app.processEvents()
    start = time.perf_counter()
    chart.set_series("m", "m", steps, values, times)
    chart.plot_widget.grab()
    sync = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(20):
        chart.view_box.setXRange(i * 20_000, i * 20_000 + 300_000, padding=0)
        chart.plot_widget.grab()
    pan = (time.perf_counter() - start) / 20
    chart.close()
    chart.deleteLater()
    app.processEvents()
    return result[0], sync, pan


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    PaintClock.install()
    with tempfile.TemporaryDirectory(prefix="studio-bench-metrics-") as tmp:
        ws, run_id, big_id = _make_runs(Path(tmp))
        backend = LocalBackend(ws.backend.workspace)
        # The app has frozen what it loaded before a run page opens (the experiment model does
        # gc.freeze() after each page of runs): full collections walk only newer objects. Without
        # this, one walks every object of this process (~70 ms) and lands in the measurements.
        gc.collect()
        gc.freeze()
        _tab_load(app, backend, run_id)  # warm up imports and the page cache
        loads = [_tab_load(app, backend, run_id) for _ in range(args.repeat)]
        options = [_options(app, backend, run_id) for _ in range(args.repeat)]
        _million_tab(app, backend, big_id)
        million_tab = [_million_tab(app, backend, big_id) for _ in range(max(args.repeat, 5))]
        _million_chart(app)
        million = [_million_chart(app) for _ in range(max(args.repeat, 5))]
        backend.close()
        ws.backend.workspace.close()

    def med(key: str) -> float:
        return statistics.median(t[key] for t in loads) * 1000

    def worst(key: str) -> float:
        return max(t[key] for t in loads) * 1000

    size = f"{METRICS} metrics x {POINTS:,} points"
    rows = [
        Row(
            f"tab load, {size}: open -> charts in view drawn",
            med("first_view"),
            500,
            note=f"{loads[0]['in_view']:.0f} charts in view; {loads[0]['built_at_load']:.0f} built once loaded",
        ),
        Row("longest GUI-thread stall while the tab loads (5 ms timer)", worst("load_stall"), 50),
        Row("scrollbar dragged to the end -> the charts there drawn", med("jump"), 500),
        Row("longest GUI-thread stall after that jump", worst("jump_stall"), 50),
        Row(
            "wheel-scroll top to bottom (60 px / 16 ms) -> all 20 drawn",
            med("through"),
            None,
            note=f"the last one {med('lag'):.0f} ms after the last notch",
        ),
        Row("longest GUI-thread stall while scrolling through all 20", worst("scroll_stall"), 50),
        *[
            Row(
                f"option change, {what}: stall (in view redrawn after)",
                max(o[what][0] for o in options) * 1000,
                50,
                note=f"{statistics.median(o[what][1] for o in options) * 1000:.0f} ms",
            )
            for what in options[0]
        ],
        Row(
            "1,000,000-point metric in a tab: data arrives -> drawn",
            statistics.median(m[0] for m in million_tab) * 1000,
            100,
            note=f"median of {len(million_tab)}, max {max(m[0] for m in million_tab) * 1000:.0f} ms; incl. building the plot",
        ),
        Row("longest GUI-thread stall while that tab loads", max(m[1] for m in million_tab) * 1000, 50),
        Row(
            "1,000,000-point chart on screen: prepared data arrives -> drawn",
            statistics.median(m[0] for m in million) * 1000,
            100,
            note=f"median of {len(million)}, max {max(m[0] for m in million) * 1000:.0f} ms",
        ),
        Row(
            "1,000,000 raw points given on the GUI thread (set_series) -> drawn",
            statistics.median(m[1] for m in million) * 1000,
            None,
            note="the compare view's path: envelopes made on the GUI thread",
        ),
        Row(
            "pan/zoom 1,000,000 points: one setXRange + repaint", statistics.median(m[2] for m in million) * 1000, None
        ),
    ]
    print_table(f"Metrics tab (median of {args.repeat} unless noted; stalls: worst)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
