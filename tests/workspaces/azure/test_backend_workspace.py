"""The Azure backend against the emulator (real azure-ai-ml over HTTPS, proxy mode): what users do and what it costs.

Each test opens its own backend on the session's workspace; the content is one experiment of this module's own
(``azure_content.build_small``). Round trips are counted in the emulator's request log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from studio.core.errors import NotFoundError, RunStateError
from studio.core.status import RunStatus
from studio.core.types import RunInfo, RunQuery
from tests.workspaces.azure_content import CHILDREN, SMALL_ACC, SmallContent, build_small

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

NEWEST_FIRST = ["live", "sweep", "fifth", "fourth", "third", "second", "first"]


@pytest.fixture(scope="module")
def small(azure_service: Any) -> SmallContent:
    """This module's experiment in the shared workspace."""
    return build_small(azure_service.mlflow_url)


@pytest.fixture
def backend(azure_env: Any, small: SmallContent) -> Iterator[Any]:
    """A backend on the session's workspace, signed in with a static token credential."""
    from studio.workspaces.azure.backend import AzureBackend
    from studio.workspaces.azure.cloud import load_cloud

    opened = AzureBackend(
        azure_env.credential(),
        azure_env.subscription_id,
        azure_env.resource_group,
        azure_env.workspace_name,
        load_cloud("AzureCloud"),
        location=azure_env.location,
    )
    azure_env.clear_log()
    yield opened
    opened.close()


def all_runs(backend: Any, experiment: str, query: RunQuery | None = None, size: int = 3) -> list[RunInfo]:
    runs: list[RunInfo] = []
    token = None
    while True:
        page = backend.list_runs(experiment, query, page_token=token, page_size=size)
        runs += page.runs
        token = page.next_token
        if token is None:
            return runs


def names(runs: list[RunInfo]) -> list[str]:
    return [r.display_name for r in runs]


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    """Poll ``condition`` until true (background work), failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def calls(azure_env: Any, fragment: str, method: str | None = None) -> list[Any]:
    """The logged requests whose path holds ``fragment``."""
    return [r for r in azure_env.requests() if fragment in r.path and (method is None or r.method == method)]


# -- opening --------------------------------------------------------------------------------------------


def test_open_by_location_signs_in_with_the_cli_and_costs_two_requests(
    azure_env: Any, small: SmallContent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.workspaces import open_workspace
    from studio.workspaces.azure.opener import AzureWorkspaceOpener

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no saved account: the CLI (fake az) signs in
    location = azure_env.location.replace("resourcegroups", "resourceGroups")
    assert AzureWorkspaceOpener().canonical_location(location) == azure_env.location
    azure_env.clear_log()
    started = time.monotonic()
    backend = open_workspace(location)
    try:
        opened_in = time.monotonic() - started
        info = backend.info()
        assert (info.kind, info.name, info.can_cancel) == ("azure", azure_env.workspace_name, True)
        sent = azure_env.requests()
        assert [(r.method, r.host) for r in sent] == [
            ("GET", "management.azure.com"),  # workspaces.get
            ("POST", "eastus.api.azureml.ms"),  # experiments/search (max_results 1)
        ], sent
        assert sent[0].path == azure_env.workspace_arm_id and sent[1].path.endswith("/experiments/search")
        print(f"\nopen: {len(sent)} requests, {opened_in:.2f} s (azure-ai-ml imported once per process)")
        assert small.experiment in [e.name for e in backend.list_experiments()]
    finally:
        backend.close()


def test_experiments_and_pages_of_runs(azure_env: Any, backend: Any, small: SmallContent) -> None:
    experiment = next(e for e in backend.list_experiments() if e.name == small.experiment)
    assert experiment.run_count == len(NEWEST_FIRST) and experiment.run_count_exact
    azure_env.clear_log()
    first = backend.list_runs(small.experiment, page_size=3)
    assert names(first.runs) == NEWEST_FIRST[:3] and first.next_token and first.note == ""
    searches = calls(azure_env, "/runs/search")
    # One search for the page, one beside it for the child counts; then, in the background, one ARM GET for the
    # one active run (live), whose Azure status was not known yet.
    assert len(searches) == 2
    wait_for(lambda: len(calls(azure_env, "/jobs/")) == 1)
    assert [j.path.rsplit("/", 1)[1] for j in calls(azure_env, "/jobs/")] == [small.id("live")]
    print(f"\nfirst page of 3 runs: {len(azure_env.requests())} requests")
    assert names(all_runs(backend, small.experiment)) == NEWEST_FIRST
    assert backend.count_runs(small.experiment) == len(NEWEST_FIRST)
    with pytest.raises(NotFoundError):
        backend.list_runs("no-such-experiment-here")


def test_a_sort_by_a_metric_is_done_here_and_said(azure_env: Any, backend: Any, small: SmallContent) -> None:
    query = RunQuery(order_by=("metrics.acc DESC",))
    azure_env.clear_log()
    page = backend.list_runs(small.experiment, query, page_size=3)
    expected = sorted(SMALL_ACC, key=lambda n: -SMALL_ACC[n])
    assert names(page.runs) == expected[:3]
    assert "metrics.acc" in page.note and "sorts" in page.note  # never silently wrong
    assert f"Sorted over {len(NEWEST_FIRST)} runs." in page.note
    assert names(all_runs(backend, small.experiment, query))[:5] == expected
    refused = [r for r in azure_env.requests() if r.status == 400]
    assert refused == []  # nothing Azure cannot answer was asked of it


def test_azure_statuses_are_kept_in_lists_get_run_and_filters(
    azure_env: Any, backend: Any, small: SmallContent
) -> None:
    backend.statuses.ttl = 0.0  # each read asks Azure again (the cache is a few seconds otherwise)
    live = small.id("live")
    assert backend.get_run(live).status is RunStatus.RUNNING
    for azure, status in [
        ("Preparing", RunStatus.PREPARING),
        ("Provisioning", RunStatus.PROVISIONING),
        ("Finalizing", RunStatus.FINALIZING),
        ("NotResponding", RunStatus.NOT_RESPONDING),
        ("Paused", RunStatus.PAUSED),
        ("Unknown", RunStatus.UNKNOWN),
        ("Queued", RunStatus.QUEUED),
    ]:
        azure_env.set_job_status(live, azure)
        run = backend.get_run(live)
        assert run.status is status, azure
        assert backend.list_runs(small.experiment, page_size=1).runs[0] == run  # the list shows the same
        listed = backend.list_runs(small.experiment, RunQuery(status=status))
        assert names(listed.runs) == ["live"] and status.value in listed.note, azure
        assert backend.count_runs(small.experiment, RunQuery(status=status)) == 1
        assert "live" not in names(backend.list_runs(small.experiment, RunQuery(status=RunStatus.RUNNING)).runs)
    assert backend.get_run(live).started_at is None  # Queued: not started
    assert backend.status_history(live)[-1].status is RunStatus.QUEUED
    finished = backend.list_runs(small.experiment, RunQuery(status=RunStatus.COMPLETED), page_size=100)
    assert len(finished.runs) == 6 and finished.note == ""  # the server answers Completed exactly


def test_job_details_come_from_azure_with_mlflows_times(azure_env: Any, backend: Any, small: SmallContent) -> None:
    run_id = small.id("first")
    azure_env.clear_log()
    details = backend.get_run_details(run_id)
    assert details["runType"] == "command" and details["status"] == "Completed"
    assert details["displayName"] == "first" and details["target"] == "cpu-cluster"
    assert details["experimentName"] == small.experiment
    assert str(details["studioUrl"]).startswith(f"https://ml.azure.com/runs/{run_id}?")
    assert details["script"] == "train.py" and "environment" in details and "Studio" in details["services"]  # type: ignore[operator]
    assert str(details["outputs"]["default"]).startswith("azureml://datastores/workspaceartifactstore/")  # type: ignore[index]
    sent = azure_env.requests()
    print(f"\ndetails: {len(sent)} requests ({', '.join(r.method + ' ' + r.path.rsplit('/', 2)[-2] for r in sent)})")
    assert len(sent) == 2 and len(calls(azure_env, f"/jobs/{run_id}")) == 1  # runs/get, the ARM job
    with pytest.raises(NotFoundError):
        backend.get_run_details("0123456789abcdef0123456789abcdef")
    run = backend.get_run(run_id)
    assert details["startedAt"] == run.started_at and details["endedAt"] == run.ended_at
    azure_env.set_job_status(small.id("third"), "Failed")
    failed = backend.get_run_details(small.id("third"))
    assert failed["status"] == "Failed" and "exited with status code 1" in failed["error"]["message"]  # type: ignore[index]


def test_children_follow_every_page_of_run_history(
    azure_env: Any, backend: Any, small: SmallContent, monkeypatch: pytest.MonkeyPatch
) -> None:
    import studio.workspaces.azure.backend as module

    monkeypatch.setattr(module, "CHILDREN_PAGE", 10)  # 25 children: three pages
    azure_env.clear_log()
    children = backend.list_children(small.id("sweep"))
    assert names(children) == small.sweep_children  # oldest first, none lost after the first page
    assert all(c.parent_id == small.id("sweep") and c.experiment == small.experiment for c in children)
    assert all(c.status is RunStatus.COMPLETED for c in children)
    pages = calls(azure_env, "/children")
    # One MLflow search for the 25 ids' values, one for the experiment's child counts.
    assert len(pages) == 3 and len(calls(azure_env, "/runs/search")) == 2
    assert backend.get_run(small.id("sweep")).child_count == CHILDREN
    assert backend.list_children(small.id("first")) == []
    with pytest.raises(NotFoundError):
        backend.list_children("0123456789abcdef0123456789abcdef")


def test_edits_go_through_jobs_update_and_tag_removal_through_mlflow(
    azure_env: Any, backend: Any, small: SmallContent
) -> None:
    run_id = small.id("fifth")
    backend.get_run(run_id)
    azure_env.clear_log()
    updated = backend.set_run_metadata(
        run_id, display_name="fifth ✓", description="about it", tags={"a": "1", "b": "2"}
    )
    assert (updated.display_name, updated.description, updated.tags) == ("fifth ✓", "about it", {"a": "1", "b": "2"})
    assert len(calls(azure_env, "/history/v1.0/", "PATCH")) == 1
    sent = azure_env.requests()
    print(f"\nfirst edit: {len(sent)} requests ({', '.join(r.method + ' ' + r.path.rsplit('/', 1)[-1] for r in sent)})")
    azure_env.clear_log()
    again = backend.set_run_metadata(run_id, tags={"b": "3"})
    assert again.tags == {"b": "3"} and again.display_name == "fifth ✓"
    assert len(calls(azure_env, "/runs/delete-tag")) == 1 and len(calls(azure_env, "/history/v1.0/", "PATCH")) == 1
    print(f"next edit (one tag changed, one removed): {len(azure_env.requests())} requests")
    assert backend.get_run(run_id) == again
    azure_env.clear_log()
    backend.set_run_metadata(run_id, tags={"b": "3"})  # nothing changes: nothing is sent to Azure
    assert calls(azure_env, "/history/v1.0/", "PATCH") == [] and calls(azure_env, "delete-tag") == []
    with pytest.raises(ValueError):
        backend.set_run_metadata(run_id, tags={"": "x"})
    backend.set_run_metadata(run_id, display_name="fifth", description="", tags={})


def test_cancel_returns_cancel_requested_at_once(azure_env: Any, backend: Any, small: SmallContent) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(azure_env.mlflow_url)
    experiment_id = client.get_experiment_by_name(small.experiment).experiment_id
    run_id = client.create_run(
        experiment_id, run_name="to-cancel", tags={"mlflow.parentRunId": small.id("first")}
    ).info.run_id
    token = backend.change_token()
    azure_env.clear_log()
    azure_env.latency_s = 0.2
    started = time.monotonic()
    assert backend.cancel_run(run_id) is RunStatus.CANCEL_REQUESTED
    took = time.monotonic() - started
    azure_env.latency_s = 0.0
    assert backend.get_run(run_id).status is RunStatus.CANCEL_REQUESTED
    assert backend.status_history(run_id)[-1].status is RunStatus.CANCEL_REQUESTED
    assert run_id in [r.id for r in backend.list_changed_runs(token)[0]]
    cancels = calls(azure_env, "/cancel", "POST")
    assert len(cancels) == 1 and cancels[0].status == 202
    # runs/get, the job's status, the cancel POST: three round trips; the operation's polling is not waited on.
    assert took < 4 * 0.2 + 1.0, took
    with pytest.raises(RunStateError, match="Completed"):
        backend.cancel_run(small.id("second"))
    assert len(calls(azure_env, "/cancel", "POST")) == 1  # the finished job was refused here, nothing sent
    with pytest.raises(NotFoundError):
        backend.cancel_run("0123456789abcdef0123456789abcdef")


def test_metric_history_falls_back_to_pages_of_1000_once_per_workspace(
    azure_env: Any, backend: Any, small: SmallContent, monkeypatch: pytest.MonkeyPatch
) -> None:
    import studio.workspaces.azure.connection as connection

    monkeypatch.setattr(connection, "_history_page_sizes", {})  # as in a new process
    # A backend of its own: the shared one's client may have learned the page size from an earlier test.
    backend = _reopen(azure_env)
    try:
        _check_fallback(azure_env, backend, small)
    finally:
        backend.close()


def _check_fallback(azure_env: Any, backend: Any, small: SmallContent) -> None:
    run_id = small.id("first")
    series = backend.get_series(run_id, "long")
    assert len(series) == small.long_points and series.steps[-1] == small.long_points - 1
    sizes = [(r.query.get("max_results"), r.status) for r in calls(azure_env, "/metrics/get-history")]
    # 25,000 refused once in Azure's shape, then pages of 1,000: three, and at most three more asked ahead (the
    # emulator's MLflow pages by offset, which the client asks for concurrently; Azure's own tokens page in turn).
    assert sizes[0] == ("25000", 400) and set(sizes[1:]) == {("1000", 200)} and 3 <= len(sizes) - 1 <= 6, sizes
    azure_env.clear_log()
    assert len(backend.get_series(small.id("second"), "acc")) == 1
    assert [r.query.get("max_results") for r in calls(azure_env, "/metrics/get-history")] == ["1000"]  # remembered
    reopened = _reopen(azure_env)
    try:
        azure_env.clear_log()
        assert len(reopened.get_series(small.id("third"), "acc")) == 1
        assert [r.query.get("max_results") for r in calls(azure_env, "/metrics/get-history")] == ["1000"]  # kept
    finally:
        reopened.close()


def _reopen(azure_env: Any) -> Any:
    from studio.workspaces.azure.backend import AzureBackend
    from studio.workspaces.azure.cloud import load_cloud

    return AzureBackend(
        azure_env.credential(),
        azure_env.subscription_id,
        azure_env.resource_group,
        azure_env.workspace_name,
        load_cloud("AzureCloud"),
        location=azure_env.location,
    )


def test_live_refresh_sees_a_change_of_azures_status(
    azure_env: Any, backend: Any, small: SmallContent, monkeypatch: pytest.MonkeyPatch
) -> None:
    import studio.workspaces.azure.backend as module

    backend.poller.interval = 0.0  # poll at every change_token (3 s otherwise)
    backend.statuses.ttl = 0.0
    monkeypatch.setattr(module, "OBSERVE_AGE_S", 0.0)  # a job's status asked at every poll (10 s otherwise)
    live = small.id("live")
    azure_env.set_job_status(live, "Running")
    token = backend.change_token()
    assert backend.change_token() == token  # nothing changed
    azure_env.set_job_status(live, "Finalizing")  # MLflow still says RUNNING
    assert backend.change_token() != token
    changed, _ = backend.list_changed_runs(token)
    assert [(r.id, r.status) for r in changed] == [(live, RunStatus.FINALIZING)]


def test_a_custom_cloud_from_its_metadata_url(azure_env: Any, small: SmallContent) -> None:
    from studio.workspaces.azure.backend import AzureBackend
    from studio.workspaces.azure.cloud import forget_loaded_clouds, load_cloud

    forget_loaded_clouds()
    cloud = load_cloud(azure_env.custom_cloud_metadata_url)  # read through the proxy with the test CA
    assert cloud.resource_manager == "https://management.studio-test-cloud.example/"
    assert cloud.arm_scope == "https://management.studio-test-cloud.example/.default"
    credential = azure_env.credential()
    azure_env.clear_log()
    backend = AzureBackend(
        credential,
        azure_env.subscription_id,
        azure_env.resource_group,
        azure_env.workspace_name,
        cloud,
        location=azure_env.location,
    )
    try:
        assert small.experiment in [e.name for e in backend.list_experiments()]
        assert backend.get_run_details(small.id("first"))["runType"] == "command"
        hosts = {r.host for r in azure_env.requests()}
        assert hosts == {"management.studio-test-cloud.example", "eastus.api.studio-test-cloud.example"}, hosts
        assert {s for scopes in credential.scopes for s in scopes} == {cloud.arm_scope}  # one scope for everything
    finally:
        backend.close()


def test_a_page_is_not_held_up_by_statuses_and_azures_arrives_as_a_change(
    azure_env: Any, backend: Any, small: SmallContent
) -> None:
    live = small.id("live")
    token = backend.change_token()  # the first poll learns that live is Running
    azure_env.set_job_status(live, "Preparing")
    backend.statuses.ttl = 0.0  # what was learned is stale at once
    azure_env.latency_s = 0.3
    try:
        started = time.monotonic()
        page = backend.list_runs(small.experiment, page_size=2)
        took = time.monotonic() - started
    finally:
        azure_env.latency_s = 0.0
    assert took < 2 * 0.3 + 0.25, took  # one round trip (the page and the child counts go together)
    assert page.runs[0].id == live and page.runs[0].status is RunStatus.RUNNING  # the last known, until Azure answers
    changed: list[RunInfo] = []

    def arrived() -> bool:
        changed[:] = backend.list_changed_runs(token)[0]
        return bool(changed)

    wait_for(arrived)
    assert [(r.id, r.status) for r in changed] == [(live, RunStatus.PREPARING)]
    assert backend.list_runs(small.experiment, page_size=1).runs[0].status is RunStatus.PREPARING  # known now
    assert backend.get_run(live).status is RunStatus.PREPARING


def test_opening_without_any_sign_in_says_how_to_sign_in(
    azure_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.core.errors import AuthenticationError
    from studio.workspaces import open_workspace

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no saved account
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no az
    azure_env.clear_log()
    with pytest.raises(AuthenticationError) as caught:
        open_workspace(azure_env.location)
    assert "sign in" in str(caught.value).lower() and "\n" not in str(caught.value)
    assert azure_env.requests() == []  # nothing was tried on the network


def test_sweep_automl_and_pipeline_jobs_have_their_details(azure_env: Any, backend: Any, small: SmallContent) -> None:
    sweep, automl, pipeline = small.id("sweep"), small.id("second"), small.id("third")
    azure_env.state.set_job_properties(
        sweep,
        {
            "jobType": "Sweep",
            "objective": {"goal": "Maximize", "primaryMetric": "acc"},
            "samplingAlgorithm": {"samplingAlgorithmType": "Random"},
            "limits": {"jobLimitsType": "Sweep", "maxTotalTrials": 25, "maxConcurrentTrials": 4},
            "trial": {"command": "python train.py --lr ${{search_space.lr}}", "environmentId": "azureml:env:1"},
        },
    )
    azure_env.state.set_job_properties(
        automl,
        {
            "jobType": "AutoML",
            "taskDetails": {
                "taskType": "Classification",
                "targetColumnName": "y",
                "trainingData": {"uri": "azureml://x", "jobInputType": "mltable"},
                "primaryMetric": "AUCWeighted",
            },
        },
    )
    azure_env.state.set_job_properties(pipeline, {"jobType": "Pipeline", "jobs": {"train": {}, "score": {}}})
    details = backend.get_run_details(sweep)  # a trial azure-ai-ml cannot parse: ARM's JSON is read instead
    assert details["runType"] == "sweep" and details["objective"] == "Maximize acc"
    assert details["samplingAlgorithm"] == "Random" and details["limits"] == {
        "maxTotalTrials": 25,
        "maxConcurrentTrials": 4,
    }
    assert details["script"] == "train.py" and str(details["studioUrl"]).startswith("https://ml.azure.com/runs/")
    details = backend.get_run_details(automl)
    assert details["runType"] == "AutoML" and details["task"] == "Classification"
    assert details["primaryMetric"] == "AUCWeighted"
    details = backend.get_run_details(pipeline)
    assert details["runType"] == "pipeline" and details["steps"] == ["score", "train"]
