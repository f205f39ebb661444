"""The run charts above the runs table: scatter and parallel coordinates, hover, click, selection.

Real widgets offscreen; hovers and clicks are real mouse events sent to the plot's viewport at the
widget position of a known point or line.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from studio.ui.run_charts import RunChartsPanel
from studio.ui.run_charts.chart_data import RunTable, nearest_line, parallel_lines
from studio.ui.run_charts.chart_view import ChartView
from studio.ui.run_charts.panel import NO_COLUMNS, NO_RUNS, ONE_COLUMN
from studio.ui.run_charts.parallel_view import ParallelView
from studio.ui.run_charts.scatter_view import ScatterView
from studio.ui.shell.theme import dark_palette
from tests.waiting import wait_until

NAN = np.nan
COLUMNS = ["metrics.acc", "metrics.loss", "attributes.duration"]
VALUES = np.array(
    [
        [0.10, 2.0, 10.0],
        [0.50, 1.0, 20.0],
        [0.90, 0.5, NAN],
        [NAN, 0.8, 40.0],
        [0.70, NAN, 50.0],
    ]
)
IDS = ["r0", "r1", "r2", "r3", "r4"]
NAMES = ["first", "second", "third", "fourth", "fifth"]


@pytest.fixture
def panel(qtbot: Any) -> RunChartsPanel:
    widget = RunChartsPanel()
    qtbot.addWidget(widget)
    widget.resize(800, 420)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _charted(panel: RunChartsPanel) -> ChartView:
    view = panel.current_view()
    assert view is not None, f"no chart shown: {panel.message.text()!r}"
    return view


def _settle(qtbot: Any, panel: RunChartsPanel) -> ChartView:
    """Wait until the chart is laid out (its view box has a size), so data maps to pixels."""
    view = _charted(panel)
    wait_until(lambda: view.view_box.width() > 100 and view.view_box.height() > 100, "chart laid out", qtbot=qtbot)
    QApplication.processEvents()
    return view


def _hover(qtbot: Any, view: ChartView, x: float, y: float) -> None:
    pos = view.data_to_widget(x, y).toPoint()
    qtbot.mouseMove(view.plot.viewport(), pos)


def _click(qtbot: Any, view: ChartView, x: float, y: float) -> None:
    pos = view.data_to_widget(x, y).toPoint()
    qtbot.mouseMove(view.plot.viewport(), pos)
    qtbot.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)


# -- empty states -----------------------------------------------------------------------------------
def test_without_columns_the_panel_asks_for_them_instead_of_an_empty_plot(panel: RunChartsPanel) -> None:
    assert panel.current_view() is None
    assert panel.message.text() == NO_COLUMNS
    assert not panel.x_combo.isVisible() and not panel.y_combo.isVisible()  # nothing to choose from
    panel.set_data([], np.empty((3, 0)), ["a", "b", "c"], ["a", "b", "c"])
    assert panel.current_view() is None and panel.message.isVisible()
    assert panel.message.text() == NO_COLUMNS


def test_without_runs_the_panel_says_there_is_nothing_to_chart(panel: RunChartsPanel) -> None:
    for mode in ("scatter", "parallel"):
        panel.set_mode(mode)
        panel.set_data(COLUMNS, np.empty((0, 3)), [], [])
        assert panel.current_view() is None
        assert panel.message.text() == NO_RUNS


def test_one_column_asks_for_another_in_both_charts(panel: RunChartsPanel) -> None:
    panel.set_data(["metrics.acc"], np.array([[0.1], [0.2]]), ["a", "b"], ["a", "b"])
    assert panel.current_view() is None and panel.message.text() == ONE_COLUMN
    panel.set_mode("parallel")
    assert panel.current_view() is None and panel.message.text() == ONE_COLUMN
    panel.set_data(COLUMNS[:2], VALUES[:, :2], IDS, NAMES)  # a second column: a chart again
    assert isinstance(panel.current_view(), ParallelView)


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="do not match"):
        RunTable.make(COLUMNS, np.zeros((2, 2)), ["a", "b"], ["a", "b"])


# -- scatter ----------------------------------------------------------------------------------------
def test_scatter_defaults_to_the_first_two_columns_and_leaves_out_incomplete_runs(panel: RunChartsPanel) -> None:
    panel.set_data(COLUMNS, VALUES, IDS, NAMES)
    view = _charted(panel)
    assert isinstance(view, ScatterView)
    assert (panel.x_combo.currentText(), panel.y_combo.currentText()) == ("metrics.acc", "metrics.loss")
    assert list(view.points.rows) == [0, 1, 2]  # r3 lacks acc, r4 lacks loss
    assert panel.note.full_text() == "2 runs lack metrics.acc or metrics.loss"
    panel.y_combo.setCurrentText("attributes.duration")
    assert list(view.points.rows) == [0, 1, 4]
    assert panel.note.full_text() == "2 runs lack metrics.acc or attributes.duration"
    panel.x_combo.setCurrentText("metrics.loss")
    assert panel.note.full_text() == "2 runs lack metrics.loss or attributes.duration"


def test_the_note_names_the_one_column_runs_lack(panel: RunChartsPanel) -> None:
    values = np.array([[1.0, 1.0], [NAN, 2.0], [NAN, 3.0], [4.0, 4.0]])
    panel.set_data(["metrics.acc", "metrics.loss"], values, ["a", "b", "c", "d"], ["a", "b", "c", "d"])
    assert panel.note.full_text() == "2 runs lack metrics.acc"
    values[1, 0] = 2.0
    panel.set_data(["metrics.acc", "metrics.loss"], values, ["a", "b", "c", "d"], ["a", "b", "c", "d"])
    assert panel.note.full_text() == "1 run lacks metrics.acc"


def test_infinite_values_count_as_missing(panel: RunChartsPanel) -> None:
    values = np.array([[1.0, 1.0], [np.inf, 2.0], [3.0, 3.0]])
    panel.set_data(["a", "b"], values, ["x", "y", "z"], ["x", "y", "z"])
    assert panel.note.full_text() == "1 run lacks a"


def test_the_scatter_keeps_its_columns_when_the_data_changes(panel: RunChartsPanel) -> None:
    panel.set_data(COLUMNS, VALUES, IDS, NAMES)
    panel.x_combo.setCurrentText("attributes.duration")
    panel.set_data(COLUMNS, VALUES[:3], IDS[:3], NAMES[:3])
    assert (panel.x_combo.currentText(), panel.y_combo.currentText()) == ("attributes.duration", "metrics.loss")
    panel.set_data(["metrics.f1", "metrics.loss"], VALUES[:3, :2], IDS[:3], NAMES[:3])
    assert (panel.x_combo.currentText(), panel.y_combo.currentText()) == ("metrics.f1", "metrics.loss")


def test_hovering_a_point_names_its_run_and_both_values(qtbot: Any, panel: RunChartsPanel) -> None:
    panel.set_data(COLUMNS, VALUES, IDS, NAMES)
    view = _settle(qtbot, panel)
    hovered: list[str] = []
    panel.sig_run_hovered.connect(hovered.append)
    _hover(qtbot, view, 0.5, 1.0)
    wait_until(lambda: hovered and hovered[-1] == "r1", "r1 hovered", qtbot=qtbot)
    assert panel.readout.full_text() == "second — metrics.acc 0.5, metrics.loss 1"
    _hover(qtbot, view, 0.3, 1.75)  # between points, far from all of them
    wait_until(lambda: hovered[-1] == "", "nothing hovered", qtbot=qtbot)
    assert panel.readout.full_text() == ""


def test_clicking_a_point_emits_its_run(qtbot: Any, panel: RunChartsPanel) -> None:
    panel.set_data(COLUMNS, VALUES, IDS, NAMES)
    view = _settle(qtbot, panel)
    with qtbot.waitSignal(panel.sig_run_clicked, timeout=5000) as blocker:
        _click(qtbot, view, 0.9, 0.5)
    assert blocker.args == ["r2"]


def test_selected_runs_are_drawn_apart_in_the_scatter(panel: RunChartsPanel) -> None:
    panel.set_data(COLUMNS, VALUES, IDS, NAMES)
    view = _charted(panel)
    assert isinstance(view, ScatterView)
    panel.select_runs(["r2", "r3", "unknown"])  # r3 has no point; unknown is not charted
    xs, ys = view.selected.getData()
    assert list(zip(xs, ys, strict=True)) == [(0.9, 0.5)]
    panel.select_runs([])
    assert len(view.selected.getData()[0]) == 0


# -- parallel coordinates -----------------------------------------------------------------------------
def test_parallel_coordinates_normalise_each_column_and_break_lines_at_missing_values() -> None:
    table = RunTable.make(COLUMNS, VALUES, IDS, NAMES)
    lines = parallel_lines(table)
    assert list(lines.lo) == [0.1, 0.5, 10.0] and list(lines.hi) == [0.9, 2.0, 50.0]
    assert lines.norm[1, 0] == pytest.approx(0.5)
    assert np.isnan(lines.norm[3, 0])
    joins = lines.connect.reshape(5, 3)
    assert joins[0].tolist() == [True, True, False]  # never joined to the next run
    assert joins[2].tolist() == [True, False, False]  # duration missing: the line stops at loss
    assert joins[3].tolist() == [False, True, False]  # acc missing: the line starts at loss
    assert lines.incomplete == 3
    assert np.isfinite(lines.y).all()  # one path without NaN


def test_constant_columns_sit_in_the_middle_without_dividing_by_zero(panel: RunChartsPanel) -> None:
    values = np.array([[1.0, 5.0, NAN], [2.0, 5.0, NAN], [3.0, 5.0, NAN]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lines = parallel_lines(RunTable.make(["a", "const", "empty"], values, ["x", "y", "z"], ["x", "y", "z"]))
        panel.set_mode("parallel")
        panel.set_data(["a", "const", "empty"], values, ["x", "y", "z"], ["x", "y", "z"])
    assert lines.norm[:, 1].tolist() == [0.5, 0.5, 0.5]
    assert np.isnan(lines.norm[:, 2]).all()
    view = _charted(panel)
    assert isinstance(view, ParallelView)
    assert [label.toPlainText() for label in view.labels] == ["3", "1", "5", "5", "—", "—"]


def test_hovering_a_line_between_two_axes_finds_its_run(qtbot: Any, panel: RunChartsPanel) -> None:
    panel.set_mode("parallel")
    panel.set_data(COLUMNS, VALUES, IDS, NAMES)
    view = _settle(qtbot, panel)
    assert isinstance(view, ParallelView)
    hovered: list[str] = []
    panel.sig_run_hovered.connect(hovered.append)
    # r1 between acc and loss: acc 0.5 -> 0.5 normalised, loss 1.0 -> 1/3; a quarter of the way along.
    norm = view.lines.norm
    y = norm[1, 0] + 0.25 * (norm[1, 1] - norm[1, 0])
    _hover(qtbot, view, 0.25, y)
    wait_until(lambda: hovered and hovered[-1] == "r1", "r1 hovered", qtbot=qtbot)
    assert panel.readout.full_text().startswith("second — metrics.acc 0.5, metrics.loss 1, attributes.duration 20")
    assert len(view.hover.getData()[0]) == 3  # its whole polyline drawn on top
    # r4 between loss and duration: r4 lacks loss, so nothing is there even where its acc/duration would point.
    _hover(qtbot, view, 1.5, (norm[4, 2] + 0.0) / 2 + 0.3)
    wait_until(lambda: hovered[-1] != "r1", "hover moved off r1", qtbot=qtbot)
    assert hovered[-1] != "r4"


def test_nearest_line_prefers_the_closer_segment_and_skips_missing_ends() -> None:
    values = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, NAN]])
    lines = parallel_lines(RunTable.make(["a", "b"], values, ["x", "y", "z"], ["x", "y", "z"]))
    px = 0.01  # 100 pixels per unit both ways
    assert nearest_line(lines, 0.5, 0.02, px, px) == 0
    assert nearest_line(lines, 0.5, 0.97, px, px) == 1
    assert nearest_line(lines, 0.5, 0.5, px, px) == -1  # z has no segment; the others are 50 px away
    assert nearest_line(lines, 0.0, 0.5, px, px) == 2  # on the first axis, z's point


def test_clicking_a_line_emits_its_run(qtbot: Any, panel: RunChartsPanel) -> None:
    panel.set_mode("parallel")
    panel.set_data(COLUMNS, VALUES, IDS, NAMES)
    view = _settle(qtbot, panel)
    norm = _charted(panel).lines.norm  # type: ignore[attr-defined]
    with qtbot.waitSignal(panel.sig_run_clicked, timeout=5000) as blocker:
        _click(qtbot, view, 1.5, (norm[0, 1] + norm[0, 2]) / 2)
    assert blocker.args == ["r0"]


def test_selected_runs_are_drawn_on_top_in_parallel_coordinates(panel: RunChartsPanel) -> None:
    panel.set_data(COLUMNS, VALUES, IDS, NAMES)
    panel.select_runs(["r0", "r3"])
    panel.set_mode("parallel")  # the selection follows the switch
    view = _charted(panel)
    assert isinstance(view, ParallelView)
    xs, ys = view.selected.getData()
    assert len(xs) == 6  # two polylines of three points
    assert ys[:3].tolist() == pytest.approx(view.lines.norm[0].tolist())
    assert view.selected.zValue() > view.runs.zValue()


def test_parallel_lines_drawn_from_their_cached_image_follow_data_hover_and_size(
    qtbot: Any, panel: RunChartsPanel
) -> None:
    """The runs' lines are painted from an image of their last drawing: new data, a hover and a
    resize must still show in what is painted."""
    panel.set_mode("parallel")
    panel.set_data(COLUMNS, VALUES, IDS, NAMES)
    view = _settle(qtbot, panel)
    assert isinstance(view, ParallelView)
    first = view.plot.grab().toImage()
    changed = VALUES.copy()
    changed[:, 1] = VALUES[::-1, 1]  # the losses the other way round: other lines
    panel.set_data(COLUMNS, changed, IDS, NAMES)
    assert view.plot.grab().toImage() != first
    panel.set_data(COLUMNS, VALUES, IDS, NAMES)
    assert view.plot.grab().toImage() == first
    norm = view.lines.norm
    _hover(qtbot, view, 0.25, norm[1, 0] + 0.25 * (norm[1, 1] - norm[1, 0]))
    wait_until(lambda: view.hovered == 1, "r1 hovered", qtbot=qtbot)
    assert view.plot.grab().toImage() != first
    panel.resize(500, 300)
    wait_until(lambda: view.plot.grab().width() < first.width(), "chart narrower", qtbot=qtbot)


# -- the panel ----------------------------------------------------------------------------------------
def test_the_toolbar_switches_between_the_charts(qtbot: Any, panel: RunChartsPanel) -> None:
    panel.set_data(COLUMNS, VALUES, IDS, NAMES)
    assert isinstance(panel.current_view(), ScatterView) and panel.x_combo.isVisible()
    qtbot.mouseClick(panel.parallel_button, Qt.MouseButton.LeftButton)
    assert isinstance(panel.current_view(), ParallelView)
    assert not panel.x_combo.isVisible() and not panel.y_combo.isVisible()
    assert panel.note.full_text() == "3 runs lack some columns"
    qtbot.mouseClick(panel.scatter_button, Qt.MouseButton.LeftButton)
    assert isinstance(panel.current_view(), ScatterView) and panel.y_combo.isVisible()
    assert panel.note.full_text() == "2 runs lack metrics.acc or metrics.loss"


def test_beyond_ten_thousand_runs_the_first_ones_are_drawn_and_the_panel_says_so(panel: RunChartsPanel) -> None:
    n = 10_005
    values = np.random.default_rng(1).random((n, 2))
    ids = [f"r{i}" for i in range(n)]
    panel.set_mode("parallel")
    panel.set_data(["a", "b"], values, ids, ids)
    view = _charted(panel)
    assert isinstance(view, ParallelView)
    assert view.lines.norm.shape == (10_000, 2)
    assert panel.note.full_text() == "Showing the first 10,000 of 10,005 runs"


def test_a_long_run_name_is_elided_in_the_readout(qtbot: Any, panel: RunChartsPanel) -> None:
    name = "a-very-long-run-name-" * 20
    panel.set_data(COLUMNS[:2], np.array([[0.0, 0.0], [1.0, 1.0]]), ["a", "b"], [name, "b"])
    view = _settle(qtbot, panel)
    _hover(qtbot, view, 0.0, 0.0)
    wait_until(lambda: panel.readout.full_text().startswith(name), "long name hovered", qtbot=qtbot)
    shown = panel.readout.text()
    assert shown != panel.readout.full_text() and "…" in shown
    assert shown.endswith("— metrics.acc 0, metrics.loss 0")  # the name is elided, the values stay
    assert panel.readout.toolTip() == panel.readout.full_text()


def test_the_charts_follow_a_dark_palette(qtbot: Any, panel: RunChartsPanel) -> None:
    panel.set_data(COLUMNS, VALUES, IDS, NAMES)
    view = _charted(panel)
    assert isinstance(view, ScatterView)
    light_background = view.plot.backgroundBrush().color().name()
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.palette()
    try:
        app.setPalette(dark_palette())
        wait_until(lambda: view.plot.backgroundBrush().color().name() == "#1f2023", "dark background", qtbot=qtbot)
        assert light_background != "#1f2023"
        assert view.item.getAxis("bottom").textPen().color().name() == "#e6e6e6"
    finally:
        app.setPalette(before)


def test_data_to_widget_maps_inside_the_plot(qtbot: Any, panel: RunChartsPanel) -> None:
    panel.set_data(COLUMNS, VALUES, IDS, NAMES)
    view = _settle(qtbot, panel)
    pos = view.data_to_widget(0.5, 1.0)
    assert view.plot.viewport().rect().contains(QPoint(round(pos.x()), round(pos.y())))
    assert isinstance(pos, QPointF)
