"""The Child runs tab: a run's children with their status, timing and last metric values."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QLabel, QStackedWidget, QTableView, QVBoxLayout, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import MetricKind, RunInfo
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner
from studio.ui.runs.tabs.base import RunTab
from studio.ui.runs.tabs.tables_tab import SORT_ROLE, display_text, sort_value, sorted_order
from studio.ui.shell.status_style import format_duration, status_icon

FIXED_COLUMNS = ["Status", "Display name", "ID", "Started", "Duration"]
METRIC_KINDS = (MetricKind.SCALAR, MetricKind.STRING)
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 2
"""The child's run id, on every cell."""
AnyIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class ChildRow:
    """One child run and the last value of each of its scalar and string metrics."""

    run: RunInfo
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        """Seconds it ran (so far, while it is active)."""
        run = self.run
        end = run.ended_at or (time.time() if run.status.is_active else None)
        return None if run.started_at is None or end is None else max(0.0, end - run.started_at)


def fetch_children(backend: WorkspaceBackend, run_id: str) -> list[ChildRow]:
    """The children of a run with their last metric values (worker thread; one list_metrics per child)."""
    rows = []
    for child in backend.list_children(run_id):
        metrics = {m.name: m.last_value for m in backend.list_metrics(child.id) if m.kind in METRIC_KINDS}
        rows.append(ChildRow(child, metrics))
    return rows


class ChildRunsModel(QAbstractTableModel):
    """Child runs as rows; the fixed columns, then one column per metric name."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.children_rows: list[ChildRow] = []
        self.metric_names: list[str] = []
        self.sorted_by: tuple[int, Qt.SortOrder] = (-1, Qt.SortOrder.AscendingOrder)

    def set_children(self, rows: list[ChildRow]) -> None:
        """Replace the rows (keeping the current sort)."""
        self.beginResetModel()
        self.children_rows = list(rows)
        self.metric_names = sorted({name for row in rows for name in row.metrics})
        self.endResetModel()
        if self.sorted_by[0] >= 0:
            self.sort(*self.sorted_by)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: D102
        return 0 if parent.isValid() else len(self.children_rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: D102
        return 0 if parent.isValid() else len(FIXED_COLUMNS) + len(self.metric_names)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: D102
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal:
            return None
        names = FIXED_COLUMNS + self.metric_names
        return names[section] if 0 <= section < len(names) else None

    def raw_value(self, row: ChildRow, column: int) -> Any:
        """What a cell holds before formatting (sorting uses it)."""
        run = row.run
        if column >= len(FIXED_COLUMNS):
            return row.metrics.get(self.metric_names[column - len(FIXED_COLUMNS)])
        return (run.status.value, run.display_name, run.id, run.started_at, row.duration)[column]

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: D102
        if not index.isValid():
            return None
        row, column = self.children_rows[index.row()], index.column()
        value = self.raw_value(row, column)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 3:
                return datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""
            if column == 4:
                return format_duration(value)
            return display_text(value)
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return status_icon(row.run.status)
        if role == Qt.ItemDataRole.ToolTipRole:
            return (row.run.status_reason or None) if column == 0 else (None if value is None else str(value))
        if role == SORT_ROLE:
            return sort_value(value)
        if role == RUN_ID_ROLE:
            return row.run.id
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, (int, float)) and column != 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:  # noqa: D102
        self.sorted_by = (column, order)
        if not 0 <= column < self.columnCount():
            return
        self.layoutAboutToBeChanged.emit()
        before = list(self.children_rows)
        values = [sort_value(self.raw_value(r, column)) for r in self.children_rows]
        self.children_rows = [before[i] for i in sorted_order(values, order == Qt.SortOrder.DescendingOrder)]
        where = {id(r): pos for pos, r in enumerate(self.children_rows)}
        old = self.persistentIndexList()
        self.changePersistentIndexList(old, [self.index(where[id(before[i.row()])], i.column()) for i in old])
        self.layoutChanged.emit()


class ChildRunsTab(RunTab):
    """The run's child runs; double-click one to open it."""

    title = "Child runs"

    def __init__(
        self, backend: WorkspaceBackend, runner: TaskRunner, run_id: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(backend, runner, run_id, parent)
        self.setObjectName("childRunsTab")
        self._loading = TaskSlot(runner, success=self._show, failure=self._failed, owner=self)
        self.model = ChildRunsModel(self)
        self.view = QTableView(self)
        self.view.setObjectName("childRunsTable")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSortingEnabled(True)
        self.view.activated.connect(self._activated)
        self.summary = QLabel(self)
        self.summary.setObjectName("childRunsSummary")
        self.placeholder = QLabel("Loading child runs…", self)
        self.placeholder.setObjectName("childRunsEmpty")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.view)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.stack, 1)

    def load(self) -> None:
        """Fetch the children and their metrics."""
        self._reload()

    def run_changed(self, run: RunInfo) -> None:
        """Fetch the children again (new ones, new statuses, new values)."""
        self._reload()

    def child_ids(self) -> list[str]:
        """Ids of the children in the order shown."""
        return [row.run.id for row in self.model.children_rows]

    def _reload(self) -> None:
        self._loading.request(fetch_children, self.backend, self.run_id)

    def _failed(self, exc: BaseException) -> None:
        self.placeholder.setText(f"Could not load the child runs: {exc}")
        self.stack.setCurrentWidget(self.placeholder)

    def _show(self, rows: list[ChildRow]) -> None:
        selected = {self.model.children_rows[i.row()].run.id for i in self.view.selectionModel().selectedRows()}
        first = not self.model.children_rows
        self.model.set_children(rows)
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for pos, row in enumerate(self.model.children_rows):
            if row.run.id in selected:
                self.view.selectionModel().select(self.model.index(pos, 0), flags)
        if rows:
            if first:
                self.view.resizeColumnsToContents()
            self.stack.setCurrentWidget(self.view)
            active = sum(r.run.status.is_active for r in rows)
            self.summary.setText(f"{len(rows)} child runs" + (f", {active} active" if active else ""))
        else:
            self.placeholder.setText("This run has no child runs")
            self.stack.setCurrentWidget(self.placeholder)
            self.summary.clear()

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.sig_open_run.emit(index.data(RUN_ID_ROLE))
