"""The Azure backend's pure parts: clouds, error sentences, the MLflow URL, statuses, the search dialect, tokens."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from studio.core.errors import AuthenticationError, NotFoundError, RunStateError, WorkspaceError
from studio.core.status import TERMINAL_STATUSES, RunStatus
from studio.core.types import RunInfo, RunQuery
from studio.workspaces.azure.cloud import AzureCloud, cloud_from_metadata, cloud_setting, load_cloud
from studio.workspaces.azure.connection import BearerTokenHook, mlflow_base_url, workspace_path
from studio.workspaces.azure.errors import (
    AzureAuthError,
    AzureNotFoundError,
    AzureServerError,
    AzureThrottledError,
    error_for_status,
    from_mlflow_error,
    service_message,
)
from studio.workspaces.azure.jobs import iso_seconds, job_details, split_command
from studio.workspaces.azure.status_map import AZURE_STATUSES, run_status
from studio.workspaces.mlflow.rest.errors import MlflowAuthError, MlflowNotFoundError, MlflowServerError
from studio.workspaces.mlflow.search_plan import AZURE, MLFLOW, plan_query

WS = workspace_path("00000000-0000-0000-0000-000000000001", "rg", "ws")
METADATA_URL = "https://management.studio-test-cloud.example/metadata/endpoints?api-version=2019-05-01"
CUSTOM = {
    "name": "StudioTest",
    "portal": "https://portal.studio-test-cloud.example/",
    "resourceManager": "https://management.studio-test-cloud.example/",
    "authentication": {"loginEndpoint": "https://login.studio-test-cloud.example", "audiences": []},
    "suffixes": {"storage": "core.studio-test-cloud.example"},
}


# -- clouds ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["AzureCloud", "AzureChinaCloud", "AzureUSGovernment"])
def test_built_in_clouds_come_from_the_sdk_table(name: str) -> None:
    from azure.ai.ml._azure_environments import _environments

    cloud = load_cloud(name)
    assert cloud.name == name and cloud.resource_manager == _environments[name]["resource_manager"]
    assert cloud.arm_scope == cloud.resource_manager.rstrip("/") + "/.default"
    assert cloud.ml_client_kwargs() == {"cloud": name}  # always passed, never cloud_metadata for a built-in
    assert not cloud.is_custom


def test_an_unknown_cloud_name_is_one_sentence() -> None:
    with pytest.raises(WorkspaceError, match=r"Unknown Azure cloud 'Mars'.*AzureCloud"):
        load_cloud("Mars")


def test_a_custom_cloud_from_its_metadata_document() -> None:
    other = dict(CUSTOM, name="Other", resourceManager="https://management.elsewhere.example/")
    cloud = cloud_from_metadata([other, CUSTOM], METADATA_URL)  # the entry whose ARM host is the URL's
    assert cloud.name.startswith("Custom-") and len(cloud.name) == len("Custom-") + 8
    assert cloud.resource_manager == "https://management.studio-test-cloud.example/"
    assert cloud.authority_host == "https://login.studio-test-cloud.example/"
    assert cloud.storage_suffix == "core.studio-test-cloud.example"
    assert cloud.arm_scope == "https://management.studio-test-cloud.example/.default"
    kwargs = cloud.ml_client_kwargs()
    assert kwargs["cloud"] == cloud.name
    assert set(kwargs["cloud_metadata"]) == {  # type: ignore[arg-type]
        "azure_portal",
        "resource_manager",
        "active_directory",
        "aml_resource_id",
        "storage_endpoint",
        "registry_discovery_endpoint",
    }
    assert cloud_from_metadata(CUSTOM, METADATA_URL).name == cloud.name  # one name per URL
    with pytest.raises(WorkspaceError, match="lacks"):
        cloud_from_metadata({"name": "x"}, METADATA_URL)


def test_the_cloud_setting_order(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("ARM_CLOUD_METADATA_URL", raising=False)
    assert cloud_setting() == "AzureCloud"
    monkeypatch.setenv("ARM_CLOUD_METADATA_URL", METADATA_URL)
    assert cloud_setting() == METADATA_URL
    from studio.workspaces.azure.settings_store import load_settings, save_settings

    settings = load_settings()
    settings.cloud = "AzureChinaCloud"
    save_settings(settings)
    assert cloud_setting() == "AzureChinaCloud"


def test_a_metadata_url_must_be_https() -> None:
    with pytest.raises(WorkspaceError, match="https://"):
        load_cloud("http://management.example/metadata/endpoints")


# -- error sentences ------------------------------------------------------------------------------------


def test_azure_error_bodies_are_read() -> None:
    assert service_message(b'{"error": {"code": "NotFound", "message": "no  such\\njob"}}') == (
        "NotFound",
        "no such job",
    )
    azure_mlflow = (
        b'{"Error":{"Code":"UserError","Message":"MaxResults = 25000 is invalid: MaxResults must be less than 1000."},'
        b'"Correlation":{"operation":"x"},"statusCode":400,"error_code":"BAD_REQUEST"}'
    )
    assert service_message(azure_mlflow) == (
        "UserError",
        "MaxResults = 25000 is invalid: MaxResults must be less than 1000.",
    )
    assert service_message(b"<html>") == (None, None)


def test_statuses_become_studio_errors_with_sentences() -> None:
    host = "management.azure.com"
    refused = error_for_status(401, None, host=host)
    assert isinstance(refused, AzureAuthError) and isinstance(refused, AuthenticationError)
    assert "sign in again" in str(refused) and host in str(refused)
    denied = error_for_status(
        403,
        b'{"error":{"code":"AuthorizationFailed","message":"The client \'u\' with object id \'o\' does not have '
        b"authorization to perform action 'Microsoft.MachineLearningServices/workspaces/jobs/read' over scope "
        b"'/subscriptions/s/resourceGroups/rg' or the scope is invalid.\"}}",
        host=host,
    )
    assert isinstance(denied, AuthenticationError)
    assert "Microsoft.MachineLearningServices/workspaces/jobs/read" in str(denied) and "Reader" in str(denied)
    assert "AzureML Data Scientist" in str(error_for_status(403, None, host=host, method="POST"))
    missing = error_for_status(404, None, host=host, what="the job 'x'")
    assert isinstance(missing, NotFoundError) and "the job 'x'" in str(missing)
    assert isinstance(error_for_status(409, None, host=host), RunStateError)
    assert isinstance(error_for_status(429, None, host=host, tries=4), AzureThrottledError)
    failed = error_for_status(503, b'{"error":{"message":"busy"}}', host=host, tries=4)
    assert isinstance(failed, AzureServerError) and "busy" in str(failed) and "after 4 tries" in str(failed)
    for error in (refused, denied, missing, failed):
        assert "\n" not in str(error)


def test_mlflow_client_errors_are_said_in_azures_terms() -> None:
    host, ws = "eastus.api.azureml.ms", "'studio-ws'"
    refused = from_mlflow_error(MlflowAuthError("The MLflow server at x refused", status=401), host=host, workspace=ws)
    assert isinstance(refused, AuthenticationError) and "sign in again" in str(refused)
    assert "MLFLOW_" not in str(refused) and "MLflow server" not in str(refused)
    missing = from_mlflow_error(
        MlflowNotFoundError("Not found on the MLflow server at x: run y", status=404), host=host, workspace=ws
    )
    assert isinstance(missing, AzureNotFoundError) and isinstance(missing, KeyError) and str(missing)
    busy = from_mlflow_error(
        MlflowServerError("The MLflow server at x is limiting", status=429), host=host, workspace=ws
    )
    assert isinstance(busy, AzureThrottledError)


# -- the MLflow endpoint --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        f"azureml://eastus.api.azureml.ms/mlflow/v1.0{WS}",
        f"https://eastus.api.azureml.ms/mlflow/v2.0{WS}",
        f"https://eastus.api.azureml.ms/mlflow/v2.0{WS}/",
        "azureml://eastus.api.azureml.ms/mlflow/v1.0",
    ],
)
def test_both_tracking_uri_forms_give_the_mlflow_base(uri: str) -> None:
    assert mlflow_base_url(uri, WS) == f"https://eastus.api.azureml.ms/mlflow/v2.0{WS}"


class _Credential:
    def __init__(self, lifetime_s: float) -> None:
        self.calls = 0
        self.lifetime_s = lifetime_s
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str) -> SimpleNamespace:
        self.calls += 1
        self.scopes.append(scopes)
        return SimpleNamespace(token=f"studio-test-secret-{self.calls}", expires_on=time.time() + self.lifetime_s)


def test_the_token_hook_caches_until_five_minutes_before_expiry() -> None:
    credential = _Credential(lifetime_s=3600)
    hook = BearerTokenHook(credential, "https://management.azure.com/.default")
    headers = [hook() for _ in range(5)]
    assert credential.calls == 1 and headers[0] == {"Authorization": "Bearer studio-test-secret-1"}
    assert credential.scopes == [("https://management.azure.com/.default",)]
    assert "secret" not in repr(hook)
    hook.invalidate()
    assert hook()["Authorization"].endswith("-2")
    short = _Credential(lifetime_s=200)  # inside the 5-minute margin: asked again each time
    hook = BearerTokenHook(short, "s")
    hook(), hook()
    assert short.calls == 2


def test_the_token_hook_is_thread_safe() -> None:
    credential = _Credential(lifetime_s=3600)
    hook = BearerTokenHook(credential, "s")
    threads = [threading.Thread(target=hook) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert credential.calls == 1


# -- statuses -------------------------------------------------------------------------------------------


def test_all_fourteen_azure_statuses_are_kept() -> None:
    assert len(AZURE_STATUSES) == 14
    statuses = [run_status(s)[0] for s in AZURE_STATUSES]
    assert [s.value for s in statuses] == list(AZURE_STATUSES) and len(set(statuses)) == 14
    assert {s for s in statuses if s.is_terminal} == TERMINAL_STATUSES
    for new in (RunStatus.PROVISIONING, RunStatus.NOT_RESPONDING, RunStatus.PAUSED, RunStatus.UNKNOWN):
        assert new.is_active
    assert run_status("Hibernating") == (RunStatus.UNKNOWN, "Azure status 'Hibernating'")


def test_every_status_has_a_colour_and_a_label() -> None:
    from studio.ui.shell.status_style import STATUS_COLOURS, STATUS_LABELS, status_label

    assert set(STATUS_COLOURS) == set(RunStatus) == set(STATUS_LABELS)
    assert status_label(RunStatus.NOT_RESPONDING) == "Not responding"


def test_refined_runs_keep_azures_status() -> None:
    from studio.workspaces.azure.backend import refined

    info = RunInfo("j", "e", 0, "j", RunStatus.RUNNING, created_at=10.0, started_at=10.0)
    assert refined(info, None) is info and refined(info, "Running") is info
    queued = refined(info, "Queued")
    assert queued.status is RunStatus.QUEUED and queued.started_at is None
    finalizing = refined(info, "Finalizing")
    assert finalizing.status is RunStatus.FINALIZING and finalizing.started_at == 10.0
    odd = refined(info, "Hibernating")
    assert odd.status is RunStatus.UNKNOWN and "Hibernating" in odd.status_reason


# -- the search dialect ---------------------------------------------------------------------------------


def test_azure_cannot_order_by_values_and_says_so() -> None:
    query = RunQuery(order_by=("metrics.val_loss ASC",))
    assert plan_query(query, dialect=MLFLOW).order_by == ("metrics.`val_loss` ASC",)
    plan = plan_query(query, dialect=AZURE)
    assert plan.client_order and plan.order_by == ()
    assert "metrics.val_loss" in plan.note and "sorts" in plan.note
    by_name = plan_query(RunQuery(order_by=("attributes.run_name ASC",)), dialect=AZURE)
    assert not by_name.client_order and by_name.order_by == ("attributes.run_name ASC",)


def test_azure_statuses_go_to_the_server_as_the_coarse_ones_that_hold_them() -> None:
    finalizing = plan_query(RunQuery(status=RunStatus.FINALIZING), dialect=AZURE)
    assert not finalizing.nothing
    assert "attributes.status != 'FINISHED'" in finalizing.filter and "'RUNNING'" not in finalizing.filter
    assert "Finalizing" in finalizing.note  # checked here, and said
    completed = plan_query(RunQuery(status=RunStatus.COMPLETED), dialect=AZURE)
    assert "attributes.status = 'FINISHED'" in completed.filter and completed.note == ""
    assert plan_query(RunQuery(status=RunStatus.FINALIZING), dialect=MLFLOW).nothing  # MLflow has no such run
    in_list = plan_query(RunQuery(filter="status IN ('Queued', 'Preparing')"), dialect=AZURE)
    assert "FINISHED" in in_list.filter and in_list.note


def test_azure_plans_never_hold_or() -> None:
    for query in (
        RunQuery(filter="status IN ('Queued', 'Completed')", text="x", tag="a=b"),
        RunQuery(filter="tags.model IN ('a', 'b') AND metrics.acc > 0.5"),
        RunQuery(filter="attributes.run_id IN ('a', 'b')"),
    ):
        assert " OR " not in plan_query(query, dialect=AZURE).filter.upper()


# -- job details ----------------------------------------------------------------------------------------


def test_job_details_from_an_sdk_like_job() -> None:
    job = SimpleNamespace(
        type="command",
        name="j1",
        display_name="train",
        status="Running",
        compute="/subscriptions/s/resourceGroups/rg/providers/P/workspaces/w/computes/gpu",
        command="python train.py --lr 0.1 --epochs 3",
        environment="azureml:AzureML-sklearn-1.5@latest",
        inputs={"data": SimpleNamespace(path="azureml://datastores/d/paths/x", type="uri_folder"), "lr": 0.1},
        outputs={"default": SimpleNamespace(path="azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.j1")},
        tags={"a": "1"},
        properties={"p": "v"},
        services={"Studio": SimpleNamespace(endpoint="https://studio.example/runs/j1")},
        studio_url="https://studio.example/runs/j1",
        creation_context=SimpleNamespace(created_by="Ada", created_at=None),
    )
    details = job_details(job)
    assert details["runType"] == "command" and details["target"] == "gpu"
    assert details["script"] == "train.py" and details["arguments"] == ["--lr", "0.1", "--epochs", "3"]
    assert details["studioUrl"] == "https://studio.example/runs/j1" and details["createdBy"] == "Ada"
    assert details["inputs"] == {"data": "azureml://datastores/d/paths/x (uri_folder)", "lr": "0.1"}
    assert job_details(SimpleNamespace(type="automl"))["runType"] == "AutoML"
    assert job_details(SimpleNamespace(type="sweep", compute=None))["target"] == "serverless"
    assert split_command("bash run.sh") == (None, [])


def test_run_history_times() -> None:
    assert iso_seconds("1970-01-01T00:00:01.5000000Z") == pytest.approx(1.5)
    assert iso_seconds(None) is None and iso_seconds("garbage") is None


def test_a_cloud_is_hashable_and_has_no_secret() -> None:
    cloud = AzureCloud(
        "AzureCloud", "https://m/", "https://l/", "core.windows.net", "https://p/", "https://ml/", "https://r/"
    )
    assert {cloud: 1}[cloud] == 1
    assert cloud.blob_account_url("acct") == "https://acct.blob.core.windows.net"


def test_the_mlflow_client_reads_azures_error_shape_and_the_page_size_refusal() -> None:
    import requests

    from studio.workspaces.mlflow.rest.answers import error_for_status as mlflow_error_for_status
    from studio.workspaces.mlflow.rest.errors import MlflowRequestError
    from studio.workspaces.mlflow.rest.history import _page_size_refused

    response = requests.Response()
    response.status_code = 400
    response.headers["Content-Type"] = "application/json"
    response._content = (
        b'{"Error":{"Code":"UserError","Message":"MaxResults = 25000 is invalid: MaxResults must be less than 1000."},'
        b'"Correlation":{"operation":"x"},"statusCode":400,"error_code":"BAD_REQUEST"}'
    )
    error = mlflow_error_for_status(response, "https://eastus.api.azureml.ms/mlflow/v2.0/x")
    assert isinstance(error, MlflowRequestError) and "MaxResults must be less than 1000" in str(error)
    assert _page_size_refused(error)


def test_the_sdk_warm_up_parses_a_job_once_per_process() -> None:
    import time as clock

    from studio.workspaces.azure import jobs

    jobs.warm_sdk()
    assert jobs._warm_done
    started = clock.perf_counter()
    jobs.warm_sdk()  # the second call does nothing
    assert clock.perf_counter() - started < 0.01
