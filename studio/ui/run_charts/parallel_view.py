"""Parallel coordinates: one vertical axis per column, one polyline per run.

Every run's polyline is in ONE PlotCurveItem (one QPainterPath, with a ``connect`` array that
breaks it between runs and at missing values): thousands of items would cost seconds to add and
paint, one path costs milliseconds. Each axis is scaled to its column's own min..max, labelled at
both ends; the column names are the x axis' ticks, elided to the room between axes. The selected
runs, then the hovered one, are drawn above in curves of their own.

The runs' curve keeps its drawing as an image (``cached_curve.CachedCurve``): a hover change
repaints from it in a few milliseconds instead of drawing every line again (~70 ms for 10,000
runs). Qt's own DeviceCoordinateCache was 20x slower to fill (1.4 s): it draws without a clip,
which sends thin lines down the raster engine's slow path; the image is drawn with one.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QWidget

from studio.ui.charts import style
from studio.ui.run_charts.cached_curve import CachedCurve
from studio.ui.run_charts.chart_data import (
    ParallelLines,
    RunTable,
    format_value,
    nearest_line,
    parallel_lines,
    polyline_of,
)
from studio.ui.run_charts.chart_view import ChartView, base_colour, hover_colour, rows_array, selected_colour

PAD_PX = 20
"""Room above the top and below the bottom of the axes (pixels) for the min/max labels."""


def _curve(cached: bool = False) -> pg.PlotCurveItem:
    # skipFiniteCheck: the y arrays have no NaN (missing points are 0 and never joined).
    if cached:
        return CachedCurve(skipFiniteCheck=True, antialias=False)
    return pg.PlotCurveItem(skipFiniteCheck=True, antialias=False)


class ParallelView(ChartView):
    """Runs as polylines across one axis per column."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = RunTable()
        self.lines = parallel_lines(self.table)
        self.selected_rows = np.empty(0, dtype=np.intp)
        self.view_box.setMouseEnabled(x=False, y=False)  # the axes are fixed: nothing to pan or zoom
        self.item.hideAxis("left")  # 0..1 means nothing; each axis carries its own labels
        self.axes = pg.PlotCurveItem(connect="pairs", skipFiniteCheck=True)
        self.runs = _curve(cached=True)  # repainted at every hover change: drawn from an image
        self.selected = _curve()
        self.hover = _curve()
        for z, item in enumerate((self.axes, self.runs, self.selected, self.hover)):
            item.setZValue(z)
            self.item.addItem(item)
        self.labels: list[pg.TextItem] = []
        self.view_box.sigResized.connect(self._fit)
        self.restyle()

    def set_lines(self, table: RunTable) -> ParallelLines:
        """Draw every run of ``table``; returns the polylines drawn."""
        self.table = table
        self.lines = lines = parallel_lines(table)
        n_cols = len(table.columns)
        self.runs.setData(x=lines.x, y=lines.y, connect=lines.connect)
        self.axes.setData(x=np.repeat(np.arange(n_cols, dtype=np.float64), 2), y=np.tile([0.0, 1.0], n_cols))
        self.runs.setPen(pg.mkPen(base_colour(table.n_runs), width=1))
        self._label_axes()
        self._fit()
        self.hovered = -1
        self.show_hovered(-1)
        self.show_selected(self.selected_rows)
        return lines

    def _label_axes(self) -> None:
        for label in self.labels:
            self.item.removeItem(label)
        self.labels = []
        colour = style.foreground()
        for j in range(len(self.table.columns)):
            lo, hi = self.lines.lo[j], self.lines.hi[j]
            for value, y, anchor in ((hi, 1.0, (0.5, 1.0)), (lo, 0.0, (0.5, 0.0))):
                # Filled with the background: readable over the lines and the axis passing under it.
                label = pg.TextItem(format_value(float(value)), color=colour, anchor=anchor, fill=style.background())
                label.setPos(j, y)
                label.setZValue(10)  # above the lines
                self.item.addItem(label)
                self.labels.append(label)

    def _fit(self) -> None:
        """Range the view so that the min/max labels keep their room at any height, and elide names."""
        n_cols = len(self.table.columns)
        height = max(self.view_box.height(), 3 * PAD_PX)
        pad = PAD_PX / (height - 2 * PAD_PX)  # normalised units that are PAD_PX pixels tall
        self.view_box.setRange(xRange=(-0.5, max(n_cols - 0.5, 0.5)), yRange=(-pad, 1 + pad), padding=0)
        self._elide_names()

    def _elide_names(self) -> None:
        """The column names under the axes, each elided to the room between two axes."""
        columns = self.table.columns
        axis = self.item.getAxis("bottom")
        if not columns:
            axis.setTicks([[]])
            return
        room = max(int(self.view_box.width() / (len(columns) + 0.0)) - 8, 24)
        metrics = QFontMetrics(axis.font())
        ticks = [(j, metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, room)) for j, name in enumerate(columns)]
        axis.setTicks([ticks])

    def _polyline(self, item: pg.PlotCurveItem, rows: np.ndarray) -> None:
        if rows.size == 0 or not self.table.columns:
            item.setData(x=np.empty(0), y=np.empty(0))
            return
        x, y, connect = polyline_of(self.lines, rows)
        item.setData(x=x, y=y, connect=connect)

    def show_selected(self, rows: np.ndarray) -> None:
        """Draw the runs of ``rows`` above the others, in the highlight colour."""
        self.selected_rows = rows_array(rows)
        self._polyline(self.selected, self.selected_rows[self.selected_rows < self.table.n_runs])

    def show_hovered(self, row: int) -> None:
        """Draw the hovered run's line above everything."""
        self._polyline(self.hover, rows_array([row] if row >= 0 else []))

    def row_at(self, x: float, y: float, px_w: float, px_h: float) -> int:
        """The run whose line passes within a few pixels of ``(x, y)``."""
        return nearest_line(self.lines, x, y, px_w, px_h)

    def restyle(self) -> None:
        """Colours of the palette."""
        super().restyle()
        axis_colour = style.faded(style.foreground(), 0.6)
        self.axes.setPen(pg.mkPen(axis_colour, width=1))
        self.runs.setPen(pg.mkPen(base_colour(self.table.n_runs), width=1))
        self.selected.setPen(pg.mkPen(selected_colour(), width=2))
        self.hover.setPen(pg.mkPen(hover_colour(), width=2.5))
        for label in self.labels:
            label.setColor(style.foreground())
            label.fill = pg.mkBrush(style.background())
