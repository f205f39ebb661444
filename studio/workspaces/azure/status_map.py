"""Azure ML's job statuses as Studio's ``RunStatus``: all fourteen kept, none folded into another.

``RunStatus`` values are Azure's own names, so a status Azure sends maps to the member of that value; anything
else (a status a later service version adds) is ``UNKNOWN``, with the raw name kept as the reason.
"""

from __future__ import annotations

from studio.core.status import RunStatus

AZURE_STATUSES = (
    "NotStarted",
    "Queued",
    "Preparing",
    "Provisioning",
    "Starting",
    "Running",
    "Finalizing",
    "CancelRequested",
    "Completed",
    "Failed",
    "Canceled",
    "NotResponding",
    "Paused",
    "Unknown",
)
"""Azure ML's ``JobStatus`` values (``arm_ml_service/models/_enums.py``)."""

BEFORE_START = frozenset(
    {RunStatus.NOT_STARTED, RunStatus.QUEUED, RunStatus.PREPARING, RunStatus.PROVISIONING, RunStatus.STARTING}
)
"""Statuses of a job that has not started running (no start time is shown for them)."""

_BY_LOWER = {status.value.lower(): status for status in RunStatus}


def run_status(azure_status: str | None) -> tuple[RunStatus, str]:
    """(status, reason): Azure's status as a RunStatus; an unrecognised one is UNKNOWN with its name as reason."""
    text = (azure_status or "").strip()
    found = _BY_LOWER.get(text.lower())
    if found is not None:
        return found, ""
    # Azure's enums also come spelled "Cancelled" in old run history answers.
    if text.lower() == "cancelled":
        return RunStatus.CANCELED, ""
    return RunStatus.UNKNOWN, f"Azure status {text!r}" if text else "Azure did not say the status"
