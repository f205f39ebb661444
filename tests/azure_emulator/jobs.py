"""Azure ML jobs and run-history runs synthesised from the MLflow runs of the real mlflow server (decision 2).

Job name = MLflow run id; experimentName = the run's experiment's name; displayName = the run name;
description = tag ``mlflow.note.content``; tags = the run's tags not starting with ``mlflow.``; status =
MLflow's status in Azure's words unless a test set one (``EmulatorState.set_job_status``, cancel). A test can
merge fields into a job's ARM ``properties`` (``EmulatorState.job_properties``: another jobType, compute,
command, inputs...).
"""

from __future__ import annotations

import shlex
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.azure_emulator.state import EmulatorState, Workspace
from tests.azure_emulator.upstream import MlflowUpstream, UpstreamError

MLFLOW_TO_AZURE = {
    "RUNNING": "Running",
    "SCHEDULED": "Queued",
    "FINISHED": "Completed",
    "FAILED": "Failed",
    "KILLED": "Canceled",
}
TERMINAL = {"Completed", "Failed", "Canceled"}
DEFAULT_COMPUTE = "cpu-cluster"
DEFAULT_ENVIRONMENT = "azureml://registries/azureml/environments/sklearn-1.5/versions/19"
COMMON_JOB_FIELDS = {
    "description",
    "tags",
    "properties",
    "displayName",
    "status",
    "experimentName",
    "services",
    "computeId",
    "isArchived",
    "identity",
    "componentId",
    "notificationSetting",
}
"""``JobBaseProperties``' own fields (what every job type has)."""
CODE_ID = str(uuid.UUID(int=0x5D0C0DE))


class ExperimentNames:
    """Experiment id → name, asked of the mlflow server once per id."""

    def __init__(self, upstream: MlflowUpstream) -> None:
        self._upstream = upstream
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()

    def name(self, experiment_id: str) -> str:
        """The experiment's name."""
        with self._lock:
            if experiment_id in self._names:
                return self._names[experiment_id]
        answer = self._upstream.get("experiments/get", {"experiment_id": experiment_id})
        name = str(answer["experiment"]["name"])
        with self._lock:
            self._names[experiment_id] = name
        return name

    def experiment_id(self, name: str) -> str | None:
        """The id of the experiment with that name (None if none)."""
        try:
            answer = self._upstream.get("experiments/get-by-name", {"experiment_name": name})
        except UpstreamError as error:
            if error.status == 404:
                return None
            raise
        return str(answer["experiment"]["experiment_id"])


def mlflow_run(upstream: MlflowUpstream, run_id: str) -> dict[str, Any] | None:
    """``runs/get``'s run, or None when MLflow does not know the id."""
    try:
        return upstream.get("runs/get", {"run_id": run_id})["run"]
    except UpstreamError as error:
        if error.status in (400, 404):  # OSS: 404 RESOURCE_DOES_NOT_EXIST (400 for a malformed id)
            return None
        raise


def run_tags(run: dict[str, Any]) -> dict[str, str]:
    """All tags of an MLflow run as a dict."""
    return {t["key"]: t.get("value", "") for t in run.get("data", {}).get("tags", [])}


def user_tags(run: dict[str, Any]) -> dict[str, str]:
    """The tags a user set (not MLflow's own ``mlflow.*``)."""
    return {k: v for k, v in run_tags(run).items() if not k.startswith("mlflow.")}


def azure_status(state: EmulatorState, run: dict[str, Any]) -> str:
    """The job's Azure status: the test's override, else MLflow's status in Azure's words."""
    override = state.job_status(run["info"]["run_id"])
    if override is not None:
        return override
    return MLFLOW_TO_AZURE.get(run["info"].get("status", ""), "Unknown")


def iso_ms(ms: Any) -> str | None:
    """Milliseconds since the epoch as ISO 8601 UTC (None stays None)."""
    if ms in (None, "", 0, "0"):
        return None
    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat().replace("+00:00", "Z")


def api_host(request_host: str) -> str:
    """The Azure ML data-plane host of the cloud the request came to (public or the custom test cloud)."""
    return (
        "eastus.api.studio-test-cloud.example"
        if request_host.endswith("studio-test-cloud.example")
        else "eastus.api.azureml.ms"
    )


def job_resource(
    state: EmulatorState,
    workspace: Workspace,
    run: dict[str, Any],
    experiment_name: str,
    request_host: str,
    tenant_id: str,
) -> dict[str, Any]:
    """The ARM ``JobBase`` of a Command job for an MLflow run."""
    info = run["info"]
    name = info["run_id"]
    tags = run_tags(run)
    params = {p["key"]: p.get("value", "") for p in run.get("data", {}).get("params", [])}
    command = "python train.py" + "".join(f" --{k} {shlex.quote(str(v))}" for k, v in sorted(params.items()))
    ws = workspace.arm_id
    host = api_host(request_host)
    properties: dict[str, Any] = {
        "description": tags.get("mlflow.note.content"),
        "tags": user_tags(run),
        "properties": {
            "_azureml.ComputeTargetType": "amlctrain",
            "ContentSnapshotId": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            "azureml.git.dirty": "False",
        },
        "displayName": info.get("run_name") or tags.get("mlflow.runName") or name,
        "status": azure_status(state, run),
        "experimentName": experiment_name,
        "services": {
            "Tracking": {
                "jobServiceType": "Tracking",
                "port": None,
                "endpoint": f"azureml://{host}/mlflow/v1.0{ws}?",
                "status": None,
                "errorMessage": None,
                "properties": None,
                "nodes": None,
            },
            "Studio": {
                "jobServiceType": "Studio",
                "port": None,
                "endpoint": f"https://ml.azure.com/runs/{name}?wsid={ws}&tid={tenant_id}",
                "status": None,
                "errorMessage": None,
                "properties": None,
                "nodes": None,
            },
        },
        "computeId": f"{ws}/computes/{DEFAULT_COMPUTE}",
        "isArchived": False,
        "identity": None,
        "componentId": None,
        "notificationSetting": None,
        "jobType": "Command",
        "resources": {"instanceCount": 1, "shmSize": "2g", "properties": {}},
        "codeId": f"{ws}/codes/{CODE_ID}/versions/1",
        "command": command,
        "environmentId": DEFAULT_ENVIRONMENT,
        "inputs": {},
        "outputs": {
            "default": {
                "description": None,
                "uri": f"azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.{name}",
                "mode": "ReadWriteMount",
                "jobOutputType": "uri_folder",
            }
        },
        "environmentVariables": {},
        "parameters": {},
        "queueSettings": {"jobTier": "Null"},
    }
    overrides = state.job_properties(name)
    if overrides.get("jobType", "Command") != "Command":  # another type: only the fields every job has, then its own
        properties = {k: v for k, v in properties.items() if k in COMMON_JOB_FIELDS}
    properties.update(overrides)
    return {
        "id": f"{ws}/jobs/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/jobs",
        "properties": properties,
        "systemData": {
            "createdAt": iso_ms(info.get("start_time")) or datetime.now(UTC).isoformat(),
            "createdBy": info.get("user_id") or "Ada Lovelace",
            "createdByType": "User",
        },
    }


def history_run(state: EmulatorState, run: dict[str, Any], experiment_name: str, tenant_id: str) -> dict[str, Any]:
    """Run history's ``Run`` for an MLflow run (what ``runs/{id}/children`` and the PATCH answer list)."""
    info = run["info"]
    name = info["run_id"]
    tags = run_tags(run)
    parent = tags.get("mlflow.parentRunId")
    status = azure_status(state, run)
    start = iso_ms(info.get("start_time"))
    end = iso_ms(info.get("end_time")) if status in TERMINAL else None
    overrides = state.job_properties(name)
    user = {
        "userObjectId": str(uuid.uuid5(uuid.NAMESPACE_DNS, info.get("user_id") or "ada")),
        "userPuId": None,
        "userIdp": None,
        "userAltSecId": None,
        "userIss": f"https://sts.windows.net/{tenant_id}/",
        "userTenantId": tenant_id,
        "userName": info.get("user_id") or "Ada Lovelace",
        "upn": None,
    }
    return {
        "runNumber": uuid.uuid5(uuid.NAMESPACE_URL, name).int % 100000,
        "rootRunId": tags.get("azureml.rootRunId", parent or name),
        "createdUtc": start,
        "createdBy": user,
        "userId": user["userObjectId"],
        "token": None,
        "tokenExpiryTimeUtc": None,
        "error": None,
        "warnings": None,
        "revision": 3,
        "statusRevision": 2,
        "runUuid": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        "parentRunUuid": str(uuid.uuid5(uuid.NAMESPACE_URL, parent)) if parent else None,
        "rootRunUuid": str(uuid.uuid5(uuid.NAMESPACE_URL, parent or name)),
        "hasVirtualParent": False,
        "lastStartTimeUtc": start,
        "currentComputeTime": None,
        "computeDuration": None,
        "effectiveStartTimeUtc": start,
        "lastModifiedBy": user,
        "lastModifiedUtc": end or start,
        "duration": None,
        "cancelationReason": None,
        "runId": name,
        "parentRunId": parent,
        "experimentId": info.get("experiment_id"),
        "status": status,
        "startTimeUtc": start,
        "endTimeUtc": end,
        "options": {"generateDataContainerIdIfNotSpecified": True},
        "isVirtual": False,
        "displayName": info.get("run_name") or name,
        "name": None,
        "dataContainerId": f"dcid.{name}",
        "description": tags.get("mlflow.note.content"),
        "hidden": False,
        "runType": "azureml.scriptrun",
        "runTypeV2": {"orchestrator": None, "traits": [], "attribution": None, "computeType": "AmlcTrain"},
        "properties": {
            "azureml.runsource": "azureml.scriptrun",
            "ContentSnapshotId": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        },
        "parameters": {},
        "actionUris": {},
        "scriptName": _script_name(overrides.get("command")),
        "target": str(overrides.get("computeId") or DEFAULT_COMPUTE).rsplit("/", 1)[-1],
        "uniqueChildRunComputeTargets": [],
        "tags": user_tags(run),
        "settings": {},
        "services": {},
        "inputDatasets": [],
        "outputDatasets": [],
        "runDefinition": None,
        "jobSpecification": None,
        "primaryMetricName": None,
        "createdFrom": None,
        "cancelUri": None,
        "completeUri": None,
        "diagnosticsUri": None,
        "computeRequest": None,
        "compute": None,
        "retainForLifetimeOfWorkspace": None,
        "queueingInfo": None,
        "inputs": None,
        "outputs": None,
    }


def _script_name(command: object) -> str:
    """The script a job's command runs (``python train.py --x`` → ``train.py``); ``train.py`` by default."""
    try:
        words = shlex.split(str(command)) if command else []
    except ValueError:
        words = []
    scripts = [w for w in words if w.endswith(".py")]
    return scripts[0] if scripts else "train.py"
