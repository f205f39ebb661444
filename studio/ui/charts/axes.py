"""The x-axis modes of a metric chart: step, wall time, time since the first point."""

from __future__ import annotations

import datetime as dt
import math
from enum import StrEnum
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter


class XMode(StrEnum):
    """What a chart's x-axis shows."""

    STEP = "step"
    WALL_TIME = "wall"
    RELATIVE_TIME = "relative"

    @property
    def label(self) -> str:
        """The name shown in the x-axis chooser."""
        return {"step": "Step", "wall": "Wall time", "relative": "Relative time"}[self.value]


def x_values(mode: XMode, steps: np.ndarray, times: np.ndarray, origin: float | None = None) -> np.ndarray:
    """The x coordinates of points in ``mode`` (float64). ``origin``: the line's first time (relative mode)."""
    if mode is XMode.STEP:
        return np.asarray(steps, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    if mode is XMode.WALL_TIME:
        return times
    first = origin if origin is not None else (float(times[0]) if times.size else 0.0)
    return times - first


def format_duration(seconds: float) -> str:
    """``12.5 s``, ``3:05`` (m:ss) or ``2:03:05`` (h:mm:ss)."""
    if not np.isfinite(seconds):
        return str(seconds)
    sign, s = ("-" if seconds < 0 else ""), abs(seconds)
    if s < 60:
        return f"{sign}{s:.3g} s"
    whole = round(s)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}"


def format_x(mode: XMode, x: float) -> str:
    """An x coordinate as the crosshair shows it."""
    if mode is XMode.STEP:
        return f"step {round(x):,}"
    if mode is XMode.WALL_TIME:
        try:
            return dt.datetime.fromtimestamp(x).strftime("%Y-%m-%d %H:%M:%S")
        except (OverflowError, OSError, ValueError):
            return f"{x:g}"
    return format_duration(x)


class FastGrid:
    """Draws an axis' grid lines as filled spans instead of lines (mixed into pyqtgraph axes).

    With a grid, every tick is a translucent line across the whole plot, and Qt's raster
    engine draws translucent 1-pixel lines pixel by pixel: most of a chart's first paint.
    Horizontal lines become 1-pixel-high rectangles (filled a row at a time); vertical ones
    are one 1-pixel-high image of all of them, stretched down the plot. Same pixels, much
    faster.
    """

    grid: Any

    def drawPicture(self, p: QPainter, axisSpec: Any, tickSpecs: list[Any], textSpecs: list[Any]) -> None:
        """pyqtgraph's, with the grid lines drawn fast."""
        if self.grid is False:
            super().drawPicture(p, axisSpec, tickSpecs, textSpecs)  # type: ignore[misc]
            return
        rows: list[tuple[QColor, float, float, float]] = []
        columns: list[tuple[QColor, float, float, float]] = []
        others = []
        for pen, p1, p2 in tickSpecs:
            colour = QColor(pen.color())
            if p1.y() == p2.y():
                rows.append((colour, p1.y(), min(p1.x(), p2.x()), max(p1.x(), p2.x())))
            elif p1.x() == p2.x():
                columns.append((colour, p1.x(), min(p1.y(), p2.y()), max(p1.y(), p2.y())))
            else:
                others.append((pen, p1, p2))
        for colour, y, x0, x1 in rows:
            p.fillRect(QRectF(math.floor(x0), math.floor(y), math.ceil(x1) - math.floor(x0) + 1, 1), colour)
        if columns:
            left = math.floor(min(c[1] for c in columns))
            width = math.floor(max(c[1] for c in columns)) - left + 1
            strip = QImage(width, 1, QImage.Format.Format_ARGB32_Premultiplied)
            strip.fill(0)
            for colour, x, _y0, _y1 in columns:
                at = math.floor(x) - left
                if strip.pixelColor(at, 0).alpha() < colour.alpha():
                    strip.setPixelColor(at, 0, colour)
            top = math.floor(min(c[2] for c in columns))
            bottom = math.ceil(max(c[3] for c in columns))
            p.drawImage(QRectF(left, top, width, bottom - top + 1), strip)
        super().drawPicture(p, axisSpec, others, textSpecs)  # type: ignore[misc]


class Axis(FastGrid, pg.AxisItem):
    """pyqtgraph's axis with a fast grid."""


class DateAxis(FastGrid, pg.DateAxisItem):
    """pyqtgraph's date axis with a fast grid."""


class DurationAxis(FastGrid, pg.AxisItem):
    """A bottom axis for seconds since the first point, labelled m:ss or h:mm:ss past a minute."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Tick labels."""
        if max((abs(v) for v in values), default=0.0) < 60:
            return [f"{v:g}" for v in values]
        return [format_duration(v) if abs(v) >= 60 else f"0:{round(v):02d}" for v in values]


def make_axis(mode: XMode) -> Any:
    """A new bottom axis item for ``mode``."""
    if mode is XMode.WALL_TIME:
        return DateAxis(orientation="bottom")
    if mode is XMode.RELATIVE_TIME:
        return DurationAxis(orientation="bottom")
    return Axis(orientation="bottom")
