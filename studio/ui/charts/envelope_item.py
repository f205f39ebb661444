"""A plot item that draws an :class:`Envelope` at the resolution of its view.

pyqtgraph's own peak downsampling and clip-to-view go over every point in view at each
redraw (and its data bounds over all of them). This item keeps the line's envelope and,
whenever the x range or the plot's width changes, gives its curve only the buckets in view:
O(pixels) on the GUI thread per pan, zoom or new data, whatever the number of points.
Its data bounds (for auto-range) are those of all points, precomputed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from studio.ui.charts.envelope import Envelope

FEW_POINTS = 30
"""A line of this many points or fewer is drawn with a marker on each (a lone point, a few epochs)."""
_DEFAULT_PIXELS = 1000.0  # the plot's width before it is laid out
_EMPTY = np.empty(0)


class EnvelopeItem(pg.PlotDataItem):
    """A line drawn from its envelope; ``set_envelope`` replaces what it shows."""

    def __init__(self) -> None:
        super().__init__(connect="finite", skipFiniteCheck=True)
        self._envelope: Envelope | None = None
        self._marker: QColor | None = None
        self._key: tuple[Any, ...] | None = None

    @property
    def envelope(self) -> Envelope | None:
        """What the item draws (all of the line's drawable points)."""
        return self._envelope

    def set_envelope(self, envelope: Envelope | None, marker: QColor | None = None) -> None:
        """Draw this envelope (None: nothing); ``marker``: the symbol colour when the line has few points."""
        self._envelope = envelope
        self._marker = marker if envelope is not None and len(envelope) <= FEW_POINTS else None
        self._key = None
        self.refresh()

    def refresh(self) -> None:
        """Hand the curve the part of the envelope in view (nothing if it is already shown)."""
        envelope = self._envelope
        if envelope is None or not len(envelope):
            if self._key != ():
                self._key = ()
                super().setData(x=_EMPTY, y=_EMPTY, symbol=None)
            return
        x0, x1, pixels = -math.inf, math.inf, _DEFAULT_PIXELS
        view = self.getViewBox()
        if view is not None:
            if view.width() >= 2:
                pixels = float(view.width())
            if not view.autoRangeEnabled()[0]:  # with x auto-range, everything is in view
                (x0, x1), _y = view.viewRange()
        key, x, y = envelope.view(x0, x1, pixels)
        full_key = (key, self._marker is not None)
        if full_key == self._key:
            return
        self._key = full_key
        if self._marker is not None:
            super().setData(x=x, y=y, symbol="o", symbolSize=6, symbolPen=None, symbolBrush=self._marker)
        else:
            super().setData(x=x, y=y, symbol=None)

    def viewRangeChanged(self, vb: Any = None, ranges: Any = None, changed: Any = None) -> None:
        """Redraw at the new x range's resolution."""
        if changed is None or changed[0]:
            self.refresh()
        super().viewRangeChanged(vb, ranges, changed)

    def dataBounds(
        self, ax: int, frac: float = 1.0, orthoRange: tuple[float, float] | None = None
    ) -> tuple[float, float] | tuple[None, None]:
        """The range of all of the line's points (not only those drawn), in the plot's coordinates."""
        envelope = self._envelope
        if envelope is None or not len(envelope):
            return (None, None)
        if ax == 0:
            return envelope.x_range
        if self.opts["logMode"][1]:
            low = envelope.y_min_positive
            if low is None:
                return (None, None)
            return (math.log10(low), math.log10(envelope.y_range[1]))
        return envelope.y_range
