"""Compare view: 100 runs x 10,000 points, from opening the view to every chart drawn.

    python benchmarks/bench_compare.py [--runs 100] [--points 10000]

Budget (issue 5): <= 1 s.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from bench_common import Row, StallMeter, print_table
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from studio.sdk import Experiment, Workspace
from studio.ui.background.tasks import TaskRunner
from studio.ui.compare.compare_view import CompareView
from studio.ui.shell.main_window import WARM_UP_MODULE
from studio.workspaces.local.backend import LocalBackend


def build(path: Path, runs: int, points: int) -> list[str]:
    """A workspace with ``runs`` runs, each logging a ``points``-point loss curve and an accuracy."""
    ws = Workspace(path)
    exp = Experiment(ws, "compare")
    ids = []
    rng = np.random.default_rng(0)
    for i in range(runs):
        run = exp.start_logging(display_name=f"trial-{i}")
        decay = 200 + 50 * i
        for v in np.exp(-np.arange(points) / decay) + 0.05 * rng.standard_normal(points):
            run.log("loss", float(v))
        run.log("accuracy", 0.5 + i / (2 * runs))
        run.tag("lr", str(10 ** -(i % 4)))
        run.complete()
        ids.append(run.id)
    ws.backend.workspace.close()
    return ids


def open_once(app: QApplication, backend: LocalBackend, ids: list[str]) -> tuple[float, float]:
    """(seconds from opening the view to every chart drawn, the longest GUI-thread stall in ms)."""
    runner = TaskRunner()
    loop = QEventLoop()
    meter = StallMeter()
    meter.start()
    start = time.perf_counter()
    view = CompareView(backend, runner, ids)
    view.resize(1280, 800)
    view.show()
    view.sig_loaded.connect(loop.quit)
    QTimer.singleShot(60_000, loop.quit)
    loop.exec()
    stall = meter.stop()  # the grabs below are the benchmark's own work, not the view's
    view.repaint()
    for chart in view.charts.values():
        chart.grab()  # every chart drawn, also those scrolled out of view
    elapsed = time.perf_counter() - start
    runner.shutdown()
    view.deleteLater()
    return elapsed, stall


def main() -> int:
    """Measure and print."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--points", type=int, default=10_000)
    args = p.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory(prefix="studio-bench-compare-") as tmp:
        t0 = time.perf_counter()
        ids = build(Path(tmp) / "ws", args.runs, args.points)
        built = time.perf_counter() - t0
        backend = LocalBackend(Path(tmp) / "ws")
        t0 = time.perf_counter()
        importlib.import_module(WARM_UP_MODULE)  # the window does this in the background 1.5 s after start
        warm_up = time.perf_counter() - t0
        measured = [open_once(app, backend, ids) for _ in range(3)]
        backend.close()
    times, stalls = [m[0] for m in measured], [m[1] for m in measured]
    rows = [
        Row(
            f"compare {args.runs} runs x {args.points:,} points: open -> all charts drawn",
            statistics.median(times) * 1000,
            1000,
            "ms",
            f"min {min(times) * 1000:.0f} ms; workspace built in {built:.1f} s",
        ),
        Row("chart library imported (off the GUI thread in the app)", warm_up * 1000, None, "ms"),
        Row(
            "longest GUI-thread stall until every line is in",
            max(stalls),
            50,
            "ms",
            f"each of 3: {', '.join(f'{s:.0f}' for s in stalls)} ms",
        ),
    ]
    print_table("compare view (median of 3)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
