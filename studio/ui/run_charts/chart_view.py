"""What the scatter and the parallel coordinates share: a plot widget in the theme's colours that
reports which run is under the mouse and which one was clicked.

A view knows runs by their row in the panel's :class:`~studio.ui.run_charts.chart_data.RunTable`;
the panel turns rows into run ids. Subclasses say which row is at a point (``row_at``) and how to
show the hovered and selected rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Signal
from PySide6.QtGui import QColor, QMouseEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from studio.ui.charts import style
from studio.ui.charts.chart_plot import prepare_axis


def base_colour(n_runs: int, strength: float = 6.0) -> QColor:
    """The runs' colour: the first line colour, more translucent the more runs there are.

    A few runs are near opaque; thousands are faint, so that where many runs pass reads darker
    and the selected and hovered runs stand out (``strength / sqrt(n)``, kept within 0.06..0.85).
    """
    alpha = min(max(strength / max(n_runs, 1) ** 0.5, 0.06), 0.85)
    return style.faded(style.line_colour(0), alpha)


def selected_colour() -> QColor:
    """Selected runs: the second line colour (orange), opaque, distinct from the runs' blue."""
    return style.line_colour(1)


def hover_colour() -> QColor:
    """The hovered run: the text colour, the strongest contrast in either theme."""
    return style.foreground()


class ChartView(QWidget):
    """A plot widget whose hover and click are turned into runs (rows); -1 when none."""

    sig_row_hovered = Signal(int)
    """The row under the mouse changed (-1: none)."""
    sig_row_clicked = Signal(int)
    """A run was clicked (left button, no drag)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(self, viewBox=pg.ViewBox(enableMenu=False), enableMenu=False)
        self.item = self.plot.getPlotItem()
        self.item.hideButtons()
        self.view_box = self.item.getViewBox()
        for name in ("left", "bottom"):
            prepare_axis(self.item.getAxis(name))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.hovered = -1
        # Mouse moves are read from the viewport, not the scene's sigMouseMoved: the scene drops
        # moves that come quickly after another, which would leave the last run hovered stale.
        self.plot.scene().sigMouseClicked.connect(self._mouse_clicked)
        self.plot.viewport().installEventFilter(self)

    # -- for subclasses --------------------------------------------------------------------------
    def row_at(self, x: float, y: float, px_w: float, px_h: float) -> int:
        """The row drawn at data point ``(x, y)`` (``px_w``/``px_h``: data units per pixel), else -1."""
        raise NotImplementedError

    def show_hovered(self, row: int) -> None:
        """Draw ``row`` as hovered (-1: nothing hovered)."""
        raise NotImplementedError

    def restyle(self) -> None:
        """Follow the palette: background and axes here; subclasses recolour their items too."""
        self.plot.setBackground(style.background())
        pen = pg.mkPen(style.foreground())
        for name in ("left", "bottom"):
            axis = self.item.getAxis(name)
            axis.setPen(pen)
            axis.setTextPen(pen)

    # -- mouse -------------------------------------------------------------------------------------
    def row_at_scene(self, pos: QPointF) -> int:
        """The row under scene position ``pos`` (-1 outside the plot area or over nothing)."""
        if not self.view_box.sceneBoundingRect().contains(pos):
            return -1
        point = self.view_box.mapSceneToView(pos)
        px_w, px_h = self.view_box.viewPixelSize()
        return self.row_at(point.x(), point.y(), px_w, px_h)

    def data_to_widget(self, x: float, y: float) -> QPointF:
        """Where data point ``(x, y)`` is in the plot widget's viewport (for tests and benchmarks)."""
        return QPointF(self.plot.mapFromScene(self.view_box.mapViewToScene(QPointF(x, y))))

    def set_hovered(self, row: int) -> None:
        """Make ``row`` the hovered run, drawing it and saying so when it changed."""
        if row != self.hovered:
            self.hovered = row
            self.show_hovered(row)
            self.sig_row_hovered.emit(row)

    def _mouse_clicked(self, event: Any) -> None:
        if event.button() == pg.QtCore.Qt.MouseButton.LeftButton:
            row = self.row_at_scene(event.scenePos())
            if row >= 0:
                self.sig_row_clicked.emit(row)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Hover follows every mouse move over the plot; nothing is hovered once the mouse leaves it."""
        if event.type() == QEvent.Type.MouseMove and isinstance(event, QMouseEvent):
            self.set_hovered(self.row_at_scene(self.plot.mapToScene(event.position().toPoint())))
        elif event.type() == QEvent.Type.Leave:
            self.set_hovered(-1)
        return super().eventFilter(watched, event)


def rows_array(rows: list[int] | np.ndarray) -> np.ndarray:
    """Rows as an int array (for fancy indexing)."""
    return np.asarray(rows, dtype=np.intp)
