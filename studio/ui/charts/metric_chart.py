"""MetricChart: numeric series as lines, fast for millions of points (one run or many).

Each line keeps all of its points (crosshair, CSV export) and a min/max envelope of them
at every zoom level (:mod:`studio.ui.charts.envelope`): the plot draws only the buckets in
view, a few per pixel, so every point's envelope stays visible (spikes included) and a
redraw costs O(pixels). Non-finite values (and non-positive ones in log-y) cannot be drawn:
they are left out of the drawn line, not out of the data.

The pyqtgraph plot is the expensive part of a chart (several milliseconds to create). A
chart made with ``lazy=True`` holds its lines, options and data without it and paints a
cheap placeholder until :meth:`MetricChart.ensure_built` (the Metrics tab's grid calls it
when the chart scrolls into view; touching ``plot_widget``, ``plot_item``, ``view_box``,
``crosshair`` or a line's item builds it too). Lines can be given already prepared
(:func:`studio.ui.charts.chart_lines.prepare`, on a worker thread) with ``set_prepared``.

This module keeps the chart's state and API; the plot and the items drawing the lines are in
:mod:`studio.ui.charts.chart_plot`, the crosshair's values and the outlier-free y range in
:mod:`studio.ui.charts.chart_readout`.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QWidget

from studio.ui.charts import style
from studio.ui.charts.axes import XMode, format_x
from studio.ui.charts.chart_lines import Line, Points, Prepared
from studio.ui.charts.chart_plot import ChartPlot
from studio.ui.charts.chart_plot import prepare_axis as prepare_axis  # re-exported: it was defined here
from studio.ui.charts.chart_readout import robust_y_range, values_at
from studio.ui.charts.crosshair import Crosshair, Readout
from studio.ui.charts.envelope_item import EnvelopeItem
from studio.ui.charts.export import SeriesExport, write_csv

pg.setConfigOptions(antialias=False)

_SIZE_HINT = QSize(400, 240)
_MIN_SIZE_HINT = QSize(120, 100)


def _weak_readout(chart: MetricChart) -> Callable[[float], tuple[str, list[Readout]]]:
    """``chart._readout`` without a reference to the chart.

    The chart keeps its crosshair: the crosshair holding the chart's method back would make a
    cycle, and a chart without a Qt parent in one is freed by the garbage collector whenever a
    collection runs, even while its plot paints (a crash; see ``studio.ui.background.owner_refs``).
    """
    ref = weakref.ref(chart)

    def readout(x: float) -> tuple[str, list[Readout]]:
        alive = ref()
        return ("", []) if alive is None else alive._readout(x)

    return readout


class MetricChart(QWidget):
    """A chart of numeric series: ``set_series`` / ``append`` / ``remove`` lines by key."""

    sig_built = Signal()
    """The chart's plot was just created (its lines drawn into it)."""
    sig_first_paint = Signal()
    """The plot is being painted for the first time (emitted as its paint starts)."""

    def __init__(self, parent: QWidget | None = None, lazy: bool = False) -> None:
        super().__init__(parent)
        self._plot: ChartPlot | None = None
        self._lines: dict[str, Line] = {}
        self._colour_count = 0
        self._legend_wanted = True
        self._x_label = ""
        self._loading: set[str] = set()
        self.log_y_only = False
        """Of a page's display options, only log y applies (a list metric's chart: x is the index in the list)."""
        self.x_mode = XMode.STEP
        self.log_y = False
        self.smoothing = 0.0
        self.ignore_outliers = False
        if not lazy:
            self.ensure_built()

    # -- the plot (built on demand) ------------------------------------------------------------
    @property
    def built(self) -> bool:
        """Whether the pyqtgraph plot exists."""
        return self._plot is not None

    def ensure_built(self) -> None:
        """Create the plot now (if it does not exist yet) and draw the lines into it."""
        if self._plot is not None:
            return
        plot = self._plot = ChartPlot(self, self.x_mode)
        plot.widget.setGeometry(self.rect())
        if self.log_y:
            plot.item.setLogMode(y=True)
        if self._x_label:
            plot.item.setLabel("bottom", self._x_label)
        plot.add_crosshair(_weak_readout(self))
        self._restyle()
        plot.view_box.sigResized.connect(self._view_resized)
        plot.widget.viewport().installEventFilter(self)  # for sig_first_paint
        plot.widget.show()
        # Lay the plot out, draw the lines at its size and range it now, so that its first paint
        # is its only one (pyqtgraph would range it while painting, which asks for a second paint).
        plot.item.layout.activate()
        for line in self._lines.values():
            self._add_items(line)
        self._update_legend()
        plot.view_box.updateAutoRange()
        plot.view_box.updateMatrix()
        self._data_changed()
        self.sig_built.emit()

    @property
    def plot_widget(self) -> pg.PlotWidget:
        """The pyqtgraph widget (builds the plot)."""
        return self._built().widget

    @property
    def plot_item(self) -> pg.PlotItem:
        """The pyqtgraph plot item (builds the plot)."""
        return self._built().item

    @property
    def view_box(self) -> pg.ViewBox:
        """The plot's view box (builds the plot)."""
        return self._built().view_box

    @property
    def crosshair(self) -> Crosshair:
        """The crosshair (builds the plot)."""
        crosshair = self._built().crosshair
        assert crosshair is not None
        return crosshair

    def _built(self) -> ChartPlot:
        self.ensure_built()
        assert self._plot is not None
        return self._plot

    @property
    def loading(self) -> bool:
        """Whether the first points of a line are on their way (the grid waits to build the plot)."""
        return bool(self._loading)

    def is_loading(self, key: str) -> bool:
        """Whether the first points of line ``key`` are on their way."""
        return key in self._loading

    def set_loading(self, key: str, loading: bool) -> None:
        """Note that the first points of line ``key`` are on their way (or arrived, or will not)."""
        if loading:
            self._loading.add(key)
        else:
            self._loading.discard(key)
        if not self.built:
            self.update()

    def set_x_label(self, text: str) -> None:
        """The bottom axis' label."""
        self._x_label = text
        if self._plot is not None:
            self._plot.item.setLabel("bottom", text)

    # -- lines ---------------------------------------------------------------------------------
    def set_series(
        self,
        key: str,
        label: str,
        steps: np.ndarray,
        values: np.ndarray,
        times: np.ndarray,
        colour: QColor | str | None = None,
    ) -> None:
        """Show (or replace) the line ``key`` with all of its points."""
        self.set_prepared(key, label, Prepared(Points.of(steps, values, times)), colour)

    def set_prepared(self, key: str, label: str, prepared: Prepared, colour: QColor | str | None = None) -> None:
        """Show (or replace) the line ``key`` with these points and what was prepared for them.

        What was prepared for another x mode or smoothing weight than the chart's is recomputed
        when drawn.
        """
        line = self._lines.get(key)
        if line is None:
            index = self._colour_count if colour is None else -1
            qcolour = style.line_colour(index) if colour is None else QColor(colour)
            self._colour_count += 1
            line = Line(key, label, qcolour, index, prepared.points)
            line.take(prepared)
            self._lines[key] = line
            if self._plot is not None:
                self._add_items(line)
                self._update_legend()
        else:
            if label != line.label:
                line.label = label
                self._update_legend()
            line.take(prepared)
            self._draw(line)
        self._loading.discard(key)
        self._data_changed()

    def append(self, key: str, steps: np.ndarray, values: np.ndarray, times: np.ndarray) -> None:
        """Add points logged since (live refresh): only the new points are given."""
        line = self._lines[key]
        points = line.points.extended(steps, values, times)
        if points is line.points:
            return
        # The smoothing continues from where it stopped; the layout is redone.
        line.points = points
        self._draw(line)
        self._data_changed()

    def remove(self, key: str) -> None:
        """Take a line off the chart."""
        line = self._lines.pop(key, None)
        if line is not None:
            if self._plot is not None:
                self._plot.remove_line(line)
                self._update_legend()
            self._data_changed()

    def set_visible(self, key: str, visible: bool) -> None:
        """Show or hide a line (hidden lines leave the legend, crosshair, scaling and CSV)."""
        line = self._lines[key]
        line.visible = visible
        if self._plot is not None:
            line.raw.setVisible(visible)
            if line.smooth is not None:
                line.smooth.setVisible(visible and self.smoothing > 0)
            self._update_legend()
        self._data_changed()

    def __contains__(self, key: object) -> bool:
        return key in self._lines

    def line_keys(self) -> list[str]:
        """Line keys in the order added."""
        return list(self._lines)

    def series(self, key: str) -> SeriesExport:
        """All points of a line, as given (NaN and inf included)."""
        line = self._lines[key]
        points = line.points
        return SeriesExport(line.label, points.steps, points.values, points.times)

    def points(self, key: str) -> Points:
        """All points of a line (immutable)."""
        return self._lines[key].points

    def prepared(self, key: str) -> Prepared:
        """A line's points and what is computed for them (``set_prepared`` on another chart reuses it)."""
        return self._lines[key].prepared()

    def raw_item(self, key: str) -> EnvelopeItem:
        """The item drawing a line's points (builds the plot)."""
        self.ensure_built()
        return self._lines[key].raw  # type: ignore[no-any-return]

    def smooth_item(self, key: str) -> EnvelopeItem:
        """The item drawing a line's smoothed values, hidden without smoothing (builds the plot)."""
        self.ensure_built()
        line = self._lines[key]
        if line.smooth is None:
            self._add_smooth_item(line)
        return line.smooth  # type: ignore[no-any-return]

    def smoothed_values(self, key: str) -> np.ndarray | None:
        """The smoothed values of a line, aligned with its points; None without smoothing."""
        smoothed = self._lines[key].smoothed_for(self.smoothing)
        return None if smoothed is None else smoothed.values

    # -- display options -----------------------------------------------------------------------
    def set_x_mode(self, mode: XMode | str) -> None:
        """Step, wall time (date axis) or time since each line's first point."""
        mode = XMode(mode)
        if mode is self.x_mode:
            return
        self.x_mode = mode
        if self._plot is None:
            return  # drawn in this mode when built
        self._plot.set_x_axis(mode, self._x_label)
        for line in self._lines.values():
            self._draw(line)
        self._plot.view_box.enableAutoRange(x=True)
        self._data_changed()

    def set_log_y(self, on: bool) -> None:
        """Logarithmic y (values <= 0 cannot be drawn: they leave gaps)."""
        if on == self.log_y:
            return
        self.log_y = on
        if self._plot is not None:
            self._plot.item.setLogMode(y=on)  # the items map what they draw (O(pixels))
            self._data_changed()

    def set_smoothing(self, weight: float) -> None:
        """Debiased EMA weight in [0, 1); 0 turns smoothing off. The raw line stays, faded."""
        weight = min(max(float(weight), 0.0), 0.999)
        if weight == self.smoothing:
            return
        self.smoothing = weight
        if self._plot is None:
            return
        for line in self._lines.values():
            self._pen(line)
            self._draw(line)
        self._data_changed()

    def set_ignore_outliers(self, on: bool) -> None:
        """Scale y to the 0.5%-99.5% quantiles of the visible lines (padded); points are all kept."""
        self.ignore_outliers = on
        if self._plot is None:
            return
        if on:
            self._apply_robust_range()
        else:
            self._plot.view_box.enableAutoRange(y=True)

    # -- crosshair and export ------------------------------------------------------------------
    def values_at(self, x: float) -> list[Readout]:
        """Each visible line's (label, colour, raw y, smoothed y) at the drawn point nearest to ``x``."""
        return values_at(self._lines.values(), self.x_mode, self.smoothing, x)

    def export_data(self) -> list[SeriesExport]:
        """Every point of every visible line (full resolution), for CSV export."""
        return [self.series(k) for k, line in self._lines.items() if line.visible]

    def export_csv(self, path: str | os.PathLike[str]) -> int:
        """Write the visible lines' points as CSV; returns the number of points."""
        return write_csv(path, self.export_data())

    def export_png(self, path: str | os.PathLike[str]) -> bool:
        """Save the chart as it looks as PNG (builds the plot); True when written."""
        return bool(self.plot_widget.grab().save(os.fspath(path), "PNG"))

    # -- internals -----------------------------------------------------------------------------
    def _readout(self, x: float) -> tuple[str, list[Readout]]:
        return format_x(self.x_mode, x), self.values_at(x)

    def _add_items(self, line: Line) -> None:
        assert self._plot is not None
        self._plot.add_line(line, self.x_mode, self.smoothing)

    def _draw(self, line: Line) -> None:
        """Give a built line's items what they draw (the envelopes are computed here if not prepared)."""
        if self._plot is not None:
            self._plot.draw(line, self.x_mode, self.smoothing)

    def _add_smooth_item(self, line: Line) -> None:
        assert self._plot is not None
        self._plot.add_smooth_item(line, self.smoothing)

    def _pen(self, line: Line) -> None:
        if self._plot is not None:
            self._plot.set_pens(line, self.smoothing)

    def _view_resized(self) -> None:
        ChartPlot.refresh(self._lines.values())

    def _data_changed(self) -> None:
        if self.ignore_outliers and self._plot is not None:
            self._apply_robust_range()

    def _apply_robust_range(self) -> None:
        assert self._plot is not None
        bounds = robust_y_range(self._lines.values(), self.x_mode, self.smoothing, self.log_y)
        if bounds is not None:
            self._plot.view_box.setYRange(*bounds, padding=0)

    def set_legend_shown(self, shown: bool) -> None:
        """Show the in-chart legend (on by default; the compare view has its own run list)."""
        self._legend_wanted = shown
        self._update_legend()

    def _update_legend(self) -> None:
        if self._plot is not None:
            self._plot.update_legend(self._lines.values(), self._legend_wanted)

    def _restyle(self) -> None:
        for line in self._lines.values():
            if line.colour_index >= 0:
                line.colour = style.line_colour(line.colour_index)
        if self._plot is None:
            self.update()
            return
        self._plot.restyle(self._lines.values(), self.smoothing, self._legend_wanted)

    # -- Qt ------------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Tell when the plot first paints."""
        if event.type() == QEvent.Type.Paint and self._plot is not None and watched is self._plot.widget.viewport():
            watched.removeEventFilter(self)
            self.sig_first_paint.emit()
        return super().eventFilter(watched, event)

    def sizeHint(self) -> QSize:
        """The same before and after the plot is built (building must not move the grid)."""
        return _SIZE_HINT

    def minimumSizeHint(self) -> QSize:
        """The same before and after the plot is built."""
        return _MIN_SIZE_HINT

    def resizeEvent(self, event: QResizeEvent) -> None:
        """The plot fills the chart."""
        if self._plot is not None:
            self._plot.widget.setGeometry(self.rect())
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Before the plot exists: the plot's background (and a note while the first points load)."""
        if self._plot is not None:
            return
        painter = QPainter(self)
        painter.fillRect(self.rect(), style.background())
        if self._loading:
            fg = QColor(style.foreground())
            fg.setAlphaF(0.5)
            painter.setPen(fg)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Loading…")
        painter.end()

    def changeEvent(self, event: QEvent) -> None:
        """Follow palette changes (light/dark)."""
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._restyle()
        super().changeEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        """Hide the crosshair when the mouse leaves."""
        if self._plot is not None and self._plot.crosshair is not None:
            self._plot.crosshair.hide()
        super().leaveEvent(event)
