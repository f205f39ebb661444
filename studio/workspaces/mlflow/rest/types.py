"""What the MLflow REST client returns: plain frozen dataclasses and numpy arrays (no Qt, no mlflow).

Times are kept as the server sends them, integer milliseconds since the epoch (``*_ms``); the workspace
backend converts them where the protocol wants seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")

PARENT_RUN_TAG = "mlflow.parentRunId"
NOTE_TAG = "mlflow.note.content"
RUN_NAME_TAG = "mlflow.runName"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the opaque token of the next (None on the last page)."""

    items: list[T]
    next_page_token: str | None


@dataclass(frozen=True)
class Experiment:
    """An MLflow experiment (``experiments/search``, ``experiments/get-by-name``)."""

    experiment_id: str
    name: str
    artifact_location: str = ""
    lifecycle_stage: str = "active"
    creation_time_ms: int | None = None
    last_update_time_ms: int | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LatestMetric:
    """The last logged point of a metric, as ``runs/get`` and ``runs/search`` give it."""

    value: float
    timestamp_ms: int
    step: int


@dataclass(frozen=True)
class Run:
    """An MLflow run with its data (last metric values, params, tags)."""

    run_id: str
    experiment_id: str
    run_name: str
    status: str
    """``RUNNING``, ``SCHEDULED``, ``FINISHED``, ``FAILED`` or ``KILLED``."""
    start_time_ms: int | None
    end_time_ms: int | None
    artifact_uri: str
    lifecycle_stage: str
    user_id: str
    metrics: dict[str, LatestMetric] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def parent_run_id(self) -> str | None:
        """The parent's run id (tag ``mlflow.parentRunId``), None for a top-level run."""
        return self.tags.get(PARENT_RUN_TAG) or None

    @property
    def description(self) -> str:
        """The run's note (tag ``mlflow.note.content``)."""
        return self.tags.get(NOTE_TAG, "")


@dataclass(frozen=True, eq=False)
class MetricHistory:
    """Every point of one metric of one run, in the server's order (timestamp, step, value)."""

    key: str
    steps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    timestamps_ms: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class ArtifactEntry:
    """A file or folder of a run's artifacts; ``path`` is relative to the run's artifact root."""

    path: str
    is_dir: bool
    size: int | None
    """Bytes of a file; None for folders (and when the server does not say)."""


@dataclass(frozen=True)
class ArtifactListing:
    """One folder's entries (not recursive) and the run's artifact root URI."""

    root_uri: str
    entries: list[ArtifactEntry]
