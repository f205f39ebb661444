"""Metrics tab and chart drawing: tab load, a 1,000,000-point chart, pan/zoom.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_metrics_tab.py [--repeat N]

Budgets: tab with 20 metrics x 100,000 points, from creating the tab to every chart
drawn <= 500 ms; a 1,000,000-point series drawn after its data arrives <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from bench_common import Row, print_table
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from studio.local.backend import LocalBackend
from studio.sdk import Experiment, Workspace
from studio.ui.charts.metric_chart import MetricChart
from studio.ui.run_tabs.metrics_tab import MetricsTab
from studio.ui.tasks import TaskRunner

METRICS, POINTS = 20, 100_000


def _make_run(root: Path) -> tuple[Workspace, str]:
    ws = Workspace(root / "ws")
    run = Experiment(ws, "bench").start_logging()
    rng = np.random.default_rng(0)
    for m in range(METRICS):
        values = (np.cumsum(rng.normal(size=POINTS)) / 100).tolist()
        name = f"metric_{m:02d}"
        for v in values:
            run.log(name, v)
    run.complete()
    return ws, run.id


def _tab_load(app: QApplication, backend: LocalBackend, run_id: str) -> tuple[float, float, float]:
    runner = TaskRunner()
    ticks = [time.perf_counter()]
    gaps: list[float] = []

    def tick() -> None:  # a 5 ms timer: the longest gap between ticks is the longest stall
        now = time.perf_counter()
        gaps.append(now - ticks[-1])
        ticks.append(now)

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(5)
    timer.timeout.connect(tick)
    timer.start()
    start = time.perf_counter()
    tab = MetricsTab(backend, runner, run_id)
    tab.resize(1400, 900)
    tab.show()
    done: set[str] = set()
    tab.sig_updated.connect(done.add)
    tab.ensure_loaded()
    deadline = time.monotonic() + 60
    while len(done) < METRICS and time.monotonic() < deadline:
        app.processEvents()
    tab.repaint()  # paint the tab as it shows: the charts in view (a real paint, so the timer sees it)
    app.processEvents()
    visible = time.perf_counter() - start
    timer.stop()
    stall = max(gaps, default=0.0) - 0.005
    tab.grid.host.grab()  # paint every chart, also those scrolled out of view
    elapsed = time.perf_counter() - start
    assert len(done) == METRICS, f"only {len(done)} metrics arrived"
    tab.close()
    tab.deleteLater()
    runner.shutdown()
    app.processEvents()
    return visible, elapsed, stall


def _million(app: QApplication) -> tuple[float, float]:
    n = 1_000_000
    rng = np.random.default_rng(1)
    steps = np.arange(n, dtype=np.int64)
    values = np.cumsum(rng.normal(size=n))
    times = 1.7e9 + steps * 0.01
    chart = MetricChart()
    chart.resize(900, 400)
    chart.show()
    app.processEvents()
    start = time.perf_counter()
    chart.set_series("m", "m", steps, values, times)
    chart.plot_widget.grab()
    drawn = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(20):
        chart.view_box.setXRange(i * 20_000, i * 20_000 + 300_000, padding=0)
        chart.plot_widget.grab()
    pan = (time.perf_counter() - start) / 20
    chart.close()
    chart.deleteLater()
    return drawn, pan


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    with tempfile.TemporaryDirectory(prefix="studio-bench-metrics-") as tmp:
        ws, run_id = _make_run(Path(tmp))
        backend = LocalBackend(ws._local)
        _tab_load(app, backend, run_id)  # warm up imports and the page cache
        loads = [_tab_load(app, backend, run_id) for _ in range(args.repeat)]
        _million(app)
        million = [_million(app) for _ in range(args.repeat)]
        backend.close()
        ws._local.close()
    rows = [
        Row(
            f"tab load, {METRICS} metrics x {POINTS:,} points, charts in view drawn",
            statistics.median(t[0] for t in loads) * 1000,
            500,
        ),
        Row(
            f"tab load, {METRICS} metrics x {POINTS:,} points, all {METRICS} drawn",
            statistics.median(t[1] for t in loads) * 1000,
            500,
            note="incl. painting the charts scrolled out of view",
        ),
        Row(
            "longest GUI-thread stall while the tab loads (5 ms timer)",
            max(t[2] for t in loads) * 1000,
            50,
            note="building and first painting the charts happens on the GUI thread",
        ),
        Row("1,000,000-point series: set_series -> drawn", statistics.median(m[0] for m in million) * 1000, 100),
        Row(
            "pan/zoom 1,000,000 points: one setXRange + repaint", statistics.median(m[1] for m in million) * 1000, None
        ),
    ]
    print_table(f"Metrics tab (median of {args.repeat})", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
