"""ExperimentTreePages: experiments -> runs (newest first, fetched page by page) -> child runs.

The tree's shape lives in a QStandardItemModel whose run rows are *empty* (no QStandardItem
is made for them): a page of 200 runs is one ``insertRows`` call, and when QTreeView lays
out 100,000 loaded runs after each page it stays in C++ and touches nothing per row (an
item per cell made that several times slower). What a row shows comes from ``data()``, which
finds the row's run through the row's parent item (``internalId``) and its row number; it
is asked only about the rows on screen.

Rows that may have children but are not loaded yet (experiments, runs with children) get
one "Loading…" row, so the view draws their expand arrow without asking Python about
every row. Nothing is fetched on the GUI thread: ``fetchMore`` starts a background task and
rows are inserted when its page arrives. Live changes are the subclass's
(``experiment_model.ExperimentTreeModel``).
"""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont, QStandardItemModel

from studio.core.backend import WorkspaceBackend
from studio.core.types import ExperimentInfo, RunInfo, RunPage, RunQuery
from studio.ui.background.deferred_release import DeferredRelease
from studio.ui.background.tasks import TaskRunner
from studio.ui.experiments.experiment_rows import (
    COLUMNS,
    EXPERIMENT,
    EXPERIMENT_ROLE,
    RUN_ID_ROLE,
    Branch,
    Packed,
    experiment_cell,
    has_runs,
    pack_run,
    placeholder_cell,
    run_cell,
    unpack_run,
)

PAGE_SIZE = 200
AnyIndex = QModelIndex | QPersistentModelIndex

_DISPLAY = Qt.ItemDataRole.DisplayRole
_DECORATION = Qt.ItemDataRole.DecorationRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole


class ExperimentTreePages(QStandardItemModel):
    """The lazy tree of the experiment pane: its rows and how they are fetched (``ExperimentTreeModel`` adds live changes)."""

    sig_loaded = Signal()
    """The experiment list arrived (or was refreshed)."""
    sig_page_loaded = Signal(str)
    """A page of runs of this experiment arrived."""
    sig_failed = Signal(object, str)
    """Loading failed: (exception, what was being loaded)."""
    sig_placeholder_failed = Signal(QModelIndex)
    """Loading the rows under this index failed: its "Loading…" row now says why."""
    sig_experiments_failed = Signal(object)
    """The experiment list of the workspace shown could not be loaded (the exception; also in sig_failed)."""

    def __init__(self, runner: TaskRunner, parent: Any = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._backend: WorkspaceBackend | None = None
        self._generation = 0  # results of an older workspace or query are dropped
        self._names: list[str] = []  # experiments, in row order
        self._experiments: dict[str, ExperimentInfo] = {}
        self._branches: dict[str, Branch] = {}  # experiment name -> its runs
        self._children: dict[str, Branch] = {}  # run id -> its child runs
        self._by_item: dict[int, Branch] = {}  # address of a branch's item -> the branch
        self._root = int(shiboken6.getCppPointer(self.invisibleRootItem())[0])  # internalId() of top rows
        self._runs: dict[str, Packed] = {}  # run id -> the run, as a tuple the garbage collector skips
        self._home: dict[str, Branch] = {}  # run id -> the branch it is a row of
        self._active: set[str] = set()  # runs whose duration ticks
        self._release = DeferredRelease(self)
        self._bold = QFont()
        self._bold.setBold(True)
        self._italic = QFont()
        self._italic.setItalic(True)
        self.query = RunQuery()
        self.inserting_page = False
        self.setHorizontalHeaderLabels(list(COLUMNS))

    # -- loading -------------------------------------------------------------------------------

    def set_backend(self, backend: WorkspaceBackend | None) -> None:
        """Show another workspace (None: nothing)."""
        self._backend = backend
        self._reset()
        self.reload()

    def reload(self) -> None:
        """Fetch the experiment list again, and whatever failed to load (F5)."""
        backend = self._backend
        if backend is None:
            return
        for branch in [*self._branches.values(), *self._children.values()]:
            if branch.error is not None:
                branch.error, branch.more_wanted = None, True
                self._repaint_placeholder(branch)
                self.fetchMore(self._index_of_branch(branch))
        gen = self._generation
        self._runner.submit(
            backend.list_experiments,
            success=lambda exps: self._on_experiments(gen, exps),
            failure=lambda e: self._on_experiments_failed(gen, e),
            label="Loading experiments",
            owner=self,
        )

    def set_query(self, query: RunQuery) -> None:
        """Filter runs in the backend; loaded experiments fetch their first page again.

        Removing 100,000 empty rows is one quick C++ call, so the old rows go at once and the
        experiment row (and whether it is expanded) stays.
        """
        self.query = query
        self._generation += 1
        self._forget_runs()
        for row, name in enumerate(self._names):
            old = self._branches[name]
            was_loaded = old.loaded or old.fetching
            index = self.index(row, 0)
            branch = self._new_branch(index, name)
            branch.address = old.address
            if branch.address is not None:
                self._by_item[branch.address] = branch
            if self.rowCount(index):
                self.removeRows(0, self.rowCount(index), index)
            if was_loaded or has_runs(self._experiments[name]):
                self._add_placeholder(branch)
            if was_loaded:
                self.fetchMore(index)

    def _reset(self) -> None:
        self._generation += 1
        self._forget_runs()
        self._names, self._experiments, self._branches = [], {}, {}
        self._by_item = {}
        self.removeRows(0, self.rowCount())

    def _forget_runs(self) -> None:
        old: list[dict[Any, Any] | list[Any]] = [self._runs, self._home, self._children]
        for branch in [*self._branches.values(), *self._children.values()]:
            old += [branch.ids, branch.seq]
        self._release.drop(*old)  # freeing 100,000 runs at once stalls the window
        self._runs, self._home, self._children, self._active = {}, {}, {}, set()
        # Items of child-run branches are deleted with their rows, and their addresses reused.
        self._by_item = {b.address: b for b in self._branches.values() if b.address is not None}

    def _on_experiments(self, gen: int, experiments: list[ExperimentInfo]) -> None:
        if gen != self._generation:
            return
        for info in experiments:
            if info.name in self._experiments:
                self._experiments[info.name] = info
                row = self._names.index(info.name)
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
                branch = self._branches[info.name]
                if has_runs(info) and not branch.loaded and not branch.placeholder:
                    self._add_placeholder(branch)
            else:
                self._insert_experiment(info)
        self.sig_loaded.emit()

    def _on_experiments_failed(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation:  # not about a workspace (or a query) left since
            self.sig_failed.emit(exc, "Loading experiments")
            self.sig_experiments_failed.emit(exc)

    def _insert_experiment(self, info: ExperimentInfo) -> None:
        lowered = [n.lower() for n in self._names]
        row = next((i for i, n in enumerate(lowered) if n > info.name.lower()), len(lowered))
        self._experiments[info.name] = info
        self._names.insert(row, info.name)
        self.insertRows(row, 1)
        branch = self._new_branch(self.index(row, 0), info.name)
        if has_runs(info):
            self._add_placeholder(branch)

    def _new_branch(self, index: QModelIndex, experiment: str, run_id: str | None = None) -> Branch:
        # No QStandardItem wrapper is ever made here: PySide keeps such wrappers alive with the
        # model, and once their rows are removed, deleting the model touched freed memory.
        if self.columnCount(index) != len(COLUMNS):
            self.insertColumns(0, len(COLUMNS), index)  # else rows inserted under it get one column
        branch = Branch(experiment, run_id)
        if run_id is None:
            self._branches[experiment] = branch
        else:
            self._children[run_id] = branch
        return branch

    def _insert_rows(self, branch: Branch, row: int, count: int) -> QModelIndex:
        """Insert ``count`` empty rows under a branch (its ids are already in place); returns its index."""
        parent = self._index_of_branch(branch)
        self.insertRows(row, count, parent)
        if branch.address is None:  # its first rows: now the address of its item can be read
            branch.address = self.index(0, 0, parent).internalId()
            self._by_item[branch.address] = branch
            self.dataChanged.emit(self.index(row, 0, parent), self.index(row + count - 1, len(COLUMNS) - 1, parent))
        return parent

    def _index_of_branch(self, branch: Branch) -> QModelIndex:
        return (
            self.index_of_experiment(branch.experiment) if branch.run_id is None else self.index_of_run(branch.run_id)
        )

    def _add_placeholder(self, branch: Branch) -> None:
        if not branch.placeholder and not branch.ids:
            branch.placeholder = True
            self._insert_rows(branch, 0, 1)

    def _add_child_branch(self, run_id: str, index: QModelIndex) -> None:
        """A run with children gets a "Loading…" row, so it can be expanded."""
        if run_id not in self._children and index.isValid():
            branch = self._new_branch(index, self._runs[run_id][EXPERIMENT], run_id)
            self._add_placeholder(branch)

    def canFetchMore(self, parent: AnyIndex) -> bool:
        """Whether expanding (or scrolling in) ``parent`` should load runs: asked by the view."""
        if self._backend is None or not parent.isValid():
            return False
        branch = self._branch_under(parent)
        if branch is None or branch.fetching or branch.error is not None:
            return False
        if branch.run_id is None:
            # Only the first page comes by itself: the view asks again on every layout, and
            # answering yes would load a 100,000-run experiment without any scrolling.
            return not branch.loaded or (branch.next_token is not None and branch.more_wanted)
        return not branch.loaded

    def fetchMore(self, parent: AnyIndex) -> None:
        """Start loading the next page (or the children) under ``parent`` in the background."""
        backend = self._backend
        if backend is None or not self.canFetchMore(parent):
            return
        branch = self._branch_under(parent)
        if branch is None:
            return
        branch.fetching = True
        gen = self._generation
        if branch.run_id is None:
            what = f"Loading runs of {branch.experiment}"
            self._runner.submit(
                backend.list_runs,
                branch.experiment,
                self.query,
                branch.next_token,
                PAGE_SIZE,
                success=lambda page: self._on_page(gen, branch, page),
                failure=lambda e: self._on_fetch_failed(gen, branch, e, what),
                owner=self,
            )
        else:
            self._runner.submit(
                backend.list_children,
                branch.run_id,
                success=lambda runs: self._on_page(gen, branch, RunPage(runs, None)),
                failure=lambda e: self._on_fetch_failed(gen, branch, e, "Loading child runs"),
                owner=self,
            )

    def has_more(self, parent: AnyIndex) -> bool:
        """True if an experiment has runs beyond those loaded."""
        branch = self._branch_under(parent)
        return branch is not None and branch.run_id is None and branch.next_token is not None

    def fetch_next_page(self, parent: AnyIndex) -> None:
        """Load the next page of an experiment's runs (the pane calls this near the end of the list)."""
        branch = self._branch_under(parent)
        if branch is not None and branch.run_id is None and branch.next_token is not None:
            branch.more_wanted = True
            self.fetchMore(parent)

    def _on_page(self, gen: int, branch: Branch, page: RunPage) -> None:
        if gen != self._generation or not self._is_current(branch):
            return
        branch.fetching, branch.loaded, branch.next_token, branch.more_wanted = False, True, page.next_token, False
        new = [run for run in page.runs if run.id not in self._home]
        # The pane waits for the whole page before it looks at the view.
        self.inserting_page = True
        try:
            if branch.placeholder:
                branch.placeholder = False
                self.removeRows(0, 1, self._index_of_branch(branch))
            if new:
                start = len(branch.ids)
                for run in new:
                    self._remember(run, branch)
                    branch.append(run.id)
                parent = self._insert_rows(branch, start, len(new))
                for offset, run in enumerate(new):
                    if run.child_count:
                        self._add_child_branch(run.id, self.index(start + offset, 0, parent))
        finally:
            self.inserting_page = False
        self.sig_page_loaded.emit(branch.experiment)

    def _on_fetch_failed(self, gen: int, branch: Branch, exc: BaseException, what: str) -> None:
        if gen == self._generation and self._is_current(branch):
            branch.fetching, branch.error = False, str(exc) or type(exc).__name__  # no retry loop; F5 retries
            self._repaint_placeholder(branch)
            if branch.placeholder:
                self.sig_placeholder_failed.emit(self._index_of_branch(branch))
            self.sig_failed.emit(exc, what)

    def _repaint_placeholder(self, branch: Branch) -> None:
        if branch.placeholder:
            index = self.index(0, 0, self._index_of_branch(branch))
            self.dataChanged.emit(index, index)

    def _is_current(self, branch: Branch) -> bool:
        current = self._branches if branch.run_id is None else self._children
        return current.get(branch.run_id or branch.experiment) is branch

    def _remember(self, run: RunInfo, branch: Branch) -> None:
        self._runs[run.id] = pack_run(run)
        self._home[run.id] = branch
        if run.status.is_active:
            self._active.add(run.id)
        else:
            self._active.discard(run.id)

    # -- what rows show ------------------------------------------------------------------------

    def data(self, index: AnyIndex, role: int = _DISPLAY) -> Any:
        """What a cell shows: computed from the run (or experiment) of its row."""
        if not index.isValid():
            return None
        owner = index.internalId()
        if owner == self._root:
            row = index.row()
            if row >= len(self._names) or self._names[row] not in self._experiments:
                return None
            name = self._names[row]
            return experiment_cell(self._experiments[name], name, index.column(), role, self._bold)
        branch = self._by_item.get(owner)
        if branch is None:
            return None
        row = index.row()
        if row < len(branch.ids):
            return run_cell(self._runs[branch.ids[row]], index.column(), role)
        if branch.placeholder and row == 0:
            return placeholder_cell(branch.error, index.column(), role, self._italic)
        return None

    # -- helpers -------------------------------------------------------------------------------

    def run_info(self, index: AnyIndex) -> RunInfo | None:
        """The run at ``index`` (None for an experiment or a "Loading…" row)."""
        if not index.isValid():
            return None
        run_id = index.data(RUN_ID_ROLE)
        packed = None if run_id is None else self._runs.get(run_id)
        return None if packed is None else unpack_run(packed)

    def experiment_of(self, index: AnyIndex) -> str | None:
        """The experiment an index belongs to."""
        return None if not index.isValid() else index.data(EXPERIMENT_ROLE)

    def index_of_run(self, run_id: str) -> QModelIndex:
        """The index of a loaded run (invalid if it is not loaded)."""
        branch = self._home.get(run_id)
        if branch is None:
            return QModelIndex()
        return self.index(branch.row_of(run_id), 0, self._index_of_branch(branch))

    def index_of_experiment(self, name: str) -> QModelIndex:
        """The index of an experiment row."""
        return self.index(self._names.index(name), 0) if name in self._experiments else QModelIndex()

    def loaded_run_count(self, experiment: str) -> int:
        """How many top-level runs of an experiment are loaded."""
        branch = self._branches.get(experiment)
        return 0 if branch is None else len(branch.ids)

    def is_empty_workspace(self) -> bool:
        """True when the workspace has no runs at all (the sample experiment is offered)."""
        return not any(has_runs(info) for info in self._experiments.values())

    def _branch_under(self, index: AnyIndex) -> Branch | None:
        """The branch of the rows under ``index`` (an experiment or a run with children)."""
        if not index.isValid():
            return None
        owner = index.internalId()
        if owner == self._root:
            row = index.row()
            return self._branches.get(self._names[row]) if row < len(self._names) else None
        branch = self._by_item.get(owner)
        if branch is None or index.row() >= len(branch.ids):
            return None
        return self._children.get(branch.ids[index.row()])
