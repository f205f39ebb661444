"""The emulator's MLflow endpoint: Azure's URL layout in front of a real mlflow server, with Azure's differences
(bearer token, get-history's 1000 cap, no ordering by metrics or params, Azure's error shape)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.azure_fixtures import AzureService

HEADERS = {"Authorization": "Bearer studio-test-mlflow"}


@pytest.fixture(scope="module")
def logged(azure_service: AzureService) -> dict[str, Any]:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(azure_service.mlflow_url)
    experiment_id = client.create_experiment(f"front-{uuid.uuid4().hex[:8]}")
    runs = [client.create_run(experiment_id, run_name=f"run {i}").info.run_id for i in range(5)]
    client.log_batch(
        runs[0], metrics=[Metric("loss", 1.0 / (step + 1), 1_700_000_000_000 + step, step) for step in range(1200)]
    )
    return {"experiment_id": experiment_id, "runs": runs}


def _mlflow(service: AzureService, op: str) -> str:
    return f"{service.azure_mlflow_url}/api/2.0/mlflow/{op}"


def _is_azure_error(body: dict[str, Any], status: int) -> None:
    assert set(body) >= {"Error", "Correlation", "statusCode", "error_code"}
    assert body["statusCode"] == status and body["Error"]["Message"]


def test_runs_search_pages_through_the_servers_tokens(azure_env: AzureService, logged: dict[str, Any]) -> None:
    seen: list[str] = []
    token = None
    while True:
        body = {
            "experiment_ids": [logged["experiment_id"]],
            "max_results": 2,
            "order_by": ["attributes.start_time DESC"],
        }
        if token:
            body["page_token"] = token
        answer = requests.post(_mlflow(azure_env, "runs/search"), json=body, headers=HEADERS, timeout=30)
        assert answer.status_code == 200, answer.text
        seen += [r["info"]["run_id"] for r in answer.json().get("runs", [])]
        token = answer.json().get("next_page_token")
        if not token:
            break
    assert sorted(seen) == sorted(logged["runs"])
    assert any(r.host == "eastus.api.azureml.ms" and r.path.endswith("/runs/search") for r in azure_env.requests())


def test_get_history_refuses_more_than_1000_in_azures_words(azure_env: AzureService, logged: dict[str, Any]) -> None:
    params = {"run_id": logged["runs"][0], "metric_key": "loss", "max_results": "25000"}
    refused = requests.get(_mlflow(azure_env, "metrics/get-history"), params=params, headers=HEADERS, timeout=30)
    assert refused.status_code == 400
    body = refused.json()
    _is_azure_error(body, 400)
    assert body["Error"] == {
        **body["Error"],
        "Code": "UserError",
        "Message": "MaxResults = 25000 is invalid: MaxResults must be less than 1000.",
    }
    assert body["error_code"] == "BAD_REQUEST"
    page = requests.get(
        _mlflow(azure_env, "metrics/get-history"), params={**params, "max_results": "1000"}, headers=HEADERS, timeout=30
    )
    assert page.status_code == 200
    assert len(page.json()["metrics"]) == 1000 and page.json()["next_page_token"]
    rest = requests.get(
        _mlflow(azure_env, "metrics/get-history"),
        params={**params, "max_results": "1000", "page_token": page.json()["next_page_token"]},
        headers=HEADERS,
        timeout=30,
    )
    assert len(rest.json()["metrics"]) == 200


@pytest.mark.parametrize("order", ["metrics.loss DESC", "params.lr ASC"])
def test_ordering_by_metrics_or_params_is_refused(azure_env: AzureService, logged: dict[str, Any], order: str) -> None:
    body = {"experiment_ids": [logged["experiment_id"]], "max_results": 10, "order_by": [order]}
    answer = requests.post(_mlflow(azure_env, "runs/search"), json=body, headers=HEADERS, timeout=30)
    assert answer.status_code == 400
    _is_azure_error(answer.json(), 400)
    assert order in answer.json()["Error"]["Message"]


def test_server_errors_come_in_azures_shape(azure_env: AzureService) -> None:
    answer = requests.get(_mlflow(azure_env, "runs/get"), params={"run_id": "0" * 32}, headers=HEADERS, timeout=30)
    assert answer.status_code == 404
    body = answer.json()
    _is_azure_error(body, 404)
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "0" * 32 in body["Error"]["Message"]


def test_a_missing_or_revoked_token_is_401(azure_env: AzureService) -> None:
    url = _mlflow(azure_env, "experiments/search")
    missing = requests.post(url, json={"max_results": 10}, timeout=30)
    assert missing.status_code == 401
    _is_azure_error(missing.json(), 401)
    assert requests.post(url, json={"max_results": 10}, headers=HEADERS, timeout=30).status_code == 200
    azure_env.revoke_tokens()
    assert requests.post(url, json={"max_results": 10}, headers=HEADERS, timeout=30).status_code == 401


def test_a_throttled_search_carries_retry_after(azure_env: AzureService, logged: dict[str, Any]) -> None:
    azure_env.fail("runs/search", 429, retry_after=2)
    body = {"experiment_ids": [logged["experiment_id"]], "max_results": 1}
    answer = requests.post(_mlflow(azure_env, "runs/search"), json=body, headers=HEADERS, timeout=30)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "2"
    _is_azure_error(answer.json(), 429)
    assert answer.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert requests.post(_mlflow(azure_env, "runs/search"), json=body, headers=HEADERS, timeout=30).status_code == 200


def test_an_unknown_workspace_is_404(azure_env: AzureService) -> None:
    url = _mlflow(azure_env, "experiments/search").replace("/workspaces/studio-ws/", "/workspaces/nope/")
    answer = requests.post(url, json={"max_results": 10}, headers=HEADERS, timeout=30)
    assert answer.status_code == 404
    _is_azure_error(answer.json(), 404)
