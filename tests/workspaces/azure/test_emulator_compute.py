"""The emulator's compute operations against the REAL azure-ai-ml 1.35.2: lists, instances' long-running
operations (start, stop, restart, create, delete), refusals as the service makes them, 409 when busy, VM sizes
and cluster nodes. Every answer must fit the SDK's models, and operations must poll fast (``retry-after-ms``)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.azure_emulator.compute import cron_schedule
from tests.azure_emulator.shapes import unknown_fields
from tests.azure_fixtures import AzureService
from tests.waiting import wait_until

ARM = "https://management.azure.com"
FAST_S = 5.0
"""An operation of 0.5 s polled at 50 ms ends well within this; azure-core's default 30 s poll would not."""


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


@pytest.fixture(autouse=True)
def _no_unknown_routes(azure_env: AzureService) -> Any:
    yield
    assert azure_env.emulator.unknown == []


def _arm(
    azure_env: AzureService, method: str, path: str, body: Any = None, *, versioned: bool = True, **query: str
) -> Any:
    """A raw ARM request (``path`` under the workspace, or an absolute URL) with a token the emulator takes."""
    import requests

    url = path if path.startswith("https://") else f"{ARM}{azure_env.workspace_arm_id}{path}"
    params = None if "api-version=" in url or not versioned else {"api-version": "2025-12-01", **query}
    return requests.request(
        method,
        url,
        params=params,
        json=body,
        headers={"Authorization": "Bearer studio-test-compute"},
        proxies={"https": azure_env.proxy_url},
        verify=str(azure_env.ca_path),
        timeout=10,
    )


def _states_while(ml_client: Any, name: str, done: threading.Event) -> list[str]:
    """The instance's states seen by ``compute.get`` until ``done`` (consecutive duplicates dropped)."""
    seen: list[str] = []
    while not done.is_set():
        state = ml_client.compute.get(name).state
        if not seen or seen[-1] != state:
            seen.append(state)
    state = ml_client.compute.get(name).state
    if seen[-1] != state:
        seen.append(state)
    return seen


def _watch(ml_client: Any, name: str) -> tuple[threading.Event, list[list[str]], threading.Thread]:
    done = threading.Event()
    result: list[list[str]] = []
    thread = threading.Thread(target=lambda: result.append(_states_while(ml_client, name, done)), daemon=True)
    thread.start()
    return done, result, thread


# --- lists -------------------------------------------------------------------------------------------
def test_list_parses_instances_and_clusters(azure_env: AzureService, ml_client: Any) -> None:
    from azure.ai.ml.entities import AmlCompute, ComputeInstance

    computes: dict[str, Any] = {c.name: c for c in ml_client.compute.list()}
    assert set(computes) == {"ci1", "ci-running", "cpu-cluster"}
    ci1, running, cluster = computes["ci1"], computes["ci-running"], computes["cpu-cluster"]
    assert all(isinstance(computes[name], ComputeInstance) for name in ("ci1", "ci-running"))
    assert (ci1.state, running.state) == ("Stopped", "Running")
    assert ci1.size == "STANDARD_DS3_V2"
    assert ci1.idle_time_before_shutdown_minutes == 60
    assert ci1.last_operation["operationName"] == "Create"
    assert ci1.create_on_behalf_of.user_object_id
    assert ci1.created_on
    stop = running.schedules.compute_start_stop[0]
    assert (stop.action, stop.trigger.schedule.hours, stop.trigger.schedule.week_days[0]) == ("Stop", [19], "Monday")
    assert isinstance(computes["cpu-cluster"], AmlCompute)
    assert (cluster.min_instances, cluster.max_instances, cluster.size) == (0, 4, "STANDARD_DS3_V2")
    assert cluster.idle_time_before_scale_down == 120
    pages = [r for r in azure_env.requests() if r.path.endswith("/computes")]
    assert len(pages) == 2  # arm_page_size 2: the SDK followed the nextLink


def test_every_answer_fits_the_sdk_models(azure_env: AzureService) -> None:
    from azure.ai.ml._restclient.arm_ml_service import models

    azure_env.compute.add_instance("ci-busy", state="JobRunning", idle_minutes=None, schedules=[cron_schedule()])
    azure_env.compute.add_cluster("gpu-cluster", "Standard_NC6s_v3", 0, 2, preparing=1, allocation="Resizing")
    azure_env.compute.fail_next("ci-broken", "create", end_state="CreateFailed")
    body = {"properties": {"computeType": "ComputeInstance", "properties": {"vmSize": "Standard_DS2_v2"}}}
    created = _arm(azure_env, "PUT", "/computes/ci-broken", body)
    assert created.status_code == 201
    assert unknown_fields(models.ComputeResource, created.json()) == []
    azure_env.compute.finish_operations()
    listed = _arm(azure_env, "GET", "/computes").json()
    resources = list(listed["value"])
    while listed.get("nextLink"):
        listed = _arm(azure_env, "GET", listed["nextLink"]).json()
        resources += listed["value"]
    assert len(resources) == 6
    for resource in resources:
        assert unknown_fields(models.ComputeResource, resource) == [], resource["name"]
    nodes = _arm(azure_env, "POST", "/computes/cpu-cluster/listNodes").json()
    assert len(nodes["nodes"]) == 2
    for node in nodes["nodes"]:
        assert unknown_fields(models.AmlComputeNodeInformation, node) == []
    sizes = _arm(
        azure_env,
        "GET",
        f"{ARM}/subscriptions/{azure_env.subscription_id}/providers/Microsoft.MachineLearningServices/locations/"
        "eastus/vmSizes?api-version=2025-12-01",
    ).json()
    assert unknown_fields(models.VirtualMachineSizeListResult, sizes) == []


def test_get_of_a_missing_compute_is_resource_not_found(azure_env: AzureService, ml_client: Any) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    with pytest.raises(ResourceNotFoundError) as raised:
        ml_client.compute.get("nope")
    assert "nope" in str(raised.value)
    assert raised.value.error is not None and raised.value.error.code == "ResourceNotFound"


def test_api_version_is_required(azure_env: AzureService) -> None:
    response = _arm(azure_env, "GET", "/computes/ci1", versioned=False)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MissingApiVersionParameter"


# --- start / stop / restart ----------------------------------------------------------------------------
def test_start_goes_stopped_starting_running_and_polls_fast(azure_env: AzureService, ml_client: Any) -> None:
    done, states, thread = _watch(ml_client, "ci1")
    started = time.monotonic()
    try:
        poller = ml_client.compute.begin_start("ci1")
        poller.result(timeout=FAST_S)
    finally:
        done.set()
        thread.join(FAST_S)
    assert time.monotonic() - started < FAST_S
    assert poller.status() == "Succeeded"
    assert states[0][-2:] == ["Starting", "Running"] and states[0][0] in ("Stopped", "Starting")
    ci1 = ml_client.compute.get("ci1")
    assert ci1.last_operation["operationName"] == "Start"
    assert ci1.last_operation["operationStatus"] == "Succeeded"
    assert azure_env.compute.operations == [("ci1", "start")]
    start = next(r for r in azure_env.requests() if r.path.endswith("/computes/ci1/start"))
    assert start.status == 202
    polls = [r for r in azure_env.requests() if "/computeOperationsStatus/" in r.path]
    assert len(polls) >= 2 and all(p.query["service"] == "new" for p in polls)
    assert polls[0].path.startswith(f"/subscriptions/{azure_env.subscription_id}/providers/")


def test_stop_then_restart(azure_env: AzureService, ml_client: Any) -> None:
    ml_client.compute.begin_stop("ci-running").result(timeout=FAST_S)
    assert azure_env.compute.state_of("ci-running") == "Stopped"
    azure_env.compute.set_state("ci1", "Running")
    poller = ml_client.compute.begin_restart("ci1")
    assert ml_client.compute.get("ci1").state == "Restarting"
    poller.result(timeout=FAST_S)
    assert ml_client.compute.get("ci1").state == "Running"


def test_the_202_carries_the_async_operation_header(azure_env: AzureService) -> None:
    response = _arm(azure_env, "POST", "/computes/ci1/start")
    assert response.status_code == 202 and response.content == b""
    url = response.headers["Azure-AsyncOperation"]
    assert url.startswith(
        f"https://management.azure.com/subscriptions/{azure_env.subscription_id}/providers/"
        "Microsoft.MachineLearningServices/locations/eastus/computeOperationsStatus/"
    )
    assert url.endswith("?api-version=2025-12-01&service=new")
    assert int(response.headers["retry-after-ms"]) <= 100
    status = _arm(azure_env, "GET", url)
    assert status.json() == {"status": "InProgress"}
    assert int(status.headers["retry-after-ms"]) <= 100
    azure_env.compute.finish_operations()
    done = _arm(azure_env, "GET", url)
    assert done.json() == {"status": "Succeeded", "percentComplete": 100.0}


def test_a_refused_start_is_accepted_then_fails_with_the_service_code(azure_env: AzureService, ml_client: Any) -> None:
    from azure.core.exceptions import HttpResponseError

    poller = ml_client.compute.begin_start("ci-running")  # accepted: the refusal comes from the operation
    with pytest.raises(HttpResponseError) as raised:
        poller.result(timeout=FAST_S)
    error = raised.value.error  # azure-core parses the failed status's {"error": {code, message}}
    assert error is not None and error.code == "StartComputeInstanceOnlyAllowedInStoppedState"
    assert error.message == (
        "Start Azure ML Compute Instance is only allowed when the instance ci-running is in 'stopped' state."
    )
    assert azure_env.compute.state_of("ci-running") == "Running"
    assert ml_client.compute.get("ci-running").last_operation["operationName"] == "Start"  # untouched: the old one
    assert azure_env.compute.operations == [("ci-running", "start")]
    assert not azure_env.compute.busy("ci-running")


@pytest.mark.parametrize(
    ("name", "operation", "code"),
    [
        ("ci1", "stop", "StopComputeInstanceOnlyAllowedInRunningState"),
        ("ci1", "restart", "RestartComputeInstanceOnlyAllowedInRunningOrFailedState"),
    ],
)
def test_other_refusals(azure_env: AzureService, ml_client: Any, name: str, operation: str, code: str) -> None:
    from azure.core.exceptions import HttpResponseError

    poller = getattr(ml_client.compute, f"begin_{operation}")(name)
    with pytest.raises(HttpResponseError, match=code):
        poller.result(timeout=FAST_S)
    assert azure_env.compute.state_of(name) == "Stopped"


def test_a_busy_instance_answers_409(azure_env: AzureService, ml_client: Any) -> None:
    from azure.core.exceptions import HttpResponseError, ResourceExistsError

    azure_env.compute.operation_s = 30.0
    ml_client.compute.begin_start("ci1")
    assert azure_env.compute.state_of("ci1") == "Starting"
    for action in ("begin_stop", "begin_restart", "begin_start", "begin_delete"):
        with pytest.raises(HttpResponseError) as raised:
            getattr(ml_client.compute, action)("ci1")
        assert raised.value.status_code == 409
        assert isinstance(raised.value, ResourceExistsError)
        assert "another operation (Start) is in progress" in str(raised.value)
    assert azure_env.compute.operations == [("ci1", "start")]
    azure_env.compute.finish_operations()
    assert azure_env.compute.state_of("ci1") == "Running"


def test_an_operation_that_fails_half_way(azure_env: AzureService, ml_client: Any) -> None:
    from azure.core.exceptions import HttpResponseError

    azure_env.compute.fail_next("ci1", "start", code="AllocationFailed", message="No capacity for STANDARD_DS3_V2.")
    done, states, thread = _watch(ml_client, "ci1")
    try:
        poller = ml_client.compute.begin_start("ci1")
        with pytest.raises(HttpResponseError, match="AllocationFailed"):
            poller.result(timeout=FAST_S)
    finally:
        done.set()
        thread.join(FAST_S)
    assert "Starting" in states[0] and states[0][-1] == "Stopped"
    ci1 = ml_client.compute.get("ci1")
    assert ci1.last_operation["operationStatus"] == "StartFailed"
    raw = _arm(azure_env, "GET", "/computes/ci1").json()
    assert raw["properties"]["properties"]["errors"][0]["error"]["code"] == "AllocationFailed"
    ml_client.compute.begin_start("ci1").result(timeout=FAST_S)  # the failure was for the next one only
    assert azure_env.compute.state_of("ci1") == "Running"


def test_start_of_a_cluster_is_a_bad_request(azure_env: AzureService, ml_client: Any) -> None:
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as raised:
        ml_client.compute.begin_start("cpu-cluster")
    assert raised.value.status_code == 400


# --- create / delete -----------------------------------------------------------------------------------
def test_create_and_delete_an_instance(azure_env: AzureService, ml_client: Any) -> None:
    from azure.ai.ml.entities import ComputeInstance

    poller = ml_client.compute.begin_create_or_update(
        ComputeInstance(name="ci-new", size="Standard_DS2_v2", idle_time_before_shutdown_minutes=30)
    )
    assert ml_client.compute.get("ci-new").state == "Creating"
    created = poller.result(timeout=FAST_S)
    assert (created.name, created.state, created.size) == ("ci-new", "Running", "STANDARD_DS2_V2")
    assert created.idle_time_before_shutdown_minutes == 30
    assert created.provisioning_state == "Succeeded"
    assert created.last_operation["operationName"] == "Create"
    put = next(r for r in azure_env.requests() if r.method == "PUT")
    assert put.status == 201
    deleting = ml_client.compute.begin_delete("ci-new")
    assert azure_env.compute.state_of("ci-new") == "Deleting"
    deleting.result(timeout=FAST_S)
    assert azure_env.compute.state_of("ci-new") is None
    assert [n for n, _ in azure_env.compute.operations] == ["ci-new", "ci-new"]
    delete = next(r for r in azure_env.requests() if r.method == "DELETE")
    assert (delete.status, delete.query["underlyingResourceAction"]) == (202, "Delete")


@pytest.mark.parametrize(
    ("name", "size", "code"),
    [("ci-new", "Standard_XYZ_v9", "InvalidVmSize"), ("ci-new", "Standard_DS1_v2", "InvalidVmSize")],
)
def test_create_validates_the_size(azure_env: AzureService, ml_client: Any, name: str, size: str, code: str) -> None:
    from azure.ai.ml.entities import ComputeInstance
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as raised:
        ml_client.compute.begin_create_or_update(ComputeInstance(name=name, size=size))
    assert raised.value.status_code == 400
    assert raised.value.error is not None and raised.value.error.code == code
    assert azure_env.compute.state_of(name) is None


def test_create_validates_the_name(azure_env: AzureService) -> None:
    body = {"properties": {"computeType": "ComputeInstance", "properties": {"vmSize": "Standard_DS3_v2"}}}
    for bad in ("1ci", "ci-", "c", "a" * 25, "ci_1"):
        response = _arm(azure_env, "PUT", f"/computes/{bad}", body)
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "InvalidComputeName"


def test_a_failed_create_leaves_create_failed(azure_env: AzureService, ml_client: Any) -> None:
    from azure.ai.ml.entities import ComputeInstance
    from azure.core.exceptions import HttpResponseError

    azure_env.compute.fail_next("ci-bad", "create", end_state="CreateFailed")
    poller = ml_client.compute.begin_create_or_update(ComputeInstance(name="ci-bad", size="Standard_DS3_v2"))
    with pytest.raises(HttpResponseError, match="AllocationFailed"):
        poller.result(timeout=FAST_S)
    bad = ml_client.compute.get("ci-bad")
    assert (bad.state, bad.provisioning_state) == ("CreateFailed", "Failed")
    assert bad.last_operation["operationStatus"] == "CreateFailed"


# --- sizes and nodes -----------------------------------------------------------------------------------
def test_list_sizes(azure_env: AzureService, ml_client: Any) -> None:
    sizes = {s.name: s for s in ml_client.compute.list_sizes()}
    assert "Standard_DS3_v2" in sizes and "Standard_NC6s_v3" in sizes
    gpu = vars(sizes["Standard_NC6s_v3"])  # the SDK copies the REST dict: camelCase attributes (vCPUs, memoryGB)
    assert (gpu["vCPUs"], gpu["gpus"], gpu["memoryGB"], gpu["family"]) == (6, 1, 112.0, "standardNCSv3Family")
    instances = {s.name for s in ml_client.compute.list_sizes(compute_type="ComputeInstance")}
    assert "Standard_DS3_v2" in instances and "Standard_DS1_v2" not in instances


def test_list_nodes_of_a_cluster(azure_env: AzureService, ml_client: Any) -> None:
    azure_env.compute.add_cluster("gpu-cluster", vm_size="Standard_NC6s_v3", idle=2, running=1, preparing=1)
    nodes = [vars(n) for n in ml_client.compute.list_nodes("gpu-cluster")]  # camelCase attributes, as for sizes
    states = sorted(n["nodeState"] for n in nodes)
    assert states == ["idle", "idle", "preparing", "running"]  # 4 nodes over 2 pages
    assert all(n["nodeId"] and n["privateIpAddress"] for n in nodes)
    assert next(n for n in nodes if n["nodeState"] == "running")["runId"]
    pages = [r for r in azure_env.requests() if r.path.endswith("/listNodes")]
    assert [r.method for r in pages] == ["POST", "GET"]
    raw = _arm(azure_env, "GET", "/computes/gpu-cluster")
    props = raw.json()["properties"]["properties"]
    assert (props["currentNodeCount"], props["nodeStateCounts"]["idleNodeCount"]) == (4, 2)


# --- the controller ----------------------------------------------------------------------------------
def test_populate_for_benchmarks(azure_env: AzureService, ml_client: Any) -> None:
    azure_env.compute.populate(50, 10)
    azure_env.compute.page_size = 100
    computes = list(ml_client.compute.list())
    assert len(computes) == 60
    assert sum(1 for c in computes if c.type == "amlcompute") == 10
    assert {"ci1", "ci-running", "cpu-cluster"} <= {c.name for c in computes}


def test_reset_restores_the_default_content(azure_env: AzureService) -> None:
    azure_env.compute.operation_s = 9.0
    azure_env.compute.add_instance("extra", state="Running")
    azure_env.compute.reset()
    assert azure_env.compute.state_of("extra") is None
    assert azure_env.compute.state_of("ci1") == "Stopped"
    assert azure_env.compute.operation_s == 0.5


def test_states_change_with_time(azure_env: AzureService, ml_client: Any) -> None:
    azure_env.compute.operation_s = 0.2
    ml_client.compute.begin_stop("ci-running")
    assert azure_env.compute.state_of("ci-running") == "Stopping"
    wait_until(lambda: azure_env.compute.state_of("ci-running") == "Stopped", "ci-running stopped", timeout=FAST_S)


def test_idle_shutdown_is_the_service_stopping_the_instance(azure_env: AzureService, ml_client: Any) -> None:
    azure_env.compute.idle_shutdown("ci-running")
    stopped = ml_client.compute.get("ci-running")
    assert stopped.state == "Stopped"
    assert (stopped.last_operation["operationName"], stopped.last_operation["operationTrigger"]) == (
        "Stop",
        "IdleShutdown",
    )


def test_operations_on_many_instances_at_once(azure_env: AzureService, ml_client: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    names = [f"ci-par-{index}" for index in range(6)]
    for name in names:
        azure_env.compute.add_instance(name)
    with ThreadPoolExecutor(len(names)) as pool:
        list(pool.map(lambda name: ml_client.compute.begin_start(name).result(timeout=FAST_S), names))
    assert {azure_env.compute.state_of(name) for name in names} == {"Running"}
    assert sorted(azure_env.compute.operations) == [(name, "start") for name in names]
