"""Status icons and colours shared by the panes (drawn once, cached)."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

from studio.core.status import RunStatus

STATUS_COLOURS = {
    RunStatus.NOT_STARTED: "#9e9e9e",
    RunStatus.QUEUED: "#9e9e9e",
    RunStatus.PREPARING: "#f0a30a",
    RunStatus.STARTING: "#f0a30a",
    RunStatus.RUNNING: "#1e88e5",
    RunStatus.FINALIZING: "#1e88e5",
    RunStatus.CANCEL_REQUESTED: "#f0a30a",
    RunStatus.COMPLETED: "#2e9d4f",
    RunStatus.FAILED: "#d9363e",
    RunStatus.CANCELED: "#757575",
}


@cache
def status_icon(status: RunStatus) -> QIcon:
    """A small coloured disc (a ring for runs that have not started)."""
    pix = QPixmap(16, 16)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor(STATUS_COLOURS[status])
    rect = QRectF(3, 3, 10, 10)
    if status in (RunStatus.QUEUED, RunStatus.NOT_STARTED):
        painter.setPen(QPen(colour, 2))
        painter.drawEllipse(rect)
    else:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(rect)
        if status == RunStatus.FAILED:
            painter.setPen(QPen(QColor("white"), 1.6))
            painter.drawLine(6, 6, 10, 10)
            painter.drawLine(10, 6, 6, 10)
    painter.end()
    return QIcon(pix)


def format_duration(seconds: float | None) -> str:
    """``1:02:03``, ``4:05`` or ``7 s``."""
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
