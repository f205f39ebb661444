"""Run history's view of runs: the children of a job, a failed job's error, and a RunInfo for a child MLflow
does not know; plus MLflow's records of a list of run ids. Used by ``backend.AzureBackend``.

Run history's ``runs/{id}/children`` is followed page by page (azure-ai-ml 1.35.2's
``jobs.list(parent_job_name=…)`` stops after the first), then one MLflow search per ``IDS_PER_SEARCH`` children
gives their metrics, params and tags.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from studio.core.types import RunInfo
from studio.core.validation import check_run_id
from studio.workspaces.azure.connection import AzureConnection
from studio.workspaces.azure.errors import AzureError
from studio.workspaces.azure.jobs import iso_seconds
from studio.workspaces.azure.status_map import BEFORE_START, run_status
from studio.workspaces.mlflow.rest.client import MlflowRestClient
from studio.workspaces.mlflow.rest.types import Run

log = logging.getLogger(__name__)

IDS_PER_SEARCH = 100
MAX_CHILD_PAGES = 10_000


def history_children(connection: AzureConnection, run_id: str, page_size: int) -> Iterator[dict[str, Any]]:
    """Run history's records of the job's direct children, ``page_size`` a page, every page followed."""
    check_run_id(run_id)
    url = f"{connection.run_history_base()}/runs/{run_id}/children"
    params: dict[str, Any] | None = {"$top": page_size}
    what = f"the children of job {run_id!r}"
    for _ in range(MAX_CHILD_PAGES):
        page = connection.arm.get_json(url, params, what=what)
        for item in page.get("value") or ():
            if isinstance(item, dict):
                yield item
        link, token = page.get("nextLink"), page.get("continuationToken")
        if link:
            url, params = str(link), None
        elif token:
            url = f"{connection.run_history_base()}/runs/{run_id}/children"
            params = {"$top": page_size, "$continuationtoken": token}
        else:
            return


def run_error(connection: AzureConnection, run_id: str) -> dict[str, str] | None:
    """A failed job's error from run history's details (one more request, only for failed jobs)."""
    try:
        document = connection.arm.get_json(
            f"{connection.run_history_base()}/runs/{run_id}/details", what=f"the job {run_id!r}"
        )
    except AzureError as exc:
        log.debug("error of job %s not read: %s", run_id, exc)
        return None
    outer = document.get("error") or {}
    inner = outer.get("error") if isinstance(outer, dict) else None
    if not isinstance(inner, dict) or not inner.get("message"):
        return None
    return {"code": str(inner.get("code") or ""), "message": str(inner["message"])}


def mlflow_runs(client: MlflowRestClient, experiment_id: str, ids: list[str]) -> dict[str, Run]:
    """MLflow's records of ``ids`` (one ``runs/search`` per ``IDS_PER_SEARCH``) through the MLflow REST client."""
    quotable = [i for i in ids if "'" not in i and "\\" not in i]
    found: dict[str, Run] = {}
    for first in range(0, len(quotable), IDS_PER_SEARCH):
        chunk = quotable[first : first + IDS_PER_SEARCH]
        listed = ", ".join(f"'{i}'" for i in chunk)
        token: str | None = None
        while True:
            page = client.search_runs(
                [experiment_id], filter=f"attributes.run_id IN ({listed})", max_results=len(chunk), page_token=token
            )
            found.update((r.run_id, r) for r in page.items)
            token = page.next_page_token
            if not token:
                break
    return found


def history_info(item: dict[str, Any], experiment: str, parent_id: str) -> RunInfo:
    """A RunInfo from run history's record of a run MLflow does not know (no metrics or params then)."""
    status, reason = run_status(item.get("status"))
    created = iso_seconds(item.get("createdUtc")) or 0.0
    started = iso_seconds(item.get("startTimeUtc"))
    ended = iso_seconds(item.get("endTimeUtc")) if status.is_terminal else None
    tags = item.get("tags") if isinstance(item.get("tags"), dict) else {}
    return RunInfo(
        id=str(item.get("runId")),
        experiment=experiment,
        number=int(item.get("runNumber") or 0),
        display_name=str(item.get("displayName") or item.get("runId")),
        status=status,
        created_at=created,
        started_at=None if status in BEFORE_START else started,
        ended_at=ended,
        parent_id=str(item.get("parentRunId") or parent_id),
        description=str(item.get("description") or ""),
        tags={str(k): str(v) for k, v in (tags or {}).items()},
        status_reason=reason,
    )
