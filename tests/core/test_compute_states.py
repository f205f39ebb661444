"""What each compute state allows, and the sentences that explain a refusal before anything is sent."""

from __future__ import annotations

import pytest

from studio.core.compute import (
    AZURE_ACTIONS,
    CLUSTER,
    ClusterNodes,
    ComputeAction,
    ComputeInfo,
    ComputeState,
    VmSize,
)

AZURE_INSTANCE_STATES = [
    "Creating",
    "CreateFailed",
    "Deleting",
    "Running",
    "Restarting",
    "Resizing",
    "JobRunning",
    "SettingUp",
    "SetupFailed",
    "Starting",
    "Stopped",
    "Stopping",
    "UserSettingUp",
    "UserSetupFailed",
    "Unknown",
    "Unusable",
]


def azure(name: str, state: ComputeState, **fields: object) -> ComputeInfo:
    return ComputeInfo(
        name, state, 0, 60, 0, 0, counts_jobs=False, actions=AZURE_ACTIONS.get(state, frozenset()), **fields
    )  # type: ignore[arg-type]


def test_every_state_azure_names_is_a_state_with_a_label() -> None:
    for value in AZURE_INSTANCE_STATES:
        state = ComputeState(value)
        assert state.label and state.label[0].isupper()
    assert ComputeState.STARTING.label == "Starting…" and ComputeState.JOB_RUNNING.label == "Running jobs"
    assert ComputeState.CREATE_FAILED.label == "Create failed" and ComputeState.CREATE_FAILED.is_failed


def test_azure_starts_only_a_stopped_instance_and_says_when_it_can() -> None:
    assert azure("ci1", ComputeState.STOPPED).can_start
    starting = azure("ci1", ComputeState.STARTING)
    assert not starting.can_stop and not starting.can_start
    assert starting.refusal(ComputeAction.STOP) == "ci1 is Starting; stop it when it is Running."
    assert starting.refusal(ComputeAction.START) == "ci1 is Starting; start it when it is Stopped."
    assert azure("ci1", ComputeState.RUNNING).refusal(ComputeAction.START) == "ci1 is already running."
    assert azure("ci1", ComputeState.STOPPED).refusal(ComputeAction.STOP) == "ci1 is already stopped."
    assert azure("ci1", ComputeState.STOPPED).refusal(ComputeAction.RESTART) == "ci1 is Stopped; start it instead."
    assert azure("ci1", ComputeState.RUNNING).refusal(ComputeAction.STOP) == ""


def test_a_failed_instance_can_only_be_deleted_and_the_refusal_quotes_its_error() -> None:
    failed = azure("ci1", ComputeState.CREATE_FAILED, last_error="Quota exceeded for Standard_NC6")
    assert failed.allowed == frozenset({ComputeAction.DELETE})
    assert failed.refusal(ComputeAction.START) == (
        "ci1 is CreateFailed (Quota exceeded for Standard_NC6); it cannot be started. Delete it and create it again."
    )
    assert azure("ci1", ComputeState.DELETING).refusal(ComputeAction.DELETE) == "ci1 is being deleted."


@pytest.mark.parametrize("action", list(ComputeAction))
def test_clusters_are_read_only(action: ComputeAction) -> None:
    cluster = azure("cpu-cluster", ComputeState.STEADY, kind=CLUSTER, nodes=ClusterNodes(0, 4, 2, idle=1, running=1))
    assert not cluster.allowed
    assert "compute cluster" in cluster.refusal(action)
    assert cluster.nodes is not None and cluster.nodes.text == "2 of 0-4 (1 idle, 1 running)"


def test_local_rules_keep_the_workspace_instance_and_restart_a_dead_daemon() -> None:
    local = ComputeInfo("local", ComputeState.UNUSABLE, 1, 60, 0, 0, deletable=False)
    assert local.can_start and local.can_restart and not local.can_delete
    assert local.refusal(ComputeAction.DELETE) == "local is the workspace's own compute instance; it cannot be deleted."
    other = ComputeInfo("gpu-1", ComputeState.STARTING, 1, None, 0, 0)
    assert other.can_stop and other.can_delete and not other.can_start


def test_vm_sizes_read_as_users_compare_them() -> None:
    assert VmSize("Standard_DS3_v2", 4, 14).text == "Standard_DS3_v2 — 4 cores, 14 GB"
    assert VmSize("Standard_NC6s_v3", 6, 112, gpus=1).text == "Standard_NC6s_v3 — 6 cores, 112 GB, 1 GPU"
