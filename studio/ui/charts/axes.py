"""The x-axis modes of a metric chart: step, wall time, time since the first point."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import numpy as np
import pyqtgraph as pg


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


class DurationAxis(pg.AxisItem):
    """A bottom axis for seconds since the first point, labelled m:ss or h:mm:ss past a minute."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """Tick labels."""
        if max((abs(v) for v in values), default=0.0) < 60:
            return [f"{v:g}" for v in values]
        return [format_duration(v) if abs(v) >= 60 else f"0:{round(v):02d}" for v in values]


def make_axis(mode: XMode) -> Any:
    """A new bottom axis item for ``mode``."""
    if mode is XMode.WALL_TIME:
        return pg.DateAxisItem(orientation="bottom")
    if mode is XMode.RELATIVE_TIME:
        return DurationAxis(orientation="bottom")
    return pg.AxisItem(orientation="bottom")
