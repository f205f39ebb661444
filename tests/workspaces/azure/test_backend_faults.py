"""Every failure of the Azure backend is one sentence a user can act on: 401, 403, 404, 429, 5xx, a hang, a drop."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from studio.core.errors import AuthenticationError, NotFoundError, StudioError
from studio.workspaces.azure.arm_client import ArmTimeouts
from tests.workspaces.azure_content import SmallContent, build_small

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

MISSING = "0123456789abcdef0123456789abcdef"
SHORT = ArmTimeouts(connect_s=2.0, read_s=1.0, retry_total=1, backoff_s=0.05, backoff_max_s=0.1)


@pytest.fixture(scope="module")
def small(azure_service: Any) -> SmallContent:
    """This module's experiment in the shared workspace."""
    return build_small(azure_service.mlflow_url)


def _open(azure_env: Any, timeouts: ArmTimeouts | None = None) -> Any:
    from studio.workspaces.azure.backend import AzureBackend
    from studio.workspaces.azure.cloud import load_cloud

    return AzureBackend(
        azure_env.credential(),
        azure_env.subscription_id,
        azure_env.resource_group,
        azure_env.workspace_name,
        load_cloud("AzureCloud"),
        location=azure_env.location,
        timeouts=timeouts,
    )


@pytest.fixture
def backend(azure_env: Any, small: SmallContent) -> Iterator[Any]:
    """A backend with short timeouts and few retries, so hangs and refusals end quickly."""
    opened = _open(azure_env, SHORT)
    yield opened
    opened.close()


def one_sentence(error: BaseException) -> str:
    text = str(error)
    assert text and "\n" not in text and "Traceback" not in text and "studio-test-" not in text, text
    assert "MLFLOW_TRACKING" not in text  # the MLflow kind's hints mean nothing here
    return text


def test_a_refused_token_says_sign_in_again_and_a_new_token_is_asked_after(
    azure_env: Any, backend: Any, small: SmallContent
) -> None:
    assert backend.list_runs(small.experiment, page_size=1).runs
    fetched = backend.connection.token_hook.fetches
    azure_env.revoke_tokens()
    with pytest.raises(AuthenticationError) as caught:
        backend.list_runs(small.experiment, page_size=1)
    assert "sign in again" in one_sentence(caught.value)
    with pytest.raises(AuthenticationError) as caught:
        backend.get_run_details(small.id("first"))
    assert "sign in again" in one_sentence(caught.value)
    azure_env.restore_tokens()
    assert backend.list_runs(small.experiment, page_size=1).runs
    assert backend.connection.token_hook.fetches > fetched  # each refused token was dropped and a new one asked


def test_opening_without_access_names_the_missing_role(azure_env: Any) -> None:
    message = (
        "The client 'ada@contoso.com' with object id 'x' does not have authorization to perform action "
        "'Microsoft.MachineLearningServices/workspaces/read' over scope '/subscriptions/s/resourceGroups/rg' or the "
        "scope is invalid."
    )
    azure_env.fail(r"/workspaces/studio-ws$", 403, message=message)
    with pytest.raises(AuthenticationError) as caught:
        _open(azure_env, SHORT)
    text = one_sentence(caught.value)
    assert "Microsoft.MachineLearningServices/workspaces/read" in text and "Reader" in text


def test_a_forbidden_job_names_the_permission(azure_env: Any, backend: Any, small: SmallContent) -> None:
    azure_env.fail(r"/jobs/", 403, times=3)
    with pytest.raises(AuthenticationError) as caught:
        backend.get_run_details(small.id("first"))
    assert "role" in one_sentence(caught.value)


def test_missing_things_are_not_found(azure_env: Any, backend: Any, small: SmallContent) -> None:
    for call in (
        lambda: backend.get_run(MISSING),
        lambda: backend.get_run_details(MISSING),
        lambda: backend.list_children(MISSING),
        lambda: backend.cancel_run(MISSING),
        lambda: backend.get_series(small.id("first"), "no-such-metric"),
        lambda: backend.list_runs("no-such-experiment"),
    ):
        with pytest.raises(NotFoundError) as caught:
            call()
        one_sentence(caught.value)
    azure_env.fail(r"/jobs/", 404, times=3)  # MLflow knows the run, Azure's job is gone
    with pytest.raises(NotFoundError) as caught:
        backend.get_run_details(small.id("first"))
    one_sentence(caught.value)


def test_a_missing_workspace_is_one_sentence(azure_env: Any) -> None:
    from studio.workspaces.azure.backend import AzureBackend
    from studio.workspaces.azure.cloud import load_cloud

    with pytest.raises(NotFoundError) as caught:
        AzureBackend(
            azure_env.credential(),
            azure_env.subscription_id,
            azure_env.resource_group,
            "no-such-workspace",
            load_cloud("AzureCloud"),
            location="azureml://x",
            timeouts=SHORT,
        )
    assert "no-such-workspace" in one_sentence(caught.value)


def test_throttling_is_waited_out_then_said(azure_env: Any, backend: Any, small: SmallContent) -> None:
    azure_env.fail(r"/runs/search", 429, times=2, retry_after=0.1)
    assert backend.list_runs(small.experiment, page_size=2).runs  # Retry-After honoured, then answered
    azure_env.fail(r"/runs/search", 429, times=20, retry_after=0.1)
    with pytest.raises(StudioError) as caught:
        backend.list_runs(small.experiment, page_size=2)
    assert "limiting requests" in one_sentence(caught.value)


def test_server_failures_are_retried_then_said(azure_env: Any, backend: Any, small: SmallContent) -> None:
    azure_env.fail(r"/experiments/search", 503, times=2)
    assert small.experiment in [e.name for e in backend.list_experiments()]
    azure_env.fail(r"/experiments/search", 500, times=20, message="the tracking store is down")
    with pytest.raises(StudioError) as caught:
        backend.list_experiments()
    text = one_sentence(caught.value)
    assert "HTTP 500" in text and "the tracking store is down" in text and "try again" in text
    azure_env.fail(r"/jobs/", 503, times=1)  # ARM: retried by azure-core
    assert backend.get_run_details(small.id("first"))["runType"] == "command"


def test_a_hang_ends_with_a_sentence(azure_env: Any, small: SmallContent) -> None:
    from studio.workspaces.mlflow.rest.retry import RetryPolicy

    backend = _open(azure_env, SHORT)
    try:
        backend.client.transport.retry = RetryPolicy(attempts=2, backoff_s=0.05, deadline_s=5.0)
        azure_env.hang(r"/runs/search", times=1)
        assert backend.list_runs(small.experiment, page_size=1).runs  # one hang, then the retry answers
        azure_env.hang(r"/runs/search", times=10)
        started = time.monotonic()
        with pytest.raises(StudioError) as caught:
            backend.list_runs(small.experiment, page_size=1)
        assert time.monotonic() - started < 10
        assert "did not answer" in one_sentence(caught.value)
        azure_env.hang(r"/jobs/", times=20)
        started = time.monotonic()
        assert backend.statuses.get_many([small.id("live")], fresh=True) == {}  # a list keeps MLflow's status
        with pytest.raises(StudioError) as caught:
            backend.get_run_details(small.id("first"))
        assert time.monotonic() - started < 20
        one_sentence(caught.value)
    finally:
        azure_env.emulator.faults.clear()
        backend.close()


def test_a_dropped_connection_is_retried_or_said(azure_env: Any, backend: Any, small: SmallContent) -> None:
    azure_env.drop(r"/experiments/search", times=1)
    assert small.experiment in [e.name for e in backend.list_experiments()]
    azure_env.drop(r"/experiments/search", times=20)
    with pytest.raises(StudioError) as caught:
        backend.list_experiments()
    assert "Azure" in one_sentence(caught.value)
