"""Compute instance states and the record the compute pane shows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ComputeState(StrEnum):
    """States of a compute instance, named as Azure ML names them."""

    CREATING = "Creating"
    STARTING = "Starting"
    RUNNING = "Running"
    JOB_RUNNING = "JobRunning"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    RESTARTING = "Restarting"
    DELETING = "Deleting"
    UNUSABLE = "Unusable"

    @property
    def is_up(self) -> bool:
        """True while a daemon process is (or should be) running."""
        return self in _UP


_UP = frozenset(
    {
        ComputeState.STARTING,
        ComputeState.RUNNING,
        ComputeState.JOB_RUNNING,
        ComputeState.STOPPING,
        ComputeState.RESTARTING,
    }
)


@dataclass(frozen=True)
class ComputeInfo:
    """One compute instance with its state and job counts."""

    name: str
    state: ComputeState
    max_concurrent_jobs: int
    idle_shutdown_minutes: float | None
    running_jobs: int
    queued_jobs: int
    state_reason: str = ""
    created_at: float = 0.0
    started_at: float | None = None

    @property
    def can_start(self) -> bool:
        """Start makes sense (it is not up)."""
        return self.state in (ComputeState.STOPPED, ComputeState.UNUSABLE)

    @property
    def can_stop(self) -> bool:
        """Stop makes sense (it is up and not already stopping)."""
        return self.state in (ComputeState.STARTING, ComputeState.RUNNING, ComputeState.JOB_RUNNING)

    @property
    def can_restart(self) -> bool:
        """Restart makes sense."""
        return self.state in (ComputeState.RUNNING, ComputeState.JOB_RUNNING, ComputeState.UNUSABLE)
