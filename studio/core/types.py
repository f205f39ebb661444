"""Plain, immutable records that cross layer boundaries (backend -> GUI, backend -> SDK)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from studio.core.status import RunStatus


class MetricKind(StrEnum):
    """The five kinds of metric a run can log, plus string series."""

    SCALAR = "scalar"  # numeric series, from Run.log with numbers
    STRING = "string"  # text series, from Run.log with strings
    LIST = "list"  # Run.log_list
    ROW = "row"  # Run.log_row
    TABLE = "table"  # Run.log_table
    IMAGE = "image"  # Run.log_image

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class WorkspaceInfo:
    """What a workspace is and where it lives."""

    name: str
    kind: str  # the kind of its opener: "local", "mlflow", "azure"
    location: str  # the location it was opened from (see studio.core.opener)
    read_only: bool = False
    # Whether cancel_run can stop runs here. An MLflow server cannot (it only records runs): the GUI offers no
    # Cancel and cancel_run raises UnsupportedOperation.
    can_cancel: bool = True
    # A sentence on where the answers come from when it is not simply the workspace: a kind answering from its
    # offline cache says "Cached 12:03 — refreshing…" or "Offline: showing the cache of 12:03. <why>"; empty otherwise.
    # It changes while the workspace is open: the window reads info() again to show it.
    note: str = ""
    # True while the workspace's service cannot be reached and what shows comes from the offline cache.
    offline: bool = False


@dataclass(frozen=True)
class ExperimentInfo:
    """An experiment with a summary of its runs."""

    name: str
    created_at: float
    run_count: int
    last_run_at: float | None
    # False when ``run_count`` is a lower bound: a server without a count call (MLflow) counts one page of
    # top-level runs, and lists show "100+ runs".
    run_count_exact: bool = True


@dataclass(frozen=True)
class RunInfo:
    """Everything the run list and the run overview show about one run."""

    id: str
    experiment: str
    number: int
    display_name: str
    status: RunStatus
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    parent_id: str | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    child_count: int = 0
    status_reason: str = ""
    # The last value of each numeric metric (MLflow's run.data.metrics); NaN when the last value logged was NaN.
    metrics: dict[str, float] = field(default_factory=dict)
    # MLflow-style parameters. Local runs have none (they have properties); MLflow and Azure runs fill it.
    params: dict[str, str] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        """Seconds between start and end, or None while it has not started."""
        if self.started_at is None:
            return None
        if self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.started_at)


@dataclass(frozen=True)
class StatusChange:
    """One entry of a run's status history."""

    status: RunStatus
    at: float


@dataclass(frozen=True)
class RunQuery:
    """Filter and order for paging through an experiment's runs.

    The quick fields (``text``, ``status``, ``tag``) are case-insensitive substrings: ``text`` matches the
    display name or the id, ``tag`` a ``key=value``. ``filter`` is MLflow's search grammar
    (``metrics.acc > 0.9 AND params.lr = '0.01'``, see ``studio.core.search``); both apply together.

    ``order_by`` holds ``"<key> [ASC|DESC]"`` items with the filter's keys. Runs lacking a key sort after those
    that have it in either direction (a NaN between the two), and ties break newest first. With no
    ``order_by`` runs come newest first, or oldest first when ``newest_first`` is False.
    A malformed ``filter`` or ``order_by`` makes ``list_runs`` / ``count_runs`` raise ``QueryError``.
    """

    text: str = ""
    status: RunStatus | None = None
    tag: str = ""  # substring of "key=value"
    newest_first: bool = True
    parent_id: str | None = None  # None: top-level runs only
    filter: str = ""
    order_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunKeys:
    """The metric, param, tag and property names used by an experiment's top-level runs.

    Each maps a name to how many runs have it (the column chooser shows the counts), names sorted.
    ``metrics`` counts numeric metrics only: the ones a filter or an order can use.
    """

    metrics: dict[str, int] = field(default_factory=dict)
    params: dict[str, int] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)
    properties: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RunPage:
    """One page of runs and the token that fetches the next one (None at the end)."""

    runs: list[RunInfo]
    next_token: str | None
    # What part of the query the kind answered on this computer instead of on its server, as a sentence for the
    # runs table (e.g. "The server cannot compare tags with IN: Studio checks that on the runs it sends."); empty
    # when the kind answered all of it.
    note: str = ""
    # False: the page is what is sorted so far while the kind still reads the runs (only for a caller that accepts
    # it, see ``studio.core.partial_pages``); ``note`` then says how far it is, and asking again gives a later
    # answer, until one is complete.
    complete: bool = True


@dataclass(frozen=True)
class MetricInfo:
    """A metric's name, kind and size, as the metric chooser lists them."""

    name: str
    kind: MetricKind
    count: int
    description: str = ""
    last_value: Any = None
    value_type: str = ""  # numeric series: "bool", "int" or "float"


@dataclass(frozen=True)
class MetricSeries:
    """A numeric series as numpy arrays.

    ``start`` is the index of the first point returned; pass ``start + len(values)``
    back as ``start`` to fetch only the points logged since.
    """

    name: str
    steps: np.ndarray  # int64
    values: np.ndarray  # float64
    times: np.ndarray  # float64, seconds since the epoch
    start: int = 0

    @property
    def next_start(self) -> int:
        """The index to ask from to get only newer points."""
        return self.start + int(self.values.shape[0])

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass(frozen=True)
class MetricRecord:
    """One logged value of a non-numeric metric (a string, list, row, table or image)."""

    value: Any
    step: int
    time: float


@dataclass(frozen=True)
class FileInfo:
    """A file of a run: its path relative to the run's root, size and modification time."""

    path: str
    size: int
    modified_at: float
