"""The table model behind the compute pane: one row per instance or cluster, updated in place.

Columns fit the kind, decided from the rows themselves (no call to ask): the local kind counts jobs per
instance (Name, State, Running, Queued, Max jobs, Idle shutdown); Azure does not and has clusters (Name,
Type, State, VM size, Nodes, Idle shutdown, Up for, Assigned to). While the pane follows an operation, the
state cell shows the time spent so far ("Starting… 0:42"), refreshed by :meth:`ComputeModel.tick`.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from studio.core.compute import CLUSTER, ComputeAction, ComputeInfo, up_text
from studio.ui.compute.compute_texts import (
    NAME_RULE,
    elapsed_text,
    idle_text,
    jobs_text,
    name_problem,
    state_color,
    state_text,
    type_text,
    up_for,
)

__all__ = ["INFO_ROLE", "NAME_RULE", "ComputeModel", "jobs_text", "name_problem", "state_text", "status_icon"]

_Index = QModelIndex | QPersistentModelIndex

NAME, STATE, RUNNING, QUEUED, MAX_JOBS, IDLE = range(6)
"""Columns of the local layout."""
LOCAL_COLUMNS = ("name", "state", "running", "queued", "max_jobs", "idle")
AZURE_COLUMNS = ("name", "type", "state", "vm_size", "nodes", "idle", "up_for", "assigned")
TITLES = {
    "name": "Name",
    "type": "Type",
    "state": "State",
    "running": "Running",
    "queued": "Queued",
    "max_jobs": "Max jobs",
    "vm_size": "VM size",
    "nodes": "Nodes",
    "idle": "Idle shutdown",
    "up_for": "Up for",
    "assigned": "Assigned to",
}
HEADERS = tuple(TITLES[c] for c in LOCAL_COLUMNS)
_RIGHT = frozenset({"running", "queued", "max_jobs", "idle", "up_for"})

#: The record of a row (``ComputeInfo``), for views and tests.
INFO_ROLE = Qt.ItemDataRole.UserRole + 1

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


def wants_azure_columns(infos: list[ComputeInfo]) -> bool:
    """True when the rows come from a kind without job counts per instance, or include clusters."""
    return any(not i.counts_jobs or i.kind == CLUSTER for i in infos)


def operation_start(info: ComputeInfo, followed_since: float | None) -> float | None:
    """When the state's operation began: the pane's own click, else the service's in-progress operation."""
    if followed_since is not None:
        return followed_since
    if info.state.is_transitional and info.last_operation_at and info.last_operation_status in ("", "InProgress"):
        return info.last_operation_at
    return None


def state_cell(info: ComputeInfo, followed_since: float | None, now: float | None = None) -> str:
    """ "Starting… 0:42" while an operation is under way and its start is known, else the state's label."""
    since = operation_start(info, followed_since) if info.state.is_transitional else None
    label = state_text(info.state)
    if since is None:
        return label
    return f"{label} {elapsed_text((time.time() if now is None else now) - since)}"


class ComputeModel(QAbstractTableModel):
    """Compute instances (and clusters) as rows; columns as :data:`LOCAL_COLUMNS` or :data:`AZURE_COLUMNS`.

    Rows are identified by name: :meth:`set_instances` changes, inserts and removes rows in place, so
    selections and persistent indexes stay on their instance.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ComputeInfo] = []
        self._columns: tuple[str, ...] = LOCAL_COLUMNS
        self._followed: dict[str, float] = {}  # name -> when the pane's operation on it began (epoch)
        self._problems: dict[str, str] = {}  # name -> the last failure of the pane's operation on it

    # -- reading -------------------------------------------------------------------------------

    @property
    def columns(self) -> tuple[str, ...]:
        """The column keys shown, in order."""
        return self._columns

    def column(self, key: str) -> int:
        """The index of column ``key`` ("state", "up_for"…), or -1 when it is not shown."""
        return self._columns.index(key) if key in self._columns else -1

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        """Number of rows (a table: no children)."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        """Number of columns of the current layout."""
        return 0 if parent.isValid() else len(self._columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Column titles, aligned like their cells."""
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return TITLES[self._columns[section]]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._alignment(section)
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text, status icon, tooltip and alignment of a cell."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        info, key = self._rows[index.row()], self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(info, key)
        if role == INFO_ROLE:
            return info
        if role == Qt.ItemDataRole.DecorationRole and key == "state":
            return status_icon(state_color(info.state))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(info, key)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._alignment(index.column())
        return None

    def text(self, info: ComputeInfo, key: str) -> str:
        """The text of ``info``'s cell in column ``key``."""
        if key == "name":
            return info.name
        if key == "state":
            return state_cell(info, self._followed.get(info.name))
        if key == "type":
            return type_text(info)
        if key == "running":
            return str(info.running_jobs) if info.counts_jobs else "—"
        if key == "queued":
            return str(info.queued_jobs) if info.counts_jobs else "—"
        if key == "max_jobs":
            return str(info.max_concurrent_jobs) if info.counts_jobs else "—"
        if key == "vm_size":
            return info.vm_size
        if key == "nodes":
            return info.nodes.text if info.nodes is not None else ""
        if key == "idle":
            return "" if info.kind == CLUSTER else idle_text(info.idle_shutdown_minutes)
        if key == "up_for":
            seconds = up_for(info)
            return "" if seconds is None else up_text(seconds)
        if key == "assigned":
            return info.assigned_user
        return ""

    def tooltip(self, info: ComputeInfo, key: str) -> str | None:
        """The whole name, the state's reason or the last error, and why a cluster is read-only."""
        problem = self._problems.get(info.name) or info.last_error
        if key == "state":
            parts = [p for p in (info.state_reason, problem) if p]
            return "\n".join(dict.fromkeys(parts)) or None
        if key == "name":
            lines = [info.name]
            if info.kind == CLUSTER:
                lines.append(info.refusal(ComputeAction.START))
            elif problem:
                lines.append(problem)
            return "\n".join(lines)
        return None

    def _alignment(self, column: int) -> int:
        """Quantities (job counts, durations) to the right, names and words to the left."""
        right = self._columns[column] in _RIGHT
        horizontal = Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft
        return int(horizontal | Qt.AlignmentFlag.AlignVCenter)

    def instances(self) -> list[ComputeInfo]:
        """The rows shown, in order."""
        return list(self._rows)

    def info(self, row: int) -> ComputeInfo | None:
        """The record of a row, or None."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, name: str) -> int:
        """The row of the instance named ``name``, or -1."""
        return next((i for i, info in enumerate(self._rows) if info.name == name), -1)

    def problem(self, name: str) -> str:
        """The last failure of the pane's operation on ``name`` (or "")."""
        return self._problems.get(name, "")

    def followed_since(self, name: str) -> float | None:
        """When the operation the pane follows on ``name`` began, or None."""
        return self._followed.get(name)

    # -- updating ------------------------------------------------------------------------------

    def set_instances(self, instances: list[ComputeInfo]) -> bool:
        """Show ``instances`` in their order, changing only what differs; True if anything did."""
        columns = AZURE_COLUMNS if wants_azure_columns(instances) else LOCAL_COLUMNS
        if instances and columns != self._columns:
            self.beginResetModel()
            self._columns, self._rows = columns, list(instances)
            self.endResetModel()
            return True
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
                self._row_changed(row)
                changed = True
        return changed

    def update_one(self, info: ComputeInfo) -> bool:
        """Show what an action returned for one instance at once (added after the instances if new)."""
        row = self.row_of(info.name)
        rows = list(self._rows)
        if row < 0:
            position = sum(1 for r in rows if r.kind != CLUSTER) if info.kind != CLUSTER else len(rows)
            rows.insert(position, info)
        else:
            rows[row] = info
        return self.set_instances(rows)

    def remove(self, name: str) -> bool:
        """Drop ``name``'s row (it was deleted)."""
        return self.set_instances([r for r in self._rows if r.name != name])

    def set_followed(self, name: str, since: float | None) -> None:
        """Show (or, with None, stop showing) the time spent since ``since`` in ``name``'s state cell."""
        if since is None:
            self._followed.pop(name, None)
        else:
            self._followed[name] = since
        self._name_changed(name)

    def set_problem(self, name: str, text: str) -> None:
        """Remember (or, with "", forget) the failure of the pane's last operation on ``name``."""
        if text:
            self._problems[name] = text
        else:
            self._problems.pop(name, None)
        self._name_changed(name)

    def forget_operations(self) -> None:
        """Another workspace: no operation followed, no failure kept."""
        self._followed.clear()
        self._problems.clear()

    def tick(self) -> None:
        """Time passed: repaint the cells that show it (elapsed states, Up for), one signal per column."""
        state, up = self.column("state"), self.column("up_for")
        moving = [
            row
            for row, info in enumerate(self._rows)
            if info.state.is_transitional and operation_start(info, self._followed.get(info.name)) is not None
        ]
        running = [row for row, info in enumerate(self._rows) if up >= 0 and up_for(info) is not None]
        for column, rows in ((state, moving), (up, running)):
            if rows:
                self.dataChanged.emit(
                    self.index(min(rows), column), self.index(max(rows), column), [Qt.ItemDataRole.DisplayRole]
                )

    def has_clock(self) -> bool:
        """True when a cell shows time passing (so :meth:`tick` has something to do)."""
        return any(
            (i.state.is_transitional and operation_start(i, self._followed.get(i.name)) is not None)
            or up_for(i) is not None
            for i in self._rows
        )

    def _name_changed(self, name: str) -> None:
        row = self.row_of(name)
        if row >= 0:
            self._row_changed(row)

    def _row_changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self._columns) - 1))
