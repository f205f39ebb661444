"""The pyqtgraph plot of a built :class:`~studio.ui.charts.metric_chart.MetricChart`.

The plot widget with its axes, legend and crosshair, and the items that draw each line. It is
the expensive part of a chart (several milliseconds to create), which a lazy chart puts off.
It holds no chart state of its own: the chart passes its lines, x mode and smoothing weight.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem, QWidget

from studio.ui.charts import style
from studio.ui.charts.axes import Axis, XMode, make_axis
from studio.ui.charts.chart_lines import Line
from studio.ui.charts.crosshair import Crosshair, Readout
from studio.ui.charts.envelope_item import EnvelopeItem


def prepare_axis(axis: pg.AxisItem) -> None:
    """Cache an axis' drawing (ticks, labels, grid) as a pixmap until its range or style changes.

    Drawing the axes is most of a chart's paint: with the cache, a repaint that is not a pan or
    zoom (Qt's follow-up to the first paint, the grid scrolling a chart back into view) is a
    blit, several times cheaper than drawing them again (see also ``axes.FastGrid``).
    No SI prefixes (the axes have no units): they relabel the axis at every range change.
    """
    axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    axis.enableAutoSIPrefix(False)


class ChartPlot:
    """The pyqtgraph parts of a built chart: a plot widget child of ``parent``, x axis for ``x_mode``."""

    def __init__(self, parent: QWidget, x_mode: XMode) -> None:
        # No context menus (the chart's were off anyway): a ViewBox without its menu is much cheaper to make.
        self.widget = pg.PlotWidget(
            parent,
            viewBox=pg.ViewBox(enableMenu=False),
            axisItems={"bottom": make_axis(x_mode), "left": Axis(orientation="left")},
            enableMenu=False,
        )
        self.widget.setObjectName("metricPlotArea")
        self.item = self.widget.getPlotItem()
        self.item.hideButtons()
        # The y axis widens for wider tick labels but does not narrow for narrower ones than its
        # default: no re-layout after the first paint, and charts side by side stay aligned.
        self.item.getAxis("left").setStyle(autoReduceTextSpace=False)
        for name in ("left", "bottom"):
            prepare_axis(self.item.getAxis(name))
        self.view_box = self.item.getViewBox()
        self.legend: pg.LegendItem | None = None
        self.crosshair: Crosshair | None = None

    def add_crosshair(self, readout: Callable[[float], tuple[str, list[Readout]]]) -> None:
        """Follow the mouse with a crosshair; ``readout(x)`` gives its text."""
        self.crosshair = Crosshair(self.widget, readout)

    # -- axes and legend -----------------------------------------------------------------------
    def set_x_axis(self, mode: XMode, label: str) -> None:
        """Replace the bottom axis with one for ``mode`` (labelled ``label`` if not empty)."""
        axis = make_axis(mode)
        prepare_axis(axis)
        self.item.setAxisItems({"bottom": axis})
        if label:
            self.item.setLabel("bottom", label)
        self.style_axes()

    def style_axes(self) -> None:
        """Colour the axes and their grid for the current palette."""
        fg = style.foreground()
        pen = pg.mkPen(fg)
        for name in ("bottom", "left"):
            axis = self.item.getAxis(name)
            axis.setPen(pen)
            axis.setTextPen(pen)
            axis.setGrid(int(style.grid_alpha() * 255))

    def update_legend(self, lines: Collection[Line], wanted: bool) -> None:
        """List the visible ``lines`` in the legend; no legend unless ``wanted`` and there are two lines or more."""
        shown = [line for line in lines if line.visible]
        if len(lines) < 2 or not wanted:
            if self.legend is not None:
                self.legend.clear()
            return
        if self.legend is None:
            self.legend = self.item.addLegend(offset=(8, 8), labelTextSize="8pt")
        self.legend.clear()
        for line in shown:
            self.legend.addItem(pg.PlotDataItem(pen=pg.mkPen(line.colour, width=2)), line.label)
        self.legend.setLabelTextColor(style.foreground())

    def restyle(self, lines: Collection[Line], smoothing: float, legend_wanted: bool) -> None:
        """Follow a palette change: background, axes, the lines' pens and markers, legend, crosshair."""
        self.widget.setBackground(style.background())
        self.style_axes()
        for line in lines:
            if line.raw is not None:
                self.set_pens(line, smoothing)
                line.raw.set_envelope(line.raw.envelope, line.colour)  # the markers' colour
        self.update_legend(lines, legend_wanted)
        if self.crosshair is not None:
            self.crosshair.restyle()

    # -- the items drawing a line --------------------------------------------------------------
    def add_line(self, line: Line, mode: XMode, smoothing: float) -> None:
        """Make the item drawing ``line``'s points and draw it."""
        line.raw = EnvelopeItem()
        self.item.addItem(line.raw)
        line.raw.setVisible(line.visible)
        self.set_pens(line, smoothing)
        self.draw(line, mode, smoothing)

    def remove_line(self, line: Line) -> None:
        """Take ``line``'s items off the plot."""
        self.item.removeItem(line.raw)
        if line.smooth is not None:
            self.item.removeItem(line.smooth)

    def draw(self, line: Line, mode: XMode, smoothing: float) -> None:
        """Give a line's items what they draw (the envelopes are computed here if not prepared)."""
        layout = line.layout_for(mode)
        line.raw.set_envelope(layout.raw, line.colour)
        smooth_layout = line.smooth_layout_for(mode, smoothing)
        if smooth_layout is None and line.smooth is None:
            return  # the smoothed line's item is made when first needed
        if line.smooth is None:
            self.add_smooth_item(line, smoothing)
        line.smooth.set_envelope(None if smooth_layout is None else smooth_layout.envelope)
        line.smooth.setVisible(smooth_layout is not None and line.visible)

    def add_smooth_item(self, line: Line, smoothing: float) -> None:
        """Make the (hidden) item drawing ``line``'s smoothed values."""
        line.smooth = EnvelopeItem()
        line.smooth.setVisible(False)
        self.item.addItem(line.smooth)
        if smoothing > 0:
            line.smooth.setPen(pg.mkPen(line.colour, width=2))

    @staticmethod
    def set_pens(line: Line, smoothing: float) -> None:
        """Pens for ``line``'s items: with smoothing, the raw line is faded under a thicker smoothed one."""
        if smoothing > 0:
            line.raw.setPen(pg.mkPen(style.faded(line.colour), width=1))
            if line.smooth is not None:
                line.smooth.setPen(pg.mkPen(line.colour, width=2))
        else:
            line.raw.setPen(pg.mkPen(line.colour, width=1))

    @staticmethod
    def refresh(lines: Iterable[Line]) -> None:
        """Redraw the lines' items at the view's new size (each draws only the buckets in view)."""
        for line in lines:
            if line.raw is not None:
                line.raw.refresh()
                if line.smooth is not None:
                    line.smooth.refresh()
