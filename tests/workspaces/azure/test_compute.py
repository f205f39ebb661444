"""The Azure kind's compute (``ComputeBackend``) against the emulator: real azure-ai-ml over HTTPS, the service's
long-running operations (202 + ``Azure-AsyncOperation``, InProgress polls, refusals that fail the operation, 409
while busy). What a user relies on: the states shown, refusals before anything is sent, the service's own refusals
as sentences, waiting that can be cancelled without stopping the operation, and how many round trips each costs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from studio.core.backend import ComputeBackend
from studio.core.compute import CLUSTER, INSTANCE, ComputeAction, ComputeState
from studio.core.errors import CancelledError, NotFoundError, RunStateError, StudioError
from studio.core.tasks import CancelToken
from tests.waiting import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")


def open_backend(azure_env: Any) -> Any:
    """An AzureBackend on the session's workspace (its own MLClient and pollers, as another window has)."""
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
    opened.compute.poll_s = 0.05
    return opened


@pytest.fixture
def backend(azure_env: Any) -> Iterator[Any]:
    """A backend on the session's workspace; the request log starts empty."""
    opened = open_backend(azure_env)
    azure_env.clear_log()
    yield opened
    opened.close()


def compute_requests(azure_env: Any, method: str | None = None) -> list[Any]:
    """The logged requests on compute resources and their operations (not MLflow's or the jobs')."""
    return [
        r
        for r in azure_env.requests()
        if ("/computes" in r.path or "computeOperationsStatus" in r.path) and (method is None or r.method == method)
    ]


def test_an_azure_backend_is_a_compute_backend(backend: Any) -> None:
    assert isinstance(backend, ComputeBackend)
    refresh = backend.compute_refresh()
    assert refresh.billed and refresh.idle_s == 30 and refresh.moving_s == 5


def test_list_shows_instances_then_clusters_with_states_sizes_and_nodes(backend: Any, azure_env: Any) -> None:
    infos = backend.list_compute()
    by_name = {i.name: i for i in infos}
    assert [i.kind for i in infos] == sorted((i.kind for i in infos), key=lambda k: k != INSTANCE)
    stopped, running, cluster = by_name["ci1"], by_name["ci-running"], by_name["cpu-cluster"]
    assert stopped.state is ComputeState.STOPPED and stopped.can_start and not stopped.can_stop
    assert stopped.vm_size.lower() == "standard_ds3_v2" and stopped.idle_shutdown_minutes == 60
    assert not stopped.counts_jobs and stopped.started_at is None
    assert running.state is ComputeState.RUNNING and running.can_stop and running.started_at is not None
    assert running.schedules and running.schedules[0].startswith("Stop") and "19:00" in running.schedules[0]
    assert running.last_operation == "Start" and running.last_operation_status == "Succeeded"
    assert cluster.kind == CLUSTER and cluster.state is ComputeState.STEADY and not cluster.allowed
    assert cluster.nodes is not None and (cluster.nodes.min_nodes, cluster.nodes.max_nodes) == (0, 4)
    assert (cluster.nodes.idle, cluster.nodes.running, cluster.nodes.current) == (1, 1, 2)
    assert "1 idle" in cluster.nodes.text
    assert backend.get_compute("ci-running") == running
    with pytest.raises(NotFoundError):
        backend.get_compute("nope")


def test_list_costs_one_request_per_page(backend: Any, azure_env: Any) -> None:
    azure_env.compute.populate(50, 10)
    azure_env.compute.page_size = 20
    infos = backend.list_compute()
    assert len(infos) == 60 and sum(1 for i in infos if i.kind == CLUSTER) == 10
    lists = compute_requests(azure_env, "GET")
    assert len(lists) == 3 and len(azure_env.requests()) == 3  # 60 computes in pages of 20; nothing else
    resizing = [i for i in infos if i.state is ComputeState.RESIZING]
    assert resizing and all(i.nodes is not None for i in resizing)
    failed = [i for i in infos if i.state is ComputeState.CREATE_FAILED]
    assert failed and failed[0].refusal(ComputeAction.START)


def test_start_follows_stopped_starting_running(backend: Any, azure_env: Any) -> None:
    backend.list_compute()
    azure_env.clear_log()
    azure_env.compute.operation_s = 60  # until finish_operations below
    shown = backend.start_compute("ci1")
    assert shown.state is ComputeState.STARTING and shown.state.label == "Starting…"
    sent = [r for r in azure_env.requests() if r.method == "POST"]
    assert [r.path.rsplit("/", 2)[-2:] for r in sent] == [["ci1", "start"]]
    assert not [r for r in compute_requests(azure_env, "GET") if r.path.endswith("/computes/ci1")]  # no extra GET
    # the pane's listing while it runs shows it moving, then the wait ends on Running
    assert {i.name: i for i in backend.list_compute()}["ci1"].state is ComputeState.STARTING
    azure_env.compute.finish_operations()
    after = backend.wait_compute("ci1")
    assert after is not None and after.state is ComputeState.RUNNING and after.started_at is not None
    assert azure_env.compute.operations == [("ci1", "start")]
    azure_env.compute.operation_s = 0.2
    # and back: stop waits until Stopped
    stopped = backend.stop_compute("ci1", wait=True)
    assert stopped.state is ComputeState.STOPPED
    assert azure_env.compute.state_of("ci1") == "Stopped"


def test_a_refused_action_is_explained_and_nothing_is_sent(backend: Any, azure_env: Any) -> None:
    backend.list_compute()
    azure_env.clear_log()
    with pytest.raises(RunStateError, match="ci-running is already running"):
        backend.start_compute("ci-running")
    with pytest.raises(RunStateError, match="ci1 is already stopped"):
        backend.stop_compute("ci1")
    with pytest.raises(RunStateError, match="compute cluster"):
        backend.stop_compute("cpu-cluster")
    assert azure_env.requests() == [] and azure_env.compute.operations == []
    backend.start_compute("ci1")
    with pytest.raises(RunStateError, match="ci1 is Starting; stop it when it is Running"):
        backend.stop_compute("ci1")
    assert azure_env.compute.operations == [("ci1", "start")]
    backend.wait_compute("ci1")


def test_stale_state_refused_by_the_service_is_said_in_its_terms(backend: Any, azure_env: Any) -> None:
    backend.list_compute()  # ci1 Stopped, as the pane shows it …
    azure_env.compute.set_state("ci1", "Running")  # … while a schedule started it
    backend.start_compute("ci1")  # the service accepts the request and then fails the operation
    with pytest.raises(RunStateError) as refused:
        backend.wait_compute("ci1")
    message = str(refused.value)
    assert "Azure refused to start ci1" in message and "only allowed" in message and "stopped" in message
    assert backend.get_compute("ci1").state is ComputeState.RUNNING  # the real state afterwards


def test_a_busy_instance_answers_409_with_a_sentence(backend: Any, azure_env: Any) -> None:
    backend.list_compute()  # this window saw ci1 Stopped …
    azure_env.compute.operation_s = 60
    other = open_backend(azure_env)  # … then another window started it
    try:
        other.start_compute("ci1")
    finally:
        other.close()
    azure_env.clear_log()
    with pytest.raises(RunStateError, match=r"ci1 is busy with another operation.*then start it again"):
        backend.start_compute("ci1")
    assert [r.status for r in azure_env.requests() if r.method == "POST"] == [409]
    assert backend.get_compute("ci1").state is ComputeState.STARTING  # and the pane shows why
    azure_env.compute.finish_operations()


def test_an_operation_failing_half_way_says_why_and_shows_the_real_state(backend: Any, azure_env: Any) -> None:
    azure_env.compute.fail_next("ci1", "start", end_state="Stopped")
    backend.start_compute("ci1")
    with pytest.raises(StudioError) as failed:
        backend.wait_compute("ci1")
    assert not isinstance(failed.value, CancelledError)
    assert "Azure could not start ci1" in str(failed.value) and "capacity" in str(failed.value)
    after = backend.get_compute("ci1")
    assert after.state is ComputeState.STOPPED and "capacity" in after.last_error
    assert after.can_start


def test_cancelling_the_wait_leaves_the_operation_running(backend: Any, azure_env: Any) -> None:
    azure_env.compute.operation_s = 60
    backend.start_compute("ci1")
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(CancelledError, match="the start goes on"):
        backend.wait_compute("ci1", cancel)
    assert azure_env.compute.busy("ci1") and azure_env.compute.state_of("ci1") == "Starting"
    azure_env.compute.finish_operations()
    after = backend.wait_compute("ci1")  # the same operation, followed again
    assert after is not None and after.state is ComputeState.RUNNING
    assert azure_env.compute.operations == [("ci1", "start")]


def test_waiting_without_an_operation_follows_the_state(backend: Any, azure_env: Any) -> None:
    assert backend.wait_compute("ci-running").state is ComputeState.RUNNING
    assert backend.wait_compute("gone") is None


def test_create_and_delete(backend: Any, azure_env: Any) -> None:
    options = backend.compute_options()
    assert options.clusters and not options.max_concurrent_jobs and options.conda_file_environment
    assert "Standard_DS3_v2" in [s.name for s in options.vm_sizes] and options.default_vm_size == "Standard_DS3_v2"
    assert all(s.name != "Standard_DS1_v2" for s in options.vm_sizes)  # not offered for instances
    ds3 = next(s for s in options.vm_sizes if s.name == "Standard_DS3_v2")
    assert (ds3.cores, ds3.memory_gb, ds3.gpus) == (4, 14.0, 0) and ds3.text == "Standard_DS3_v2 — 4 cores, 14 GB"
    assert options.default_environment == "azureml:AzureML-sklearn-1.5@latest"
    assert any(e.curated and e.reference == options.default_environment for e in options.environments)
    sizes_asked = [r for r in azure_env.requests() if r.path.endswith("/vmSizes")]
    assert len(sizes_asked) == 1 and not [r for r in azure_env.requests() if r.path.lower().endswith("/studio-ws")]
    backend.list_compute()
    azure_env.clear_log()
    for bad in ("a", "1abc", "ends-", "has_underscore", "x" * 25):
        with pytest.raises(ValueError, match="cannot name an Azure ML compute instance"):
            backend.create_compute(bad)
    with pytest.raises(ValueError, match="ci1 already exists"):
        backend.create_compute("ci1")
    with pytest.raises(ValueError, match="not a VM size"):
        backend.create_compute("ci-new", vm_size="Standard_Bogus")
    with pytest.raises(ValueError, match="15 minutes to 3 days"):
        backend.create_compute("ci-new", idle_shutdown_minutes=5)
    assert azure_env.requests() == []
    created = backend.create_compute("ci-new", idle_shutdown_minutes=30, wait=True, vm_size="Standard_DS2_v2")
    assert created.state is ComputeState.RUNNING and created.idle_shutdown_minutes == 30
    assert created.vm_size.lower() == "standard_ds2_v2"
    assert "ci-new" in [i.name for i in backend.list_compute()]
    assert backend.delete_compute("ci-new") is None
    assert "ci-new" not in [i.name for i in backend.list_compute()]
    assert azure_env.compute.state_of("ci-new") is None


def test_delete_without_waiting_shows_deleting(backend: Any, azure_env: Any) -> None:
    backend.list_compute()
    backend.delete_compute("ci1", wait=False)
    shown = [i for i in backend.list_compute() if i.name == "ci1"]
    assert not shown or shown[0].state is ComputeState.DELETING
    assert backend.wait_compute("ci1") is None
    wait_until(lambda: azure_env.compute.state_of("ci1") is None, "ci1 deleted")


def test_start_without_a_fresh_state_costs_one_get_and_one_post(backend: Any, azure_env: Any) -> None:
    shown = backend.start_compute("ci1")
    assert shown.state is ComputeState.STARTING
    methods = [(r.method, r.path.rsplit("/", 1)[-1]) for r in compute_requests(azure_env) if "Status" not in r.path]
    assert methods == [("GET", "ci1"), ("POST", "start")]
    backend.wait_compute("ci1")


def test_an_opened_azure_workspace_is_a_compute_backend(
    azure_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.workspaces import open_workspace

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the CLI (fake az) signs in
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    opened = open_workspace(azure_env.location)
    try:
        assert isinstance(opened, ComputeBackend)  # the window shows the Compute pane and Submit only then
        assert opened.compute_refresh().billed
        assert {i.name for i in opened.list_compute()} >= {"ci1", "ci-running", "cpu-cluster"}
    finally:
        opened.close()


def test_compute_without_a_network_is_one_sentence(azure_env: Any, tmp_path: Path) -> None:
    from studio.workspaces.azure.arm_client import ArmTimeouts
    from studio.workspaces.azure.backend import AzureBackend
    from studio.workspaces.azure.cloud import load_cloud
    from studio.workspaces.azure.offline_cache import open_cached

    short = ArmTimeouts(connect_s=2.0, read_s=5.0, retry_total=1, backoff_s=0.05, backoff_max_s=0.1)

    def inner() -> Any:
        return AzureBackend(
            azure_env.credential(),
            azure_env.subscription_id,
            azure_env.resource_group,
            azure_env.workspace_name,
            load_cloud("AzureCloud"),
            location=azure_env.location,
            timeouts=short,
        )

    cached = open_cached(azure_env.location, inner, root=tmp_path / "cache", paint_from_cache=False)
    try:
        assert isinstance(cached, ComputeBackend)
        azure_env.drop(r"/computes", times=5)
        with pytest.raises(StudioError) as offline:
            cached.list_compute()
        assert "Cannot reach Azure" in str(offline.value) and len(str(offline.value).splitlines()) == 1
        assert cached.info().offline
        assert cached.compute_refresh().idle_s == 30  # no I/O
    finally:
        cached.close()


def test_a_list_showing_the_end_state_ends_the_wait_before_azures_next_poll(backend: Any, azure_env: Any) -> None:
    # Azure sends no polling hint: azure-core asks about the operation every 30 s. Here it is told 8 s.
    azure_env.compute.retry_after_ms = 8_000
    azure_env.compute.operation_s = 0.3
    began = time.monotonic()
    backend.start_compute("ci1")
    outcome: list[Any] = []
    waiting = threading.Thread(target=lambda: outcome.append(backend.wait_compute("ci1")), daemon=True)
    waiting.start()
    wait_until(lambda: azure_env.compute.state_of("ci1") == "Running", "Azure finished the start")
    assert waiting.is_alive()  # the poller sleeps until its next poll
    assert {i.name: i for i in backend.list_compute()}["ci1"].state is ComputeState.RUNNING  # the pane's list
    waiting.join(timeout=10)
    assert not waiting.is_alive() and time.monotonic() - began < 6  # before the poller's next poll at 8 s
    assert outcome[0].state is ComputeState.RUNNING
    wait_until(
        lambda: not [t for t in threading.enumerate() if t.name.startswith("LROPoller")],
        "azure-core's poller ended",
        timeout=20,
    )
