"""ExperimentTreeModel: experiments -> runs (newest first, fetched page by page) -> child runs.

Rows live in a QStandardItemModel, so when QTreeView lays out 100,000 loaded runs it stays
in C++; Python is only asked about rows that may have children (experiments, runs with
children, active runs). Nothing is fetched on the GUI thread: ``fetchMore`` starts a
background task and rows are inserted when its page arrives. Live changes
(``apply_changes``) update rows in place and insert new runs at the top, so selection,
expansion and scroll survive.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QStandardItem, QStandardItemModel

from studio.core.backend import WorkspaceBackend
from studio.core.types import ExperimentInfo, RunInfo, RunPage, RunQuery
from studio.ui.run_query import matches
from studio.ui.status_style import format_duration, status_icon
from studio.ui.tasks import TaskRunner

COLUMNS = ("Name", "Status", "Started", "Duration", "Run ID")
PAGE_SIZE = 200
DETACH_ABOVE = 2000  # loaded runs above which a filter change detaches the rows instead of deleting them
REAP_SLICE = 500
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 1
EXPERIMENT_ROLE = Qt.ItemDataRole.UserRole + 2
AnyIndex = QModelIndex | QPersistentModelIndex
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_LEAF_FLAGS = _FLAGS | Qt.ItemFlag.ItemNeverHasChildren


@dataclass(eq=False)
class Fetch:
    """Paging state of an experiment (or of a run's children)."""

    loaded: bool = False
    fetching: bool = False
    next_token: str | None = None
    more_wanted: bool = False  # the view scrolled near the end of the loaded runs


class ExperimentTreeModel(QStandardItemModel):
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
        self._experiments: dict[str, ExperimentInfo] = {}
        self._fetch: dict[str, Fetch] = {}  # experiment name or run id -> paging state
        self._runs: dict[str, RunInfo] = {}
        self._items: dict[str, QStandardItem] = {}  # run id -> its name (column 0) item
        self._active: set[str] = set()  # runs whose duration ticks
        self.query = RunQuery()
        self.inserting_page = False
        self._graveyard: list[QStandardItem] = []  # detached rows, deleted a slice at a time
        self._reaper = QTimer(self)
        self._reaper.setInterval(0)
        self._reaper.timeout.connect(self._reap)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick_durations)
        self._ticker.start()

    # -- loading -------------------------------------------------------------------------------

    def set_backend(self, backend: WorkspaceBackend | None) -> None:
        """Show another workspace (None: nothing)."""
        self._backend = backend
        self._reset()
        self.reload()

    def reload(self) -> None:
        """Fetch the experiment list again (F5)."""
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
        """Filter runs in the backend; loaded experiments fetch their first page again.

        An experiment with many loaded runs is swapped for a fresh row and its old rows are
        deleted a slice at a time afterwards: deleting 100,000 rows at once froze the window.
        """
        self.query = query
        self._generation += 1
        self._runs, self._items, self._active = {}, {}, set()
        old_fetch = self._fetch
        self._fetch = {name: Fetch() for name in self._experiments}
        for row in range(self.rowCount()):
            item = self.item(row, 0)
            name = item.data(EXPERIMENT_ROLE)
            before = old_fetch.get(name)
            was_loaded = before is not None and (before.loaded or before.fetching)
            if item.rowCount() > DETACH_ABOVE:
                old = self.takeRow(row)
                self.insertRow(row, self._experiment_items(self._experiments[name]))
                self._graveyard.append(old[0])
                self._reaper.start()
                item = self.item(row, 0)
            elif item.rowCount():
                item.removeRows(0, item.rowCount())
            if was_loaded:
                self.fetchMore(item.index())

    def _reap(self) -> None:
        """Delete detached rows a slice at a time (each slice well under the 50 ms budget)."""
        if not self._graveyard:
            self._reaper.stop()
            return
        old = self._graveyard[-1]
        count = old.rowCount()
        old.removeRows(max(0, count - REAP_SLICE), min(count, REAP_SLICE))
        if not old.rowCount():
            self._graveyard.pop()

    def _reset(self) -> None:
        self._generation += 1
        self.removeRows(0, self.rowCount())
        self._experiments, self._fetch, self._runs, self._items, self._active = {}, {}, {}, {}, set()

    def _on_experiments(self, gen: int, experiments: list[ExperimentInfo]) -> None:
        if gen != self._generation:
            return
        for info in experiments:
            if info.name in self._experiments:
                self._experiments[info.name] = info
                self._show_experiment(self._experiment_item(info.name), info)
            else:
                self._insert_experiment(info)
        self.sig_loaded.emit()

    def _insert_experiment(self, info: ExperimentInfo) -> None:
        names = [self.item(r, 0).data(EXPERIMENT_ROLE).lower() for r in range(self.rowCount())]
        row = next((i for i, n in enumerate(names) if n > info.name.lower()), len(names))
        self._experiments[info.name] = info
        self._fetch[info.name] = Fetch()
        self.insertRow(row, self._experiment_items(info))

    def _experiment_items(self, info: ExperimentInfo) -> list[QStandardItem]:
        items = [QStandardItem() for _ in COLUMNS]
        for it in items:
            it.setFlags(_FLAGS)
            it.setData(info.name, EXPERIMENT_ROLE)
        font = QFont()
        font.setBold(True)
        items[0].setFont(font)
        items[0].setText(info.name)
        self._show_experiment(items[0], info, items)
        return items

    def _show_experiment(
        self, item: QStandardItem | None, info: ExperimentInfo, items: list[QStandardItem] | None = None
    ) -> None:
        if item is None:
            return
        cells = items or [self.itemFromIndex(item.index().siblingAtColumn(c)) for c in range(len(COLUMNS))]
        cells[1].setText(f"{info.run_count:,} run" + ("" if info.run_count == 1 else "s"))
        if info.last_run_at:
            item.setToolTip(f"{info.name}: {info.run_count:,} runs, the last at {_when(info.last_run_at)}")

    def canFetchMore(self, parent: AnyIndex) -> bool:
        if self._backend is None or not parent.isValid():
            return False
        key, run = self._key(parent)
        state = self._fetch.get(key) if key else None
        if state is None or state.fetching:
            return False
        if run is None:
            # Only the first page comes by itself: the view asks again on every layout, and
            # answering yes would load a 100,000-run experiment without any scrolling.
            return not state.loaded or (state.next_token is not None and state.more_wanted)
        return run.child_count > 0 and not state.loaded

    def fetchMore(self, parent: AnyIndex) -> None:
        backend = self._backend
        if backend is None or not self.canFetchMore(parent):
            return
        key, run = self._key(parent)
        if key is None:
            return
        state = self._fetch[key]
        state.fetching = True
        gen = self._generation
        if run is None:
            token, query = state.next_token, self.query
            self._runner.submit(
                lambda: backend.list_runs(key, query, token, PAGE_SIZE),
                success=lambda page: self._on_page(gen, key, page),
                failure=lambda e: self._on_fetch_failed(gen, key, e, f"Loading runs of {key}"),
                owner=self,
            )
        else:
            self._runner.submit(
                lambda: backend.list_children(key),
                success=lambda runs: self._on_page(gen, key, RunPage(runs, None)),
                failure=lambda e: self._on_fetch_failed(gen, key, e, "Loading child runs"),
                owner=self,
            )

    def has_more(self, parent: AnyIndex) -> bool:
        """True if an experiment has runs beyond those loaded."""
        key, run = self._key(parent)
        state = self._fetch.get(key) if key else None
        return run is None and state is not None and state.next_token is not None

    def fetch_next_page(self, parent: AnyIndex) -> None:
        """Load the next page of an experiment's runs (the pane calls this near the end of the list)."""
        key, run = self._key(parent)
        state = self._fetch.get(key) if key else None
        if run is None and state is not None and state.next_token is not None:
            state.more_wanted = True
            self.fetchMore(parent)

    def _on_page(self, gen: int, key: str, page: RunPage) -> None:
        state = self._fetch.get(key)
        if gen != self._generation or state is None:
            return
        state.fetching, state.loaded, state.next_token, state.more_wanted = False, True, page.next_token, False
        parent = self._parent_item(key)
        if parent is None:
            return
        self.inserting_page = True  # the pane waits for the whole page before it looks at the view
        try:
            for run in page.runs:
                if run.id not in self._items:
                    parent.appendRow(self._make_row(run))
        finally:
            self.inserting_page = False
        # Loaded rows live as long as the view shows them; leave them out of full garbage
        # collections, which otherwise walk every run on every pass (hundreds of ms at 100,000).
        gc.freeze()
        self.sig_page_loaded.emit(key if key in self._experiments else self._runs[key].experiment)

    def _on_fetch_failed(self, gen: int, key: str, exc: BaseException, what: str) -> None:
        state = self._fetch.get(key)
        if gen == self._generation and state is not None:
            state.fetching, state.loaded = False, True  # no retry loop; F5 reloads
            self.sig_failed.emit(exc, what)

    # -- rows ----------------------------------------------------------------------------------

    def _make_row(self, run: RunInfo) -> list[QStandardItem]:
        items = [QStandardItem() for _ in COLUMNS]
        for it in items:
            it.setData(run.id, RUN_ID_ROLE)
            it.setData(run.experiment, EXPERIMENT_ROLE)
        self._runs[run.id] = run
        self._items[run.id] = items[0]
        if run.child_count:
            self._fetch.setdefault(run.id, Fetch())
        self._fill(items, run)
        return items

    def _fill(self, items: list[QStandardItem], run: RunInfo) -> None:
        flags = _LEAF_FLAGS if not run.child_count and run.status.is_terminal else _FLAGS
        for it in items:
            if it.flags() != flags:
                it.setFlags(flags)
        items[0].setText(run.display_name or run.id)
        items[0].setIcon(status_icon(run.status))
        reason = f"\n{run.status_reason}" if run.status_reason else ""
        items[0].setToolTip(f"{run.display_name}\n{run.id}\n{run.status.value}{reason}")
        items[1].setText(run.status.value)
        items[2].setText(_when(run.started_at or run.created_at))
        items[3].setText(_duration(run))
        items[4].setText(run.id)
        if run.status.is_active:
            self._active.add(run.id)
        else:
            self._active.discard(run.id)

    def _row_items(self, run_id: str) -> list[QStandardItem] | None:
        first = self._items.get(run_id)
        if first is None:
            return None
        parent = first.parent()
        row = first.row()
        return [parent.child(row, c) for c in range(len(COLUMNS))] if parent is not None else None

    # -- live changes --------------------------------------------------------------------------

    def apply_changes(self, runs: list[RunInfo]) -> None:
        """Merge runs that changed in the workspace (from ``list_changed_runs``)."""
        for run in runs:
            row = self._row_items(run.id)
            if row is not None:
                self._runs[run.id] = run
                if run.child_count:
                    self._fetch.setdefault(run.id, Fetch())
                self._fill(row, run)
                continue
            if run.parent_id:
                parent_run = self._runs.get(run.parent_id)
                state = self._fetch.get(run.parent_id)
                parent_item = self._items.get(run.parent_id)
                if parent_run is None or parent_item is None:
                    continue
                if state is not None and state.loaded:
                    parent_item.appendRow(self._make_row(run))  # children: oldest first
                continue
            if run.experiment not in self._experiments:
                self.reload()  # a new experiment
                continue
            state = self._fetch[run.experiment]
            if state.loaded and matches(run, self.query):
                item = self._experiment_item(run.experiment)
                if item is not None:
                    item.insertRow(0, self._make_row(run))  # newest first

    def _tick_durations(self) -> None:
        for run_id in list(self._active):
            run = self._runs.get(run_id)
            row = self._row_items(run_id)
            if run is None or row is None or not run.status.is_active:
                self._active.discard(run_id)
                continue
            row[3].setText(_duration(run))

    # -- Qt overrides for rows that may have children -------------------------------------------

    def hasChildren(self, parent: AnyIndex = QModelIndex()) -> bool:
        if not parent.isValid():
            return super().hasChildren(parent)
        if parent.column() != 0:
            return False
        key, run = self._key(parent)
        if key is None:
            return False
        if run is None:
            state = self._fetch.get(key)
            return super().hasChildren(parent) or state is None or not state.loaded or state.next_token is not None
        return super().hasChildren(parent) or run.child_count > 0

    # -- helpers -------------------------------------------------------------------------------

    def run_info(self, index: AnyIndex) -> RunInfo | None:
        """The run at ``index`` (None for an experiment row)."""
        if not index.isValid():
            return None
        run_id = index.data(RUN_ID_ROLE)
        return None if run_id is None else self._runs.get(run_id)

    def experiment_of(self, index: AnyIndex) -> str | None:
        """The experiment an index belongs to."""
        return None if not index.isValid() else index.data(EXPERIMENT_ROLE)

    def index_of_run(self, run_id: str) -> QModelIndex:
        """The index of a loaded run (invalid if it is not loaded)."""
        item = self._items.get(run_id)
        return QModelIndex() if item is None else item.index()

    def index_of_experiment(self, name: str) -> QModelIndex:
        """The index of an experiment row."""
        item = self._experiment_item(name)
        return QModelIndex() if item is None else item.index()

    def loaded_run_count(self, experiment: str) -> int:
        """How many top-level runs of an experiment are loaded."""
        item = self._experiment_item(experiment)
        return 0 if item is None else item.rowCount()

    def is_empty_workspace(self) -> bool:
        """True when the workspace has no runs at all (the sample experiment is offered)."""
        return all(info.run_count == 0 for info in self._experiments.values())

    def _experiment_item(self, name: str) -> QStandardItem | None:
        for row in range(self.rowCount()):
            item = self.item(row, 0)
            if item.data(EXPERIMENT_ROLE) == name:
                return item
        return None

    def _parent_item(self, key: str) -> QStandardItem | None:
        return (
            self._experiment_item(key) if key in self._experiments and key not in self._runs else self._items.get(key)
        )

    def _key(self, index: AnyIndex) -> tuple[str | None, RunInfo | None]:
        """(experiment name or run id, the run or None) of a row."""
        if not index.isValid():
            return None, None
        run_id = index.data(RUN_ID_ROLE)
        if run_id is not None:
            return run_id, self._runs.get(run_id)
        return index.data(EXPERIMENT_ROLE), None


def _when(t: float | None) -> str:
    if not t:
        return ""
    when = datetime.fromtimestamp(t)
    return when.strftime("%b %d %H:%M" if when.year == datetime.now().year else "%Y-%m-%d")


def _duration(run: RunInfo) -> str:
    end = run.ended_at or (time.time() if run.status.is_active else None)
    return format_duration(None if run.started_at is None or end is None else end - run.started_at)
