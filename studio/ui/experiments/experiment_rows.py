"""The rows of the experiment tree: a branch of runs (under an experiment or a run), and runs
packed as tuples of strings and numbers, with what their cells show.

A loaded run is kept as a tuple, which the garbage collector stops tracking: 100,000 RunInfo
objects (with their dicts) made every full collection walk 400,000 objects, and freezing them
(gc.freeze) also froze whatever else was alive then, so a run tab closed later could never be
collected.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette

from studio.core.status import RunStatus
from studio.core.types import ExperimentInfo, RunInfo
from studio.ui.shell.status_style import format_duration, status_icon

COLUMNS = ("Name", "Status", "Started", "Duration", "Run ID")
DURATION_COLUMN = 3
RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 1
EXPERIMENT_ROLE = Qt.ItemDataRole.UserRole + 2
DISPLAY = Qt.ItemDataRole.DisplayRole
DECORATION = Qt.ItemDataRole.DecorationRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole
FONT = Qt.ItemDataRole.FontRole
FOREGROUND = Qt.ItemDataRole.ForegroundRole
LOADING_TEXT = "Loading…"
FAILED_TEXT = "Could not load (F5 to retry):"
ERROR_COLOUR = "#d9363e"

Packed = tuple[Any, ...]
(ID, EXPERIMENT, NUMBER, DISPLAY_NAME, STATUS, CREATED, STARTED, ENDED) = range(8)
(PARENT, DESCRIPTION, TAGS, PROPERTIES, CHILD_COUNT, REASON) = range(8, 14)
_ACTIVE_STATUSES = frozenset(s.value for s in RunStatus if s.is_active)


@dataclass(eq=False)
class Branch:
    """The rows under an experiment (or under a run with children) and their paging state.

    Rows are only ever added at the top (new runs, newest first) or at the end (pages,
    children), so a run's row is its sequence number minus that of the first row: O(1).
    """

    experiment: str
    run_id: str | None = None  # None: the experiment's own branch
    # The address of the row's item: what ``internalId()`` of the rows under it holds.
    address: int | None = None
    ids: list[str] = field(default_factory=list)
    seq: dict[str, int] = field(default_factory=dict)
    first_seq: int = 0
    placeholder: bool = False  # row 0 says "Loading…" until the first page arrives
    loaded: bool = False
    fetching: bool = False
    next_token: str | None = None
    more_wanted: bool = False  # the view scrolled near the end of the loaded runs
    # The last fetch failed; nothing is fetched again until a refresh.
    error: str | None = None

    def row_of(self, run_id: str) -> int:
        """The row of a run in this branch (-1 if it is not here)."""
        seq = self.seq.get(run_id)
        return -1 if seq is None else seq - self.first_seq

    def append(self, run_id: str) -> None:
        """Add a run after the last row."""
        self.seq[run_id] = self.first_seq + len(self.ids)
        self.ids.append(run_id)

    def prepend(self, run_id: str) -> None:
        """Add a run before the first row."""
        self.first_seq -= 1
        self.seq[run_id] = self.first_seq
        self.ids.insert(0, run_id)


def run_cell(run: Packed, column: int, role: int) -> Any:
    """What a cell of a run's row shows for ``role``."""
    if role == DISPLAY:
        if column == 0:
            return run[DISPLAY_NAME] or run[ID]
        if column == 1:
            return run[STATUS]
        if column == 2:
            return when(run[STARTED] or run[CREATED])
        if column == DURATION_COLUMN:
            return duration(run)
        return run[ID]
    if role == RUN_ID_ROLE:
        return run[ID]
    if role == EXPERIMENT_ROLE:
        return run[EXPERIMENT]
    if column == 0:
        if role == DECORATION:
            return status_icon(RunStatus(run[STATUS]))
        if role == TOOLTIP:
            reason = f"\n{run[REASON]}" if run[REASON] else ""
            return f"{run[DISPLAY_NAME]}\n{run[ID]}\n{run[STATUS]}{reason}"
    return None


def run_count_text(info: ExperimentInfo) -> str:
    """``1 run``, ``12,345 runs``; ``100+ runs`` when the count is a lower bound (a server that counts one page)."""
    if not info.run_count_exact:
        return f"{info.run_count:,}+ runs" if info.run_count else "runs not counted"
    return f"{info.run_count:,} run" + ("" if info.run_count == 1 else "s")


def has_runs(info: ExperimentInfo) -> bool:
    """Whether the experiment may have rows to show: a count that is only a lower bound may be too low."""
    return info.run_count > 0 or not info.run_count_exact


def experiment_cell(info: ExperimentInfo, name: str, column: int, role: int, bold: QFont) -> Any:
    """What a cell of an experiment's row shows for ``role``."""
    if role == DISPLAY:
        if column == 0:
            return name
        if column == 1:
            return run_count_text(info)
        return None
    if role == EXPERIMENT_ROLE:
        return name
    if role == FONT and column == 0:
        return bold
    if role == TOOLTIP and column in (0, 1):
        return experiment_tooltip(info, name)
    return None


def experiment_tooltip(info: ExperimentInfo, name: str) -> str | None:
    """The tooltip of an experiment's row: how many runs, the last when, and whether the count is exact."""
    last = f", the last at {when(info.last_run_at)}" if info.last_run_at else ""
    if not info.run_count_exact:
        return (
            f"{name}: {run_count_text(info)}{last}\n"
            "The server does not count runs: Studio counted the first page, and there are more."
        )
    if not last:
        return None
    return f"{name}: {info.run_count:,} run{'' if info.run_count == 1 else 's'}{last}"


def placeholder_cell(error: str | None, column: int, role: int, italic: QFont) -> Any:
    """The "Loading…" row (or, if loading failed, the error and how to retry)."""
    if column != 0:
        return None
    if role == DISPLAY:
        return LOADING_TEXT if error is None else f"{FAILED_TEXT} {error.splitlines()[0]}"
    if role == TOOLTIP and error is not None:
        return f"{error}\n\nRefresh (F5) to try again."
    if role == FONT:
        return italic
    if role == FOREGROUND:
        return QColor(ERROR_COLOUR) if error else QGuiApplication.palette().color(QPalette.ColorRole.PlaceholderText)
    return None


def when(t: float | None) -> str:
    """A time as the tree shows it: ``Nov 29 21:10`` this year, ``2024-11-29`` before."""
    if not t:
        return ""
    moment = datetime.fromtimestamp(t)
    return moment.strftime("%b %d %H:%M" if moment.year == datetime.now().year else "%Y-%m-%d")


def duration(run: Packed) -> str:
    """How long a run ran (so far, for an active run)."""
    started, ended = run[STARTED], run[ENDED]
    end = ended or (time.time() if is_active(run) else None)
    return format_duration(None if started is None or end is None else end - started)


def pack_run(run: RunInfo) -> Packed:
    """The run as a tuple of strings and numbers (see the module's docstring)."""
    return (
        run.id,
        run.experiment,
        run.number,
        run.display_name,
        run.status.value,
        run.created_at,
        run.started_at,
        run.ended_at,
        run.parent_id,
        run.description,
        tuple(run.tags.items()),
        tuple(run.properties.items()),
        run.child_count,
        run.status_reason,
    )


def unpack_run(run: Packed) -> RunInfo:
    """The run as the tree knows it (the error details are not kept: the run's own tab fetches them)."""
    return RunInfo(
        id=run[ID],
        experiment=run[EXPERIMENT],
        number=run[NUMBER],
        display_name=run[DISPLAY_NAME],
        status=RunStatus(run[STATUS]),
        created_at=run[CREATED],
        started_at=run[STARTED],
        ended_at=run[ENDED],
        parent_id=run[PARENT],
        description=run[DESCRIPTION],
        tags=dict(run[TAGS]),
        properties=dict(run[PROPERTIES]),
        child_count=run[CHILD_COUNT],
        status_reason=run[REASON],
    )


def is_active(run: Packed) -> bool:
    """Whether the run's status is an active one (its duration ticks)."""
    return run[STATUS] in _ACTIVE_STATUSES
