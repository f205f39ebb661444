"""The emulator against the REAL azure-ai-ml 1.35.2: the SDK accepts every answer and reads the right values,
every answer fits the SDK's own ``_restclient`` models, lists page, faults are absorbed the way Azure's are.

A wrong shape here would make the studio's Azure tests pass against an Azure that does not exist.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.azure_emulator.shapes import unknown_fields
from tests.azure_fixtures import AzureService

ARM = "https://management.azure.com"
API = "https://eastus.api.azureml.ms"
CHILDREN = 12
HEADERS = {"Authorization": "Bearer studio-test-shapes"}


@dataclass(frozen=True)
class Content:
    """What the module logged through MLflow: one experiment, runs in each state, a parent with children."""

    experiment: str
    experiment_id: str
    finished: str
    running: str
    failed: str
    parent: str
    children: list[str]


@pytest.fixture(scope="module")
def content(azure_service: AzureService) -> Content:
    from mlflow import MlflowClient

    client = MlflowClient(azure_service.mlflow_url)
    name = f"shapes-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(name)
    finished = client.create_run(
        experiment_id, run_name="baseline", tags={"team": "vision", "mlflow.note.content": "first try"}
    )
    client.log_param(finished.info.run_id, "lr", "0.1")
    client.log_metric(finished.info.run_id, "loss", 0.5, step=1)
    client.set_terminated(finished.info.run_id, "FINISHED")
    running = client.create_run(experiment_id, run_name="long one")
    failed = client.create_run(experiment_id, run_name="broken")
    client.set_terminated(failed.info.run_id, "FAILED")
    parent = client.create_run(experiment_id, run_name="sweep")
    children = []
    for index in range(CHILDREN):
        child = client.create_run(
            experiment_id,
            run_name=f"trial {index}",
            tags={"mlflow.parentRunId": parent.info.run_id},
            start_time=1_700_000_000_000 + index,
        )
        children.append(child.info.run_id)
    return Content(
        name, experiment_id, finished.info.run_id, running.info.run_id, failed.info.run_id, parent.info.run_id, children
    )


@pytest.fixture
def ml_client(azure_env: AzureService) -> Any:
    from azure.ai.ml import MLClient

    return MLClient(
        azure_env.credential(),
        azure_env.subscription_id,
        azure_env.resource_group,
        azure_env.workspace_name,
        cloud="AzureCloud",
    )


def _api_versions(service: AzureService, path_end: str) -> set[str]:
    return {r.query.get("api-version", "") for r in service.requests() if r.path.endswith(path_end)}


# --- the SDK reads the emulator's answers ---------------------------------------------------------------
def test_sdk_lists_the_subscriptions_workspaces_across_pages(azure_env: AzureService) -> None:
    from azure.ai.ml import MLClient

    client = MLClient(azure_env.credential(), azure_env.subscription_id, cloud="AzureCloud")
    names = [w.name for w in client.workspaces.list(scope="subscription")]
    assert names == ["studio-ws", "vision-ws", "nlp-ws", "tabular-ws", "shared-project", "shared-hub"]
    pages = [
        r for r in azure_env.requests() if r.path.endswith("/providers/Microsoft.MachineLearningServices/workspaces")
    ]
    assert len(pages) == 3
    assert {r.query["api-version"] for r in pages} == {"2024-10-01-preview"}


def test_sdk_gets_the_workspace(azure_env: AzureService, ml_client: Any) -> None:
    workspace = ml_client.workspaces.get(azure_env.workspace_name)
    assert workspace.mlflow_tracking_uri == f"azureml://eastus.api.azureml.ms/mlflow/v1.0{azure_env.workspace_arm_id}"
    assert workspace.discovery_url == "https://eastus.api.azureml.ms/discovery"
    assert str(uuid.UUID(workspace._workspace_id)) == workspace._workspace_id
    assert workspace.storage_account.endswith("/providers/Microsoft.Storage/storageAccounts/devstoreaccount1")
    assert workspace.location == "eastus"
    assert _api_versions(azure_env, f"/workspaces/{azure_env.workspace_name}") == {"2024-10-01-preview"}


def test_sdk_gets_a_command_job_made_from_the_mlflow_run(
    azure_env: AzureService, ml_client: Any, content: Content
) -> None:
    from azure.ai.ml.entities import Command

    job = ml_client.jobs.get(content.finished)
    assert isinstance(job, Command)
    assert job.name == content.finished
    assert job.display_name == "baseline"
    assert job.description == "first try"
    assert job.status == "Completed"
    assert job.experiment_name == content.experiment
    assert job.tags == {"team": "vision"}
    assert job.compute == "cpu-cluster"
    assert job.command == "python train.py --lr 0.1"
    assert (
        job.outputs["default"].path
        == f"azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.{content.finished}"
    )
    assert job.studio_url.startswith(f"https://ml.azure.com/runs/{content.finished}?wsid=")
    assert ml_client.jobs.get(content.failed).status == "Failed"
    assert ml_client.jobs.get(content.running).status == "Running"
    assert _api_versions(azure_env, f"/jobs/{content.finished}") == {"2024-01-01-preview"}


def test_an_unknown_job_is_not_found(azure_env: AzureService, ml_client: Any) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    with pytest.raises(ResourceNotFoundError):
        ml_client.jobs.get("no-such-job")


def test_a_test_set_status_wins_over_mlflows(azure_env: AzureService, ml_client: Any, content: Content) -> None:
    azure_env.set_job_status(content.running, "Preparing")
    assert ml_client.jobs.get(content.running).status == "Preparing"


def test_a_test_can_make_a_job_another_type(azure_env: AzureService, ml_client: Any, content: Content) -> None:
    from azure.ai.ml._restclient.arm_ml_service import models as arm
    from azure.ai.ml.entities import PipelineJob

    azure_env.set_job_properties(
        content.parent, {"jobType": "Pipeline", "jobs": {}, "inputs": {}, "outputs": {}, "settings": {}}
    )
    job = ml_client.jobs.get(content.parent)
    assert isinstance(job, PipelineJob) and job.display_name == "sweep"
    raw = _get(f"{ARM}{azure_env.workspace_arm_id}/jobs/{content.parent}", **{"api-version": "2024-01-01-preview"})
    assert unknown_fields(arm.JobBase, raw) == []


def test_sdk_updates_display_name_description_and_tags_into_mlflow(
    azure_env: AzureService, ml_client: Any, content: Content
) -> None:
    from mlflow import MlflowClient

    job = ml_client.jobs.update(
        content.failed, display_name="broken, explained", description="OOM at step 3", tags={"cause": "oom"}
    )
    assert (job.display_name, job.description) == ("broken, explained", "OOM at step 3")
    assert job.tags == {"cause": "oom"}
    run = MlflowClient(azure_env.mlflow_url).get_run(content.failed)
    assert run.info.run_name == "broken, explained"
    assert run.data.tags["mlflow.note.content"] == "OOM at step 3"
    assert run.data.tags["cause"] == "oom"
    elsewhere = f"https://eastus.api.azureml.ms/history/v1.0{azure_env.workspace_arm_id}/experiments/other/runs/{content.failed}"
    assert requests.patch(elsewhere, json={"tags": {"x": "y"}}, headers=HEADERS, timeout=30).status_code == 404
    patches = [r for r in azure_env.requests() if r.method == "PATCH" and r.status == 200]
    assert [r.path.split("/history/v1.0", 1)[1] for r in patches] == [
        f"{azure_env.workspace_arm_id}/experiments/{content.experiment}/runs/{content.failed}"
    ]


def test_sdk_cancels_a_running_job(azure_env: AzureService, ml_client: Any, content: Content) -> None:
    from mlflow import MlflowClient

    run = MlflowClient(azure_env.mlflow_url).create_run(content.experiment_id, run_name="to cancel")
    azure_env.state.cancel_after_s = 0.5
    try:
        started = time.monotonic()
        poller = ml_client.jobs.begin_cancel(run.info.run_id)
        assert ml_client.jobs.get(run.info.run_id).status == "CancelRequested"
        poller.result(timeout=10)
        assert time.monotonic() - started < 5  # retry-after-ms keeps azure-core from its 30 s default
        assert ml_client.jobs.get(run.info.run_id).status == "Canceled"
    finally:
        azure_env.state.cancel_after_s = 1.0
    deadline = time.monotonic() + 5
    while MlflowClient(azure_env.mlflow_url).get_run(run.info.run_id).info.status != "KILLED":
        assert time.monotonic() < deadline, "the MLflow run was not ended as KILLED"
        time.sleep(0.05)
    assert _api_versions(azure_env, "/cancel") == {"2023-04-01-preview"}


def test_cancelling_a_finished_job_is_a_user_error(azure_env: AzureService, ml_client: Any, content: Content) -> None:
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as raised:
        ml_client.jobs.begin_cancel(content.finished)
    assert raised.value.status_code == 400
    assert "terminal" in str(raised.value)


def test_sdk_lists_child_jobs(azure_env: AzureService, ml_client: Any, content: Content) -> None:
    listed = [job.name for job in ml_client.jobs.list(parent_job_name=content.parent)]
    assert listed and set(listed) <= set(content.children)  # 1.35.2 stops after the first page (the issue)
    children_requests = [r for r in azure_env.requests() if r.path.endswith("/children")]
    assert children_requests and children_requests[0].query.get("api-version") == "v1.0"


def test_sdk_lists_every_job_of_the_workspace_across_pages(
    azure_env: AzureService, ml_client: Any, content: Content
) -> None:
    azure_env.state.jobs_page_size = 5
    names = [job.name for job in ml_client.jobs.list()]
    assert {content.finished, content.running, content.failed, content.parent} <= set(names)
    assert len(names) == len(set(names))
    pages = [r for r in azure_env.requests() if r.path.endswith("/jobs")]
    assert len(pages) >= 4 and {r.query.get("api-version") for r in pages} == {"2024-01-01-preview"}


# --- raw answers: paging and shapes ---------------------------------------------------------------------
def _get(url: str, **params: str) -> dict[str, Any]:
    answer = requests.get(url, params=params or None, headers=HEADERS, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _walk_pages(url: str, **params: str) -> Iterator[dict[str, Any]]:
    page = _get(url, **params)
    yield page
    while page.get("nextLink"):
        page = _get(page["nextLink"])
        yield page


def test_children_page_by_continuation_token_and_next_link(azure_env: AzureService, content: Content) -> None:
    url = f"{API}/history/v1.0{azure_env.workspace_arm_id}/runs/{content.parent}/children"
    pages = list(_walk_pages(url, **{"api-version": "v1.0", "$top": "5"}))
    assert [len(p["value"]) for p in pages] == [5, 5, 2]
    assert all(p["continuationToken"] for p in pages[:-1]) and pages[-1]["continuationToken"] is None
    assert [r["runId"] for p in pages for r in p["value"]] == content.children  # oldest first


def test_subscriptions_and_tenants_page_through_next_link(azure_env: AzureService) -> None:
    subscriptions = [
        s for p in _walk_pages(f"{ARM}/subscriptions", **{"api-version": "2022-12-01"}) for s in p["value"]
    ]
    assert len(subscriptions) == 5 and subscriptions[0]["subscriptionId"] == azure_env.subscription_id
    assert {s["state"] for s in subscriptions} == {"Enabled", "Disabled"}
    tenants = [t for p in _walk_pages(f"{ARM}/tenants", **{"api-version": "2022-12-01"}) for t in p["value"]]
    assert tenants[0]["tenantId"] == azure_env.tenant_id and len(tenants) == 3
    assert sum(1 for r in azure_env.requests() if r.path == "/subscriptions") == 3


def test_the_workspace_list_filters_kinds(azure_env: AzureService) -> None:
    url = f"{ARM}/subscriptions/{azure_env.subscription_id}/providers/Microsoft.MachineLearningServices/workspaces"
    kinds = {
        w["kind"]
        for p in _walk_pages(url, **{"api-version": "2024-10-01-preview", "kind": "default,project"})
        for w in p["value"]
    }
    assert kinds == {"Default", "Project"}


def test_every_answer_fits_the_sdks_rest_models(azure_env: AzureService, content: Content) -> None:
    from azure.ai.ml._restclient.arm_ml_service import models as arm
    from azure.ai.ml._restclient.runhistory import models as history

    ws = azure_env.workspace_arm_id
    answers: list[tuple[type, str, dict[str, Any]]] = []
    for page in _walk_pages(
        f"{ARM}/subscriptions/{azure_env.subscription_id}/providers/Microsoft.MachineLearningServices/workspaces",
        **{"api-version": "2024-10-01-preview"},
    ):
        answers += [(arm.Workspace, "workspace list item", w) for w in page["value"]]
    answers.append((arm.Workspace, "workspace", _get(f"{ARM}{ws}", **{"api-version": "2024-10-01-preview"})))
    for job in (content.finished, content.running, content.failed, content.children[0]):
        answers.append(
            (arm.JobBase, f"job {job}", _get(f"{ARM}{ws}/jobs/{job}", **{"api-version": "2024-01-01-preview"}))
        )
    answers += [
        (arm.JobBase, "job list item", j)
        for j in _get(f"{ARM}{ws}/jobs", **{"api-version": "2024-01-01-preview"})["value"]
    ]
    for store in ("workspaceartifactstore", "workspaceblobstore"):
        answers.append(
            (arm.Datastore, store, _get(f"{ARM}{ws}/datastores/{store}", **{"api-version": "2024-10-01-preview"}))
        )
    answers += [
        (arm.Datastore, "datastore list item", d)
        for d in _get(f"{ARM}{ws}/datastores", **{"api-version": "2024-10-01-preview", "isDefault": "true"})["value"]
    ]
    secrets = requests.post(
        f"{ARM}{ws}/datastores/workspaceartifactstore/listSecrets",
        params={"api-version": "2024-10-01-preview"},
        json={"expirableSecret": True, "expireAfterHours": 1},
        headers=HEADERS,
        timeout=30,
    )
    answers.append((arm.DatastoreSecrets, "listSecrets", secrets.json()))
    children = _get(f"{API}/history/v1.0{ws}/runs/{content.parent}/children", **{"api-version": "v1.0", "$top": "3"})
    answers.append((history.PaginatedRunList, "children page", children))
    for run in (content.finished, content.failed):
        answers.append((history.RunDetails, f"details {run}", _get(f"{API}/history/v1.0{ws}/runs/{run}/details")))
    patched = requests.patch(
        f"{API}/history/v1.0{ws}/experiments/{content.experiment}/runs/{content.finished}",
        json={"tags": {"checked": "yes"}},
        headers=HEADERS,
        timeout=30,
    )
    answers.append((history.Run, "PATCH run", patched.json()))
    missing = requests.get(
        f"{ARM}{ws}/jobs/nope", params={"api-version": "2024-01-01-preview"}, headers=HEADERS, timeout=30
    )
    assert missing.status_code == 404
    answers.append((arm.ErrorResponse, "ARM 404", missing.json()))
    history_missing = requests.get(f"{API}/history/v1.0{ws}/runs/nope/details", headers=HEADERS, timeout=30)
    answers.append((history.RunHistoryErrorResponse, "run history 404", history_missing.json()))

    problems = {what: unknown_fields(model, body) for model, what, body in answers}
    bad = {what: found for what, found in problems.items() if found}
    assert not bad, "\n".join(f"{w}: {p}" for w, ps in bad.items() for p in ps)
    assert secrets.json() == {"secretsType": "AccountKey", "key": azure_env.account_key}
    store = answers[[w for _, w, _ in answers].index("workspaceartifactstore")][2]["properties"]
    assert (store["accountName"], store["containerName"], store["endpoint"], store["protocol"]) == (
        "devstoreaccount1",
        "azureml",
        "core.windows.net",
        "https",
    )
    assert store["credentials"]["credentialsType"] == "AccountKey"


def test_the_shape_check_catches_a_wrong_field(azure_env: AzureService) -> None:
    from azure.ai.ml._restclient.arm_ml_service import models as arm

    job = {
        "properties": {
            "jobType": "Comand",
            "mlflowTrackingUri": "x",
            "outputs": {"default": {"jobOutputType": "uri_folder", "uri": 3}},
        }
    }
    problems = unknown_fields(arm.JobBase, job)
    assert any("jobType" in p for p in problems)
    job["properties"]["jobType"] = "Command"
    problems = unknown_fields(arm.JobBase, job)
    assert problems == [
        "$.properties.mlflowTrackingUri: not a field of CommandJob",
        "$.properties.outputs.default.uri: expected a string, got int",
    ]


# --- faults the SDK meets -------------------------------------------------------------------------------
def test_a_503_then_success_is_absorbed_by_the_sdk(azure_env: AzureService, ml_client: Any) -> None:
    azure_env.fail(f"/workspaces/{azure_env.workspace_name}$", 503, times=1)
    assert ml_client.workspaces.get(azure_env.workspace_name).name == azure_env.workspace_name
    statuses = [r.status for r in azure_env.requests() if r.path.endswith(f"/workspaces/{azure_env.workspace_name}")]
    assert statuses == [503, 200]


def test_a_429_with_retry_after_is_waited_out(azure_env: AzureService, ml_client: Any) -> None:
    azure_env.fail(f"/workspaces/{azure_env.workspace_name}$", 429, retry_after=1)
    started = time.monotonic()
    ml_client.workspaces.get(azure_env.workspace_name)
    assert 1.0 <= time.monotonic() - started < 10


def test_a_dropped_connection_is_retried_by_the_sdk(azure_env: AzureService, ml_client: Any) -> None:
    azure_env.drop(f"/workspaces/{azure_env.workspace_name}$")
    assert ml_client.workspaces.get(azure_env.workspace_name).name == azure_env.workspace_name
    assert [r.status for r in azure_env.requests() if r.path.endswith(azure_env.workspace_name)] == [0, 200]


def test_a_hang_ends_with_the_clients_read_timeout(azure_env: AzureService) -> None:
    from azure.core import PipelineClient
    from azure.core.exceptions import ServiceResponseError
    from azure.core.pipeline.policies import RetryPolicy
    from azure.core.rest import HttpRequest

    azure_env.hang("/discovery")
    client = PipelineClient(API, policies=[RetryPolicy(retry_total=0)])
    started = time.monotonic()
    with pytest.raises(ServiceResponseError):
        client.send_request(HttpRequest("GET", f"{API}/discovery"), read_timeout=0.5)
    assert time.monotonic() - started < 5
    assert client.send_request(HttpRequest("GET", f"{API}/discovery"), read_timeout=5).json()["api"] == API


def test_a_revoked_token_is_401_in_the_arm_shape(azure_env: AzureService, ml_client: Any) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    azure_env.revoke_tokens()
    with pytest.raises(ClientAuthenticationError):
        ml_client.workspaces.get(azure_env.workspace_name)
    azure_env.restore_tokens()
    assert ml_client.workspaces.get(azure_env.workspace_name).name == azure_env.workspace_name


# --- the custom cloud ------------------------------------------------------------------------------------
def test_the_custom_cloud_is_described_and_served(azure_env: AzureService) -> None:
    from azure.ai.ml import MLClient
    from azure.ai.ml._azure_environments import _get_clouds_by_metadata_url

    clouds = _get_clouds_by_metadata_url(azure_env.custom_cloud_metadata_url)
    metadata = clouds["StudioTestCloud"]
    assert metadata["resource_manager"] == "https://management.studio-test-cloud.example/"
    assert metadata["active_directory"] == "https://login.studio-test-cloud.example/"
    assert metadata["storage_endpoint"] == "core.windows.net"
    name = f"StudioTestCloud-{uuid.uuid4().hex[:8]}"  # MLClient keeps clouds process-wide: a unique name each time
    client = MLClient(
        azure_env.credential(),
        azure_env.subscription_id,
        azure_env.resource_group,
        azure_env.workspace_name,
        cloud=name,
        cloud_metadata=metadata,
    )
    workspace = client.workspaces.get(azure_env.workspace_name)
    assert workspace.mlflow_tracking_uri.startswith("azureml://eastus.api.studio-test-cloud.example/mlflow/v1.0/")
    assert any(r.host == "management.studio-test-cloud.example" for r in azure_env.requests())
