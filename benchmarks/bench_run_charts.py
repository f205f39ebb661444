"""Run charts: 10,000 runs x 8 columns drawn as a scatter and as parallel coordinates, and hover.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_run_charts.py [--repeat N] [--screenshots DIR]

Budgets (issue 10): the scatter and the parallel coordinates of 10,000 runs drawn <= 300 ms,
from ``set_data`` to the panel painted (``widget.grab()`` forces the paint). Hover: the lookup
of the run under the cursor (numpy over all runs) and a whole mouse move (event, lookup,
highlight, readout) are measured too; they run at every mouse move, so they must stay far below
a frame (16 ms).

``--screenshots DIR`` also saves the panel with 2,000 realistic runs in light and dark, large and
small, for looking at.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from bench_common import Row, print_table
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from studio.ui.run_charts import RunChartsPanel
from studio.ui.run_charts.chart_data import RunTable, nearest_line, nearest_point, parallel_lines, scatter_points
from studio.ui.run_charts.chart_view import ChartView
from studio.ui.run_charts.parallel_view import ParallelView
from studio.ui.run_charts.scatter_view import ScatterView
from studio.ui.shell.theme import dark_palette

RUNS, COLS = 10_000, 8
SIZE = (1200, 420)


def _data(rng: np.random.Generator, runs: int, cols: int) -> tuple[list[str], np.ndarray, list[str], list[str]]:
    values = rng.normal(size=(runs, cols)) * rng.uniform(0.1, 100, size=cols)
    values[rng.random((runs, cols)) < 0.03] = np.nan  # a few runs lack a metric
    ids = [f"{i:032x}" for i in range(runs)]
    names = [f"run-{i}" for i in range(runs)]
    return [f"metrics.m{j}" for j in range(cols)], values, ids, names


def _draw_ms(panel: RunChartsPanel, rng: np.random.Generator) -> float:
    """set_data with fresh values, then the paint of the whole panel."""
    columns, values, ids, names = _data(rng, RUNS, COLS)
    start = time.perf_counter()
    panel.set_data(columns, values, ids, names)
    panel.grab()
    return (time.perf_counter() - start) * 1000


def _move(view: ChartView, x: float, y: float) -> None:
    pos = view.data_to_widget(x, y)
    event = QMouseEvent(
        QEvent.Type.MouseMove, pos, view.plot.viewport().mapToGlobal(pos), Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(view.plot.viewport(), event)


def _hover_ms(panel: RunChartsPanel, targets: list[tuple[float, float]], repaint: bool = False) -> float:
    """Median time of one mouse move over the chart (lookup, highlight, readout), and its repaint if asked."""
    view = panel.current_view()
    assert view is not None
    times = []
    for x, y in targets:
        start = time.perf_counter()
        _move(view, x, y)
        if repaint:
            view.plot.viewport().repaint()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _run_targets(panel: RunChartsPanel, count: int) -> list[tuple[float, float]]:
    """Points on distinct runs (so that every move changes the hovered run and repaints)."""
    view = panel.current_view()
    targets = []
    if isinstance(view, ParallelView):
        norm = view.lines.norm
        rows = np.flatnonzero(~np.isnan(norm[:, :2]).any(axis=1))[:: max(1, view.table.n_runs // count)]
        targets = [(0.5, float(norm[r, 0] + norm[r, 1]) / 2) for r in rows[:count]]
    elif isinstance(view, ScatterView):
        step = max(1, len(view.points.rows) // count)
        targets = [(float(x), float(y)) for x, y in zip(view.points.x[::step], view.points.y[::step], strict=True)]
    return targets[:count]


def bench(repeat: int) -> list[Row]:
    """Draw and hover timings."""
    rng = np.random.default_rng(0)
    panel = RunChartsPanel()
    panel.resize(*SIZE)
    panel.show()
    QApplication.processEvents()
    rows = []
    for mode, label in (("scatter", "scatter"), ("parallel", "parallel coordinates")):
        panel.set_mode(mode)
        first = _draw_ms(panel, rng)  # the chart's plot widget is made here
        draws = [_draw_ms(panel, rng) for _ in range(repeat)]
        rows.append(Row(f"{label}: 10,000 runs x 8, set_data -> painted", statistics.median(draws), 300.0))
        rows.append(Row(f"{label}: the first draw (makes the plot)", first, 300.0))
    table = RunTable.make(*_data(rng, RUNS, COLS))
    lines, points = parallel_lines(table), scatter_points(table, table.columns[0], table.columns[1])
    probes = [(float(x), float(y)) for x, y in zip(rng.uniform(0, COLS - 1, 200), rng.uniform(0, 1, 200), strict=True)]
    t0 = time.perf_counter()
    for x, y in probes:
        nearest_line(lines, x, y, 0.01, 0.003)
    rows.append(
        Row("hover lookup, parallel (numpy, 10,000 lines)", (time.perf_counter() - t0) / len(probes) * 1000, 16)
    )
    t0 = time.perf_counter()
    for x, y in probes:
        nearest_point(points, x, y, 0.01, 0.01)
    rows.append(
        Row("hover lookup, scatter (numpy, 10,000 points)", (time.perf_counter() - t0) / len(probes) * 1000, 16)
    )
    targets = [(float(x), float(y)) for x, y in zip(rng.uniform(0, COLS - 1, 100), rng.uniform(0, 1, 100), strict=True)]
    rows.append(Row("mouse move over parallel coordinates (whole handler)", _hover_ms(panel, targets), 16))
    rows.append(
        Row("hovered run changes -> repainted, parallel", _hover_ms(panel, _run_targets(panel, 50), repaint=True), 16)
    )
    panel.set_mode("scatter")
    panel.grab()
    view = panel.current_view()
    assert view is not None
    xs, ys = view.view_box.viewRange()
    targets = [(float(rng.uniform(*xs)), float(rng.uniform(*ys))) for _ in range(100)]
    rows.append(Row("mouse move over the scatter (whole handler)", _hover_ms(panel, targets), 16))
    rows.append(
        Row("hovered run changes -> repainted, scatter", _hover_ms(panel, _run_targets(panel, 50), repaint=True), 16)
    )
    panel.close()
    return rows


# -- screenshots ---------------------------------------------------------------------------------------
def _realistic(rng: np.random.Generator, runs: int) -> tuple[list[str], np.ndarray, list[str], list[str]]:
    lr = 10 ** rng.uniform(-5, -1, runs)
    duration = rng.gamma(2.0, 900.0, runs)
    quality = -((np.log10(lr) + 3) ** 2) / 4 + rng.normal(0, 0.15, runs)
    acc = 1 / (1 + np.exp(-(quality + 1.5)))
    loss = -np.log(np.clip(acc, 1e-3, None)) + rng.normal(0, 0.03, runs) ** 2
    values = np.column_stack([acc, loss, lr, duration])
    values[rng.random(runs) < 0.06, 0] = np.nan  # runs still going: no acc yet
    values[rng.random(runs) < 0.02, 3] = np.nan
    models = ["resnet50", "vit-base-patch16-224-in21k-finetuned-imagenet", "convnext", "bert-large"]
    names = [f"{models[i % 4]}-lr{lr[i]:.1e}-seed{i}" for i in range(runs)]
    ids = [f"{i:032x}" for i in range(runs)]
    return ["metrics.acc", "metrics.loss", "metrics.lr", "attributes.duration"], values, ids, names


def screenshots(folder: Path) -> list[Path]:
    """The panel light/dark, large/small, both charts, a selection and a hovered run."""
    folder.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setStyle("Fusion")
    light = app.style().standardPalette()
    saved = []
    data = _realistic(np.random.default_rng(7), 2_000)
    for theme, palette in (("light", light), ("dark", dark_palette())):
        app.setPalette(palette)
        for size_name, size in (("large", (1100, 420)), ("small", (460, 260))):
            panel = RunChartsPanel()
            panel.resize(*size)
            panel.show()
            panel.set_data(*data)
            panel.select_runs(data[2][:5])
            for mode in ("scatter", "parallel"):
                panel.set_mode(mode)
                QApplication.processEvents()
                view = panel.current_view()
                assert view is not None
                if mode == "scatter":
                    row = int(np.flatnonzero(~np.isnan(data[1][:, 0]))[10])
                    _move(view, float(data[1][row, 0]), float(data[1][row, 1]))
                else:
                    norm = view.lines.norm  # type: ignore[attr-defined]
                    row = int(np.flatnonzero(~np.isnan(norm[:, :2]).any(axis=1))[1])
                    _move(view, 0.5, float(norm[row, 0] + norm[row, 1]) / 2)
                path = folder / f"run_charts_{mode}_{theme}_{size_name}.png"
                panel.grab().save(str(path))
                saved.append(path)
            panel.close()
    app.setPalette(light)
    return saved


def main() -> int:
    """Print the table; save screenshots if asked."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--screenshots", type=Path, default=None)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setStyle("Fusion")
    if args.screenshots is not None:
        for path in screenshots(args.screenshots):
            print(path)
    print_table(f"Run charts ({RUNS:,} runs x {COLS} columns, panel {SIZE[0]}x{SIZE[1]})", bench(args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
