"""Run statuses, named as Azure Machine Learning names them."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Lifecycle states of a run; the value is the name the Azure ML API uses."""

    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    PREPARING = "Preparing"
    STARTING = "Starting"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    PROVISIONING = "Provisioning"
    """Azure: the compute is being provisioned for the job."""
    NOT_RESPONDING = "NotResponding"
    """Azure: the job stopped sending heartbeats (it can go back to any earlier state)."""
    PAUSED = "Paused"
    """Azure: a paused job (labeling jobs)."""
    UNKNOWN = "Unknown"
    """Azure: a status the service did not say, or one this version does not know."""
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"

    @property
    def is_terminal(self) -> bool:
        """True when the run can no longer change state."""
        return self in TERMINAL_STATUSES

    @property
    def is_active(self) -> bool:
        """True while the run is queued, starting or executing."""
        return not self.is_terminal

    def __str__(self) -> str:
        return self.value


TERMINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED})
