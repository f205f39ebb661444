"""Azure ML data-plane routes: discovery and run history (children, details, the PATCH ``jobs.update`` sends).

Host: ``<region>.api.azureml.ms`` (and the custom test cloud's ``eastus.api.studio-test-cloud.example``).
Runs come from the real mlflow server (``jobs.history_run``); edits go back to it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from tests.azure_emulator import jobs as job_model
from tests.azure_emulator.server import Emulator, Request, Response, error_response, json_response
from tests.azure_emulator.state import EmulatorState, Workspace

API_HOST = r"[a-z0-9-]+\.api\.azureml\.ms|eastus\.api\.studio-test-cloud\.example"
WS = r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
HISTORY = r"/history/v1\.0" + WS
MAX_TOP = 100


def register(emulator: Emulator) -> None:
    """Add discovery and run-history routes."""
    history = _History(emulator)
    route = emulator.route
    route("GET", API_HOST, r"/discovery", history.discovery, auth=False)
    route("GET", API_HOST, HISTORY + r"/runs/(?P<run>[^/]+)/children", history.children)
    route("GET", API_HOST, HISTORY + r"/runs/(?P<run>[^/]+)/details", history.details)
    route("GET", API_HOST, HISTORY + r"/runs/(?P<run>[^/]+)", history.run)
    route("GET", API_HOST, HISTORY + r"/experiments/(?P<exp>[^/]+)/runs/(?P<run>[^/]+)", history.run)
    route("PATCH", API_HOST, HISTORY + r"/experiments/(?P<exp>[^/]+)/runs/(?P<run>[^/]+)", history.patch)
    route("PATCH", API_HOST, HISTORY + r"/runs/(?P<run>[^/]+)", history.patch)


class _History:
    def __init__(self, emulator: Emulator) -> None:
        self.state: EmulatorState = emulator.state  # type: ignore[attr-defined]
        self.upstream = emulator.upstream  # type: ignore[attr-defined]
        self.names = job_model.ExperimentNames(self.upstream)

    def _workspace(self, request: Request, match: re.Match[str]) -> Workspace | Response:
        workspace = self.state.find_workspace(match["sub"], match["rg"], match["ws"])
        if workspace is None:
            return error_response(request, 404, f"Workspace {match['ws']} was not found.", "UserError")
        return workspace

    def _run(self, request: Request, match: re.Match[str]) -> dict[str, Any] | Response:
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        run = job_model.mlflow_run(self.upstream, match["run"])
        if run is None:
            return error_response(request, 404, f"Run {match['run']} was not found", "UserError")
        return run

    def _tenant(self) -> str:
        return self.state.tenants[0].tenant_id

    def discovery(self, request: Request, match: re.Match[str]) -> Response:
        base = f"https://{request.host}"
        return json_response(
            200,
            {
                "api": base,
                "catalog": base,
                "experimentation": base,
                "gallery": base,
                "history": base,
                "hyperdrive": base,
                "labeling": base,
                "modelmanagement": base,
                "pipelines": base,
                "studiocoreservices": base,
            },
        )

    def run(self, request: Request, match: re.Match[str]) -> Response:
        run = self._run(request, match)
        if isinstance(run, Response):
            return run
        experiment = self.names.name(run["info"]["experiment_id"])
        return json_response(200, job_model.history_run(self.state, run, experiment, self._tenant()))

    def details(self, request: Request, match: re.Match[str]) -> Response:
        run = self._run(request, match)
        if isinstance(run, Response):
            return run
        experiment = self.names.name(run["info"]["experiment_id"])
        full = job_model.history_run(self.state, run, experiment, self._tenant())
        failed = full["status"] == "Failed"
        return json_response(
            200,
            {
                "runId": full["runId"],
                "runUuid": full["runUuid"],
                "parentRunUuid": full["parentRunUuid"],
                "rootRunUuid": full["rootRunUuid"],
                "target": full["target"],
                "status": full["status"],
                "parentRunId": full["parentRunId"],
                "createdTimeUtc": full["createdUtc"],
                "startTimeUtc": full["startTimeUtc"],
                "endTimeUtc": full["endTimeUtc"],
                "error": (
                    {
                        "error": {
                            "code": "UserError",
                            "message": self.state.job_error(full["runId"])
                            or "Execution failed. User process 'python' exited with status code 1.",
                            "details": [],
                        },
                        "time": full["endTimeUtc"],
                        "componentName": "CommonRuntime",
                    }
                    if failed
                    else None
                ),
                "warnings": None,
                "tags": full["tags"],
                "properties": full["properties"],
                "parameters": {},
                "services": {},
                "inputDatasets": [],
                "outputDatasets": [],
                "runDefinition": None,
                "logFiles": {},
                "jobCost": None,
                "revision": full["revision"],
                "runTypeV2": full["runTypeV2"],
                "settings": {},
                "computeRequest": None,
                "compute": None,
                "createdBy": full["createdBy"],
                "computeDuration": None,
                "effectiveStartTimeUtc": full["effectiveStartTimeUtc"],
                "runNumber": full["runNumber"],
                "rootRunId": full["rootRunId"],
                "userId": full["userId"],
                "statusRevision": full["statusRevision"],
                "currentComputeTime": None,
                "lastStartTimeUtc": full["lastStartTimeUtc"],
                "lastModifiedBy": full["lastModifiedBy"],
                "lastModifiedUtc": full["lastModifiedUtc"],
                "duration": None,
                "inputs": None,
                "outputs": None,
            },
        )

    def children(self, request: Request, match: re.Match[str]) -> Response:
        parent = self._run(request, match)
        if isinstance(parent, Response):
            return parent
        try:
            top = min(MAX_TOP, max(1, int(request.query.get("$top", "10") or 10)))
        except ValueError:
            return error_response(request, 400, "$top must be an integer", "UserError")
        body: dict[str, Any] = {
            "experiment_ids": [parent["info"]["experiment_id"]],
            "filter": f"tags.mlflow.parentRunId = '{match['run']}'",
            "order_by": ["attributes.start_time ASC"],
            "max_results": top,
            "run_view_type": "ACTIVE_ONLY",
        }
        token = request.query.get("continuationToken") or request.query.get("$skiptoken")
        if token:
            body["page_token"] = token
        answer = self.upstream.post("runs/search", body)
        experiment = self.names.name(parent["info"]["experiment_id"])
        runs = [job_model.history_run(self.state, r, experiment, self._tenant()) for r in answer.get("runs", [])]
        page: dict[str, Any] = {"value": runs, "continuationToken": None, "nextLink": None}
        next_token = answer.get("next_page_token")
        if next_token:
            query = {k: v for k, v in request.query.items() if k != "continuationToken"}
            query["continuationToken"] = next_token
            page["continuationToken"] = next_token
            page["nextLink"] = f"{request.base_url}{request.path}?{urlencode(query)}"
        return json_response(200, page)

    def patch(self, request: Request, match: re.Match[str]) -> Response:
        run = self._run(request, match)
        if isinstance(run, Response):
            return run
        body = request.json()
        name = match["run"]
        experiment = match.groupdict().get("exp")
        if experiment is not None and experiment != self.names.name(run["info"]["experiment_id"]):
            return error_response(request, 404, f"Run {name} was not found in experiment {experiment}", "UserError")
        if body.get("displayName") is not None:
            self.upstream.post("runs/update", {"run_id": name, "run_uuid": name, "run_name": body["displayName"]})
        if body.get("description") is not None:
            self.upstream.post(
                "runs/set-tag",
                {"run_id": name, "run_uuid": name, "key": "mlflow.note.content", "value": body["description"]},
            )
        for key, value in (body.get("tags") or {}).items():
            if value is None:
                continue
            self.upstream.post("runs/set-tag", {"run_id": name, "run_uuid": name, "key": key, "value": str(value)})
        fresh = job_model.mlflow_run(self.upstream, name) or run
        experiment = self.names.name(fresh["info"]["experiment_id"])
        return json_response(200, job_model.history_run(self.state, fresh, experiment, self._tenant()))
