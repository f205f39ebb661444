"""The Tables tab of a run: every ROW and TABLE metric as a sortable table, copyable as CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from PySide6 import QtWidgets
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QTableView, QVBoxLayout, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import MetricInfo, MetricKind, RunInfo
from studio.ui.background.tasks import TaskRunner
from studio.ui.runs.tabs.base import RunTab

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""A cell's sort value: float for numbers, folded text, None if blank."""
TABLE_KINDS = (MetricKind.ROW, MetricKind.TABLE)
AnyIndex = QModelIndex | QPersistentModelIndex


def list_tables(backend: WorkspaceBackend, run_id: str) -> list[MetricInfo]:
    """The run's row and table metrics (worker thread)."""
    return [m for m in backend.list_metrics(run_id) if m.kind in TABLE_KINDS]


def cell_text(value: Any) -> str:
    """A value as CSV text: exact numbers, JSON for lists and dicts, blank for missing."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def display_text(value: Any) -> str:
    """A value as the table shows it (floats to 6 significant digits)."""
    return f"{value:.6g}" if isinstance(value, float) else cell_text(value)


def sort_value(value: Any) -> float | str | None:
    """What a cell sorts by: numbers numerically, text case-folded, missing cells as None."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return cell_text(value).casefold()


def sort_key(value: float | str | None) -> tuple[int, float, str]:
    """Orders sort values: numbers (NaN last among them), then text; blanks are handled by the caller."""
    if isinstance(value, float):
        return (1, 0.0, "") if math.isnan(value) else (0, value, "")
    return (2, 0.0, str(value))


def sorted_order(values: list[float | str | None], descending: bool) -> list[int]:
    """Positions of ``values`` (sort values) in sorted order: stable, blanks last either way."""
    filled = sorted(
        (i for i, v in enumerate(values) if v is not None), key=lambda i: sort_key(values[i]), reverse=descending
    )
    return filled + [i for i, v in enumerate(values) if v is None]


def table_to_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """CSV text (header line, then one line per row; quoted as needed, blanks for missing cells)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([cell_text(row.get(col)) for col in columns] for row in rows)
    return out.getvalue()


def records_to_rows(kind: MetricKind, values: list[Any]) -> list[dict[str, Any]]:
    """Rows from logged records: one per log_row dict, one per index of each log_table's columns."""
    rows: list[dict[str, Any]] = []
    for value in values:
        if not isinstance(value, dict):
            continue
        if kind is MetricKind.TABLE:
            length = max((len(c) for c in value.values() if isinstance(c, list)), default=0)
            rows += [{k: c[i] for k, c in value.items() if isinstance(c, list) and i < len(c)} for i in range(length)]
        else:
            rows.append(dict(value))
    return rows


class RecordTableModel(QAbstractTableModel):
    """Rows (dicts) under the union of their columns, in logged order until sorted."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.columns: list[str] = []
        self.rows: list[dict[str, Any]] = []
        self._order: list[int] = []  # display position -> index into self.rows
        self.fetched = 0  # how many logged records the rows came from
        self.sorted_by: tuple[int, Qt.SortOrder] = (-1, Qt.SortOrder.AscendingOrder)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: D102
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: D102
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: D102
        if not index.isValid():
            return None
        value = self.rows[self._order[index.row()]].get(self.columns[index.column()])
        if role == Qt.ItemDataRole.DisplayRole:
            return display_text(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return cell_text(value) or None
        if role == SORT_ROLE:
            return sort_value(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, (int, float)):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: D102
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.columns[section] if 0 <= section < len(self.columns) else None
        return str(self._order[section] + 1) if 0 <= section < len(self._order) else None  # logged position

    def append_rows(self, rows: list[dict[str, Any]]) -> None:
        """Add rows (and any new columns) at the end, then keep the current sort."""
        new_cols = list(dict.fromkeys(c for row in rows for c in row if c not in self.columns))
        if new_cols:
            self.beginInsertColumns(QModelIndex(), len(self.columns), len(self.columns) + len(new_cols) - 1)
            self.columns += new_cols
            self.endInsertColumns()
        if rows:
            first = len(self.rows)
            self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
            self.rows += rows
            self._order += range(first, first + len(rows))
            self.endInsertRows()
            if self.sorted_by[0] >= 0:
                self.sort(*self.sorted_by)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:  # noqa: D102
        self.sorted_by = (column, order)
        self.layoutAboutToBeChanged.emit()
        before = list(self._order)
        if 0 <= column < len(self.columns):
            col = self.columns[column]
            values = [sort_value(row.get(col)) for row in self.rows]
            self._order = sorted_order(values, order == Qt.SortOrder.DescendingOrder)
        else:
            self._order = list(range(len(self.rows)))
        where = {row: pos for pos, row in enumerate(self._order)}
        old = self.persistentIndexList()
        self.changePersistentIndexList(old, [self.index(where[before[i.row()]], i.column()) for i in old])
        self.layoutChanged.emit()

    def to_csv(self) -> str:
        """The whole table as CSV, in the order shown."""
        return table_to_csv(self.columns, [self.rows[i] for i in self._order])


class TablesTab(RunTab):
    """Pick one of the run's row / table metrics and see it as a sortable table."""

    title = "Tables"

    def __init__(
        self, backend: WorkspaceBackend, runner: TaskRunner, run_id: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(backend, runner, run_id, parent)
        self.setObjectName("tablesTab")
        self.models: dict[str, RecordTableModel] = {}
        self._metrics: dict[str, MetricInfo] = {}
        self._fetching: set[str] = set()
        self.selector = QtWidgets.QComboBox(self)
        self.selector.setObjectName("tableSelector")
        self.selector.setMinimumContentsLength(20)
        self.selector.currentTextChanged.connect(self._selected)
        self.size_label = QLabel(self)
        self.size_label.setObjectName("tableSize")
        self.copy_button = QPushButton("Copy as CSV", self)
        self.copy_button.setObjectName("copyCsv")
        self.copy_button.clicked.connect(self.copy_csv)
        self.copy_button.setEnabled(False)  # until a table has rows
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(QLabel("Table:", self))
        bar.addWidget(self.selector)
        bar.addWidget(self.size_label, 1)
        bar.addWidget(self.copy_button)
        self.description = QLabel(self, wordWrap=True)
        self.description.setObjectName("tableDescription")
        self.description.hide()
        self.view = QTableView(self)
        self.view.setObjectName("tableView")
        self.view.setAlternatingRowColors(True)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSortingEnabled(True)
        self.placeholder = QLabel("Loading tables…", self, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.placeholder.setObjectName("tablesEmpty")
        self.stack = QtWidgets.QStackedWidget(self)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.view)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.description)
        layout.addWidget(self.stack, 1)

    def run_changed(self, run: RunInfo) -> None:
        """New tables join the selector; new rows of the shown table are appended."""
        self.load()

    def current_model(self) -> RecordTableModel | None:
        """The model of the table shown."""
        return self.models.get(self.selector.currentText())

    def copy_csv(self) -> str:
        """Put the shown table on the clipboard as CSV (and return it)."""
        model = self.current_model()
        text = model.to_csv() if model is not None else ""
        QApplication.clipboard().setText(text)
        return text

    def load(self) -> None:
        """List the run's row and table metrics (cheap, so never skipped), then fetch the shown one."""
        self.runner.submit(
            list_tables,
            self.backend,
            self.run_id,
            success=self._got_metrics,
            failure=self._failed,
            owner=self,
        )

    def _failed(self, exc: BaseException) -> None:
        if not self.models:
            self.placeholder.setText(f"Could not load this run's tables: {exc}")

    def _got_metrics(self, metrics: list[MetricInfo]) -> None:
        self._metrics = {m.name: m for m in metrics}
        for name in sorted(self._metrics):
            if name not in self.models:
                self.models[name] = RecordTableModel(self)
                self.selector.addItem(name)  # the first one added becomes current and is fetched
        if not self.models:
            self.placeholder.setText("This run has logged no tables.\nRun.log_row and Run.log_table add some.")
            return
        self._fetch(self.selector.currentText())

    def _selected(self, name: str) -> None:
        model = self.models.get(name)
        if model is None:
            return
        old = self.view.selectionModel()
        self.view.setModel(model)
        if old is not None:
            old.deleteLater()
        self.view.horizontalHeader().setSortIndicator(model.sorted_by[0], model.sorted_by[1])
        if model.rows:
            self.view.resizeColumnsToContents()
        info = self._metrics.get(name)
        self.description.setText(info.description if info else "")
        self.description.setVisible(bool(info and info.description))
        self._show_size()
        self._fetch(name)

    def _fetch(self, name: str) -> None:
        info = self._metrics.get(name)
        if info is None or name in self._fetching or info.count <= self.models[name].fetched:
            return
        self._fetching.add(name)
        self.runner.submit(
            self.backend.get_metric_records,
            self.run_id,
            name,
            self.models[name].fetched,
            success=lambda records: self._got_records(name, info.kind, records),
            failure=lambda exc: self._fetch_failed(name, exc),
            owner=self,
        )

    def _fetch_failed(self, name: str, exc: BaseException) -> None:
        self._fetching.discard(name)
        self.size_label.setText(f"Could not load {name}: {exc}")

    def _got_records(self, name: str, kind: MetricKind, records: list[Any]) -> None:
        self._fetching.discard(name)
        model = self.models[name]
        first = not model.rows
        model.fetched += len(records)
        model.append_rows(records_to_rows(kind, [r.value for r in records]))
        if first and model is self.view.model():
            self.view.resizeColumnsToContents()
        self._show_size()
        self._fetch(name)  # more arrived meanwhile

    def _show_size(self) -> None:
        model = self.current_model()
        if model is None:
            return
        self.stack.setCurrentWidget(self.view)
        self.copy_button.setEnabled(bool(model.rows))
        self.size_label.setText(f"{len(model.rows):,} rows · {len(model.columns)} columns")
