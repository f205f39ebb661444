"""A chart's lines: the points they hold and what they draw (numpy; safe to prepare on a worker thread).

A line's :class:`Points` never change in place: new points make a new ``Points`` (so a
worker can read them while the GUI thread goes on). What a line draws depends on the
chart's x mode and smoothing weight; :func:`prepare` computes all of it (the drawable points,
their min/max :class:`Envelope`, the smoothed values and their envelope) so that the GUI
thread only has to pick the part in view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtGui import QColor

from studio.ui.charts.axes import XMode, x_values
from studio.ui.charts.envelope import Envelope
from studio.ui.charts.smoothing import EmaState, debiased_ema


def f64(a: object) -> np.ndarray:
    """A contiguous float64 copy or view."""
    return np.ascontiguousarray(a, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Points:
    """All points of a line, as logged (NaN and inf included). Immutable."""

    steps: np.ndarray  # int64
    values: np.ndarray  # float64
    times: np.ndarray  # float64

    @classmethod
    def of(cls, steps: Any, values: Any, times: Any) -> Points:
        """Points from array-likes (copied only when not already contiguous int64/float64)."""
        return cls(np.ascontiguousarray(steps, dtype=np.int64), f64(values), f64(times))

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def extended(self, steps: Any, values: Any, times: Any) -> Points:
        """These points followed by more."""
        more = Points.of(steps, values, times)
        if not len(more):
            return self
        return Points(
            np.concatenate([self.steps, more.steps]),
            np.concatenate([self.values, more.values]),
            np.concatenate([self.times, more.times]),
        )

    def tail(self, start: int) -> Points:
        """The points from index ``start`` on."""
        return Points(self.steps[start:], self.values[start:], self.times[start:])


@dataclass(frozen=True, eq=False)
class Smoothed:
    """A line's debiased EMA: ``values`` aligned with the first ``len(values)`` points."""

    weight: float
    values: np.ndarray
    ema: EmaState  # where the EMA stopped (appended points continue it)


def smooth(points: Points, weight: float, previous: Smoothed | None = None) -> Smoothed | None:
    """The smoothed values of ``points`` (None for weight 0); continues ``previous`` when it covers a prefix."""
    if weight <= 0:
        return None
    done = 0 if previous is None or previous.weight != weight else int(previous.values.size)
    if previous is not None and done == len(points):
        return previous
    if previous is not None and 0 < done < len(points):
        more, ema = debiased_ema(points.values[done:], weight, previous.ema)
        return Smoothed(weight, np.concatenate([previous.values, more]), ema)
    values, ema = debiased_ema(points.values, weight)
    return Smoothed(weight, values, ema)


@dataclass(frozen=True, eq=False)
class Layout:
    """Where a line's points go in one x mode: the finite ones, in increasing x, and their envelope."""

    points: Points
    mode: XMode
    keep: np.ndarray | None  # which points are drawn (None: all)
    # How the kept points are sorted by x (None: already in order).
    order: np.ndarray | None
    raw: Envelope

    def arrange(self, a: np.ndarray) -> np.ndarray:
        """Values aligned with the points, in drawn order (only the drawn points)."""
        if self.keep is not None:
            a = a[self.keep]
        return a if self.order is None else a[self.order]


def lay_out(points: Points, mode: XMode) -> Layout:
    """The drawable points of ``points`` in ``mode`` and their envelope (O(points))."""
    origin = float(points.times[0]) if len(points) else 0.0
    x = x_values(mode, points.steps, points.times, origin)
    finite = np.isfinite(points.values)
    if mode is not XMode.STEP:
        finite &= np.isfinite(x)
    keep: np.ndarray | None = None
    if bool(finite.all()):  # the common case: nothing to drop, no copy
        xd, yd = x, points.values
    else:
        keep = finite
        xd, yd = x[keep], points.values[keep]
    order = None
    if xd.size > 1 and not bool(np.all(xd[1:] >= xd[:-1])):
        order = np.argsort(xd, kind="stable")  # drawing and crosshair need increasing x
        xd, yd = xd[order], yd[order]
    return Layout(points, mode, keep, order, Envelope(xd, yd))


@dataclass(frozen=True, eq=False)
class SmoothLayout:
    """The envelope of a line's smoothed values, for one layout and one smoothing."""

    layout: Layout
    smoothed: Smoothed
    envelope: Envelope


def lay_out_smoothed(layout: Layout, smoothed: Smoothed) -> SmoothLayout:
    """The smoothed values at the drawn points' x (non-finite ones left out) and their envelope."""
    s = layout.arrange(smoothed.values)
    ok = np.isfinite(s)
    if bool(ok.all()):
        return SmoothLayout(layout, smoothed, Envelope(layout.raw.x, s))
    return SmoothLayout(layout, smoothed, Envelope(layout.raw.x[ok], s[ok]))


@dataclass(frozen=True, eq=False)
class Prepared:
    """A line's points with what it draws (whatever is None is computed when needed)."""

    points: Points
    smoothed: Smoothed | None = None
    layout: Layout | None = None
    smooth_layout: SmoothLayout | None = None


def prepare(points: Points, mode: XMode, weight: float, previous: Smoothed | None = None) -> Prepared:
    """Everything a line draws in ``mode`` with smoothing ``weight`` (O(points); for a worker thread)."""
    smoothed = smooth(points, weight, previous)
    layout = lay_out(points, mode)
    smooth_layout = lay_out_smoothed(layout, smoothed) if smoothed is not None else None
    return Prepared(points, smoothed, layout, smooth_layout)


@dataclass(eq=False)
class Line:
    """One line of a chart: its points, what it draws (cached) and its plot items once the plot exists."""

    key: str
    label: str
    colour: QColor
    colour_index: int  # -1: a colour given by the caller
    points: Points
    smoothed: Smoothed | None = None
    layout: Layout | None = None
    smooth_layout: SmoothLayout | None = None
    visible: bool = True
    raw: Any = None  # EnvelopeItem once the chart's plot is built
    smooth: Any = None

    def take(self, prepared: Prepared) -> None:
        """Use these points and whatever was prepared for them."""
        self.points = prepared.points
        self.smoothed, self.layout, self.smooth_layout = prepared.smoothed, prepared.layout, prepared.smooth_layout

    def prepared(self) -> Prepared:
        """The points and what is computed for them (to move the line to another chart)."""
        return Prepared(self.points, self.smoothed, self.layout, self.smooth_layout)

    def layout_for(self, mode: XMode) -> Layout:
        """The layout in ``mode`` (computed now if the cached one is for other points or another mode)."""
        layout = self.layout
        if layout is None or layout.mode is not mode or layout.points is not self.points:
            layout = self.layout = lay_out(self.points, mode)
        return layout

    def smoothed_for(self, weight: float) -> Smoothed | None:
        """The smoothed values for ``weight`` (None for 0), continuing the cached EMA when it can."""
        if weight <= 0:
            return None
        cached = self.smoothed
        if cached is not None and cached.values.size > len(self.points):
            cached = None  # other points than these
        self.smoothed = smooth(self.points, weight, cached)
        return self.smoothed

    def smooth_layout_for(self, mode: XMode, weight: float) -> SmoothLayout | None:
        """The smoothed line's envelope in ``mode`` for ``weight`` (None without smoothing)."""
        smoothed = self.smoothed_for(weight)
        if smoothed is None:
            return None
        layout = self.layout_for(mode)
        cached = self.smooth_layout
        if cached is None or cached.layout is not layout or cached.smoothed is not smoothed:
            cached = self.smooth_layout = lay_out_smoothed(layout, smoothed)
        return cached
