"""The experiment pane: a filter box over the lazy experiment/run tree, with an empty state and failure notices.

What the stack shows: the tree, the empty state ("No runs yet", with the sample experiment), or a failure page
(a workspace that could not be opened or listed, with Retry). A failure while experiments are shown is a banner
above the tree instead, so what is there stays usable.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QFrame,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from studio.core.backend import WorkspaceBackend
from studio.core.search import query_from_box
from studio.core.types import RunInfo
from studio.ui.background.debounce import qdebounced
from studio.ui.background.tasks import TaskRunner
from studio.ui.experiments.experiment_model import ExperimentTreeModel
from studio.ui.experiments.failure_notice import Failure, FailureNotice
from studio.ui.runs.job_rows import STUDIO_ACTION

FILTER_DELAY_MS = 300
TREE, EMPTY, FAILURE = 0, 1, 2
"""The pages of the pane's stack."""


class ExperimentTreePane(QDockWidget):
    """Experiments and their runs; double-click opens a run, or an experiment's runs table."""

    sig_open_run = Signal(str)
    """The user asked to open this run id."""
    sig_open_experiment = Signal(str)
    """The user asked to open this experiment's runs table."""
    sig_cancel_runs = Signal(list)
    """The user asked to cancel these run ids."""
    sig_download_outputs = Signal(str)
    """The user asked to download the outputs of this run id."""
    sig_compare_runs = Signal(list)
    """The user asked to compare these run ids."""
    sig_open_in_studio = Signal(str)
    """The user asked to open this run id's page in its workspace's web studio (Azure ML)."""
    sig_run_sample = Signal()
    """The user asked to run the sample experiment."""
    sig_selection_changed = Signal(list)
    """The selected run ids changed."""
    sig_retry = Signal()
    """Retry was pressed on the failure shown (``failure``)."""
    sig_sign_in = Signal()
    """Sign in… was pressed on the failure shown."""

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__("Experiments", parent)
        self.setObjectName("experimentTree")
        self.model = ExperimentTreeModel(runner, self)
        self.can_cancel = True
        """False for a kind that cannot cancel runs: the runs' menu then has no "Cancel run"."""
        self.studio_links = False
        """True for a kind whose runs have a web studio page (Azure ML): the runs' menu offers to open it."""
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        self.filter_box = QLineEdit(body)
        self.filter_box.setObjectName("runFilter")
        self.filter_box.setPlaceholderText("Filter runs: name or id, status:Failed, tag:lr=0.01")
        self.filter_box.setClearButtonEnabled(True)
        self.filter_error = QLabel(body)
        self.filter_error.setObjectName("runFilterError")
        self.filter_error.setStyleSheet("color: #d9363e")
        self.filter_error.hide()
        self.stack = QStackedWidget(body)
        self.view = self._make_view()
        self.stack.addWidget(self.view)
        self.stack.addWidget(self._make_empty_state())
        # In a scroll area: the page does not make the pane's least height that of its buttons.
        scroll = QScrollArea(self.stack)
        scroll.setObjectName("failureScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.failure_page = FailureNotice(centered=True, parent=scroll)
        scroll.setWidget(self.failure_page)
        self.stack.addWidget(scroll)
        self.failure_banner = FailureNotice(centered=False, parent=body)
        self.failure_banner.hide()
        for notice in (self.failure_page, self.failure_banner):
            notice.sig_retry.connect(self.sig_retry)
            notice.sig_sign_in.connect(self.sig_sign_in)
        self.failure_page.sig_dismissed.connect(self._page_dismissed)
        self._has_workspace = False
        self._listed = False  # the experiment list of this workspace arrived once
        layout.addWidget(self.filter_box)
        layout.addWidget(self.filter_error)
        layout.addWidget(self.failure_banner)
        layout.addWidget(self.stack)
        self.setWidget(body)
        self._filter_typed = qdebounced(self._apply_filter, FILTER_DELAY_MS, self)
        self.filter_box.textChanged.connect(self._filter_typed)
        self.model.sig_loaded.connect(self._experiments_listed)
        self.model.sig_page_loaded.connect(lambda _e: self._fetch_if_near_end())
        self.view.verticalScrollBar().valueChanged.connect(lambda _v: self._fetch_if_near_end())
        self.view.verticalScrollBar().rangeChanged.connect(lambda _a, _b: self._fetch_if_near_end())
        self.view.expanded.connect(lambda _i: self._fetch_if_near_end())
        self.model.rowsAboutToBeInserted.connect(self._remember_scroll)
        self.model.rowsInserted.connect(self._keep_scroll)
        # A failed "Loading…" row spans the columns: it says why in a sentence wider than a name.
        self.model.sig_placeholder_failed.connect(self._span_failed_row)
        self._scroll_anchor: tuple[int, QModelIndex] | None = None

    def _make_view(self) -> QTreeView:
        view = QTreeView(self)
        view.setObjectName("runTree")
        view.setModel(self.model)
        view.setUniformRowHeights(True)  # row heights come from the first row, not from 100,000
        # Run rows are empty items, which Qt makes editable by default.
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.setAlternatingRowColors(True)
        # Double-click on an experiment opens its runs table; its arrow (or Right/Left) expands it.
        view.setExpandsOnDoubleClick(False)
        header = view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(50)
        view.setColumnWidth(1, 90)
        view.setColumnWidth(2, 100)
        view.setColumnWidth(3, 64)
        view.setColumnWidth(4, 220)
        view.setColumnHidden(4, True)  # Run ID: shown on demand (right-click the header)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        view.doubleClicked.connect(self._open_index)
        view.customContextMenuRequested.connect(self._context_menu)
        view.selectionModel().selectionChanged.connect(
            lambda *_: self.sig_selection_changed.emit(self.selected_run_ids())
        )
        open_action = QAction("Open", view)
        open_action.setShortcut(QKeySequence(Qt.Key.Key_Return))
        open_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        open_action.triggered.connect(self._open_selected)
        view.addAction(open_action)
        return view

    def _make_empty_state(self) -> QWidget:
        page = QWidget(self)
        page.setObjectName("emptyWorkspace")
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        text = QLabel(
            "<b>No runs yet.</b><br>Log runs from Python with <code>studio.sdk</code>,<br>"
            "or see a complete run in a few seconds:",
            page,
        )
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setWordWrap(True)
        button = QPushButton("Run sample experiment", page)
        button.setObjectName("sampleExperimentButton")
        button.clicked.connect(self.sig_run_sample.emit)
        layout.addWidget(text)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        self.sample_button = button
        return page

    # -- public --------------------------------------------------------------------------------

    def set_backend(self, backend: WorkspaceBackend | None, can_cancel: bool = True) -> None:
        """Show another workspace; without ``can_cancel`` the runs' menu has no Cancel run."""
        self.can_cancel = can_cancel
        self._has_workspace, self._listed = backend is not None, False
        self._hide_banner()
        self.failure_page.failure = None
        self.model.set_backend(backend)
        self._show_content()

    @property
    def failure(self) -> Failure | None:
        """The failure shown (on the failure page or in the banner), or None."""
        if self.stack.currentIndex() == FAILURE and self.failure_page.failure is not None:
            return self.failure_page.failure
        return self.failure_banner.failure

    def show_failure(self, failure: Failure) -> None:
        """Say what failed, with Retry (and Sign in…): as the pane's page when the tree is empty, else above it.

        Dismiss is offered when a workspace is open behind the failure (what failed was opening another), not
        for a workspace whose experiments could not be listed: behind that page there is nothing.
        """
        if self.model.rowCount() == 0:
            self._hide_banner()
            self.failure_page.show_failure(failure, dismissable=self._has_workspace and failure.key == "open")
            self._show_page(FAILURE)
        else:
            if self.stack.currentIndex() == FAILURE:
                self.failure_page.failure = None
                self._show_content()
            self.failure_banner.show_failure(failure, dismissable=True)
            self.failure_banner.show()

    def show_busy(self, text: str) -> None:
        """Say that something is being opened: on the failure shown, or (no workspace open yet) as the page."""
        if self.failure is not None:
            notice = self.failure_page if self.stack.currentIndex() == FAILURE else self.failure_banner
            notice.show_busy(text)
        elif not self._has_workspace:
            self.failure_page.failure = None
            self.failure_page.show_busy(text)
            self._show_page(FAILURE)

    def clear_failure(self, key: str) -> None:
        """The work that failed as ``key`` ("open", "experiments") succeeded: its failure goes."""
        if self.failure_banner.failure is not None and self.failure_banner.failure.key == key:
            self._hide_banner()
        page = self.failure_page.failure
        if self.stack.currentIndex() == FAILURE and (page is None or page.key == key):
            self.failure_page.failure = None
            self._show_content()

    def show_runs(self) -> None:
        """Runs arrived (live refresh): the tree instead of the empty state, unless a failure is shown."""
        if self.stack.currentIndex() == EMPTY:
            self._show_page(TREE)

    def focus_filter(self) -> None:
        """Ctrl+F: put the cursor in the filter box."""
        self.show()
        self.raise_()
        self.filter_box.setFocus()
        self.filter_box.selectAll()

    def selected_run_ids(self) -> list[str]:
        """The run ids of the selected rows, in view order."""
        ids = []
        for index in self.view.selectionModel().selectedRows(0):
            run = self.model.run_info(index)
            if run is not None:
                ids.append(run.id)
        return ids

    def selected_runs(self) -> list[RunInfo]:
        """The selected runs."""
        runs = [self.model.run_info(i) for i in self.view.selectionModel().selectedRows(0)]
        return [r for r in runs if r is not None]

    def select_run(self, run_id: str) -> bool:
        """Select and show a run if it is loaded; returns whether it was."""
        index = self.model.index_of_run(run_id)
        if not index.isValid():
            return False
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)
        return True

    # -- internals -----------------------------------------------------------------------------

    def _apply_filter(self) -> None:
        try:
            query = query_from_box(self.filter_box.text())
        except ValueError as exc:
            self.filter_error.setText(str(exc))
            self.filter_error.show()
            return
        self.filter_error.hide()
        # Experiment rows stay, and so does whether they are expanded.
        self.model.set_query(query)

    def _experiments_listed(self) -> None:
        self._listed = True
        self.clear_failure("experiments")
        if self.stack.currentIndex() != FAILURE:  # a failure stays until its work succeeds or is dismissed
            self._show_content()

    def _page_dismissed(self) -> None:
        self.failure_page.show()  # the stack shows and hides its pages itself
        self._show_content()

    def _show_content(self) -> None:
        """The tree, or the empty state once the experiments are known to hold no run."""
        empty = self._listed and self.model.is_empty_workspace() and not self.filter_box.text()
        self._show_page(EMPTY if empty else TREE)

    def _show_page(self, page: int) -> None:
        self.stack.setCurrentIndex(page)
        self.filter_box.setVisible(page == TREE)

    def _hide_banner(self) -> None:
        self.failure_banner.failure = None
        self.failure_banner.hide()

    def _header_menu(self, pos: QPoint) -> None:
        menu = QMenu(self.view)
        model = self.model
        for column in range(1, model.columnCount()):
            title = model.headerData(column, Qt.Orientation.Horizontal)
            act = menu.addAction(str(title))
            act.setCheckable(True)
            act.setChecked(not self.view.isColumnHidden(column))
            act.toggled.connect(lambda on, c=column: self.view.setColumnHidden(c, not on))
        menu.popup(self.view.header().mapToGlobal(pos))

    def _open_selected(self) -> None:
        run_ids = self.selected_run_ids()
        for run_id in run_ids:
            self.sig_open_run.emit(run_id)
        current = self.view.currentIndex()
        if not run_ids and self._experiment_row(current):
            self.sig_open_experiment.emit(self.model.experiment_of(current))

    def _open_index(self, index: QModelIndex) -> None:
        run = self.model.run_info(index)
        if run is not None:
            self.sig_open_run.emit(run.id)
        elif self._experiment_row(index):
            self.sig_open_experiment.emit(self.model.experiment_of(index))

    def _experiment_row(self, index: QModelIndex) -> bool:
        """Whether ``index`` is on an experiment's own row (not on one of its runs)."""
        return index.isValid() and not index.parent().isValid() and self.model.experiment_of(index) is not None

    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if self._experiment_row(index):
            experiment = self.model.experiment_of(index) or ""
            menu = QMenu(self.view)
            menu.setObjectName("experimentContextMenu")
            menu.addAction("Open runs table", lambda: self.sig_open_experiment.emit(experiment))
            menu.popup(self.view.viewport().mapToGlobal(pos))
            return
        runs = self.selected_runs()
        if not runs:
            return
        menu = QMenu(self.view)
        menu.setObjectName("runContextMenu")
        menu.addAction("Open", self._open_selected)
        if self.can_cancel:  # a kind that cannot cancel (an MLflow server) has no such entry, not a greyed one
            cancel = menu.addAction(
                "Cancel run", lambda: self.sig_cancel_runs.emit([r.id for r in runs if r.status.is_active])
            )
            cancel.setEnabled(any(r.status.is_active for r in runs))
        download = menu.addAction("Download outputs…", lambda: self.sig_download_outputs.emit(runs[0].id))
        download.setEnabled(len(runs) == 1)
        compare = menu.addAction("Compare", lambda: self.sig_compare_runs.emit([r.id for r in runs]))
        compare.setEnabled(len(runs) >= 2)
        if self.studio_links:
            studio = menu.addAction(STUDIO_ACTION, lambda: self.sig_open_in_studio.emit(runs[0].id))
            studio.setObjectName("actionRunInStudio")
            studio.setEnabled(len(runs) == 1)
        menu.addSeparator()
        menu.addAction("Copy run ID", lambda: QGuiApplication.clipboard().setText("\n".join(r.id for r in runs)))
        menu.popup(self.view.viewport().mapToGlobal(pos))

    def _fetch_if_near_end(self) -> None:
        """Load the next page of an expanded experiment once its last loaded run is near the viewport."""
        model, view = self.model, self.view
        if model.inserting_page:
            return  # asked again once the page is in (sig_page_loaded)
        reach = view.viewport().height() * 2
        for row in range(model.rowCount()):
            experiment = model.index(row, 0)
            if not view.isExpanded(experiment) or not model.has_more(experiment):
                continue
            last = model.index(model.rowCount(experiment) - 1, 0, experiment)
            rect = view.visualRect(last)
            if last.isValid() and rect.isValid() and rect.top() < reach:
                model.fetch_next_page(experiment)

    def _span_failed_row(self, parent: QModelIndex) -> None:
        self.view.setFirstColumnSpanned(0, parent, True)

    def _remember_scroll(self, parent: QModelIndex, first: int, _last: int) -> None:
        # Rows inserted above what the user looks at must not push it down the list.
        self._scroll_anchor = None
        if first != 0 or self.model.inserting_page:
            return  # only rows inserted above can push the view down
        top = self.view.indexAt(self.view.viewport().rect().topLeft())
        if top.isValid() and parent.isValid() and first == 0 and top.parent() == parent and top.row() >= first:
            self._scroll_anchor = (self.view.verticalScrollBar().value(), parent)

    def _keep_scroll(self, parent: QModelIndex, first: int, last: int) -> None:
        if self._scroll_anchor is not None and self._scroll_anchor[1] == parent:
            bar = self.view.verticalScrollBar()
            rows = last - first + 1
            step = (
                1
                if self.view.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerItem
                else self.view.sizeHintForRow(0)
            )
            bar.setValue(self._scroll_anchor[0] + rows * max(1, step))
        self._scroll_anchor = None
