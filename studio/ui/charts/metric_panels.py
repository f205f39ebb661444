"""The boxes of the Metrics tab's grid: a chart of one or more metrics, or a metric's table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSplitter, QTableView, QToolButton, QVBoxLayout, QWidget

from studio.core.types import MetricKind, MetricRecord
from studio.ui.charts.metric_chart import MetricChart
from studio.ui.charts.records_model import RecordsModel

MAX_LIST_LINES = 10
"""A list metric's chart shows its last this-many logged lists."""


class _Panel(QFrame):
    """A titled box with tool buttons on the right of its title."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumHeight(280)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(6, 4, 6, 6)
        self._layout.setSpacing(2)
        self.header = QHBoxLayout()
        self.title_label = QLabel(title, self)
        self.title_label.setObjectName("metricPanelTitle")
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        self.header.addWidget(self.title_label, 1)
        self._layout.addLayout(self.header)

    def tool_button(self, text: str, name: str, tip: str) -> QToolButton:
        """Add a small button to the header."""
        button = QToolButton(self)
        button.setText(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        self.header.addWidget(button)
        return button


class ChartPanel(_Panel):
    """A chart of one metric, or of several combined (a line per metric), with export buttons."""

    sig_export_png = Signal(object)
    """Export this panel's chart as PNG (the panel)."""
    sig_export_csv = Signal(object)
    """Export this panel's points as CSV (the panel)."""
    sig_split = Signal(object)
    """Split this combined chart back into one chart per metric (the panel)."""

    def __init__(self, names: list[str], parent: QWidget | None = None) -> None:
        super().__init__(" + ".join(names), parent)
        self.names = list(names)
        self.setObjectName("metricPanel:" + "+".join(names))
        if len(names) > 1:
            self.tool_button("Split", "splitChart", "One chart per metric").clicked.connect(
                lambda: self.sig_split.emit(self)
            )
        self.tool_button("PNG", "exportPng", "Save the chart as a PNG image").clicked.connect(
            lambda: self.sig_export_png.emit(self)
        )
        self.tool_button("CSV", "exportCsv", "Save every point as CSV").clicked.connect(
            lambda: self.sig_export_csv.emit(self)
        )
        self.chart = MetricChart(self, lazy=True)  # the grid builds its plot when it scrolls into view
        self.chart.setObjectName("metricPlot:" + "+".join(names))
        self._layout.addWidget(self.chart, 1)


def _numeric(items: list[Any]) -> np.ndarray | None:
    """A list's items as float64 (None -> NaN), or None if any item is not a number."""
    out = np.empty(len(items), dtype=np.float64)
    for i, item in enumerate(items):
        if item is None:
            out[i] = math.nan
        elif isinstance(item, (int, float)):
            out[i] = float(item)
        else:
            return None
    return out


class RecordsPanel(_Panel):
    """A string metric as a table (step, time, value); a list metric as a chart and a table."""

    def __init__(self, name: str, kind: MetricKind, parent: QWidget | None = None) -> None:
        super().__init__(f"{name}  ({kind.value})", parent)
        self.name, self.kind = name, kind
        self.setObjectName(f"metricPanel:{name}")
        self.count = 0  # records received
        headers = ["step", "time", "value"] if kind is MetricKind.STRING else ["record", "index", "value"]
        self.model = RecordsModel(headers, self)
        self.table = QTableView(self)
        self.table.setObjectName(f"metricTable:{name}")
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.horizontalHeader().setStretchLastSection(True)
        digits = self.table.fontMetrics().horizontalAdvance("0000-00-00 00:00:00") + 24
        self.table.setColumnWidth(0, 80)
        self.table.setColumnWidth(1, digits if kind is MetricKind.STRING else 80)
        self.chart: MetricChart | None = None
        if kind is MetricKind.LIST:
            splitter = QSplitter(Qt.Orientation.Vertical, self)
            self.chart = MetricChart(splitter, lazy=True)
            self.chart.setObjectName(f"metricPlot:{name}")
            self.chart.set_x_label("index")
            self.chart.log_y_only = True
            splitter.addWidget(self.chart)
            splitter.addWidget(self.table)
            splitter.setSizes([200, 120])
            self._layout.addWidget(splitter, 1)
        else:
            self._layout.addWidget(self.table, 1)

    def add_records(self, records: list[MetricRecord]) -> None:
        """Records logged since the last call (in order)."""
        first = self.count
        self.count += len(records)
        if self.kind is MetricKind.STRING:
            self.model.append_rows([(r.step, r.time, r.value) for r in records])
            return
        rows: list[tuple[Any, ...]] = []
        for n, record in enumerate(records, start=first):
            items = record.value if isinstance(record.value, list) else [record.value]
            rows += [(n, i, v) for i, v in enumerate(items)]
            self._chart_list(n, items)
        self.model.append_rows(rows)

    def _chart_list(self, n: int, items: list[Any]) -> None:
        values = _numeric(items)
        if self.chart is None or values is None:
            return
        index = np.arange(values.size, dtype=np.int64)
        self.chart.set_series(f"#{n}", f"list #{n}", index, values, np.zeros(values.size))
        for key in self.chart.line_keys()[:-MAX_LIST_LINES]:
            self.chart.remove(key)
