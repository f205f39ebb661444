"""The table model behind the compute pane (one row per instance, updated in place) and its texts."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from studio.core.compute import ComputeInfo, ComputeState
from studio.core.validation import COMPUTE_NAME, COMPUTE_NAME_RULE

_Index = QModelIndex | QPersistentModelIndex

NAME, STATE, RUNNING, QUEUED, MAX_JOBS, IDLE = range(6)
HEADERS = ("Name", "State", "Running", "Queued", "Max jobs", "Idle shutdown")

#: The record of a row (``ComputeInfo``), for views and tests.
INFO_ROLE = Qt.ItemDataRole.UserRole + 1

_GREEN, _BLUE, _GREY, _AMBER, _RED = "#2e9d4f", "#1e88e5", "#9e9e9e", "#f0a30a", "#d9363e"  # as in status_style
STATE_COLORS: dict[ComputeState, str] = {
    ComputeState.RUNNING: _GREEN,
    ComputeState.JOB_RUNNING: _BLUE,
    ComputeState.STOPPED: _GREY,
    ComputeState.STARTING: _AMBER,
    ComputeState.STOPPING: _AMBER,
    ComputeState.RESTARTING: _AMBER,
    ComputeState.CREATING: _AMBER,
    ComputeState.DELETING: _AMBER,
    ComputeState.UNUSABLE: _RED,
}
TRANSITIONAL = frozenset(
    {
        ComputeState.STARTING,
        ComputeState.STOPPING,
        ComputeState.RESTARTING,
        ComputeState.CREATING,
        ComputeState.DELETING,
    }
)

_icons: dict[str, QIcon] = {}


def status_icon(color: str) -> QIcon:
    """A small filled circle of ``color`` (cached; needs a QGuiApplication)."""
    icon = _icons.get(color)
    if icon is None:
        icon = QIcon()
        for size in (16, 32):
            pixmap = QPixmap(size, size)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            fill = QColor(color)
            painter.setPen(fill.darker(130))
            painter.setBrush(fill)
            margin = size * 0.22
            painter.drawEllipse(QRectF(margin, margin, size - 2 * margin, size - 2 * margin))
            painter.end()
            icon.addPixmap(pixmap)
        _icons[color] = icon
    return icon


def state_text(state: ComputeState) -> str:
    """The state as shown: transitional states end with an ellipsis ("Starting…")."""
    if state == ComputeState.JOB_RUNNING:
        return "Running jobs"  # Azure's JobRunning, in words
    return f"{state.value}…" if state in TRANSITIONAL else state.value


def idle_text(minutes: float | None) -> str:
    """The idle shutdown setting as shown: "-" or "30 min"."""
    return "-" if minutes is None else f"{minutes:g} min"


NAME_RULE = COMPUTE_NAME_RULE


def name_problem(name: str, existing: set[str]) -> str:
    """Why ``name`` cannot be a new compute instance's name, or "" if it can."""
    if COMPUTE_NAME.match(name):
        return f"{name} already exists." if name in existing else ""
    if not name:
        return "Enter a name: " + NAME_RULE
    if not re.fullmatch(r"[A-Za-z0-9-]*", name):
        return "Use only letters (a-z), digits and '-'."
    if not name[0].isalpha():
        return "Start the name with a letter."
    return "Use 2 to 24 characters." if len(name) > 1 else "Use at least 2 characters."


def jobs_text(count: int, kind: str) -> str:
    """ "1 running job", "2 queued jobs"."""
    return f"{count} {kind} job" + ("" if count == 1 else "s")


def _alignment(column: int) -> int:
    """Quantities (job counts, idle time) to the right, names and states to the left."""
    horizontal = Qt.AlignmentFlag.AlignLeft if column in (NAME, STATE) else Qt.AlignmentFlag.AlignRight
    return int(horizontal | Qt.AlignmentFlag.AlignVCenter)


class ComputeModel(QAbstractTableModel):
    """Compute instances as rows (Name, State, Running, Queued, Max jobs, Idle shutdown).

    Rows are identified by instance name: :meth:`set_instances` changes, inserts and
    removes rows in place, so selections and persistent indexes stay on their instance.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ComputeInfo] = []

    # -- reading -------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        """Number of instances (a table: no children)."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        """Six columns."""
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Column titles, aligned like their cells."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole:
            return _alignment(section)
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text, status icon, tooltip and alignment of a cell."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        info, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(info, column)
        if role == INFO_ROLE:
            return info
        if column == STATE:
            if role == Qt.ItemDataRole.DecorationRole:
                return status_icon(STATE_COLORS.get(info.state, _GREY))
            if role == Qt.ItemDataRole.ToolTipRole:
                return info.state_reason or None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _alignment(column)
        return None

    @staticmethod
    def _text(info: ComputeInfo, column: int) -> str:
        if column == NAME:
            return info.name
        if column == STATE:
            return state_text(info.state)
        if column == RUNNING:
            return str(info.running_jobs)
        if column == QUEUED:
            return str(info.queued_jobs)
        if column == MAX_JOBS:
            return str(info.max_concurrent_jobs)
        return idle_text(info.idle_shutdown_minutes)

    def instances(self) -> list[ComputeInfo]:
        """The instances shown, in row order."""
        return list(self._rows)

    def info(self, row: int) -> ComputeInfo | None:
        """The instance of a row, or None."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, name: str) -> int:
        """The row of the instance named ``name``, or -1."""
        return next((i for i, info in enumerate(self._rows) if info.name == name), -1)

    # -- updating ------------------------------------------------------------------------------

    def set_instances(self, instances: list[ComputeInfo]) -> bool:
        """Show ``instances`` in their order, changing only what differs; True if anything did."""
        wanted = {info.name for info in instances}
        changed = False
        for row in reversed(range(len(self._rows))):
            if self._rows[row].name not in wanted:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
                changed = True
        for row, info in enumerate(instances):
            current = self.row_of(info.name)
            if current == -1:
                self.beginInsertRows(QModelIndex(), row, row)
                self._rows.insert(row, info)
                self.endInsertRows()
                changed = True
                continue
            if current != row:
                self.beginMoveRows(QModelIndex(), current, current, QModelIndex(), row)
                self._rows.insert(row, self._rows.pop(current))
                self.endMoveRows()
                changed = True
            if self._rows[row] != info:
                self._rows[row] = info
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))
                changed = True
        return changed
