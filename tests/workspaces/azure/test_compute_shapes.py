"""ARM's JSON of compute resources as the pane shows them: states while a new instance has none, durations,
schedules in words, errors, the creator, and the time an instance has been running (no service needed)."""

from __future__ import annotations

from typing import Any

from studio.core.compute import CLUSTER, ComputeAction, ComputeState
from studio.workspaces.azure.compute_shapes import compute_info, duration_minutes, schedule_text


def instance(**inner: Any) -> dict[str, Any]:
    outer = {"computeType": "ComputeInstance", "provisioningState": "Succeeded", "createdOn": "2026-12-01T10:00:00Z"}
    outer.update(inner.pop("outer", {}))
    return {"name": "ci1", "properties": {**outer, "properties": inner}}


def test_durations() -> None:
    assert duration_minutes("PT60M") == 60 and duration_minutes("PT1H30M") == 90 and duration_minutes("P1D") == 1440
    assert duration_minutes("PT90S") == 1.5
    assert duration_minutes(None) is None and duration_minutes("PT") is None and duration_minutes("60") is None


def test_schedules_in_words() -> None:
    cron = {"action": "Stop", "triggerType": "Cron", "cron": {"expression": "30 19 * * 1-5", "timeZone": "UTC"}}
    assert schedule_text(cron) == "Stop at 19:30 on Mon-Fri (UTC)"
    daily = {"action": "Start", "triggerType": "Cron", "cron": {"expression": "0 8 * * *"}}
    assert schedule_text(daily) == "Start at 08:00 every day"
    odd = {"action": "Stop", "status": "Disabled", "triggerType": "Cron", "cron": {"expression": "*/5 * * * *"}}
    assert schedule_text(odd) == "Stop on cron schedule '*/5 * * * *' — disabled"
    weekly = {
        "action": "Start",
        "triggerType": "Recurrence",
        "recurrence": {
            "frequency": "Week",
            "interval": 1,
            "timeZone": "W. Europe Standard Time",
            "schedule": {"hours": [8], "minutes": [30], "weekDays": ["Monday", "Friday"]},
        },
    }
    assert schedule_text(weekly) == "Start at 08:30 on Mon, Fri (W. Europe Standard Time)"
    daily_rec = {"action": "Stop", "recurrence": {"frequency": "Day", "interval": 1, "schedule": {"hours": [19]}}}
    assert schedule_text(daily_rec) == "Stop every day at 19:00"


def test_a_new_instance_without_a_state_is_creating_and_a_failed_one_says_why() -> None:
    new = compute_info(instance(state=None, vmSize="STANDARD_DS3_V2", outer={"provisioningState": "Creating"}))
    assert new.state is ComputeState.CREATING and not new.allowed and new.vm_size == "STANDARD_DS3_V2"
    failed = compute_info(
        instance(
            state="CreateFailed",
            errors=[{"error": {"code": "AllocationFailed", "message": "Allocation  failed."}}],
            lastOperation={"operationName": "Create", "operationStatus": "CreateFailed"},
        )
    )
    assert failed.state is ComputeState.CREATE_FAILED and failed.last_error == "Allocation failed."
    assert failed.state_reason == "Allocation failed." and failed.allowed == {ComputeAction.DELETE}
    assert "Allocation failed." in failed.refusal(ComputeAction.START)
    weird = compute_info(instance(state="SomethingNew"))
    assert weird.state is ComputeState.UNKNOWN


def test_running_since_the_last_start_and_who_it_is_for() -> None:
    running = compute_info(
        instance(
            state="Running",
            idleTimeBeforeShutdown="PT2H",
            lastOperation={
                "operationName": "Start",
                "operationTime": "2026-12-04T09:00:00.1234567+00:00",
                "operationStatus": "Succeeded",
            },
            createdBy={"userName": "Ann", "userId": "u-1"},
            personalComputeInstanceSettings={"assignedUser": {"objectId": "u-1", "tenantId": "t"}},
        )
    )
    assert running.started_at is not None and running.idle_shutdown_minutes == 120
    assert running.assigned_user == "Ann" and running.created_at > 0
    restarted = compute_info(
        instance(state="Stopped", lastOperation={"operationName": "Start", "operationStatus": "Succeeded"})
    )
    assert restarted.started_at is None  # not running: no running time
    other = compute_info(
        instance(
            state="Stopped",
            createdBy={"userName": "Ann", "userId": "u-1"},
            personalComputeInstanceSettings={"assignedUser": {"objectId": "u-2"}},
        )
    )
    assert other.assigned_user == "u-2"


def test_a_cluster_being_created_or_resizing() -> None:
    cluster = {
        "name": "gpu",
        "properties": {
            "computeType": "AmlCompute",
            "provisioningState": "Creating",
            "properties": {"allocationState": "Resizing", "scaleSettings": {"maxNodeCount": 2}},
        },
    }
    info = compute_info(cluster)
    assert info.kind == CLUSTER and info.state is ComputeState.CREATING and info.nodes is not None
    cluster["properties"]["provisioningState"] = "Succeeded"
    assert compute_info(cluster).state is ComputeState.RESIZING
    assert compute_info(cluster).nodes.text == "0 of 0-2"  # type: ignore[union-attr]
