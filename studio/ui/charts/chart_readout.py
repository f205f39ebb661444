"""Reading a chart's lines: their values at an x (the crosshair) and the y range they span (outlier scaling).

Both work from the lines' layouts (computed on demand), not from the plot: a chart that is not
built yet can answer them too.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from studio.ui.charts.axes import XMode
from studio.ui.charts.chart_lines import Line
from studio.ui.charts.crosshair import Readout
from studio.ui.charts.scaling import robust_range


def values_at(lines: Iterable[Line], mode: XMode, smoothing: float, x: float) -> list[Readout]:
    """Each visible line's (label, colour, raw y, smoothed y) at the drawn point nearest to ``x``."""
    rows: list[Readout] = []
    for line in lines:
        if not line.visible:
            continue
        raw = line.layout_for(mode).raw
        i = raw.nearest(x)
        if i < 0:
            continue
        smooth = None
        smooth_layout = line.smooth_layout_for(mode, smoothing)
        if smooth_layout is not None:
            env = smooth_layout.envelope
            if len(env):
                j = int(np.clip(np.searchsorted(env.x, raw.x[i]), 0, len(env) - 1))
                smooth = float(env.y[j])
        rows.append((line.label, line.colour, float(raw.y[i]), smooth))
    return rows


def robust_y_range(lines: Iterable[Line], mode: XMode, smoothing: float, log_y: bool) -> tuple[float, float] | None:
    """The y range of the visible lines' drawn points (raw and smoothed) without outliers; None if none.

    In log y the range is in decades (log10 of the positive values), as the view box takes it.
    """
    arrays = []
    for line in lines:
        if line.visible:
            ys = [line.layout_for(mode).raw.y]
            smooth_layout = line.smooth_layout_for(mode, smoothing)
            if smooth_layout is not None:
                ys.append(smooth_layout.envelope.y)
            arrays += [np.log10(y[y > 0]) if log_y else y for y in ys if y.size]
    return robust_range(arrays)
