"""Min/max envelopes of a line at every zoom level, so that drawing costs O(pixels), not O(points).

An :class:`Envelope` holds a line's drawable points (finite, in increasing x) and, for bucket
sizes 4, 8, 16, ... points, the lowest and highest value of each bucket (a pyramid, about one
float per point in all). Drawing a view picks the level with a few buckets per pixel and
hands out the min and max of each bucket in view: every point's envelope stays visible,
spikes included, whatever the zoom. Building the pyramid is O(points) and can run on a
worker thread; :meth:`Envelope.view` is O(log points + pixels). numpy only, no Qt.
"""

from __future__ import annotations

import math

import numpy as np

FIRST_BUCKET = 4
"""Points per bucket at the finest level; each coarser level doubles it."""
BUCKETS_PER_PIXEL = 2
"""The drawn level has at most this many buckets per pixel (and at least half as many)."""
RAW_PER_PIXEL = 4
"""Up to this many points per pixel in view are drawn as they are, without bucketing."""
_COARSEST = 64
"""Levels stop once they have at most this many buckets."""


def _halve(a: np.ndarray, op: np.ufunc) -> np.ndarray:
    """Combine neighbours pairwise (an odd last element stays alone)."""
    half = a.size // 2
    out = np.empty(half + a.size % 2)
    op(a[0 : 2 * half : 2], a[1 : 2 * half : 2], out=out[:half])
    if a.size % 2:
        out[-1] = a[-1]
    return out


def _first_level(y: np.ndarray, op: np.ufunc) -> np.ndarray:
    """``op`` over buckets of FIRST_BUCKET points (the last one may be shorter)."""
    full = y.size // FIRST_BUCKET
    end = full * FIRST_BUCKET
    out = np.empty(full + (1 if y.size % FIRST_BUCKET else 0))
    head = out[:full]
    op(y[0:end:4], y[1:end:4], out=head)
    op(head, y[2:end:4], out=head)
    op(head, y[3:end:4], out=head)
    if end < y.size:
        out[-1] = op.reduce(y[end:])
    return out


class Envelope:
    """A line's drawable points and their min/max pyramid (immutable once built)."""

    __slots__ = ("highs", "lows", "x", "x_range", "y", "y_min_positive", "y_range")

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        """``x`` finite and increasing, ``y`` finite, same length (not copied: do not modify them)."""
        self.x, self.y = x, y
        self.lows: list[np.ndarray] = []
        self.highs: list[np.ndarray] = []
        if x.size:
            self.x_range = (float(x[0]), float(x[-1]))
            self.y_range = (float(y.min()), float(y.max()))
            positive = float(np.min(y, where=y > 0, initial=math.inf))
            self.y_min_positive = positive if math.isfinite(positive) else None
        else:
            self.x_range = self.y_range = (math.nan, math.nan)
            self.y_min_positive = None
        if x.size > RAW_PER_PIXEL * 16:
            lo, hi = _first_level(y, np.minimum), _first_level(y, np.maximum)
            while True:
                self.lows.append(lo)
                self.highs.append(hi)
                if lo.size <= _COARSEST:
                    break
                lo, hi = _halve(lo, np.minimum), _halve(hi, np.maximum)

    def __len__(self) -> int:
        return int(self.x.size)

    def view(self, x0: float, x1: float, pixels: float) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray]:
        """What to draw for the x range ``x0``..``x1`` on ``pixels`` pixels: (key, x, y).

        The points themselves when few are in view, else two points (bucket max, then min) per
        bucket at the bucket's first x, then the first point past the range (or the last point):
        one point either side of the range is included, so the line reaches the edges. The key
        is the same for the same output (level, first, end).
        """
        x, n = self.x, int(self.x.size)
        if n == 0:
            return (-1, 0, 0), x, self.y
        i0 = max(int(np.searchsorted(x, x0, "left")) - 1, 0)
        i1 = min(int(np.searchsorted(x, x1, "right")) + 1, n)
        i1 = max(i1, min(i0 + 1, n))
        count = i1 - i0
        pixels = max(float(pixels), 1.0)
        if count <= RAW_PER_PIXEL * pixels or not self.lows:
            return (-1, i0, i1), x[i0:i1], self.y[i0:i1]
        level = len(self.lows) - 1
        for k in range(len(self.lows)):
            if count / (FIRST_BUCKET << k) <= BUCKETS_PER_PIXEL * pixels:
                level = k
                break
        size = FIRST_BUCKET << level
        k0, k1 = i0 // size, (i1 - 1) // size + 1
        m = k1 - k0
        xo = np.empty(2 * m + 1)
        yo = np.empty(2 * m + 1)
        starts = x[k0 * size : (k1 - 1) * size + 1 : size]
        xo[0 : 2 * m : 2] = starts
        xo[1 : 2 * m : 2] = starts
        yo[0 : 2 * m : 2] = self.highs[level][k0:k1]
        yo[1 : 2 * m : 2] = self.lows[level][k0:k1]
        # End on the first point past the view (or the last point): the line reaches the edge.
        xo[-1], yo[-1] = x[i1 - 1], self.y[i1 - 1]
        return (level, k0, k1), xo, yo

    def nearest(self, at: float) -> int:
        """The index of the point whose x is nearest to ``at`` (-1 without points)."""
        x, n = self.x, int(self.x.size)
        if n == 0:
            return -1
        if n == 1:
            return 0
        i = int(np.clip(np.searchsorted(x, at), 1, n - 1))
        return i - 1 if abs(x[i - 1] - at) <= abs(x[i] - at) else i
