"""A chart's lines: the points they hold and what their plot items are given to draw."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from studio.ui.charts.axes import XMode, x_values
from studio.ui.charts.smoothing import EmaState


@dataclass(eq=False)
class Line:
    """One line of a chart: all of its points, its plot items and its smoothing state."""

    key: str
    label: str
    colour: QColor
    colour_index: int  # -1: a colour given by the caller
    steps: np.ndarray
    values: np.ndarray
    times: np.ndarray
    raw: pg.PlotDataItem
    smooth: pg.PlotDataItem
    visible: bool = True
    smoothed: np.ndarray | None = None  # aligned with values; None without smoothing
    ema: EmaState = field(default_factory=EmaState)
    xd: np.ndarray = field(default_factory=lambda: np.empty(0))  # drawn (finite, sorted) x of the raw line


def f64(a: object) -> np.ndarray:
    """A contiguous float64 copy or view."""
    return np.ascontiguousarray(a, dtype=np.float64)


FEW_POINTS = 30
#: ds <= points / (plot width px * autoDownsampleFactor 5): padding 2 % covers plots >= 10 px wide.
TAIL_PAD_DIVISOR = 50
#: Below this many points a plot wider than 400 px draws every point (no downsampling, no padding).
NO_DOWNSAMPLING = 2000


def draw_line(line: Line, mode: XMode, smoothing: bool) -> None:
    """Give a line's items what they draw: finite points in increasing x; the smoothed values if ``smoothing``."""
    origin = float(line.times[0]) if line.times.size else 0.0
    x = x_values(mode, line.steps, line.times, origin)
    keep = np.isfinite(x) & np.isfinite(line.values)  # in log-y, values <= 0 become gaps (pyqtgraph: NaN)
    order = None
    xd = x[keep]
    if xd.size > 1 and not bool(np.all(xd[1:] >= xd[:-1])):
        order = np.argsort(xd, kind="stable")  # clip-to-view needs increasing x
        xd = xd[order]
    yd = line.values[keep] if order is None else line.values[keep][order]
    line.xd = xd
    if xd.size <= FEW_POINTS:  # a lone point or a few epochs: show the points themselves
        line.raw.setData(x=xd, y=yd, symbol="o", symbolSize=6, symbolPen=None, symbolBrush=line.colour)
    elif xd.size <= NO_DOWNSAMPLING:
        line.raw.setData(x=xd, y=yd, symbol=None)
    else:
        # pyqtgraph's peak downsampling drops the last partial bucket (up to ds - 1 points).
        # Repeating the last point fills that bucket, so the newest points stay drawn.
        pad = xd.size // TAIL_PAD_DIVISOR + 1
        xp = np.concatenate([xd, np.full(pad, xd[-1])])
        yp = np.concatenate([yd, np.full(pad, yd[-1])])
        line.raw.setData(x=xp, y=yp, symbol=None)
    smoothing = smoothing and line.smoothed is not None
    if smoothing and line.smoothed is not None:
        s = line.smoothed[keep] if order is None else line.smoothed[keep][order]
        ok = np.isfinite(s)
        line.smooth.setData(x=xd[ok], y=s[ok])
    else:
        line.smooth.setData(x=np.empty(0), y=np.empty(0))
    line.smooth.setVisible(smoothing and line.visible)
