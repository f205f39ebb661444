"""The Metrics tab on a FakeBackend: charts, downsampling, options, export, live refresh.

The tab reads metrics only through the protocol (list_metrics, get_series, get_metric_records),
so each test logs its points into an in-memory FakeBackend, with exact steps and times where the
x axis is checked.
Backends are wrapped in GuardedBackend: a call on the GUI thread fails the test.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import QLabel, QTableView
from pytestqt.qtbot import QtBot

from studio.core.status import RunStatus
from studio.core.types import MetricKind
from studio.ui.background.tasks import TaskRunner
from studio.ui.charts.metric_chart import MetricChart
from studio.ui.charts.smoothing import reference_ema
from studio.ui.runs.tabs.metrics_tab import MetricsTab
from tests.fake_backend import FakeBackend
from tests.ui_helpers import GuardedBackend, RecordingBackend, collector_off
from tests.waiting import wait_until


@pytest.fixture
def env() -> Iterator[dict[str, Any]]:
    fake = FakeBackend()
    recording = RecordingBackend(fake)
    guarded = GuardedBackend(recording)
    runner = TaskRunner(max_threads=2)
    yield {"fake": fake, "rec": recording, "backend": guarded, "runner": runner}
    assert runner.shutdown()
    assert guarded.violations == []


def new_run(env: dict[str, Any]) -> str:
    """A new running run in experiment "exp"."""
    return str(env["fake"].add_run("exp", "run"))


def complete(env: dict[str, Any], run_id: str) -> None:
    env["fake"].set_status(run_id, RunStatus.COMPLETED)


def open_tab(qtbot: QtBot, env: dict[str, Any], run_id: str, wait_for_names: list[str] | None = None) -> MetricsTab:
    tab = MetricsTab(env["backend"], env["runner"], run_id)
    qtbot.addWidget(tab)
    tab.resize(1300, 900)
    tab.show()
    updated: set[str] = set()
    tab.sig_updated.connect(updated.add)
    with qtbot.waitSignal(tab.sig_listed, timeout=10_000):
        tab.ensure_loaded()
    if wait_for_names:
        wait_until(lambda: updated >= set(wait_for_names), "every named metric's points fetched", qtbot=qtbot)
    return tab


def chart(tab: MetricsTab, name: str) -> MetricChart:
    found = tab.findChild(MetricChart, f"metricPlot:{name}")
    assert found is not None, f"no chart metricPlot:{name}"
    return found


def test_charts_hold_every_point_and_draw_downsampled(qtbot: QtBot, env: dict[str, Any]) -> None:
    n = 200_000
    values = np.sin(np.arange(n) / 3000.0)
    values[120_000] = 25.0  # a one-point spike and dip must survive downsampling
    values[70_000] = -30.0
    run = new_run(env)
    env["fake"].log_series(run, "loss", values.tolist())
    env["fake"].log_series(run, "acc", [i / 100 for i in range(100)])
    complete(env, run)
    tab = open_tab(qtbot, env, run, ["loss", "acc"])
    loss = chart(tab, "loss")
    # The chart holds every point, in order (export and crosshair read them at full resolution).
    points = loss.series("loss")
    assert np.array_equal(points.values, values) and np.array_equal(points.steps, np.arange(n))
    assert loss.values_at(120_000.0)[0][2] == 25.0 and loss.values_at(70_000.0)[0][2] == -30.0
    loss.plot_widget.grab()  # draw
    dx, dy = loss.raw_item("loss").getData()
    assert dx is not None and dy is not None and len(dy) < n / 10
    assert dy.max() == 25.0 and dy.min() == -30.0
    assert dx[0] == 0 and dx[-1] == n - 1 and dy[-1] == values[-1]  # from the first point to the newest
    loss.view_box.setXRange(60_000, 130_000, padding=0)
    loss.plot_widget.grab()
    dx, dy = loss.raw_item("loss").getData()
    assert dx is not None and dy is not None and len(dy) < 70_000 / 5
    assert dx.min() <= 60_000 and dx.max() >= 129_900  # clipped to the view; the line reaches both edges (to a bucket)
    assert dy.max() == 25.0 and dy.min() == -30.0
    assert len(chart(tab, "acc").raw_item("acc").getOriginalDataset()[1]) == 100


def test_nan_and_inf_do_not_break_drawing(qtbot: QtBot, env: dict[str, Any], tmp_path: Path) -> None:
    run = new_run(env)
    raw = [1.0, 2.0, math.nan, 3.0, math.inf, 0.5, -math.inf, 4.0] * 50
    env["fake"].log_series(run, "weird", raw)
    complete(env, run)
    tab = open_tab(qtbot, env, run, ["weird"])
    weird = chart(tab, "weird")
    kept = weird.series("weird").values
    assert len(kept) == len(raw) and np.isnan(kept[2]) and kept[4] == math.inf
    for smoothing in (0, 60):
        tab.smoothing_slider.setValue(smoothing)
        wait_until(lambda s=smoothing: weird.smoothing == s / 100, "the smoothing applied to the chart", qtbot=qtbot)
        for log in (False, True):
            tab.log_y_check.setChecked(log)
            weird.plot_widget.grab()
            _x, y = weird.raw_item("weird").getData()
            assert y is not None and len(y) > 0
    assert weird.export_png(tmp_path / "weird.png")


def test_x_modes_log_y_and_smoothing(qtbot: QtBot, env: dict[str, Any]) -> None:
    run = new_run(env)
    rng = np.random.default_rng(1)
    values = (np.exp(-np.arange(500) / 100) + rng.random(500) * 0.1).tolist()
    values[10] = math.nan
    started = 1_700_000_000.0
    times = [started + i * 0.25 for i in range(500)]  # a point every quarter second
    env["fake"].log_series(run, "loss", values, steps=[i * 10 for i in range(500)], times=times)
    complete(env, run)
    tab = open_tab(qtbot, env, run, ["loss"])
    loss = chart(tab, "loss")
    tab.x_mode_combo.setCurrentIndex(tab.x_mode_combo.findData("wall"))
    assert isinstance(loss.plot_item.getAxis("bottom"), pg.DateAxisItem)
    x = loss.raw_item("loss").getOriginalDataset()[0]
    assert x is not None and x[0] == started and x[-1] == times[-1]
    tab.x_mode_combo.setCurrentIndex(tab.x_mode_combo.findData("relative"))
    x = loss.raw_item("loss").getOriginalDataset()[0]
    assert x is not None and x[0] == 0.0 and x[-1] == pytest.approx(499 * 0.25)
    tab.x_mode_combo.setCurrentIndex(tab.x_mode_combo.findData("step"))
    x = loss.raw_item("loss").getOriginalDataset()[0]
    assert x is not None and x[-1] == 4990
    tab.log_y_check.setChecked(True)
    assert loss.log_y and loss.plot_item.getAxis("left").logMode
    tab.smoothing_slider.setValue(60)
    wait_until(lambda: loss.smoothing == 0.6, "the smoothing applied to the chart", qtbot=qtbot)
    smoothed = loss.smoothed_values("loss")
    expected = reference_ema(values, 0.6)
    assert smoothed is not None
    np.testing.assert_allclose(smoothed, expected, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert loss.smooth_item("loss").isVisible() and loss.raw_item("loss").isVisible()  # raw stays, faded
    assert loss.raw_item("loss").opts["pen"].color().alphaF() < 0.5
    text = loss.crosshair.show_at(1000.0)
    assert "step 1,000" in text and "loss" in text


def test_outlier_scaling_keeps_the_outlier(qtbot: QtBot, env: dict[str, Any]) -> None:
    run = new_run(env)
    values = np.random.default_rng(2).normal(1.0, 0.1, 5000)
    values[2500] = 1e6
    env["fake"].log_series(run, "grad", values.tolist())
    complete(env, run)
    tab = open_tab(qtbot, env, run, ["grad"])
    grad = chart(tab, "grad")
    grad.plot_widget.grab()
    assert grad.view_box.viewRange()[1][1] >= 1e6
    tab.outliers_check.setChecked(True)
    low, high = grad.view_box.viewRange()[1]
    assert high < 10 and low > -10
    assert grad.raw_item("grad").getOriginalDataset()[1].max() == 1e6  # still in the data
    tab.outliers_check.setChecked(False)
    grad.plot_widget.grab()
    assert grad.view_box.viewRange()[1][1] >= 1e6


def test_export_csv_and_png(qtbot: QtBot, env: dict[str, Any], tmp_path: Path) -> None:
    run = new_run(env)
    env["fake"].log_series(run, "loss", [1.0 / (i + 1) for i in range(30_000)])
    env["fake"].log_series(run, "acc", [i / 30_000 for i in range(0, 30_000, 10)])
    complete(env, run)
    tab = open_tab(qtbot, env, run, ["loss", "acc"])
    panel = tab.combine(["loss", "acc"])
    assert panel is not None
    path = tmp_path / "both.csv"
    with qtbot.waitSignal(tab.sig_exported, timeout=20_000) as blocker:
        tab.export_csv(panel, str(path))
    assert blocker.args == [str(path), 33_000]
    lines = path.read_text().splitlines()
    assert lines[0] == "series,step,time,value" and len(lines) == 33_001
    assert lines[1].startswith("loss,0,") and float(lines[1].split(",")[3]) == 1.0
    assert float(lines[30_000].split(",")[3]) == 1.0 / 30_000
    png = tmp_path / "both.png"
    assert tab.export_png(panel, str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000


def test_combine_and_split(qtbot: QtBot, env: dict[str, Any]) -> None:
    run = new_run(env)
    env["fake"].log_series(run, "a", list(range(200)))
    env["fake"].log_series(run, "b", [-i for i in range(200)])
    env["fake"].log_series(run, "c", [i * 2 for i in range(200)])
    complete(env, run)
    tab = open_tab(qtbot, env, run, ["a", "b", "c"])
    tab.chooser.select(["a", "c"])
    tab.chooser.combine_button.click()
    combined = chart(tab, "a+c")
    assert combined.line_keys() == ["a", "c"] and len(combined.series("c").values) == 200
    tab.chooser.set_checked("c", False)
    assert not combined.raw_item("c").isVisible() and [s.label for s in combined.export_data()] == ["a"]
    tab.split(["a"])
    wait_until(lambda: tab.findChild(MetricChart, "metricPlot:a+c") is None, "the combined chart removed", qtbot=qtbot)
    assert len(chart(tab, "a").series("a").values) == 200
    assert chart(tab, "c").parentWidget().isHidden()


def test_live_run_appends_only_new_points(qtbot: QtBot, env: dict[str, Any]) -> None:
    run = new_run(env)
    fake = env["fake"]
    fake.log_series(run, "loss", [float(i) for i in range(100)])
    tab = open_tab(qtbot, env, run, ["loss"])
    loss = chart(tab, "loss")
    assert len(loss.series("loss").values) == 100
    fake.log_series(run, "loss", [float(i) for i in range(100, 150)])
    fake.log_series(run, "late", [1.0])
    info = fake.get_run(run)
    tab.run_changed(info)
    tab.run_changed(info)  # a second refresh while the first is in flight fetches nothing twice
    wait_until(lambda: len(loss.series("loss").values) == 150, "the 50 new points appended", qtbot=qtbot)
    wait_until(
        lambda: tab.findChild(MetricChart, "metricPlot:late") is not None, "a chart for the new metric", qtbot=qtbot
    )
    assert np.array_equal(loss.series("loss").values, np.arange(150, dtype=np.float64))
    loss_calls = [c for c in env["rec"].series_calls if c[0] == "loss"]
    assert loss_calls[:2] == [("loss", 0), ("loss", 100)]
    assert all(start == 150 for _name, start in loss_calls[2:])


def log_string_and_list_metrics(env: dict[str, Any]) -> str:
    """A completed run with a string metric, a list of numbers (with a gap) and a list of strings."""
    run = new_run(env)
    fake = env["fake"]
    fake.log_records(run, "phase", MetricKind.STRING, [f"epoch {i}" for i in range(5)])
    fake.log_records(run, "lr_schedule", MetricKind.LIST, [[0.1, 0.05, 0.01, None]])
    fake.log_records(run, "labels", MetricKind.LIST, [["cat", "dog"]])
    complete(env, run)
    return run


def test_string_and_list_metrics(qtbot: QtBot, env: dict[str, Any]) -> None:
    run = log_string_and_list_metrics(env)
    tab = open_tab(qtbot, env, run, ["phase", "lr_schedule", "labels"])
    table = tab.findChild(QTableView, "metricTable:phase")
    assert table is not None
    model = table.model()
    assert model.rowCount() == 5 and model.columnCount() == 3
    assert [model.headerData(c, pg.QtCore.Qt.Orientation.Horizontal) for c in range(3)] == ["step", "time", "value"]
    assert model.index(4, 2).data() == "epoch 4" and model.index(4, 0).data() == "4"
    lr = chart(tab, "lr_schedule")
    y = lr.raw_item("#0").getOriginalDataset()[1]
    assert y is not None and y.tolist() == [0.1, 0.05, 0.01]  # None is a gap
    lr_table = tab.findChild(QTableView, "metricTable:lr_schedule")
    assert lr_table is not None and lr_table.model().rowCount() == 4
    labels = tab.findChild(QTableView, "metricTable:labels")
    assert labels is not None and labels.model().index(1, 2).data() == "dog"
    assert chart(tab, "labels").line_keys() == []  # text lists: a table only


def test_a_dropped_tab_is_freed_at_once_and_the_next_one_paints(qtbot: QtBot, env: dict[str, Any]) -> None:
    # A tab without a Qt parent that its helpers kept in a reference cycle was freed by the garbage
    # collector whenever a collection ran: once, in the middle of painting its own plot (pyqtgraph
    # paints in Python), and the process crashed (after a tab with list metrics, then another).
    # Dropped, a tab must go at once; the next one paints with a collection during its paint.
    run = log_string_and_list_metrics(env)

    def open_paint_and_drop() -> None:
        tab = open_tab(qtbot, env, run, ["phase", "lr_schedule", "labels"])
        plot = chart(tab, "lr_schedule").plot_widget
        collected: list[int] = []

        def collect() -> None:
            collected.append(gc.collect())

        plot.scene().sigPrepareForPaint.connect(collect)
        plot.grab()  # paints it, with a collection as it starts
        plot.scene().sigPrepareForPaint.disconnect(collect)
        assert collected, "the plot painted"
        destroyed: list[bool] = []
        tab.destroyed.connect(lambda: destroyed.append(True))
        with collector_off():
            del tab, plot
            # (At once, or once the runner let go of the tab's finished tasks.)
            wait_until(lambda: destroyed, "the dropped tab freed without the garbage collector", timeout=5, qtbot=qtbot)

    open_paint_and_drop()
    open_paint_and_drop()  # as after closing a run's tab and opening another


def test_empty_state(qtbot: QtBot, env: dict[str, Any]) -> None:
    run = new_run(env)
    complete(env, run)
    tab = open_tab(qtbot, env, run)
    empty = tab.findChild(QLabel, "metricsEmpty")
    assert empty is not None and tab.stack.currentWidget() is empty
    assert tab.findChildren(MetricChart) == []


def test_the_newest_points_survive_peak_downsampling(qtbot: QtBot) -> None:
    """pyqtgraph drops a partial last bucket; a spike in the very last point must still be drawn."""
    chart = MetricChart()
    qtbot.addWidget(chart)
    chart.resize(400, 250)
    chart.show()
    n = 200_003  # not a multiple of any likely bucket size
    values = np.zeros(n)
    values[-1] = 1000.0
    steps = np.arange(n, dtype=np.int64)
    chart.set_series("s", "s", steps, values, steps.astype(float))
    wait_until(lambda: chart.raw_item("s").getData()[1] is not None, "the line's data set", qtbot=qtbot)
    chart.grab()  # draw: computes the downsampled display data
    _shown_x, shown_y = chart.raw_item("s").getData()
    assert len(shown_y) < n // 10  # drawn downsampled
    assert float(np.max(shown_y)) == 1000.0  # and the spike of the last point is in it


def test_a_dropped_chart_is_freed_at_once(qtbot: QtBot) -> None:
    # Like a tab: a chart without a Qt parent left to the garbage collector may go mid-paint.
    chart = MetricChart()
    qtbot.addWidget(chart)
    chart.show()
    steps = np.arange(10, dtype=np.int64)
    chart.set_series("s", "s", steps, np.ones(10), steps.astype(float))
    assert "step 5" in chart.crosshair.show_at(5.0)
    destroyed: list[bool] = []
    chart.destroyed.connect(lambda: destroyed.append(True))
    with collector_off():
        del chart
        assert destroyed, "the chart outlived its last reference (only the garbage collector frees it)"


def test_a_single_logged_number_starts_unticked(qtbot: QtBot, env: dict[str, Any]) -> None:
    run = new_run(env)
    env["fake"].log_series(run, "learning_rate", [0.01])
    env["fake"].log_series(run, "loss", [1 / (i + 1) for i in range(50)])
    complete(env, run)
    tab = open_tab(qtbot, env, run, ["loss"])
    assert tab.chooser.is_checked("loss") and not tab.chooser.is_checked("learning_rate")
    assert not chart(tab, "learning_rate").isVisible() and chart(tab, "loss").isVisible()
