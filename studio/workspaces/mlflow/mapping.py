"""MLflow's runs as the protocol's records: statuses, names, parents, notes, times in seconds.

MLflow keeps a run's name, parent and note in system tags (``mlflow.runName``, ``mlflow.parentRunId``,
``mlflow.note.content``); ``RunInfo`` has fields for them, so those tags (and two internal bookkeeping tags)
are left out of ``RunInfo.tags``. Every other tag, ``mlflow.user`` or ``mlflow.source.name`` included, stays a tag.
MLflow runs have no properties, no error record and no creation time apart from the start time.
"""

from __future__ import annotations

from dataclasses import replace

from studio.core.search.evaluate import RunValues, run_values
from studio.core.status import RunStatus
from studio.core.types import ExperimentInfo, RunInfo, StatusChange
from studio.workspaces.mlflow.rest.types import NOTE_TAG, PARENT_RUN_TAG, RUN_NAME_TAG, Experiment, Run

LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"
HIDDEN_TAGS = frozenset({RUN_NAME_TAG, PARENT_RUN_TAG, NOTE_TAG, LOGGED_ARTIFACTS_TAG, "mlflow.log-model.history"})

STATUS_FROM_MLFLOW = {
    "RUNNING": RunStatus.RUNNING,
    "SCHEDULED": RunStatus.QUEUED,
    "FINISHED": RunStatus.COMPLETED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.CANCELED,
}


def seconds(milliseconds: int | None) -> float | None:
    """MLflow's epoch milliseconds as the protocol's epoch seconds."""
    return None if milliseconds is None else milliseconds / 1000.0


def run_status(run: Run) -> RunStatus:
    """The protocol's status of an MLflow run (an unknown status reads as Running, as MLflow's UI shows it)."""
    return STATUS_FROM_MLFLOW.get(run.status.upper(), RunStatus.RUNNING)


def run_info(run: Run, experiment: str, child_count: int = 0) -> RunInfo:
    """One MLflow run as a RunInfo of experiment ``experiment`` (its name)."""
    status = run_status(run)
    started = seconds(run.start_time_ms)
    ended = seconds(run.end_time_ms) if status.is_terminal else None
    return RunInfo(
        id=run.run_id,
        experiment=experiment,
        number=0,
        display_name=run.run_name or run.run_id,
        status=status,
        created_at=started if started is not None else 0.0,
        started_at=started if status is not RunStatus.QUEUED else None,
        ended_at=ended,
        parent_id=run.parent_run_id,
        description=run.description,
        tags={k: v for k, v in run.tags.items() if k not in HIDDEN_TAGS},
        params=dict(run.params),
        metrics={key: metric.value for key, metric in run.metrics.items()},
        child_count=child_count,
    )


def search_values(run: Run, info: RunInfo) -> RunValues:
    """What a filter sees of the run: its RunInfo's values, but every tag the server sees (hidden ones too)."""
    return replace(run_values(info), tags=run.tags)


def status_history(info: RunInfo) -> list[StatusChange]:
    """The statuses MLflow's times imply: Queued, or Running from the start, then the final status at the end."""
    if info.status is RunStatus.QUEUED or info.started_at is None:
        return [StatusChange(info.status, info.created_at)]
    history = [StatusChange(RunStatus.RUNNING, info.started_at)]
    if info.status.is_terminal:
        history.append(StatusChange(info.status, info.ended_at if info.ended_at is not None else info.started_at))
    return history


def experiment_info(experiment: Experiment, run_count: int, exact: bool, last_run_at: float | None) -> ExperimentInfo:
    """An MLflow experiment with the counts the backend found."""
    created = seconds(experiment.creation_time_ms)
    return ExperimentInfo(
        name=experiment.name,
        created_at=created if created is not None else 0.0,
        run_count=run_count,
        last_run_at=last_run_at,
        run_count_exact=exact,
    )
