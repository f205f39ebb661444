"""The scatter: one column against another, one point per run that has both.

All runs are one ScatterPlotItem with a single brush (pyqtgraph draws a single-style scatter from
one cached symbol, which keeps 10,000 points cheap); the selected runs and the hovered one are
small items of their own drawn above it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from studio.ui.charts import style
from studio.ui.run_charts.chart_data import RunTable, ScatterPoints, nearest_point, scatter_points
from studio.ui.run_charts.chart_view import ChartView, base_colour, hover_colour, rows_array, selected_colour


class ScatterView(ChartView):
    """Runs as points of ``x_col`` against ``y_col``; runs lacking either are left out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = RunTable()
        self.points = ScatterPoints(np.empty(0), np.empty(0), np.empty(0, dtype=np.intp), 0, "")
        self.selected_rows = np.empty(0, dtype=np.intp)
        self.item.showGrid(x=True, y=True, alpha=style.grid_alpha())
        self.runs = pg.ScatterPlotItem(size=6, pen=None, antialias=True)
        self.selected = pg.ScatterPlotItem(size=9, antialias=True)
        self.hover = pg.ScatterPlotItem(size=14, antialias=True)
        for z, item in enumerate((self.runs, self.selected, self.hover)):
            item.setZValue(z)
            self.item.addItem(item)
        self.restyle()

    def set_points(self, table: RunTable, x_col: str, y_col: str) -> ScatterPoints:
        """Draw ``table``'s runs with ``x_col`` on x and ``y_col`` on y; returns what is drawn."""
        self.table = table
        self.points = scatter_points(table, x_col, y_col)
        self.runs.setData(x=self.points.x, y=self.points.y, brush=pg.mkBrush(base_colour(len(self.points.rows), 12.0)))
        self.item.setLabel("bottom", x_col)
        self.item.setLabel("left", y_col)
        self.hovered = -1
        self.show_hovered(-1)
        self.show_selected(self.selected_rows)
        self.item.enableAutoRange()
        return self.points

    def show_selected(self, rows: np.ndarray) -> None:
        """Draw the runs of ``rows`` (those that have a point) as selected."""
        self.selected_rows = rows_array(rows)
        drawn = self.points.rows
        keep = np.isin(drawn, self.selected_rows)
        self.selected.setData(x=self.points.x[keep], y=self.points.y[keep])

    def show_hovered(self, row: int) -> None:
        """Ring the hovered run's point."""
        k = np.flatnonzero(self.points.rows == row) if row >= 0 else np.empty(0, dtype=np.intp)
        self.hover.setData(x=self.points.x[k], y=self.points.y[k])

    def row_at(self, x: float, y: float, px_w: float, px_h: float) -> int:
        """The run of the point within a few pixels of ``(x, y)``."""
        return nearest_point(self.points, x, y, px_w, px_h)

    def restyle(self) -> None:
        """Colours of the palette."""
        super().restyle()
        self.item.showGrid(x=True, y=True, alpha=style.grid_alpha())
        self.runs.setBrush(pg.mkBrush(base_colour(len(self.points.rows), 12.0)))
        self.selected.setBrush(pg.mkBrush(selected_colour()))
        self.selected.setPen(pg.mkPen(style.background(), width=1))
        self.hover.setBrush(pg.mkBrush(None))
        self.hover.setPen(pg.mkPen(hover_colour(), width=2))
        for name in ("left", "bottom"):
            label = self.item.getAxis(name).label
            label.setDefaultTextColor(style.foreground())
