"""ExperimentTreeModel: the experiment tree (``experiment_pages``) kept current by live changes.

``apply_changes`` merges the runs ``list_changed_runs`` reports: rows are updated in place, new runs inserted at
the top of their experiment and new children under their parent, so selection, expansion and scroll survive.
Running runs' durations tick once a second, one repaint signal per branch.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer

from studio.core.search import query_matches
from studio.core.types import RunInfo
from studio.ui.background.tasks import TaskRunner
from studio.ui.experiments.experiment_pages import ExperimentTreePages
from studio.ui.experiments.experiment_rows import CHILD_COUNT, COLUMNS, DURATION_COLUMN, Branch, is_active

_REPAINTED = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole]


class ExperimentTreeModel(ExperimentTreePages):
    """The lazy tree of the experiment pane, with live changes merged in."""

    def __init__(self, runner: TaskRunner, parent: Any = None) -> None:
        super().__init__(runner, parent)
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick_durations)
        self._ticker.start()

    # -- live changes --------------------------------------------------------------------------

    def apply_changes(self, runs: list[RunInfo]) -> None:
        """Merge runs that changed in the workspace (from ``list_changed_runs``)."""
        updated = []
        for run in runs:
            if run.id in self._home:
                self._update(run)
                updated.append(run.id)
            elif run.parent_id:
                self._add_child(run)
            elif run.experiment not in self._branches:
                self.reload()  # a new experiment
            else:
                self._add_newest(run)
        self._repaint_rows(updated, 0, len(COLUMNS) - 1)

    def _update(self, run: RunInfo) -> None:
        self._remember(run, self._home[run.id])
        if run.child_count:
            self._add_child_branch(run.id, self.index_of_run(run.id))

    def _repaint_rows(self, run_ids: list[str], first_column: int, last_column: int) -> None:
        """Tell the views these runs' cells changed: one signal per branch, not one per run.

        For each signal QTreeView looks for the row among the laid-out rows, a linear search
        when the row is off screen: a signal per row made a thousand running runs a steady cost.
        """
        rows: dict[int, tuple[Branch, list[int]]] = {}
        for run_id in run_ids:
            branch = self._home.get(run_id)
            if branch is not None:
                rows.setdefault(id(branch), (branch, []))[1].append(branch.row_of(run_id))
        for branch, numbers in rows.values():
            parent = self._index_of_branch(branch)
            top, bottom = self.index(min(numbers), first_column, parent), self.index(max(numbers), last_column, parent)
            self.dataChanged.emit(top, bottom, _REPAINTED)

    def _add_child(self, run: RunInfo) -> None:
        parent_id = run.parent_id or ""
        if parent_id not in self._runs:
            return  # its parent is not shown
        branch = self._children.get(parent_id)
        if branch is None:
            self._add_child_branch(parent_id, self.index_of_run(parent_id))  # it can now be expanded
        elif branch.loaded:
            self._remember(run, branch)
            branch.append(run.id)  # children: oldest first
            self._insert_row(branch, len(branch.ids) - 1)

    def _add_newest(self, run: RunInfo) -> None:
        branch = self._branches[run.experiment]
        if not branch.loaded:
            self._add_placeholder(branch)  # an experiment that had no runs can now be expanded
        elif query_matches(self.query, run):
            self._remember(run, branch)
            branch.prepend(run.id)  # newest first
            self._insert_row(branch, 0)

    def _insert_row(self, branch: Branch, row: int) -> None:
        parent = self._insert_rows(branch, row, 1)
        if self._runs[branch.ids[row]][CHILD_COUNT]:
            self._add_child_branch(branch.ids[row], self.index(row, 0, parent))

    def _tick_durations(self) -> None:
        ended = {run_id for run_id in self._active if run_id not in self._runs or not is_active(self._runs[run_id])}
        self._active -= ended
        self._repaint_rows(list(self._active), DURATION_COLUMN, DURATION_COLUMN)
