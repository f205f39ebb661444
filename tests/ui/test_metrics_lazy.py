"""The Metrics tab builds a chart's plot when its panel comes near the view; everything else works before.

Also the min/max envelopes that charts draw from (numpy only).
The tab tests use a FakeBackend: lazy building is about the GUI, not storage, and the fake
serves the 24 metrics at once. It is wrapped in GuardedBackend: a call on the GUI thread fails the test.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import pytest
from pytestqt.qtbot import QtBot

from studio.core.types import MetricSeries
from studio.ui.background.tasks import TaskRunner
from studio.ui.charts.axes import XMode
from studio.ui.charts.chart_lines import Points, lay_out
from studio.ui.charts.envelope import BUCKETS_PER_PIXEL, RAW_PER_PIXEL, Envelope
from studio.ui.charts.metric_chart import MetricChart
from studio.ui.charts.metric_panels import ChartPanel
from studio.ui.charts.smoothing import reference_ema
from studio.ui.runs.tabs.metrics_tab import MetricsTab
from tests.fake_backend import FakeBackend
from tests.ui_helpers import GuardedBackend, RecordingBackend
from tests.waiting import wait_until

METRICS, POINTS = 24, 400  # 12 rows of two panels: the last rows are more than a screen below the view


def values_of(m: int) -> np.ndarray:
    return np.sin(np.arange(POINTS) / 20.0 + m) * (m + 1)


def name_of(m: int) -> str:
    return f"m{m:02d}"


class FlakyBackend(RecordingBackend):
    """Passes calls through; get_series of the metrics in ``broken`` fails."""

    def __init__(self, inner: FakeBackend) -> None:
        super().__init__(inner)
        self.broken: set[str] = set()

    def get_series(self, run_id: str, name: str, start: int = 0) -> MetricSeries:
        if name in self.broken:
            raise OSError(f"disk error reading {name}")
        return super().get_series(run_id, name, start)


@pytest.fixture
def env() -> Iterator[dict[str, Any]]:
    fake = FakeBackend()
    flaky = FlakyBackend(fake)
    guarded = GuardedBackend(flaky)
    runner = TaskRunner(max_threads=2)
    run = fake.add_run("exp", "many metrics")  # running: it may grow
    for m in range(METRICS):
        fake.log_series(run, name_of(m), values_of(m).tolist())
    yield {"fake": fake, "run": run, "flaky": flaky, "backend": guarded, "runner": runner}
    assert runner.shutdown()
    assert guarded.violations == []


def open_tab(qtbot: QtBot, env: dict[str, Any]) -> MetricsTab:
    tab = MetricsTab(env["backend"], env["runner"], env["run"])
    qtbot.addWidget(tab)
    tab.resize(1300, 900)
    tab.show()
    updated: set[str] = set()
    tab.sig_updated.connect(updated.add)
    with qtbot.waitSignal(tab.sig_listed, timeout=10_000):
        tab.ensure_loaded()
    wait_until(lambda: len(updated) == METRICS, "every metric's points fetched", qtbot=qtbot)
    wait_until(
        lambda: not tab.grid.pending_charts(), "the charts near the view built", qtbot=qtbot
    )  # the charts near the view are built
    return tab


def chart(tab: MetricsTab, name: str) -> MetricChart:
    found = tab.findChild(MetricChart, f"metricPlot:{name}")
    assert found is not None, f"no chart metricPlot:{name}"
    return found


def panel(tab: MetricsTab, name: str) -> ChartPanel:
    found = tab.findChild(ChartPanel, f"metricPanel:{name}")
    assert found is not None, f"no panel metricPanel:{name}"
    return found


def scroll_to(qtbot: QtBot, tab: MetricsTab, name: str) -> MetricChart:
    """Scroll the grid until the panel of ``name`` is in view; wait until its plot is built."""
    target = chart(tab, name)
    box = panel(tab, name)

    def there() -> bool:
        tab.grid.ensureWidgetVisible(box)  # again once a new panel has its place in the grid
        return target.built

    wait_until(there, "the scrolled-to chart built", qtbot=qtbot)
    return target


def test_charts_far_from_the_view_are_built_when_scrolled_to(qtbot: QtBot, env: dict[str, Any]) -> None:
    tab = open_tab(qtbot, env)
    first, last = chart(tab, name_of(0)), chart(tab, name_of(METRICS - 1))
    assert first.built and not last.built  # placeholders below: same size, no plot yet
    assert last.height() == first.height() and last.width() == first.width()
    # Its points are already there: the chooser, export and the crosshair readout work without the plot.
    assert np.array_equal(last.series(name_of(METRICS - 1)).values, values_of(METRICS - 1))
    assert last.values_at(10.0)[0][2] == values_of(METRICS - 1)[10]
    scroll_to(qtbot, tab, name_of(METRICS - 1))
    last.plot_widget.grab()  # paint
    x, y = last.raw_item(name_of(METRICS - 1)).getData()
    assert x is not None and y is not None
    assert np.array_equal(y, values_of(METRICS - 1)) and x[-1] == POINTS - 1  # few points: drawn as they are


def test_export_of_a_chart_not_built_yet(qtbot: QtBot, env: dict[str, Any], tmp_path: Path) -> None:
    tab = open_tab(qtbot, env)
    name = name_of(METRICS - 2)
    far = panel(tab, name)
    assert not far.chart.built
    path = tmp_path / "far.csv"
    with qtbot.waitSignal(tab.sig_exported, timeout=10_000) as blocker:
        tab.export_csv(far, str(path))
    assert blocker.args == [str(path), POINTS]
    lines = path.read_text().splitlines()
    assert (
        len(lines) == POINTS + 1 and [float(row.split(",")[3]) for row in lines[1:]] == values_of(METRICS - 2).tolist()
    )
    png = tmp_path / "far.png"
    assert tab.export_png(far, str(png))  # the plot is made to be saved
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hide_show_and_combine_charts_not_built_yet(qtbot: QtBot, env: dict[str, Any]) -> None:
    tab = open_tab(qtbot, env)
    a, b, c = name_of(METRICS - 3), name_of(METRICS - 2), name_of(METRICS - 1)
    assert not any(chart(tab, n).built for n in (a, b, c))
    tab.chooser.set_checked(a, False)
    assert panel(tab, a).isHidden()
    tab.chooser.set_checked(a, True)
    assert not panel(tab, a).isHidden()
    tab.chooser.select([b, c])
    tab.chooser.combine_button.click()
    combined = chart(tab, f"{b}+{c}")
    assert combined.line_keys() == [b, c]
    assert np.array_equal(combined.series(c).values, values_of(METRICS - 1))
    tab.chooser.set_checked(b, False)  # a line of a combined chart not built yet
    assert [s.label for s in combined.export_data()] == [c]
    scroll_to(qtbot, tab, f"{b}+{c}")
    assert not combined.raw_item(b).isVisible() and combined.raw_item(c).isVisible()
    y = combined.raw_item(c).getData()[1]
    assert y is not None and np.array_equal(y, values_of(METRICS - 1))
    tab.split([b])
    wait_until(
        lambda: tab.findChild(MetricChart, f"metricPlot:{b}+{c}") is None, "the combined chart removed", qtbot=qtbot
    )
    assert panel(tab, b).isHidden() and np.array_equal(chart(tab, b).series(b).values, values_of(METRICS - 2))
    assert np.array_equal(scroll_to(qtbot, tab, a).series(a).values, values_of(METRICS - 3))


def test_display_options_reach_charts_built_later(qtbot: QtBot, env: dict[str, Any]) -> None:
    tab = open_tab(qtbot, env)
    name = name_of(METRICS - 1)
    far = chart(tab, name)
    tab.x_mode_combo.setCurrentIndex(tab.x_mode_combo.findData("wall"))
    tab.log_y_check.setChecked(True)
    tab.smoothing_slider.setValue(50)
    wait_until(
        lambda: all(tab.options.applied(p.chart) for p in tab.panels),
        "the display options applied to every chart",
        qtbot=qtbot,
    )
    assert not far.built
    scroll_to(qtbot, tab, name)
    assert isinstance(far.plot_item.getAxis("bottom"), pg.DateAxisItem) and far.plot_item.getAxis("left").logMode
    x = far.raw_item(name).getData()[0]
    assert x is not None and x[0] == far.series(name).times[0]
    smoothed = far.smoothed_values(name)
    assert smoothed is not None and far.smooth_item(name).isVisible()
    np.testing.assert_allclose(smoothed, reference_ema(values_of(METRICS - 1).tolist(), 0.5), rtol=1e-12)


def test_new_points_reach_a_chart_not_built_yet(qtbot: QtBot, env: dict[str, Any]) -> None:
    tab = open_tab(qtbot, env)
    name = name_of(METRICS - 1)
    far = chart(tab, name)
    fake, run = env["fake"], env["run"]
    fake.log_series(run, name, [1000.0 + i for i in range(50)])
    tab.run_changed(fake.get_run(run))
    wait_until(
        lambda: len(far.series(name).values) == POINTS + 50, "the 50 new points reach the far chart", qtbot=qtbot
    )
    assert not far.built
    scroll_to(qtbot, tab, name)
    x, y = far.raw_item(name).getData()
    assert x is not None and y is not None and x[-1] == POINTS + 49 and y.max() == 1049.0


def test_a_failed_fetch_does_not_leave_the_chart_waiting(qtbot: QtBot, env: dict[str, Any]) -> None:
    env["flaky"].broken.add(name_of(1))
    tab = MetricsTab(env["backend"], env["runner"], env["run"])
    qtbot.addWidget(tab)
    tab.resize(1300, 900)
    tab.show()
    with qtbot.waitSignal(tab.sig_error, timeout=10_000) as blocker:
        tab.ensure_loaded()
    assert name_of(1) in blocker.args[0] and "disk error" in blocker.args[0]
    broken = chart(tab, name_of(1))
    wait_until(
        lambda: broken.built, "the chart whose fetch failed built, empty", qtbot=qtbot
    )  # in view: built, empty, not left "Loading…"
    assert not broken.loading and broken.line_keys() == []


def test_a_hidden_tab_builds_no_plot(qtbot: QtBot, env: dict[str, Any]) -> None:
    tab = MetricsTab(env["backend"], env["runner"], env["run"])
    qtbot.addWidget(tab)
    tab.resize(1300, 900)
    updated: set[str] = set()
    tab.sig_updated.connect(updated.add)
    tab.ensure_loaded()  # loaded while another tab of the run page is in front
    wait_until(lambda: len(updated) == METRICS, "every metric's points fetched", qtbot=qtbot)
    assert not any(p.chart.built for p in tab.panels)
    tab.show()
    wait_until(lambda: chart(tab, name_of(0)).built, "the first chart built once the tab is shown", qtbot=qtbot)


# ----- the envelope itself


def brute_force(x: np.ndarray, y: np.ndarray, x0: float, x1: float) -> tuple[float, float]:
    inside = (x >= x0) & (x <= x1)
    return float(y[inside].min()), float(y[inside].max())


@pytest.mark.parametrize("seed", range(5))
def test_the_envelope_keeps_every_extreme_in_view(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2_000, 300_000))
    x = np.cumsum(rng.random(n) + 0.01)
    y = rng.normal(size=n)
    y[rng.integers(0, n, 5)] = rng.normal(scale=1e3, size=5)  # spikes
    env = Envelope(x, y)
    for _ in range(20):
        a, b = sorted(rng.uniform(x[0], x[-1], 2))
        pixels = float(rng.integers(50, 2000))
        _key, xo, yo = env.view(a, b, pixels)
        low, high = brute_force(x, y, a, b)
        assert yo.min() <= low and yo.max() >= high  # nothing in view is lost
        assert xo.min() <= a and xo.max() >= min(b, x[-1])  # the line reaches both edges
        assert np.all(np.diff(xo) >= 0)
        assert len(xo) <= max(2 * BUCKETS_PER_PIXEL * pixels, RAW_PER_PIXEL * pixels) + 4  # O(pixels)
    _key, xo, yo = env.view(-math.inf, math.inf, 800)
    assert yo.min() == y.min() and yo.max() == y.max() and xo[-1] == x[-1] and yo[-1] == y[-1]


def test_few_points_are_drawn_as_they_are() -> None:
    x = np.arange(100, dtype=np.float64)
    y = np.cos(x)
    _key, xo, yo = Envelope(x, y).view(10.0, 20.0, 500)
    assert np.array_equal(xo, x[9:22]) and np.array_equal(yo, y[9:22])


def test_layout_leaves_non_finite_points_out_and_sorts_by_x() -> None:
    steps = np.array([0, 1, 2, 3, 4], dtype=np.int64)
    values = np.array([1.0, math.nan, 3.0, math.inf, 5.0])
    times = np.array([10.0, 11.0, 9.0, 12.0, 8.0])
    layout = lay_out(Points.of(steps, values, times), XMode.WALL_TIME)
    assert layout.raw.x.tolist() == [8.0, 9.0, 10.0] and layout.raw.y.tolist() == [5.0, 3.0, 1.0]
    assert layout.arrange(values * 2).tolist() == [10.0, 6.0, 2.0]
    assert layout.raw.y_min_positive == 1.0 and layout.raw.x_range == (8.0, 10.0)
