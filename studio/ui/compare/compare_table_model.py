"""The table half of the compare view: tags, properties and each metric's last value, run by run."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from studio.core.types import MetricInfo, RunInfo
from studio.ui.shell.status_style import format_duration

AnyIndex = QModelIndex | QPersistentModelIndex


def compare_rows(runs: list[RunInfo], metrics: dict[str, list[MetricInfo]]) -> list[tuple[str, list[str]]]:
    """(row label, one cell per run): status, duration, tags, properties, then metrics' last values."""
    rows: list[tuple[str, list[str]]] = [
        ("Status", [r.status.value for r in runs]),
        ("Duration", [format_duration(r.duration) for r in runs]),
    ]
    for label, pick in (("tag", lambda r: r.tags), ("property", lambda r: r.properties)):
        keys = sorted({k for r in runs for k in pick(r)})
        rows += [(f"{label}: {k}", [pick(r).get(k, "") for r in runs]) for k in keys]
    names = sorted({m.name for r in runs for m in metrics.get(r.id, [])})
    for name in names:
        cells = []
        for run in runs:
            found = next((m for m in metrics.get(run.id, []) if m.name == name), None)
            cells.append("" if found is None else _value(found.last_value))
        rows.append((f"metric: {name}", cells))
    return rows


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    return json.dumps(value)[:80]


class CompareTableModel(QAbstractTableModel):
    """Rows are attributes, columns are runs; ``differences_only`` hides rows where all runs agree."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.runs: list[RunInfo] = []
        self._all: list[tuple[str, list[str]]] = []
        self._rows: list[tuple[str, list[str]]] = []
        self.differences_only = False

    def set_data(self, runs: list[RunInfo], metrics: dict[str, list[MetricInfo]]) -> None:
        """Fill the table for these runs."""
        self.beginResetModel()
        self.runs = runs
        self._all = compare_rows(runs, metrics)
        self._filter()
        self.endResetModel()

    def set_differences_only(self, on: bool) -> None:
        """Show only the rows whose values differ between runs."""
        self.beginResetModel()
        self.differences_only = on
        self._filter()
        self.endResetModel()

    def _filter(self) -> None:
        self._rows = [r for r in self._all if not self.differences_only or len(set(r[1])) > 1]

    def row_labels(self) -> list[str]:
        """The labels of the rows shown."""
        return [label for label, _ in self._rows]

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.runs)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        _label, cells = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return cells[index.column()]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if orientation == Qt.Orientation.Vertical:
                return self._rows[section][0]
            run = self.runs[section]
            return run.display_name or run.id
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return self.runs[section].id
        return None
