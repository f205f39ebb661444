"""The compute pane's table view: one row per instance or cluster, columns sized to what they show."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from studio.core.compute import ComputeState
from studio.ui.compute.compute_model import ComputeModel, state_text

NAME_MAX_PX = 260
"""Names longer than this are cut with "…" (the tooltip and the details show them whole)."""


class ComputeTable(QTableView):
    """Rows selected whole, one at a time, never edited; names elided, not wrapped (objectName ``computeTable``).

    Columns are sized when the list changes (``size_columns``), not by ``ResizeToContents``: that mode measures
    every cell of every column again at each ``dataChanged`` (the clock's, every second).
    """

    def __init__(self, model: ComputeModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("computeTable")
        self.compute_model = model
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.setShowGrid(False)
        self.setWordWrap(False)  # long names are elided, rows keep their height
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setAlternatingRowColors(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        header = self.horizontalHeader()
        header.setMinimumSectionSize(60)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        model.modelReset.connect(self.size_columns)  # the columns change with the kind
        self.size_columns()

    def size_columns(self) -> None:
        """Fit every column to what it shows now: whole names first (up to ``NAME_MAX_PX``, then cut with "…"),
        the state column to the states listed with room for a clock."""
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        metrics = self.fontMetrics()
        for column, key in enumerate(self.compute_model.columns):
            if key == "state":
                states = {info.state for info in self.compute_model.instances()} or {ComputeState.STOPPED}
                widest = max(
                    metrics.horizontalAdvance(state_text(s) + (" 00:00" if s.is_transitional else "")) for s in states
                )
                header.resizeSection(column, max(widest + 40, 110))  # the status icon and padding
            else:
                self.resizeColumnToContents(column)
                if key == "name" and self.columnWidth(column) > NAME_MAX_PX:
                    self.setColumnWidth(column, NAME_MAX_PX)
