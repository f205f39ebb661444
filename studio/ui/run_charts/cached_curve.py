"""A curve item that keeps its last drawing as an image: repaints for a hover highlight are a blit.

Ten thousand translucent polylines take 80-150 ms to draw on this machine; the highlight of the
run under the mouse asks for a repaint at every move. The image is redrawn only when the data,
the pen, the view's transform or the size of what is painted changes. (Qt's own
``DeviceCoordinateCache`` took seconds to fill for this item: it draws without a clip.)
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter


class CachedCurve(pg.PlotCurveItem):
    """A PlotCurveItem painted from an image of its last drawing while nothing that shows changed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._image: QImage | None = None
        self._key: tuple[Any, ...] = ()

    def invalidate(self) -> None:
        """Draw again at the next paint (after new data or a new pen)."""
        self._image = None
        self.update()

    def setData(self, *args: Any, **kwargs: Any) -> None:
        """New data: the image is stale."""
        self._image = None
        super().setData(*args, **kwargs)

    def setPen(self, *args: Any, **kwargs: Any) -> None:
        """A new pen: the image is stale."""
        self._image = None
        super().setPen(*args, **kwargs)

    def paint(self, p: QPainter, opt: Any, widget: Any) -> None:
        """Blit the image of the last drawing, drawing it first if anything that shows changed."""
        device = p.device()
        if device is None:
            super().paint(p, opt, widget)
            return
        ratio = device.devicePixelRatioF()
        transform = p.deviceTransform()
        size = (round(device.width() * ratio), round(device.height() * ratio))
        key = (
            *size,
            transform.m11(),
            transform.m12(),
            transform.m21(),
            transform.m22(),
            transform.dx(),
            transform.dy(),
        )
        if self._image is None or key != self._key:
            image = QImage(size[0], size[1], QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(Qt.GlobalColor.transparent)
            painter = QPainter(image)
            # With a clip Qt's raster engine takes its fast path for thin lines: about 20 times
            # faster here than the same lines drawn without one (as the widget's painter has one).
            painter.setClipRect(image.rect())
            painter.setTransform(transform)
            super().paint(painter, opt, widget)
            painter.end()
            image.setDevicePixelRatio(ratio)
            self._image, self._key = image, key
        p.save()
        p.resetTransform()
        p.drawImage(0, 0, self._image)
        p.restore()
