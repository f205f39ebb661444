"""RunsTableModel: one experiment's runs in the server's order, fetched a page at a time.

Filtering and sorting happen in the backend (``RunQuery.filter`` / ``order_by``); the model only
pages. Every backend call runs on a worker through one ``TaskSlot`` ("latest": a page of an older
query that is still in flight is dropped, and a generation counter checks every answer again).
A page is one ``insertRows``. A new query keeps the old rows on screen until its first page
arrives, then replaces them in one reset: the table never flashes empty while the user sorts or
types a filter.

Live changes (``apply_changes``) update shown runs in place, one ``dataChanged`` per batch; a new
run that matches goes on top when the order is the default (newest first), and is counted
(``sig_new_runs``) otherwise, since its place in a sorted order is the server's to say.

Pages are asked within ``partial_pages()``: a kind that sorts on this computer while it still reads the runs
answers at once with a page marked partial (``RunPage.complete`` False, its note saying how far it is). The model
then asks again every ``AGAIN_MS`` (as many rows as are loaded) until a complete answer comes, moving the rows
to their new places (``layoutChanged``: the selection and the current row follow their runs, the scroll position
stays); a new query, a failure or the table closing stops it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer, Signal

from studio.core.backend import WorkspaceBackend
from studio.core.errors import StudioError
from studio.core.partial_pages import partial_pages
from studio.core.search import Key, key_text, query_matches
from studio.core.status import RunStatus
from studio.core.types import RunInfo, RunPage, RunQuery
from studio.ui.background.deferred_release import DeferredRelease
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner
from studio.ui.runs_table.columns import (
    FIXED_KEYS,
    ID,
    NAME,
    STATUS,
    Packed,
    is_active,
    is_numeric,
    label,
    number,
    pack,
    text,
)
from studio.ui.shell.status_style import status_icon

PAGE_SIZE = 200
AGAIN_MS = 700
"""How soon a partial answer is asked again."""
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 1
STATUS_COLUMN, DURATION_COLUMN = 1, 3
AnyIndex = QModelIndex | QPersistentModelIndex

_DISPLAY = Qt.ItemDataRole.DisplayRole
_DECORATION = Qt.ItemDataRole.DecorationRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_ALIGN = Qt.ItemDataRole.TextAlignmentRole
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_ANSWERED = frozenset({_DISPLAY, _DECORATION, _TOOLTIP, _ALIGN, RUN_ID_ROLE})


Answer = tuple[int, str | None, RunPage, bool]
"""(generation, token asked, page, whether it answers an ask-again)."""


MAX_RECHECKED = 100
"""At most this many runs of a page are asked again for having changed while it was on its way."""


def _fetch(backend: WorkspaceBackend, experiment: str, query: RunQuery, token: str | None, gen: int) -> Answer:
    """On a worker: one page, tagged with the request it answers (a partial one if the kind has it)."""
    with partial_pages():
        return gen, token, backend.list_runs(experiment, query, token, PAGE_SIZE), False


def _recheck(backend: WorkspaceBackend, run_ids: list[str]) -> list[RunInfo]:
    """On a worker: runs as they are now (one that went away meanwhile is left out)."""
    found = []
    for run_id in run_ids:
        try:
            found.append(backend.get_run(run_id))
        except StudioError:
            continue
    return found


def _fetch_again(backend: WorkspaceBackend, experiment: str, query: RunQuery, want: int, gen: int) -> Answer:
    """On a worker: the first ``want`` runs again (at least a page), as one page with the last page's token."""
    with partial_pages():
        first = backend.list_runs(experiment, query, None, PAGE_SIZE)
        runs, token = list(first.runs), first.next_token
        while token is not None and len(runs) < want:  # the token continues the order the first page was cut from
            page = backend.list_runs(experiment, query, token, PAGE_SIZE)
            runs += page.runs
            token = page.next_token
    return gen, None, RunPage(runs, token, first.note, first.complete), True


class RunsTableModel(QAbstractTableModel):
    """The rows of one experiment's runs table; columns are the fixed ones plus chosen keys."""

    sig_first_page = Signal()
    """The first page of the current query arrived (the rows were replaced)."""
    sig_page_loaded = Signal()
    """A further page arrived."""
    sig_failed = Signal(object)
    """Loading runs failed (the exception); the rows shown stay."""
    sig_new_runs = Signal(int)
    """How many new matching runs arrived that the current order cannot place (refresh to see them)."""
    sig_rows_updated = Signal()
    """A later answer to a partial first page moved the rows (``note`` and ``complete`` may have changed)."""

    def __init__(
        self, runner: TaskRunner, backend: WorkspaceBackend, experiment: str, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.backend, self.experiment = backend, experiment
        self.keys: list[Key] = list(FIXED_KEYS)
        self._numeric = [is_numeric(k) for k in self.keys]  # per column, asked on every paint
        self.query = RunQuery()
        self._generation = 0
        self._ids: list[str] = []  # row order
        self._rows: dict[str, Packed] = {}
        self._seq: dict[str, int] = {}  # run id -> sequence number; its row is that minus _first
        self._first = 0
        self._active: set[str] = set()
        self._next: str | None = None
        self._pending = False  # a new query's first page is awaited (the old rows still show)
        self._fetching = False
        self.error: BaseException | None = None
        self.note = ""
        """The kind's note on the current query's first page (``RunPage.note``): what it answered on this computer."""
        self.complete = True
        """False while the rows are a partial answer (the kind still reads the runs); asked again until True."""
        self.loaded_once = False
        self.new_runs = 0
        self._release = DeferredRelease(self)
        self._listing = TaskSlot(runner, success=self._on_page, failure=self._on_failed, when_busy="latest", owner=self)
        # A change that arrives while a page is on its way, for a run the page may hold: the page may have been read
        # before the change happened, so those runs are asked again once it is shown (else they stay stale until
        # their next change, which for an Azure job's refined status may never come).
        self._changed_meanwhile: set[str] = set()
        self._rechecking = TaskSlot(
            runner, success=self.apply_changes, failure=lambda _exc: None, when_busy="again", owner=self
        )
        self._ticker = QTimer(self, interval=1000)
        self._ticker.timeout.connect(self._tick_durations)
        self._ticker.start()
        self._again = QTimer(self, interval=AGAIN_MS, singleShot=True)
        self._again.timeout.connect(self._ask_again)

    # -- query and paging ----------------------------------------------------------------------

    @property
    def loading(self) -> bool:
        """True while the current query's first page is awaited."""
        return self._pending

    @property
    def has_more(self) -> bool:
        """True if the server has runs beyond those loaded."""
        return self._next is not None

    def set_query(self, query: RunQuery) -> None:
        """Ask for the first page of another filter or order; the rows shown stay until it arrives."""
        self.query = query
        self._generation += 1
        self._again.stop()
        self._pending, self._fetching, self.error = True, False, None
        self._changed_meanwhile.clear()
        self._listing.request(_fetch, self.backend, self.experiment, query, None, self._generation)

    def refresh(self) -> None:
        """Run the current query again (F5, or "N new runs — refresh")."""
        self.set_query(self.query)

    def canFetchMore(self, parent: AnyIndex) -> bool:
        """Whether the view may ask for the next page (it asks when scrolled near the end)."""
        return (
            not parent.isValid()
            and not self._pending
            and not self._fetching
            and self.error is None
            and self._next is not None
        )

    def fetchMore(self, parent: AnyIndex) -> None:
        """Load the next page in the background."""
        if not self.canFetchMore(parent):
            return
        self._fetching = True
        self._listing.request(_fetch, self.backend, self.experiment, self.query, self._next, self._generation)

    def _ask_again(self) -> None:
        """A partial answer's timer: ask for the loaded rows again (later, if a page is being loaded)."""
        if self.complete or self._pending or self.error is not None:
            return
        if self._fetching:
            self._again.start()
            return
        want = max(len(self._ids), PAGE_SIZE)
        self._listing.request(_fetch_again, self.backend, self.experiment, self.query, want, self._generation)

    def _on_page(self, answer: Answer) -> None:
        gen, token, page, again = answer
        if gen != self._generation:
            return
        self._recheck_changed_meanwhile(page.runs)
        self._next = page.next_token
        if again:
            self._fetching = False  # a page asked meanwhile was superseded by this answer
            self._rearrange(page.runs)
            self.note, self.complete = page.note, page.complete
            if not page.complete:
                self._again.start()
            self.sig_rows_updated.emit()
            return
        if token is None:
            self._replace(page.runs)
            self._pending, self.loaded_once, self.new_runs = False, True, 0
            self.note, self.complete = page.note, page.complete
            if not page.complete:
                self._again.start()
            self.sig_first_page.emit()
            return
        self._fetching = False
        new = [run for run in page.runs if run.id not in self._rows]  # a run added on top shifts offsets
        if new:
            start = len(self._ids)
            self.beginInsertRows(QModelIndex(), start, start + len(new) - 1)
            for run in new:
                self._append(run)
            self.endInsertRows()
        self.sig_page_loaded.emit()

    def _recheck_changed_meanwhile(self, runs: list[RunInfo]) -> None:
        """Ask again for the runs of this page that changed while it was on its way (the rest are forgotten)."""
        if not self._changed_meanwhile:
            return
        stale = [run.id for run in runs if run.id in self._changed_meanwhile][:MAX_RECHECKED]
        self._changed_meanwhile.clear()
        if stale:
            self._rechecking.request(_recheck, self.backend, stale)

    def _on_failed(self, exc: BaseException) -> None:
        self._pending = self._fetching = False
        self.error = exc  # no retry loop: refresh (or another query) tries again
        self.sig_failed.emit(exc)

    def _replace(self, runs: list[RunInfo]) -> None:
        self.beginResetModel()
        self._release.drop(self._ids, self._rows, self._seq)  # freeing 100,000 rows at once stalls the window
        self._ids, self._rows, self._seq, self._first, self._active = [], {}, {}, 0, set()
        for run in runs:
            self._append(run)
        self.endResetModel()

    def _rearrange(self, runs: list[RunInfo]) -> None:
        """Show ``runs``, a later answer to the same query: new ones are added, gone ones removed, and the rest
        moved in one ``layoutChanged``, so the selection and the current row follow their runs."""
        old = set(self._ids)
        added = [run for run in runs if run.id not in old]
        if added:
            start = len(self._ids)
            self.beginInsertRows(QModelIndex(), start, start + len(added) - 1)
            for run in added:
                self._append(run)
            self.endInsertRows()
        for run in runs:
            self._keep(run)
        wanted = [run.id for run in runs]
        kept = set(wanted)
        gone = [run_id for run_id in self._ids if run_id not in kept]
        target = wanted + gone  # the same runs as now, in the new order; the gone ones last, then removed
        if target != self._ids:
            self.layoutAboutToBeChanged.emit()
            row_of = {run_id: row for row, run_id in enumerate(target)}
            before = self.persistentIndexList()
            after = [
                self.index(row_of[self._ids[i.row()]], i.column()) if 0 <= i.row() < len(self._ids) else QModelIndex()
                for i in before
            ]
            self._ids, self._first, self._seq = target, 0, dict(row_of)
            self.changePersistentIndexList(before, after)
            self.layoutChanged.emit()
        if gone:
            start = len(wanted)
            self.beginRemoveRows(QModelIndex(), start, len(self._ids) - 1)
            for run_id in gone:
                del self._rows[run_id]
                self._seq.pop(run_id, None)
                self._active.discard(run_id)
            del self._ids[start:]
            self.endRemoveRows()
        if self._ids:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._ids) - 1, len(self.keys) - 1))

    def _append(self, run: RunInfo) -> None:
        self._seq[run.id] = self._first + len(self._ids)
        self._ids.append(run.id)
        self._keep(run)

    def _keep(self, run: RunInfo) -> None:
        self._rows[run.id] = pack(run)
        if run.status.is_active:
            self._active.add(run.id)
        else:
            self._active.discard(run.id)

    # -- columns -------------------------------------------------------------------------------

    @property
    def chosen(self) -> list[Key]:
        """The chosen (not fixed) columns, in order."""
        return self.keys[len(FIXED_KEYS) :]

    def add_column(self, key: Key) -> None:
        """Show another key as the last column (nothing if shown)."""
        if key in self.keys:
            return
        column = len(self.keys)
        self.beginInsertColumns(QModelIndex(), column, column)
        self.keys.append(key)
        self._numeric.append(is_numeric(key))
        self.endInsertColumns()

    def remove_column(self, key: Key) -> None:
        """Stop showing a chosen key (fixed columns stay)."""
        if key not in self.chosen:
            return
        column = self.keys.index(key)
        self.beginRemoveColumns(QModelIndex(), column, column)
        del self.keys[column]
        del self._numeric[column]
        self.endRemoveColumns()

    # -- what cells show -----------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        """Loaded runs."""
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        """Fixed plus chosen columns."""
        return 0 if parent.isValid() else len(self.keys)

    def data(self, index: AnyIndex, role: int = _DISPLAY) -> Any:
        """A cell, computed from the row's run when the view asks (only for rows on screen).

        A paint asks every visible cell about a dozen roles: the ones not answered return first.
        """
        if role not in _ANSWERED:
            return None
        row, column = index.row(), index.column()
        if not 0 <= row < len(self._ids) or not 0 <= column < len(self.keys):
            return None
        if role == _ALIGN:
            return _RIGHT if self._numeric[column] else None
        run = self._rows[self._ids[row]]
        if role == _DISPLAY:
            return text(run, self.keys[column])
        if role == RUN_ID_ROLE:
            return run[ID]
        if role == _DECORATION:
            return status_icon(RunStatus(run[STATUS])) if column == STATUS_COLUMN else None
        if column == 0:
            return f"{run[NAME]}\n{run[ID]}"
        shown = text(run, self.keys[column])
        return shown if len(shown) > 20 else None  # long params and tags are cut in their cell

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        """Column titles (the key in the tooltip); rows have none."""
        if orientation != Qt.Orientation.Horizontal or section >= len(self.keys):
            return None
        key = self.keys[section]
        if role == _DISPLAY:
            return label(key)
        if role == _TOOLTIP:
            return f"{key_text(key)}\nClick to sort (on the server)"
        if role == _ALIGN and is_numeric(key):
            return _RIGHT
        return None

    # -- rows ----------------------------------------------------------------------------------

    def run_id(self, row: int) -> str | None:
        """The run id of a row."""
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, run_id: str) -> int:
        """The row of a loaded run (-1 if it is not loaded)."""
        seq = self._seq.get(run_id)
        return -1 if seq is None else seq - self._first

    def loaded_runs(self) -> list[Packed]:
        """The loaded runs, in row order (tuples: see ``columns.pack``)."""
        return [self._rows[i] for i in self._ids]

    def numbers(self, keys: list[Key], limit: int | None = None) -> np.ndarray:
        """A (rows, keys) float array of numeric columns for the first ``limit`` rows, NaN where a run has no value."""
        ids = self._ids if limit is None else self._ids[:limit]
        out = np.full((len(ids), len(keys)), np.nan)
        for r, run_id in enumerate(ids):
            run = self._rows[run_id]
            for c, key in enumerate(keys):
                out[r, c] = number(run, key)
        return out

    # -- live changes --------------------------------------------------------------------------

    def apply_changes(self, runs: list[RunInfo]) -> None:
        """Merge runs that changed in the workspace: shown ones in place, new matching ones on top or counted."""
        rows: list[int] = []
        added = 0
        for run in runs:
            if run.experiment != self.experiment or run.parent_id is not None:
                continue
            if self._pending or self._fetching:
                self._changed_meanwhile.add(run.id)
            if run.id in self._rows:
                self._keep(run)
                rows.append(self.row_of(run.id))
            elif self.loaded_once and not self._pending and self._matches(run):
                if self._default_order():
                    self._prepend(run)
                else:
                    added += 1
        if rows:
            self.dataChanged.emit(
                self.index(min(rows), 0), self.index(max(rows), len(self.keys) - 1), [_DISPLAY, _DECORATION]
            )
        if added:
            self.new_runs += added
            self.sig_new_runs.emit(self.new_runs)

    def _matches(self, run: RunInfo) -> bool:
        try:
            return query_matches(self.query, run)
        except ValueError:
            return False

    def _default_order(self) -> bool:
        return not self.query.order_by and self.query.newest_first

    def _prepend(self, run: RunInfo) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._first -= 1
        self._seq[run.id] = self._first
        self._ids.insert(0, run.id)
        self._keep(run)
        self.endInsertRows()

    def _tick_durations(self) -> None:
        self._active = {i for i in self._active if i in self._rows and is_active(self._rows[i])}
        if not self._active or len(self.keys) <= DURATION_COLUMN:
            return
        rows = [self.row_of(i) for i in self._active]
        top, bottom = self.index(min(rows), DURATION_COLUMN), self.index(max(rows), DURATION_COLUMN)
        self.dataChanged.emit(top, bottom, [_DISPLAY])
