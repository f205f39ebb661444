"""The table view of the runs table: fixed row heights, row selection, open and compare from mouse and keyboard."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QWidget

from studio.ui.runs_table.runs_model import RunsTableModel

FIXED_WIDTHS = (220, 105, 120, 75)  # Name, Status, Started, Duration
CHOSEN_WIDTH = 110


class RunsTableView(QTableView):
    """Rows are runs (objectName ``runsTableView``); double-click or Enter opens, the menu compares."""

    sig_open_runs = Signal(list)
    """The user asked to open these run ids."""
    sig_compare_runs = Signal(list)
    """The user asked to compare these run ids."""
    sig_submit_script = Signal()
    """The user asked to submit a script as a run of the table's experiment (the menu's "Submit script…")."""

    def __init__(self, model: RunsTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runsTableView")
        self.submit_available = False
        """The menu offers "Submit script…" (set by the tab)."""
        self.setModel(model)
        self.runs = model
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        rows = self.verticalHeader()
        rows.hide()
        # Fixed heights: the view never asks 100,000 rows how tall they are.
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.horizontalHeader()
        header.setObjectName("runsTableHeader")
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(-1, Qt.SortOrder.DescendingOrder)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(40)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setTextElideMode(Qt.TextElideMode.ElideRight)
        for column, width in enumerate(FIXED_WIDTHS):
            self.setColumnWidth(column, width)
        model.columnsInserted.connect(self._size_new_columns)
        self._kept_scroll: int | None = None
        model.rowsAboutToBeInserted.connect(self._remember_scroll)
        model.rowsInserted.connect(self._keep_scroll)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.doubleClicked.connect(self._open_index)
        open_action = QAction("Open", self)
        open_action.setShortcuts([QKeySequence(Qt.Key.Key_Return), QKeySequence(Qt.Key.Key_Enter)])
        open_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        open_action.triggered.connect(lambda: self._emit_open(self.selected_run_ids()))
        self.addAction(open_action)

    def selected_run_ids(self) -> list[str]:
        """The selected runs, in row order."""
        rows = sorted(index.row() for index in self.selectionModel().selectedRows(0))
        return [run_id for run_id in (self.runs.run_id(r) for r in rows) if run_id is not None]

    def select_run(self, run_id: str) -> bool:
        """Select and show a loaded run (a chart click); returns whether it is loaded."""
        row = self.runs.row_of(run_id)
        if row < 0:
            return False
        index = self.runs.index(row, 0)
        self.setCurrentIndex(index)
        self.scrollTo(index)
        return True

    def _size_new_columns(self, _parent: QModelIndex, first: int, last: int) -> None:
        for column in range(first, last + 1):
            self.setColumnWidth(column, CHOSEN_WIDTH)

    def _remember_scroll(self, _parent: QModelIndex, first: int, _last: int) -> None:
        # A live run inserted on top must not push down the rows the user is reading.
        value = self.verticalScrollBar().value()
        self._kept_scroll = value if first == 0 and value > 0 else None

    def _keep_scroll(self, _parent: QModelIndex, first: int, last: int) -> None:
        if self._kept_scroll is None:
            return
        per_item = self.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerItem
        step = 1 if per_item else self.rowHeight(0)
        self.verticalScrollBar().setValue(self._kept_scroll + (last - first + 1) * step)
        self._kept_scroll = None

    def _open_index(self, index: QModelIndex) -> None:
        run_id = self.runs.run_id(index.row())
        if run_id is not None:
            self._emit_open([run_id])

    def _emit_open(self, run_ids: list[str]) -> None:
        if run_ids:
            self.sig_open_runs.emit(run_ids)

    def _context_menu(self, pos: QPoint) -> None:
        menu = self.context_menu()
        if menu is not None:
            menu.popup(self.viewport().mapToGlobal(pos))

    def context_menu(self) -> QMenu | None:
        """The menu for the selected runs (Open, Compare, Copy run ID, Submit script…), or None with nothing to offer."""
        run_ids = self.selected_run_ids()
        if not run_ids and not self.submit_available:
            return None
        menu = QMenu(self)
        menu.setObjectName("runsTableContextMenu")
        if run_ids:
            menu.addAction("Open", lambda: self._emit_open(run_ids))
            compare = menu.addAction(f"Compare {len(run_ids)} runs", lambda: self.sig_compare_runs.emit(run_ids))
            compare.setEnabled(len(run_ids) >= 2)
            menu.addSeparator()
            menu.addAction("Copy run ID", lambda: QGuiApplication.clipboard().setText("\n".join(run_ids)))
        if self.submit_available:
            menu.addSeparator()
            submit = menu.addAction("Submit script…", self.sig_submit_script.emit)
            submit.setObjectName("runsTableSubmitAction")
        return menu
