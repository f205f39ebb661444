"""AzureBackend: an Azure Machine Learning workspace, built on the MLflow kind (decision 4 of the shared brief).

Experiments, runs, metrics and tag removals go through the MLflow REST client at the workspace's MLflow endpoint
(``connection.py``) with a bearer token for the cloud's ARM scope; what Azure's endpoint cannot answer is planned
by ``search_plan.AZURE``. What only Azure knows comes from Azure's own endpoints:

- statuses: MLflow says Scheduled/Running for an active job whatever Azure's status is, so active runs get their
  status from the ARM job (``GET {WS}/jobs/{name}``, the call ``jobs.get`` makes), concurrently
  (``STATUS_WORKERS`` at a time), kept ``STATUS_TTL_S``; all fourteen of Azure's statuses are kept
  (``status_map``). A page of runs shows the last status known and asks the unknown or stale ones in the
  background (a differing one arrives as a change, through ``list_changed_runs``); ``get_run``, edits, cancel
  and queries on status wait for them. Live refresh observes the active jobs' statuses (each at most every 10 s);
  the asking, keeping and refining are ``job_statuses.py``;
- details: ``ml_client.jobs.get`` (type, compute, command, environment, inputs and outputs, services with the
  Studio link), with the times from MLflow (ARM jobs have none);
- children: run history's ``runs/{id}/children``, following every page (azure-ai-ml 1.35.2's
  ``jobs.list(parent_job_name=…)`` stops after the first), then one MLflow search per 100 children for their
  metrics, params and tags (``run_history.py``);
- edits: ``ml_client.jobs.update`` (display name, description, tags merged) and MLflow's ``delete-tag`` for the
  tags taken away; cancel: ``ml_client.jobs.begin_cancel``, returning CancelRequested at once (the poller
  runs on azure-core's own thread, never waited on here);
- files: the workspace's artifact store in blob storage (``blob_files.BlobRunFiles``), resolved at first use
  (``lazy_files.LazyBlobFiles``);
- compute and script jobs (``ComputeBackend``): ``compute_backend.AzureComputeMethods`` over ``compute.py`` and
  ``submit.py``.

Every failure is a studio error with a sentence (``errors.py``); the MLflow client's messages are said again in
Azure's terms. Round trips per action, measured on the emulator (tests/workspaces/azure/test_backend_workspace.py):
opening = 2 (``workspaces.get``, one ``experiments/search``); a page of runs = 1 (``runs/search`` with the child
counts' search beside it), then one ARM GET per active job in the background; ``get_run`` = ``runs/get`` + one ARM
GET for an active job; details = 2 (``runs/get``, the ARM job; a failed job's error one more); children = one
run-history page per 100 children + one ``runs/search`` per 100 ids + the child counts; a metric = one
``get-history`` per 1,000 points (the first ask of 25,000 is refused once per endpoint and process); cancel = 3
(``runs/get``, the job's status, the cancel POST); an edit = 6 or 7 (``jobs.update`` reads the job before and
after its PATCH; the first finds run history through discovery).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

from studio.core.backend import DEFAULT_PAGE_SIZE
from studio.core.errors import RunStateError, StudioError
from studio.core.status import RunStatus
from studio.core.types import (
    MetricInfo,
    MetricSeries,
    RunInfo,
    RunPage,
    RunQuery,
    StatusChange,
    WorkspaceInfo,
)
from studio.workspaces.azure.arm_client import ArmTimeouts
from studio.workspaces.azure.cloud import AzureCloud
from studio.workspaces.azure.compute import AzureCompute
from studio.workspaces.azure.compute_backend import AzureComputeMethods
from studio.workspaces.azure.connection import AzureConnection
from studio.workspaces.azure.errors import AzureError, AzureNotFoundError, from_azure_exception, from_mlflow_error
from studio.workspaces.azure.job_statuses import (
    MAX_REFINED,
    STATUS_TTL_S,
    STATUS_WORKERS,
    JobStatuses,
    StatusRefiner,
    refined,
    uses_status,
)
from studio.workspaces.azure.jobs import (
    JOBS_API,
    arm_job_details,
    is_service_failure,
    iso_seconds,
    job_details,
    warm_sdk,
)
from studio.workspaces.azure.lazy_files import LazyBlobFiles
from studio.workspaces.azure.run_history import (
    IDS_PER_SEARCH,
    MAX_CHILD_PAGES,
    history_children,
    history_info,
    mlflow_runs,
    run_error,
)
from studio.workspaces.azure.status_map import run_status
from studio.workspaces.mlflow.backend import MlflowBackend, _check_edit
from studio.workspaces.mlflow.mapping import HIDDEN_TAGS, seconds
from studio.workspaces.mlflow.mapping import run_status as mlflow_status
from studio.workspaces.mlflow.rest.errors import MlflowRestError
from studio.workspaces.mlflow.rest.types import Run
from studio.workspaces.mlflow.run_files import ArtifactFiles
from studio.workspaces.mlflow.search_plan import AZURE
from studio.workspaces.mlflow.single_flight import SingleFlight

__all__ = [
    "CHILDREN_PAGE",
    "IDS_PER_SEARCH",
    "JOBS_API",
    "MAX_CHILD_PAGES",
    "MAX_REFINED",
    "OBSERVED_JOBS",
    "OBSERVE_AGE_S",
    "STATUS_TTL_S",
    "STATUS_WORKERS",
    "AzureBackend",
    "JobStatuses",
    "LazyBlobFiles",
    "history_info",
    "refined",
]

log = logging.getLogger(__name__)

OBSERVE_AGE_S = 10.0
"""Live refresh asks an active job's Azure status again after this long."""
OBSERVED_JOBS = 100
"""At most this many active jobs are observed per poll (the newest the poll sees)."""
CHILDREN_PAGE = 100
"""Run history's children per page (read here at each call, so a test can make it smaller)."""

T = TypeVar("T")


def _translated(method: Callable[..., T]) -> Callable[..., T]:
    """Say the MLflow client's errors in Azure's terms (and drop a refused token)."""

    @functools.wraps(method)
    def wrapper(self: AzureBackend, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except MlflowRestError as exc:
            if exc.status == 401:
                self.connection.refused_token()
            raise from_mlflow_error(exc, host=self.mlflow_host, workspace=repr(self.name)) from None

    return wrapper


CHANGE_POLL_S = 10.0
"""Live refresh asks Azure for the newest runs at most this often (AZURE-NOTES §4.9: 10-30 s; a tracking server
of the MLflow kind is asked every 3 s): an idle window with an open workspace costs about 6 requests a minute."""


class AzureBackend(AzureComputeMethods, MlflowBackend):
    """One Azure ML workspace (see the module docstring)."""

    def __init__(
        self,
        credential: Any,
        subscription_id: str,
        resource_group: str,
        workspace_name: str,
        cloud: AzureCloud,
        *,
        location: str,
        timeouts: ArmTimeouts | None = None,
    ) -> None:
        """Connect (``workspaces.get``: one ARM request); no other request is made until asked."""
        connection = AzureConnection(
            credential, subscription_id, resource_group, workspace_name, cloud, timeouts=timeouts
        )
        try:
            client = connection.mlflow_client()
        except BaseException:
            connection.close()
            raise
        self.connection = connection
        self.cloud = cloud
        self.mlflow_host = client.base_url.split("/")[2]
        self.statuses = JobStatuses(self._azure_status)
        self._exactness = threading.local()
        self._refiner = StatusRefiner(self.statuses, lambda run, info, status: self.poller.note(run, info, status))
        self._blob_files: LazyBlobFiles | None = None
        self.compute = AzureCompute(connection)
        super().__init__(client, location, workspace_name, files=self._make_files, dialect=AZURE)
        self.poller.interval = CHANGE_POLL_S
        self._pool.submit(warm_sdk)  # the SDK's first job parse, now rather than under a job's first chart

    def _make_files(self, pool: ThreadPoolExecutor, flights: SingleFlight) -> ArtifactFiles:
        def build() -> ArtifactFiles:
            from studio.workspaces.azure.artifact_store import ArtifactStore
            from studio.workspaces.azure.blob_files import BlobRunFiles

            store = ArtifactStore.resolve(
                self.connection.arm, self.connection.ws_path, self.connection.credential, self.cloud
            )
            return BlobRunFiles(store, pool, flights)

        self._blob_files = LazyBlobFiles(build)
        return self._blob_files

    # -- workspace ------------------------------------------------------------------------------

    def info(self) -> WorkspaceInfo:
        """The workspace's name and location; Azure can cancel jobs."""
        return WorkspaceInfo(name=self.name, kind="azure", location=self.location, can_cancel=True)

    def check(self) -> None:
        """One cheap call that proves the workspace's MLflow endpoint answers with this sign-in."""
        self.client.search_experiments(max_results=1)

    # -- statuses -------------------------------------------------------------------------------

    def _azure_status(self, name: str) -> str | None:
        """One job's Azure status: the ARM job, else (a pipeline's child, which ARM does not serve) run history."""
        try:
            document = self.connection.arm.get_json(
                f"{self.connection.ws_path}/jobs/{name}", {"api-version": JOBS_API}, what=f"the job {name!r}"
            )
        except AzureNotFoundError:
            try:
                document = {
                    "properties": self.connection.arm.get_json(f"{self.connection.run_history_base()}/runs/{name}")
                }
            except AzureNotFoundError:
                return None
        status = (document.get("properties") or {}).get("status")
        return str(status) if status else None

    def _infos(self, runs: list[Run], experiment: str, with_children: bool = True) -> list[RunInfo]:
        """RunInfos with Azure's statuses: asked and waited for where exactness matters (a run, a status query),
        else the last known ones, with the unknown or stale asked in the background (a page is not held up by a
        round trip; a status that differs then arrives as a change, as live refresh reports it)."""
        infos = super()._infos(runs, experiment, with_children)
        if not with_children:
            return infos  # counts and keys: no status is shown
        active = [info.id for info in infos if info.status.is_active]
        if not active:
            return infos
        if getattr(self._exactness, "on", False):
            statuses = self.statuses.get_many(active)
        else:
            statuses, stale = self.statuses.known(active)
            if stale:
                # Each with the status this answer shows: a change is judged against what was shown, not against
                # what a poll may have learned meanwhile (that would leave the shown status unreported).
                by_id = {
                    info.id: (run, info, refined(info, statuses.get(info.id)).status.value)
                    for run, info in zip(runs, infos, strict=True)
                }
                self._refiner.later([by_id[i] for i in stale if i in by_id])
        return [refined(info, statuses.get(info.id)) for info in infos]

    def _decorating(self, query: RunQuery) -> tuple[str, Callable[[], AbstractContextManager[None]]]:
        """A background read for a query on status waits for exact statuses too (and keeps its copy apart)."""
        return ("exact", self._exact_statuses) if uses_status(query) else ("", nullcontext)

    @contextmanager
    def _exact_statuses(self) -> Iterator[None]:
        """Within: statuses are asked of Azure and waited for (a stale one is not shown)."""
        before = getattr(self._exactness, "on", False)
        self._exactness.on = True
        try:
            yield
        finally:
            self._exactness.on = before

    def _observe(self, runs: list[Run]) -> dict[str, object]:
        """A poll sees each active job's Azure status, so Queued → Preparing → Running is a change."""
        active = [r.run_id for r in runs if not mlflow_status(r).is_terminal][:OBSERVED_JOBS]
        if not active:
            return {}
        # Each poll is 3 s apart; a job's status is asked again only every OBSERVE_AGE_S (ARM's read budget).
        return dict(self.statuses.get_many(active, max_age=max(self.statuses.ttl, OBSERVE_AGE_S)))

    def get_run(self, run_id: str) -> RunInfo:
        """One run with Azure's current status of its job (asked if not known in the last few seconds)."""
        with self._exact_statuses():
            return super().get_run(run_id)

    def list_runs(
        self,
        experiment: str,
        query: RunQuery | None = None,
        page_token: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> RunPage:
        """A page of runs (see MlflowBackend); Azure's statuses are waited for only when the query uses them."""
        if uses_status(query):
            with self._exact_statuses():
                return super().list_runs(experiment, query, page_token, page_size)
        return super().list_runs(experiment, query, page_token, page_size)

    def count_runs(self, experiment: str, query: RunQuery | None = None) -> int:
        """How many runs match (see MlflowBackend); statuses waited for when the query uses them."""
        if uses_status(query):
            with self._exact_statuses():
                return super().count_runs(experiment, query)
        return super().count_runs(experiment, query)

    def status_history(self, run_id: str) -> list[StatusChange]:
        """The statuses the run's times imply, ending in its Azure status (no public timeline exists)."""
        info = self.get_run(run_id)
        history: list[StatusChange] = [StatusChange(RunStatus.NOT_STARTED, info.created_at)]
        if info.started_at is not None:
            history.append(StatusChange(RunStatus.RUNNING, max(info.started_at, info.created_at)))
        if info.status is not history[-1].status:
            at = info.ended_at if info.ended_at is not None else history[-1].at
            history.append(StatusChange(info.status, max(at, history[-1].at)))
        return history

    # -- metrics --------------------------------------------------------------------------------

    def list_metrics(self, run_id: str) -> list[MetricInfo]:
        """MLflow's metrics of the run (see MlflowBackend); the accepted history page size is remembered."""
        try:
            return super().list_metrics(run_id)
        finally:
            self.connection.remember_history_page_size(self.client.history_page_size)

    def get_series(self, run_id: str, name: str, start: int = 0) -> MetricSeries:
        """A metric's points (see MlflowBackend); the accepted history page size is remembered."""
        try:
            return super().get_series(run_id, name, start)
        finally:
            self.connection.remember_history_page_size(self.client.history_page_size)

    # -- details and children -------------------------------------------------------------------

    def get_run_details(self, run_id: str) -> dict[str, object]:
        """What Azure says of the job (``jobs.get``), with MLflow's times and user."""
        run = self._run(run_id)
        details = self._job_details(run_id)
        status, reason = run_status(str(details.get("azureStatus") or ""))
        details["status"] = status.value
        if reason:
            details["statusReason"] = reason
        details["user"] = run.user_id
        started, ended = seconds(run.start_time_ms), seconds(run.end_time_ms)
        if started is not None:
            details["startedAt"] = started
        if ended is not None and status.is_terminal:
            details["endedAt"] = ended
        if status is RunStatus.FAILED:
            error = run_error(self.connection, run_id)
            if error:
                details["error"] = error
        self.statuses.note(run_id, status.value)
        return details

    def _job_details(self, run_id: str) -> dict[str, object]:
        """``jobs.get``'s entity as a dict; ARM's JSON of the job when azure-ai-ml cannot parse it (an unusual
        job type or shape raises JobParsingError or worse in the SDK: the user still sees what Azure said)."""
        what = f"the job {run_id!r}"
        try:
            job = self.connection.ml_client.jobs.get(run_id)
        except StudioError:
            raise
        except Exception as exc:
            if is_service_failure(exc):
                raise from_azure_exception(exc, host=self.cloud.arm_host, what=what) from None
            log.info("azure-ai-ml could not read job %s (%s): reading ARM's JSON", run_id, type(exc).__name__)
            document = self.connection.arm.get_json(
                f"{self.connection.ws_path}/jobs/{run_id}", {"api-version": JOBS_API}, what=what
            )
            return arm_job_details(document)
        return job_details(job)

    def list_children(self, run_id: str) -> list[RunInfo]:
        """Direct children, oldest first: run history's children endpoint (every page), MLflow's values."""
        run = self._run(run_id)
        name = self._experiment_name(run.experiment_id)
        items = sorted(
            history_children(self.connection, run_id, CHILDREN_PAGE),
            key=lambda i: (iso_seconds(i.get("createdUtc")) or 0.0, str(i.get("runId"))),
        )
        ids = [str(i["runId"]) for i in items if i.get("runId")]
        for item in items:
            if item.get("runId") and item.get("status"):
                self.statuses.note(str(item["runId"]), str(item["status"]))
        found = mlflow_runs(self.client, run.experiment_id, ids)
        infos = {info.id: info for info in self._infos([found[i] for i in ids if i in found], name)}
        result: list[RunInfo] = []
        for item in items:
            child = str(item.get("runId") or "")
            if child in infos:
                result.append(infos[child])
            elif child:
                result.append(history_info(item, name, run_id))
        return result

    # -- edits and cancel -----------------------------------------------------------------------

    def set_run_metadata(
        self,
        run_id: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> RunInfo:
        """``jobs.update`` (name, description, changed tags), then MLflow's ``delete-tag`` for each tag taken away."""
        with self._exact_statuses():
            return self._set_run_metadata(run_id, display_name, description, tags)

    def _set_run_metadata(
        self, run_id: str, display_name: str | None, description: str | None, tags: dict[str, str] | None
    ) -> RunInfo:
        _check_edit(display_name, description, tags)
        run = self._run(run_id, fresh=True)
        changes: dict[str, Any] = {}
        if display_name is not None and display_name != run.run_name:
            changes["display_name"] = display_name
        if description is not None and description != run.description:
            changes["description"] = description
        if tags is not None:
            changed = {k: v for k, v in tags.items() if run.tags.get(k) != v}
            if changed:
                changes["tags"] = changed
        if changes:
            self._update_job(run_id, run, changes)
        if tags is not None:
            for key in sorted(k for k in run.tags if k not in HIDDEN_TAGS and k not in tags):
                self.client.delete_tag(run_id, key)
        self.search.forget()
        now = self._run(run_id, fresh=True)
        info = self._infos([now], self._experiment_name(now.experiment_id))[0]
        self.poller.note(now, info, self._observe([now]).get(run_id))
        return info

    def _update_job(self, run_id: str, run: Run, changes: dict[str, Any]) -> None:
        try:
            self.connection.sdk_call(f"the job {run_id!r}", self.connection.ml_client.jobs.update, run_id, **changes)
        except AzureError as exc:
            if "PipelineChildJob" not in type(exc.__cause__).__name__ and "pipeline child" not in str(exc).lower():
                raise
            self._update_through_mlflow(run_id, run, changes)

    def _update_through_mlflow(self, run_id: str, run: Run, changes: dict[str, Any]) -> None:
        """A pipeline's child cannot be edited through ``jobs.update``: MLflow's own calls instead."""
        from studio.workspaces.mlflow.rest.types import NOTE_TAG

        if "display_name" in changes:
            self.client.update_run_name(run_id, changes["display_name"])
        if "description" in changes:
            self.client.set_tag(run_id, NOTE_TAG, changes["description"])
        for key, value in changes.get("tags", {}).items():
            self.client.set_tag(run_id, key, value)

    def cancel_run(self, run_id: str) -> RunStatus:
        """``jobs.begin_cancel`` (not waited on): CancelRequested at once. RunStateError for a finished job."""
        run = self._run(run_id, fresh=True)
        current = self.statuses.get_many([run_id], fresh=True).get(run_id)
        status = run_status(current)[0] if current else mlflow_status(run)
        if status.is_terminal:
            label = run.run_name or run_id
            raise RunStateError(f"The job {label!r} is {status.value}: only a job that has not ended can be canceled.")
        self.connection.sdk_call(f"the job {run_id!r}", self.connection.ml_client.jobs.begin_cancel, run_id)
        self.statuses.note(run_id, RunStatus.CANCEL_REQUESTED.value)
        self.search.forget()
        info = self._infos([run], self._experiment_name(run.experiment_id))[0]
        self.poller.note(run, info, RunStatus.CANCEL_REQUESTED.value)
        return RunStatus.CANCEL_REQUESTED

    def _submitted(self) -> None:
        """A job was submitted (``compute_backend``): run listings are asked again."""
        self.search.forget()

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the pools and close every client."""
        self.compute.close()
        self._refiner.close()
        super().close()
        self.statuses.close()
        if self._blob_files is not None:
            self._blob_files.close()
        self.connection.close()

    def __repr__(self) -> str:
        return f"AzureBackend({self.location!r})"


_PUBLIC = (
    "check",
    "list_experiments",
    "list_runs",
    "count_runs",
    "list_run_keys",
    "get_run",
    "get_run_details",
    "list_children",
    "status_history",
    "list_metrics",
    "get_series",
    "get_metric_records",
    "list_files",
    "read_file_range",
    "download_files",
    "set_run_metadata",
    "cancel_run",
    "change_token",
    "list_changed_runs",
)
for _name in _PUBLIC:
    setattr(AzureBackend, _name, _translated(getattr(AzureBackend, _name)))
del _name
