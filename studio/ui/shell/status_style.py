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
    RunStatus.PROVISIONING: "#f0a30a",
    RunStatus.NOT_RESPONDING: "#e8590c",
    RunStatus.PAUSED: "#9e9e9e",
    RunStatus.UNKNOWN: "#bdbdbd",
    RunStatus.COMPLETED: "#2e9d4f",
    RunStatus.FAILED: "#d9363e",
    RunStatus.CANCELED: "#757575",
}

STATUS_LABELS = {
    RunStatus.NOT_STARTED: "Not started",
    RunStatus.QUEUED: "Queued",
    RunStatus.PREPARING: "Preparing",
    RunStatus.STARTING: "Starting",
    RunStatus.RUNNING: "Running",
    RunStatus.FINALIZING: "Finalizing",
    RunStatus.CANCEL_REQUESTED: "Cancel requested",
    RunStatus.COMPLETED: "Completed",
    RunStatus.FAILED: "Failed",
    RunStatus.CANCELED: "Canceled",
    RunStatus.PROVISIONING: "Provisioning",
    RunStatus.NOT_RESPONDING: "Not responding",
    RunStatus.PAUSED: "Paused",
    RunStatus.UNKNOWN: "Unknown",
}
"""Words for each status, for tooltips and texts (the tables show RunStatus values, Azure's names)."""


def status_label(status: RunStatus) -> str:
    """The status in words ("Cancel requested")."""
    return STATUS_LABELS.get(status, status.value)


@cache
def status_icon(status: RunStatus) -> QIcon:
    """A small coloured disc (a ring for runs that have not started)."""
    pix = QPixmap(16, 16)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor(STATUS_COLOURS[status])
    rect = QRectF(3, 3, 10, 10)
    if status in (RunStatus.QUEUED, RunStatus.NOT_STARTED, RunStatus.PAUSED, RunStatus.UNKNOWN):
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
        elif status == RunStatus.NOT_RESPONDING:  # an exclamation mark: the job stopped answering
            painter.setPen(QPen(QColor("white"), 1.6))
            painter.drawLine(8, 5, 8, 9)
            painter.drawPoint(8, 11)
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
