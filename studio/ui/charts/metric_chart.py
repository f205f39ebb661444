"""MetricChart: numeric series as lines, fast for millions of points (one run or many).

pyqtgraph draws each line with peak (min/max) downsampling and clip-to-view, so no more
points than pixels are drawn and every point's envelope stays visible; the full data
stays in the chart (crosshair, CSV export). Non-finite values (and non-positive ones in
log-y) cannot be drawn: they are left out of the drawn line, not out of the data.
"""

from __future__ import annotations

import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget

from studio.ui.charts import style
from studio.ui.charts.axes import XMode, format_x, make_axis
from studio.ui.charts.chart_lines import Line, draw_line, f64
from studio.ui.charts.crosshair import Crosshair, Readout
from studio.ui.charts.export import SeriesExport, write_csv
from studio.ui.charts.scaling import robust_range
from studio.ui.charts.smoothing import EmaState, debiased_ema

pg.setConfigOptions(antialias=False)


class MetricChart(QWidget):
    """A chart of numeric series: ``set_series`` / ``append`` / ``remove`` lines by key."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget(self)
        self.plot_widget.setObjectName("metricPlotArea")
        self.plot_item = self.plot_widget.getPlotItem()
        self.plot_item.setDownsampling(auto=True, mode="peak")
        self.plot_item.setClipToView(True)
        self.plot_item.setMenuEnabled(False)
        self.plot_item.hideButtons()
        self.view_box = self.plot_item.getViewBox()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self._lines: dict[str, Line] = {}
        self._colour_count = 0
        self._legend: pg.LegendItem | None = None
        self.x_mode = XMode.STEP
        self.log_y = False
        self.smoothing = 0.0
        self.ignore_outliers = False
        self.crosshair = Crosshair(self.plot_widget, self._readout)
        self._restyle()

    # ----- lines
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
        line = self._lines.get(key)
        if line is None:
            index = self._colour_count if colour is None else -1
            qcolour = style.line_colour(index) if colour is None else QColor(colour)
            self._colour_count += 1
            opts = {"connect": "finite", "skipFiniteCheck": True, "autoDownsample": True}
            opts |= {"downsampleMethod": "peak", "clipToView": True}
            raw, smooth = pg.PlotDataItem(**opts), pg.PlotDataItem(**opts)
            self.plot_item.addItem(raw)
            self.plot_item.addItem(smooth)
            empty = np.empty(0)
            line = Line(key, label, qcolour, index, empty.astype(np.int64), empty, empty, raw, smooth)
            self._lines[key] = line
            self._pen(line)
            self._update_legend()
        elif label != line.label:
            line.label = label
            self._update_legend()
        line.steps = np.ascontiguousarray(steps, dtype=np.int64)
        line.values, line.times = f64(values), f64(times)
        line.smoothed, line.ema = None, EmaState()
        self._smooth(line)
        self._draw(line)
        self._data_changed()

    def append(self, key: str, steps: np.ndarray, values: np.ndarray, times: np.ndarray) -> None:
        """Add points logged since (live refresh): only the new points are given."""
        line = self._lines[key]
        new_values = f64(values)
        if not new_values.size:
            return
        line.steps = np.concatenate([line.steps, np.asarray(steps, dtype=np.int64)])
        line.times = np.concatenate([line.times, f64(times)])
        line.values = np.concatenate([line.values, new_values])
        if self.smoothing > 0 and line.smoothed is not None:
            more, line.ema = debiased_ema(new_values, self.smoothing, line.ema)
            line.smoothed = np.concatenate([line.smoothed, more])
        else:
            self._smooth(line)
        self._draw(line)
        self._data_changed()

    def remove(self, key: str) -> None:
        """Take a line off the chart."""
        line = self._lines.pop(key, None)
        if line is not None:
            self.plot_item.removeItem(line.raw)
            self.plot_item.removeItem(line.smooth)
            self._update_legend()
            self._data_changed()

    def set_visible(self, key: str, visible: bool) -> None:
        """Show or hide a line (hidden lines leave the legend, crosshair, scaling and CSV)."""
        line = self._lines[key]
        line.visible = visible
        line.raw.setVisible(visible)
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
        return SeriesExport(line.label, line.steps, line.values, line.times)

    def raw_item(self, key: str) -> pg.PlotDataItem:
        """The item drawing a line's points."""
        return self._lines[key].raw

    def smooth_item(self, key: str) -> pg.PlotDataItem:
        """The item drawing a line's smoothed values (hidden without smoothing)."""
        return self._lines[key].smooth

    def smoothed_values(self, key: str) -> np.ndarray | None:
        """The smoothed values of a line, aligned with its points; None without smoothing."""
        return self._lines[key].smoothed

    # ----- display options
    def set_x_mode(self, mode: XMode | str) -> None:
        """Step, wall time (date axis) or time since each line's first point."""
        mode = XMode(mode)
        if mode is self.x_mode:
            return
        self.x_mode = mode
        self.plot_item.setAxisItems({"bottom": make_axis(mode)})
        self._style_axes()
        for line in self._lines.values():
            self._draw(line)
        self.view_box.enableAutoRange(x=True)
        self._data_changed()

    def set_log_y(self, on: bool) -> None:
        """Logarithmic y (values <= 0 cannot be drawn: they leave gaps)."""
        if on == self.log_y:
            return
        self.log_y = on
        self.plot_item.setLogMode(y=on)
        for line in self._lines.values():
            self._draw(line)
        self._data_changed()

    def set_smoothing(self, weight: float) -> None:
        """Debiased EMA weight in [0, 1); 0 turns smoothing off. The raw line stays, faded."""
        weight = min(max(float(weight), 0.0), 0.999)
        if weight == self.smoothing:
            return
        self.smoothing = weight
        for line in self._lines.values():
            line.smoothed, line.ema = None, EmaState()
            self._smooth(line)
            self._pen(line)
            self._draw(line)
        self._data_changed()

    def set_ignore_outliers(self, on: bool) -> None:
        """Scale y to the 0.5%-99.5% quantiles of the visible lines (padded); points are all kept."""
        self.ignore_outliers = on
        if on:
            self._apply_robust_range()
        else:
            self.view_box.enableAutoRange(y=True)

    # ----- crosshair and export
    def values_at(self, x: float) -> list[Readout]:
        """Each visible line's (label, colour, raw y, smoothed y) at the drawn point nearest to ``x``."""
        rows: list[Readout] = []
        for line in self._lines.values():
            if not line.visible or not line.xd.size:
                continue
            yd = line.raw.getOriginalDataset()[1]
            i = int(np.clip(np.searchsorted(line.xd, x), 1, line.xd.size - 1)) if line.xd.size > 1 else 0
            if i and abs(line.xd[i - 1] - x) <= abs(line.xd[i] - x):
                i -= 1
            smooth = None
            if line.smooth.isVisible() and line.smoothed is not None:
                sx, sy = line.smooth.getOriginalDataset()
                if sx is not None and sx.size:
                    j = int(np.clip(np.searchsorted(sx, line.xd[i]), 0, sx.size - 1))
                    smooth = float(sy[j])
            rows.append((line.label, line.colour, float(yd[i]), smooth))
        return rows

    def export_data(self) -> list[SeriesExport]:
        """Every point of every visible line (full resolution), for CSV export."""
        return [self.series(k) for k, line in self._lines.items() if line.visible]

    def export_csv(self, path: str | os.PathLike[str]) -> int:
        """Write the visible lines' points as CSV; returns the number of points."""
        return write_csv(path, self.export_data())

    def export_png(self, path: str | os.PathLike[str]) -> bool:
        """Save the chart as it looks as PNG; True when written."""
        return bool(self.plot_widget.grab().save(os.fspath(path), "PNG"))

    # ----- internals
    def _readout(self, x: float) -> tuple[str, list[Readout]]:
        return format_x(self.x_mode, x), self.values_at(x)

    def _smooth(self, line: Line) -> None:
        if self.smoothing > 0:
            line.smoothed, line.ema = debiased_ema(line.values, self.smoothing)

    def _draw(self, line: Line) -> None:
        draw_line(line, self.x_mode, self.smoothing > 0)

    def _pen(self, line: Line) -> None:
        if self.smoothing > 0:
            line.raw.setPen(pg.mkPen(style.faded(line.colour), width=1))
            line.smooth.setPen(pg.mkPen(line.colour, width=2))
        else:
            line.raw.setPen(pg.mkPen(line.colour, width=1))

    def _data_changed(self) -> None:
        if self.ignore_outliers:
            self._apply_robust_range()

    def _apply_robust_range(self) -> None:
        arrays = []
        for line in self._lines.values():
            if line.visible:
                ys = [line.raw.getOriginalDataset()[1], line.smooth.getOriginalDataset()[1]]
                arrays += [np.log10(y[y > 0]) if self.log_y else y for y in ys if y is not None and y.size]
        bounds = robust_range(arrays)
        if bounds is not None:
            self.view_box.setYRange(*bounds, padding=0)

    def set_legend_shown(self, shown: bool) -> None:
        """Show the in-chart legend (on by default; the compare view has its own run list)."""
        self._legend_wanted = shown
        self._update_legend()

    def _update_legend(self) -> None:
        shown = [line for line in self._lines.values() if line.visible]
        if len(self._lines) < 2 or not getattr(self, "_legend_wanted", True):
            if self._legend is not None:
                self._legend.clear()
            return
        if self._legend is None:
            self._legend = self.plot_item.addLegend(offset=(8, 8), labelTextSize="8pt")
        self._legend.clear()
        for line in shown:
            self._legend.addItem(pg.PlotDataItem(pen=pg.mkPen(line.colour, width=2)), line.label)
        self._legend.setLabelTextColor(style.foreground())

    def _style_axes(self) -> None:
        fg = style.foreground()
        for name in ("bottom", "left"):
            axis = self.plot_item.getAxis(name)
            axis.setPen(pg.mkPen(fg))
            axis.setTextPen(pg.mkPen(fg))
            axis.setGrid(int(style.grid_alpha() * 255))

    def _restyle(self) -> None:
        self.plot_widget.setBackground(style.background())
        self._style_axes()
        for line in self._lines.values():
            if line.colour_index >= 0:
                line.colour = style.line_colour(line.colour_index)
            self._pen(line)
        self._update_legend()
        self.crosshair.restyle()

    def changeEvent(self, event: QEvent) -> None:
        """Follow palette changes (light/dark)."""
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._restyle()
        super().changeEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        """Hide the crosshair when the mouse leaves."""
        self.crosshair.hide()
        super().leaveEvent(event)
