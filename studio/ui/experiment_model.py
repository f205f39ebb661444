"""ExperimentTreeModel: experiments -> runs (newest first, fetched page by page) -> child runs.

Nothing is fetched on the GUI thread: ``fetchMore`` starts a background task and rows are
inserted when its page arrives. Live changes (``apply_changes``) update loaded rows in
place and insert new runs at the top, so selection, expansion and scroll survive.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal

from studio.core.backend import WorkspaceBackend
from studio.core.types import ExperimentInfo, RunInfo, RunPage, RunQuery
from studio.ui.run_query import matches
from studio.ui.status_style import format_duration, status_icon
from studio.ui.tasks import TaskRunner

COLUMNS = ("Name", "Status", "Started", "Duration", "Run ID")
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_LEAF_FLAGS = _FLAGS | Qt.ItemFlag.ItemNeverHasChildren
PAGE_SIZE = 200
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 1
AnyIndex = QModelIndex | QPersistentModelIndex


@dataclass(eq=False)
class Node:
    """An experiment (``run`` is None) or a run in the tree."""

    experiment: str
    parent: Node | None
    row: int
    run: RunInfo | None = None
    info: ExperimentInfo | None = None
    children: list[Node] = field(default_factory=list)
    loaded: bool = False
    fetching: bool = False
    next_token: str | None = None
    more_wanted: bool = False  # the view scrolled near the end of the loaded runs


class ExperimentTreeModel(QAbstractItemModel):
    """The lazy tree of the experiment pane."""

    sig_loaded = Signal()
    """The experiment list arrived (or was refreshed)."""
    sig_page_loaded = Signal(str)
    """A page of runs of this experiment arrived."""
    sig_failed = Signal(object, str)
    """Loading failed: (exception, what was being loaded)."""

    def __init__(self, runner: TaskRunner, parent: Any = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._backend: WorkspaceBackend | None = None
        self._generation = 0  # results of an older workspace or query are dropped
        self._roots: list[Node] = []
        self._runs: dict[str, Node] = {}
        self._active: dict[str, Node] = {}  # runs whose duration ticks
        self.query = RunQuery()
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick_durations)
        self._ticker.start()

    # -- loading -------------------------------------------------------------------------------

    def set_backend(self, backend: WorkspaceBackend | None) -> None:
        """Show another workspace (None: nothing)."""
        self._backend = backend
        self._reset([])
        self.reload()

    def reload(self) -> None:
        """Fetch the experiment list again, dropping loaded runs (F5)."""
        backend = self._backend
        if backend is None:
            return
        gen = self._generation
        self._runner.submit(
            backend.list_experiments,
            success=lambda exps: self._on_experiments(gen, exps),
            failure=lambda e: self.sig_failed.emit(e, "Loading experiments"),
            label="Loading experiments",
            owner=self,
        )

    def set_query(self, query: RunQuery) -> None:
        """Filter runs in the backend; loaded experiments fetch their first page again."""
        self.query = query
        self._generation += 1
        self._runs = {}  # every experiment loses its runs: forget them all at once
        self._active = {}
        for node in self._roots:
            was_loaded = node.loaded or node.fetching
            if node.children:
                self.beginRemoveRows(self._index_of(node), 0, len(node.children) - 1)
                node.children = []
                self.endRemoveRows()
            node.loaded, node.fetching, node.next_token, node.more_wanted = False, False, None, False
            if was_loaded:
                self.fetchMore(self._index_of(node))

    def _reset(self, experiments: list[ExperimentInfo]) -> None:
        self.beginResetModel()
        self._generation += 1
        self._roots = [Node(e.name, None, i, info=e) for i, e in enumerate(experiments)]
        self._runs = {}
        self._active = {}
        self.endResetModel()

    def _on_experiments(self, gen: int, experiments: list[ExperimentInfo]) -> None:
        if gen != self._generation:
            return
        known = {n.experiment: n for n in self._roots}
        if not self._roots:
            self._reset(experiments)
        else:
            for info in experiments:
                node = known.get(info.name)
                if node is None:
                    self._insert_experiment(info)
                else:
                    node.info = info
                    self._changed(node)
        self.sig_loaded.emit()

    def _insert_experiment(self, info: ExperimentInfo) -> None:
        names = [n.experiment.lower() for n in self._roots]
        row = next((i for i, n in enumerate(names) if n > info.name.lower()), len(names))
        self.beginInsertRows(QModelIndex(), row, row)
        self._roots.insert(row, Node(info.name, None, row, info=info))
        self._renumber(self._roots, row)
        self.endInsertRows()

    def canFetchMore(self, parent: AnyIndex) -> bool:
        node = self._node(parent)
        if node is None or node.fetching or self._backend is None:
            return False
        if node.run is None:
            # Only the first page comes by itself: the view asks again on every layout, and
            # answering yes would load a 100,000-run experiment without any scrolling.
            return not node.loaded or (node.next_token is not None and node.more_wanted)
        return node.run.child_count > 0 and not node.loaded

    def has_more(self, parent: AnyIndex) -> bool:
        """True if an experiment has runs beyond those loaded."""
        node = self._node(parent)
        return node is not None and node.run is None and node.next_token is not None

    def fetch_next_page(self, parent: AnyIndex) -> None:
        """Load the next page of an experiment's runs (the pane calls this near the end of the list)."""
        node = self._node(parent)
        if node is not None and node.run is None and node.next_token is not None:
            node.more_wanted = True
            self.fetchMore(parent)

    def fetchMore(self, parent: AnyIndex) -> None:
        node = self._node(parent)
        backend = self._backend
        if node is None or backend is None or not self.canFetchMore(parent):
            return
        node.fetching = True
        gen = self._generation
        if node.run is None:
            token, query = node.next_token, self.query
            self._runner.submit(
                lambda: backend.list_runs(node.experiment, query, token, PAGE_SIZE),
                success=lambda page: self._on_page(gen, node, page),
                failure=lambda e: self._on_fetch_failed(gen, node, e, f"Loading runs of {node.experiment}"),
                owner=self,
            )
        else:
            run_id = node.run.id
            self._runner.submit(
                lambda: backend.list_children(run_id),
                success=lambda runs: self._on_page(gen, node, RunPage(runs, None)),
                failure=lambda e: self._on_fetch_failed(gen, node, e, "Loading child runs"),
                owner=self,
            )

    def _on_page(self, gen: int, node: Node, page: RunPage) -> None:
        if gen != self._generation:
            return
        node.fetching, node.loaded, node.next_token, node.more_wanted = False, True, page.next_token, False
        fresh = [r for r in page.runs if r.id not in self._runs]
        if fresh:
            first = len(node.children)
            self.beginInsertRows(self._index_of(node), first, first + len(fresh) - 1)
            for i, run in enumerate(fresh):
                child = Node(node.experiment, node, first + i, run=run)
                node.children.append(child)
                self._runs[run.id] = child
                self._track(child)
            self.endInsertRows()
        self.sig_page_loaded.emit(node.experiment)

    def _on_fetch_failed(self, gen: int, node: Node, exc: BaseException, what: str) -> None:
        if gen == self._generation:
            node.fetching = False
            node.loaded = True  # no retry loop; F5 reloads
            self.sig_failed.emit(exc, what)

    # -- live changes --------------------------------------------------------------------------

    def apply_changes(self, runs: list[RunInfo]) -> None:
        """Merge runs that changed in the workspace (from ``list_changed_runs``)."""
        for run in runs:
            node = self._runs.get(run.id)
            if node is not None:
                node.run = run
                self._track(node)
                self._changed(node)
                continue
            parent = self._runs.get(run.parent_id) if run.parent_id else self._experiment_node(run.experiment)
            if parent is None:
                if run.parent_id is None:
                    self.reload()  # a new experiment
                continue
            if parent.run is None and not (parent.loaded and matches(run, self.query)):
                continue
            if parent.run is not None and not parent.loaded:
                self._changed(parent)  # it may have children now
                continue
            row = 0 if parent.run is None else len(parent.children)  # newest first / oldest first
            self.beginInsertRows(self._index_of(parent), row, row)
            child = Node(run.experiment, parent, row, run=run)
            parent.children.insert(row, child)
            self._renumber(parent.children, row)
            self._runs[run.id] = child
            self._track(child)
            self.endInsertRows()

    def _experiment_node(self, name: str) -> Node | None:
        return next((n for n in self._roots if n.experiment == name), None)

    def _track(self, node: Node) -> None:
        run = node.run
        if run is not None and run.status.is_active:
            self._active[run.id] = node
        elif run is not None:
            self._active.pop(run.id, None)

    def _tick_durations(self) -> None:
        for node in list(self._active.values()):
            if node.run is not None and node.run.started_at is not None and node.run.id in self._runs:
                index = self.createIndex(node.row, 3, node)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])

    # -- Qt model API --------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:
        children = self._children(parent)
        if 0 <= row < len(children) and 0 <= column < len(COLUMNS):
            return self.createIndex(row, column, children[row])
        return QModelIndex()

    def parent(self, index: AnyIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        node = self._node(index)
        if node is None or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.parent.row, 0, node.parent)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._children(parent))

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return len(COLUMNS)

    def hasChildren(self, parent: AnyIndex = QModelIndex()) -> bool:
        node = self._node(parent)
        if node is None:
            return bool(self._roots) if not parent.isValid() else False
        if node.run is None:
            return bool(node.children) or not node.loaded or node.next_token is not None
        return bool(node.children) or node.run.child_count > 0

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self._node(index)
        if node is None:
            return None
        column = index.column()
        if node.run is None:
            return self._experiment_data(node, column, role)
        run = node.run
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return run.display_name or run.id
            if column == 1:
                return run.status.value
            if column == 2:
                return _when(run.started_at or run.created_at)
            if column == 3:
                end = run.ended_at or (time.time() if run.status.is_active else None)
                return format_duration(None if run.started_at is None or end is None else end - run.started_at)
            return run.id
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return status_icon(run.status)
        if role == Qt.ItemDataRole.ToolTipRole:
            reason = f"\n{run.status_reason}" if run.status_reason else ""
            return f"{run.display_name}\n{run.id}\n{run.status.value}{reason}"
        if role == RUN_ID_ROLE:
            return run.id
        return None

    def _experiment_data(self, node: Node, column: int, role: int) -> Any:
        info = node.info
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return node.experiment
            if column == 1 and info is not None:
                return f"{info.run_count:,} run" + ("" if info.run_count == 1 else "s")
        if role == Qt.ItemDataRole.ToolTipRole and info is not None and info.last_run_at:
            return f"{node.experiment}: {info.run_count:,} runs, the last at {_when(info.last_run_at)}"
        if role == Qt.ItemDataRole.FontRole and column == 0:
            from PySide6.QtGui import QFont

            font = QFont()
            font.setBold(True)
            return font
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        node = self._node(index)
        if node is None:
            return Qt.ItemFlag.NoItemFlags
        run = node.run
        if run is not None and not run.child_count and run.status.is_terminal:
            return _LEAF_FLAGS  # the view may skip asking about children
        return _FLAGS

    # -- helpers -------------------------------------------------------------------------------

    def run_info(self, index: AnyIndex) -> RunInfo | None:
        """The run at ``index`` (None for an experiment row)."""
        node = self._node(index)
        return None if node is None else node.run

    def experiment_of(self, index: AnyIndex) -> str | None:
        """The experiment an index belongs to."""
        node = self._node(index)
        return None if node is None else node.experiment

    def index_of_run(self, run_id: str) -> QModelIndex:
        """The index of a loaded run (invalid if it is not loaded)."""
        node = self._runs.get(run_id)
        return QModelIndex() if node is None else self._index_of(node)

    def index_of_experiment(self, name: str) -> QModelIndex:
        """The index of an experiment row."""
        node = self._experiment_node(name)
        return QModelIndex() if node is None else self._index_of(node)

    def loaded_run_count(self, experiment: str) -> int:
        """How many top-level runs of an experiment are loaded."""
        node = self._experiment_node(experiment)
        return 0 if node is None else len(node.children)

    def is_empty_workspace(self) -> bool:
        """True when the workspace has no runs at all (the sample experiment is offered)."""
        return all((n.info.run_count if n.info else 0) == 0 for n in self._roots)

    def _node(self, index: AnyIndex) -> Node | None:
        if not index.isValid():
            return None
        node = index.internalPointer()
        return node if isinstance(node, Node) else None

    def _children(self, parent: AnyIndex) -> list[Node]:
        if not parent.isValid():
            return self._roots
        node = self._node(parent)
        return [] if node is None else node.children

    def _index_of(self, node: Node) -> QModelIndex:
        return self.createIndex(node.row, 0, node)

    def _changed(self, node: Node) -> None:
        self.dataChanged.emit(self.createIndex(node.row, 0, node), self.createIndex(node.row, len(COLUMNS) - 1, node))

    @staticmethod
    def _renumber(nodes: list[Node], start: int) -> None:
        for i in range(start, len(nodes)):
            nodes[i].row = i


def _when(t: float | None) -> str:
    if not t:
        return ""
    when = datetime.fromtimestamp(t)
    return when.strftime("%b %d %H:%M" if when.year == datetime.now().year else "%Y-%m-%d")
