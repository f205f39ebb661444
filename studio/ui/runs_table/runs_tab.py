"""RunsTableTab: one experiment's runs as a table, with a filter box, column chooser, sort and compare.

Above the table, a vertical splitter keeps a slot for a chart panel (``set_chart_panel``; it gets
``_chart_data()``). Every backend call goes through the runner: the rows through the model, the
count and the column names through a task slot each. The chosen columns and the sort are saved
per experiment (``TableMemory``) as soon as they change.
"""

from __future__ import annotations

import html
from dataclasses import replace
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QMenu,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.backend import WorkspaceBackend
from studio.core.errors import QueryError
from studio.core.search import Key, key_text, parse_order_by, query_from_box
from studio.core.types import RunInfo, RunKeys, RunQuery
from studio.ui.background.debounce import qdebounced
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner
from studio.ui.runs_table.chart_feed import ChartFeed
from studio.ui.runs_table.column_chooser import ColumnChooser
from studio.ui.runs_table.columns import FIXED_KEYS, ID, METRICS, NAME, is_numeric, label, order_item, parse_key
from studio.ui.runs_table.runs_model import RunsTableModel
from studio.ui.runs_table.runs_view import RunsTableView
from studio.ui.runs_table.table_bar import TableBar
from studio.ui.runs_table.table_state import TableMemory, TableState

FILTER_DELAY_MS = 300
CHART_MAX_RUNS = 10_000
SUGGESTED_COLUMNS = 4
"""Metric columns a table never arranged before starts with."""


class RunsTableTab(QWidget):
    """The runs table of one experiment (objectName ``runsTable:<experiment>``)."""

    sig_open_runs = Signal(list)
    """The user asked to open these run ids."""
    sig_compare_runs = Signal(list)
    """The user asked to compare these run ids."""
    sig_submit_script = Signal(str)
    """The user asked to submit a script as a run of this experiment (its name)."""

    def __init__(
        self,
        backend: WorkspaceBackend,
        runner: TaskRunner,
        experiment: str,
        memory: TableMemory | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"runsTable:{experiment}")
        self.backend, self.experiment, self.memory = backend, experiment, memory
        self.model = RunsTableModel(runner, backend, experiment, self)
        self.view = RunsTableView(self.model, self)
        self.chooser = ColumnChooser(self)
        self._sort: tuple[Key, bool] | None = None  # (key, descending); None: newest first
        self._box_query = RunQuery()
        self._names_wanted = False  # listed when the chooser first opens: opening the tab has enough to do
        self._count_wanted: RunQuery | None = None
        self._counting = TaskSlot(
            runner, success=self._counted, failure=lambda _e: None, when_busy="latest", owner=self
        )
        self._naming = TaskSlot(runner, success=self._named, failure=self._naming_failed, owner=self)
        self._build()
        self._restore(memory.load(experiment) if memory is not None else TableState())
        # A table never arranged before shows the metrics most of its first runs have (and charts them).
        self._suggest_columns = memory is None or not memory.has(experiment)
        self._connect()
        self._apply(count=True)
        self._runner = runner  # the chart panel is loaded once the first rows are in (it imports pyqtgraph)

    def set_submit_available(self, available: bool) -> None:
        """Offer "Submit script…" (button and context menu) where the workspace can run scripts and is writable."""
        self.bar.submit_button.setVisible(available)
        self.view.submit_available = available

    # -- layout --------------------------------------------------------------------------------

    def _build(self) -> None:
        self.bar = TableBar(self)
        bar = self.bar
        self.filter_box, self.filter_error, self.load_error = bar.filter_box, bar.filter_error, bar.load_error
        self.columns_button, self.compare_button = bar.columns_button, bar.compare_button
        self.count_label, self.new_runs_button = bar.count_label, bar.new_runs_button
        self.empty = QLabel(self)
        self.empty.setObjectName("runsTableEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty)
        # The chart panel's place: collapsed until a panel is set (set_chart_panel).
        self.chart_slot = QWidget(self)
        self.chart_slot.setObjectName("runsChartSlot")
        self.chart_slot.hide()  # a hidden splitter widget has no handle to drag open onto nothing
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("runsTableSplitter")
        self.splitter.addWidget(self.chart_slot)
        self.splitter.addWidget(self.stack)
        self.splitter.setCollapsible(1, False)
        self.charts = ChartFeed(self.splitter, self._chart_data, self.view.select_run, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.setSpacing(4)
        layout.addWidget(self.bar)
        layout.addWidget(self.splitter, 1)

    def _connect(self) -> None:
        self._filter_typed = qdebounced(self._filter_changed, FILTER_DELAY_MS, self)
        self.filter_box.textChanged.connect(self._filter_typed)
        self.filter_box.returnPressed.connect(self._filter_entered)
        self.columns_button.clicked.connect(self._show_chooser)
        self.chooser.sig_toggled.connect(self._column_toggled)
        self.compare_button.clicked.connect(lambda: self.sig_compare_runs.emit(self.view.selected_run_ids()))
        self.bar.submit_button.clicked.connect(lambda: self.sig_submit_script.emit(self.experiment))
        self.view.sig_submit_script.connect(lambda: self.sig_submit_script.emit(self.experiment))
        self.new_runs_button.clicked.connect(self.refresh)
        for line in (self.load_error, self.empty):
            line.linkActivated.connect(self._retry)  # "Retry" after a failed load
        self.view.sig_open_runs.connect(self.sig_open_runs)
        self.view.sig_compare_runs.connect(self.sig_compare_runs)
        header = self.view.horizontalHeader()
        header.sectionClicked.connect(self._header_clicked)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.model.modelReset.connect(self._selection_changed)
        self.model.sig_first_page.connect(self._first_page)
        self.model.sig_failed.connect(self._load_failed)
        self.model.sig_new_runs.connect(self._new_runs)
        self.model.sig_rows_updated.connect(self._rows_updated)
        for signal in (self.model.sig_first_page, self.model.sig_page_loaded):
            signal.connect(self.charts.later)
        self.model.columnsInserted.connect(self.charts.later)
        self.model.columnsRemoved.connect(self.charts.later)

    # -- query ---------------------------------------------------------------------------------

    def query(self) -> RunQuery:
        """The query the table shows: the filter box's plus the sort."""
        order = () if self._sort is None else (order_item(*self._sort),)
        return replace(self._box_query, order_by=order)

    def _apply(self, count: bool) -> None:
        query = self.query()
        self.model.set_query(query)
        if count:
            # Counted once the first page is in: on two cores a count running beside the page
            # query delayed the first rows by as long as the count took.
            self._count_wanted = query

    def _filter_entered(self) -> None:
        self._filter_typed.cancel()
        self._filter_changed()

    def _filter_changed(self) -> None:
        try:
            query = query_from_box(self.filter_box.text())
        except QueryError as exc:
            self._show_filter_error(exc)
            return  # the table keeps showing the last good filter's runs
        self.filter_error.hide()
        if query != self._box_query:
            self._box_query = query
            self._apply(count=True)

    def _show_filter_error(self, exc: QueryError) -> None:
        self.filter_error.setText(str(exc))
        self.filter_error.setToolTip(f"Expected {exc.expected}" if exc.expected else "")
        self.filter_error.show()

    def _header_clicked(self, column: int) -> None:
        """Cycle a column: its first direction (numbers: highest first), the other, back to newest first."""
        key = self.model.keys[column]
        first = is_numeric(key)
        if self._sort is None or self._sort[0] != key:
            self._sort = (key, first)
        elif self._sort[1] == first:
            self._sort = (key, not first)
        else:
            self._sort = None
        self._show_sort()
        self._save()
        self._apply(count=False)  # the order does not change how many match

    def _show_sort(self) -> None:
        header = self.view.horizontalHeader()
        header.blockSignals(True)
        if self._sort is None or self._sort[0] not in self.model.keys:
            header.setSortIndicator(-1, Qt.SortOrder.DescendingOrder)
        else:
            order = Qt.SortOrder.DescendingOrder if self._sort[1] else Qt.SortOrder.AscendingOrder
            header.setSortIndicator(self.model.keys.index(self._sort[0]), order)
        header.blockSignals(False)
        header.viewport().update()

    # -- columns -------------------------------------------------------------------------------

    def _show_chooser(self) -> None:
        self.chooser.set_chosen(self.model.chosen)
        self.chooser.show_below(self.columns_button)
        self._names_wanted = True
        self._naming.request(self.backend.list_run_keys, self.experiment)  # names may have come since

    def _header_menu(self, pos: QPoint) -> None:
        """Right-click on a header: remove that column, or open the chooser."""
        header = self.view.horizontalHeader()
        column = header.logicalIndexAt(pos)
        menu = QMenu(header)
        menu.setObjectName("runsTableHeaderMenu")
        if 0 <= column < len(self.model.keys) and self.model.keys[column] in self.model.chosen:
            key = self.model.keys[column]
            menu.addAction(f"Remove column “{label(key)}”", lambda: self._column_toggled(key, False))
        menu.addAction("Columns…", self._show_chooser)
        if self._sort is not None:
            menu.addAction("Sort newest first", self._sort_default)
        menu.popup(header.mapToGlobal(pos))

    def _sort_default(self) -> None:
        self._sort = None
        self._show_sort()
        self._save()
        self._apply(count=False)

    def _column_toggled(self, key: Key, shown: bool) -> None:
        if shown:
            self.model.add_column(key)
        else:
            self.model.remove_column(key)
            if self._sort is not None and self._sort[0] == key:
                self._sort = None  # no hidden sort: the table says what it is sorted by
                self._apply(count=False)
        self._show_sort()
        self._save()

    def _named(self, keys: RunKeys) -> None:
        self.chooser.set_keys(keys)

    def _naming_failed(self, exc: BaseException) -> None:
        self.chooser.set_failed(_sentence(exc))

    # -- state ---------------------------------------------------------------------------------

    def _restore(self, state: TableState) -> None:
        for text in state.columns:
            key = parse_key(text)
            if key is not None and key not in FIXED_KEYS:
                self.model.add_column(key)
        if state.order_by:
            order = parse_order_by(state.order_by[0])
            if order.key in self.model.keys:
                self._sort = (order.key, order.descending)
        self._show_sort()

    def state(self) -> TableState:
        """The chosen columns and sort, as saved."""
        order = () if self._sort is None else (order_item(*self._sort),)
        return TableState(tuple(key_text(k) for k in self.model.chosen), order)

    def _save(self) -> None:
        if self.memory is not None:
            self.memory.save(self.experiment, self.state())

    # -- answers -------------------------------------------------------------------------------

    def _counted(self, count: int) -> None:
        self.count_label.setText(f"{count:,} run{'' if count == 1 else 's'}")

    def _request_count(self) -> None:
        query, self._count_wanted = self._count_wanted, None
        if query is not None:
            self._counting.request(self.backend.count_runs, self.experiment, query)

    def _first_page(self) -> None:
        self._request_count()
        if not self.charts.loading:
            self.charts.load(self._runner)
        self.load_error.hide()
        self.new_runs_button.hide()
        self.bar.set_query_note(self.model.note)  # the latest query's, or none: an older note does not linger
        if self._suggest_columns and self.model.rowCount():
            self._suggest_columns = False
            if not self.model.chosen:
                for key in suggested_columns(self.model.loaded_runs()):
                    self.model.add_column(key)
                self._show_sort()
        if self.model.rowCount():
            self.stack.setCurrentWidget(self.view)
            self.view.scrollToTop()
        else:
            self._show_empty()

    def _rows_updated(self) -> None:
        """A later answer to a partial page: the rows moved (the selection and scroll position stay)."""
        self.bar.set_query_note(self.model.note)
        self.charts.later()
        if self.model.rowCount():
            self.stack.setCurrentWidget(self.view)
        else:
            self._show_empty()

    def _show_empty(self) -> None:
        if not self.model.complete:
            self.empty.setText("Reading the runs…")  # the note above says how far
            self.empty.setTextFormat(Qt.TextFormat.PlainText)
            self.empty.setEnabled(False)
            self.stack.setCurrentWidget(self.empty)
        else:
            text = self.filter_box.text().strip()
            filtered = self._box_query != RunQuery()
            self.empty.setText(
                f"No runs match “{text}”." if filtered and text else f"No runs in “{self.experiment}” yet."
            )
            self.empty.setTextFormat(Qt.TextFormat.PlainText)  # the filter's text is not markup
            self.empty.setEnabled(False)  # drawn like the other hints: a note, not content
            self.stack.setCurrentWidget(self.empty)

    def _load_failed(self, exc: BaseException) -> None:
        self._request_count()
        if isinstance(exc, QueryError):
            self._show_filter_error(exc)  # a filter this kind of workspace cannot answer
            return
        message = (
            f"<span style='color:#d9363e'>Could not load the runs: {html.escape(_sentence(exc))}</span>"
            " <a href='retry'>Retry</a> <small>(F5)</small>"
        )
        if self.model.rowCount():  # the rows shown stay, the line above says they may be stale
            self.load_error.setText(message)
            self.load_error.show()
        else:
            self.empty.setTextFormat(Qt.TextFormat.RichText)
            self.empty.setText(message)
            self.empty.setEnabled(True)
            self.stack.setCurrentWidget(self.empty)

    def _retry(self, _link: str) -> None:
        self.refresh()

    def _new_runs(self, count: int) -> None:
        self.new_runs_button.setText(f"{count:,} new run{'' if count == 1 else 's'} — refresh")
        self.new_runs_button.show()

    def _selection_changed(self, *_args: object) -> None:
        self.compare_button.setEnabled(len(self.view.selectionModel().selectedRows(0)) >= 2)
        self.charts.select(self.view.selected_run_ids())

    # -- public --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Run the query again (F5, or the "new runs" button), with the count and the names."""
        self._apply(count=True)
        if self._names_wanted:
            self._naming.request(self.backend.list_run_keys, self.experiment)

    def apply_changes(self, runs: list[RunInfo]) -> None:
        """Runs changed in the workspace (the window's live refresh)."""
        before = self.model.rowCount()
        self.model.apply_changes(runs)
        added = self.model.rowCount() - before
        if any(run.experiment == self.experiment for run in runs):
            self.charts.later()
        if added and self.count_label.text():
            self._counting.request(self.backend.count_runs, self.experiment, self.model.query)
        if added and self.stack.currentWidget() is self.empty:
            self.stack.setCurrentWidget(self.view)

    def focus_filter(self) -> None:
        """Put the cursor in the filter box."""
        self.filter_box.setFocus()
        self.filter_box.selectAll()

    def set_chart_panel(self, panel: QWidget) -> None:
        """Put a chart panel (RunChartsPanel, or a stand-in) above the table, fed with the loaded runs."""
        self.charts.set_panel(panel)

    @property
    def chart_panel(self) -> Any:
        """The chart panel above the table (None until its module is imported)."""
        return self.charts.panel

    def _chart_data(self) -> tuple[list[str], np.ndarray, list[str], list[str]]:
        """What a chart panel's ``set_data`` takes: the numeric columns' titles as the table's header shows
        them (the chosen metrics by name, then "Duration" in seconds and "Started" in epoch seconds), a (runs, columns) float
        array (NaN: no value), run ids and names, for the first CHART_MAX_RUNS loaded runs in table order."""
        # Metrics first: the scatter starts on the first two columns, and epoch seconds make a poor axis.
        keys = [k for k in self.model.chosen if is_numeric(k)] + [k for k in reversed(FIXED_KEYS) if is_numeric(k)]
        runs = self.model.loaded_runs()[:CHART_MAX_RUNS]
        values = self.model.numbers(keys, CHART_MAX_RUNS)
        return [label(k) for k in keys], values, [r[ID] for r in runs], [r[NAME] or r[ID] for r in runs]


def suggested_columns(runs: list[Any], most: int = SUGGESTED_COLUMNS) -> list[Key]:
    """The metrics most of the loaded runs have (most common first, then by name), as columns to start with."""
    counts: dict[str, int] = {}
    for run in runs:
        for name in run[METRICS]:
            counts[name] = counts.get(name, 0) + 1
    ranked = sorted(counts, key=lambda name: (-counts[name], name))
    return [Key("metrics", name) for name in ranked[:most]]


def _sentence(exc: BaseException) -> str:
    """An error as one line (never a traceback)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
