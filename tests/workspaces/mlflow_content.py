"""tests/workspace_content.CONTENT logged into a running ``mlflow server`` with MLflow's own client, over HTTP.

The contract suite reads it back through the studio's MLflow backend, opened by location. What MLflow can hold
is written the way a user's script writes it (``MlflowClient``: runs, params, tags, numeric metrics, tables,
artifacts); what it cannot hold is left out and said so in ``tests.workspace_content.TRAITS["mlflow"]``:
strings, lists and rows (MLflow's metrics are numbers only), errors (MLflow records none), properties (MLflow
runs have none) and files whose paths hold "#" (the server refuses them).
"""

from __future__ import annotations

import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.backend import WorkspaceBackend
from studio.core.status import RunStatus
from tests.mlflow_server import quiet_mlflow_environment
from tests.workspace_content import CONTENT, TRAITS, RunSpec, WorkspaceContent

BATCH = 1000  # MLflow's limit of metrics per log_batch request
RUN_SPACING_MS = 1000  # runs start (and end) a second apart, so every order by time is strict

#: MLflow's statuses for the content's final ones (RUNNING runs stay open).
END_STATES = {RunStatus.COMPLETED: "FINISHED", RunStatus.FAILED: "FAILED", RunStatus.CANCELED: "KILLED"}


@dataclass
class MlflowBuildTimes:
    """Seconds spent logging CONTENT, for the fixture's report."""

    total_s: float = 0.0
    metrics_s: float = 0.0
    artifacts_s: float = 0.0
    points: int = 0
    batches: int = 0


def build_mlflow(
    url: str, content: WorkspaceContent = CONTENT, times: MlflowBuildTimes | None = None
) -> tuple[WorkspaceBackend, dict[str, str]]:
    """Log ``content`` into the empty ``mlflow server`` at ``url``; return the studio's backend for it and the run ids.

    The server's "Default" experiment is deleted, so only the content's experiments are active. Runs are created
    in content order, a second apart; parents end after their children, in the reverse order (as the local
    builder ends them), a second apart and after every start. The backend is opened by location through
    ``studio.workspaces.open_workspace("mlflow+<url>")``, as tools open it. ``times`` (if given) gets the timings.
    """
    quiet_mlflow_environment()
    from mlflow import MlflowClient

    from studio.workspaces import open_workspace

    times = times if times is not None else MlflowBuildTimes()
    started = time.monotonic()
    client = MlflowClient(url)
    client.delete_experiment("0")  # "Default"
    experiment_ids = {name: client.create_experiment(name) for name in content.experiments}
    base_ms = int(time.time() * 1000) - 3_600_000  # an hour ago: every time logged lies in the past
    ids: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="mlflow-content-") as scratch:
        for index, spec in enumerate(content.runs):
            start_ms = base_ms + index * RUN_SPACING_MS
            tags = dict(spec.tags)
            if spec.parent is not None:
                tags["mlflow.parentRunId"] = ids[spec.parent]
            if spec.description:
                tags["mlflow.note.content"] = spec.description
            run = client.create_run(experiment_ids[spec.experiment], start_time=start_ms, tags=tags, run_name=spec.name)
            run_id = ids[spec.name] = run.info.run_id
            _log_params_and_metrics(client, run_id, spec, start_ms, times)
            _log_artifacts(client, run_id, spec, Path(scratch) / run_id, times)
    first_end_ms = base_ms + len(content.runs) * RUN_SPACING_MS
    ending = [spec for spec in reversed(content.runs) if spec.status in END_STATES]  # children before parents
    for index, spec in enumerate(ending):
        client.set_terminated(ids[spec.name], END_STATES[spec.status], end_time=first_end_ms + index * RUN_SPACING_MS)
    times.total_s = time.monotonic() - started
    return open_workspace(f"mlflow+{url}"), ids


def _log_params_and_metrics(client: Any, run_id: str, spec: RunSpec, start_ms: int, times: MlflowBuildTimes) -> None:
    """Params and numeric series through log_batch, at most BATCH metrics a request.

    A series with automatic steps gets steps 0..n-1; a stepped one its own steps. Timestamps rise one
    millisecond a point from the run's start. Strings, lists and rows are not written: MLflow's metrics are
    numbers only.
    """
    from mlflow.entities import Metric, Param

    started = time.monotonic()
    metrics: list[Any] = []
    for name, values in spec.series.items():
        numbers = values.tolist() if isinstance(values, np.ndarray) else list(values)
        metrics += [Metric(name, float(v), start_ms + step, step) for step, v in enumerate(numbers)]
    for name, (steps, values) in spec.stepped.items():
        metrics += [
            Metric(name, float(v), start_ms + i, step) for i, (step, v) in enumerate(zip(steps, values, strict=True))
        ]
    params = [Param(key, value) for key, value in spec.params.items()]
    if params:
        client.log_batch(run_id, params=params)
    # One request after another: the server's SQLite insert (~0.13 ms a point) is the cost, and two requests
    # at once on this two-core machine measured no faster.
    for first in range(0, len(metrics), BATCH):
        client.log_batch(run_id, metrics=metrics[first : first + BATCH])
        times.batches += 1
    times.points += len(metrics)
    times.metrics_s += time.monotonic() - started


def _log_artifacts(client: Any, run_id: str, spec: RunSpec, folder: Path, times: MlflowBuildTimes) -> None:
    """Tables with log_table (``tables/<name>.json``), images as ``images/<name>.png``, files at their paths."""
    if not (spec.tables or spec.images or spec.files):
        return
    import pandas as pd

    started = time.monotonic()
    for name, table in spec.tables.items():
        with warnings.catch_warnings():
            # mlflow's log_table asks pandas 3 for "object" columns, which warns about str columns: not ours to fix.
            warnings.simplefilter("ignore", DeprecationWarning)
            client.log_table(run_id, data=pd.DataFrame(table), artifact_file=f"tables/{name}.json")
    if spec.images:
        images = folder / "images"
        images.mkdir(parents=True)
        for name, png in spec.images.items():
            (images / f"{name}.png").write_bytes(png)
        client.log_artifacts(run_id, str(images), artifact_path="images")
    held = TRAITS["mlflow"].files_of(spec)  # the server refuses a path with "#"
    if held:
        files = folder / "files"
        for relative, data in held.items():
            target = files / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        client.log_artifacts(run_id, str(files))  # keeps the relative paths, odd names included
    times.artifacts_s += time.monotonic() - started
