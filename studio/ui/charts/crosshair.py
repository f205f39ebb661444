"""A vertical crosshair over a chart with a small label: x and each line's y at that x."""

from __future__ import annotations

import html
from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel

from studio.ui.charts import style

Readout = tuple[str, QColor, float, float | None]
"""(label, colour, y of the raw line, y of the smoothed line or None)."""


class Crosshair:
    """Follows the mouse over ``plot``; ``readout(x)`` gives the text (title, rows) to show."""

    def __init__(self, plot: pg.PlotWidget, readout: Callable[[float], tuple[str, list[Readout]]]) -> None:
        self._plot = plot
        self._readout = readout
        self.line = pg.InfiniteLine(angle=90, movable=False)
        self.line.setZValue(50)
        self.line.hide()
        plot.getPlotItem().addItem(self.line, ignoreBounds=True)
        # Made on first use (a styled label costs a chart's build time).
        self._label: QLabel | None = None
        self.restyle()
        self._proxy = pg.SignalProxy(plot.scene().sigMouseMoved, rateLimit=60, slot=self._moved)

    @property
    def label(self) -> QLabel:
        """The label with the readout (over the plot's top right corner)."""
        if self._label is None:
            self._label = QLabel(self._plot)
            self._label.setObjectName("chartCrosshairLabel")
            self._label.setTextFormat(Qt.TextFormat.RichText)
            self._label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            self._label.hide()
            self._style_label()
        return self._label

    def restyle(self) -> None:
        """Follow the palette."""
        fg = style.foreground()
        pen = pg.mkPen(QColor(fg.red(), fg.green(), fg.blue(), 110), width=1, style=Qt.PenStyle.DashLine)
        self.line.setPen(pen)
        if self._label is not None:
            self._style_label()

    def _style_label(self) -> None:
        assert self._label is not None
        fg, bg = style.foreground(), style.background()
        self._label.setStyleSheet(
            f"QLabel {{ background: rgba({bg.red()},{bg.green()},{bg.blue()},225); color: {fg.name()};"
            f" border: 1px solid rgba({fg.red()},{fg.green()},{fg.blue()},70); border-radius: 3px; padding: 2px 5px; }}"
        )

    def show_at(self, x: float) -> str:
        """Put the crosshair at ``x`` (view coordinates); returns the label's text."""
        title, rows = self._readout(x)
        lines = [f"<b>{html.escape(title)}</b>"]
        for name, colour, raw, smooth in rows:
            value = f"{smooth:.6g} <span style='opacity:0.7'>({raw:.6g})</span>" if smooth is not None else f"{raw:.6g}"
            lines.append(f"<span style='color:{colour.name()}'>&#9632;</span> {html.escape(name)}: {value}")
        text = "<br>".join(lines)
        self.line.setPos(x)
        self.line.show()
        self.label.setText(text)
        self.label.adjustSize()
        self.label.move(max(0, self._plot.width() - self.label.width() - 8), 6)
        self.label.show()
        self.label.raise_()
        return text

    def hide(self) -> None:
        """Hide the line and the label."""
        self.line.hide()
        if self._label is not None:
            self._label.hide()

    def _moved(self, event: tuple[QPointF]) -> None:
        pos = event[0]
        view = self._plot.getPlotItem().getViewBox()
        if not view.sceneBoundingRect().contains(pos):
            self.hide()
            return
        self.show_at(view.mapSceneToView(pos).x())
