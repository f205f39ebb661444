"""Azure ML compute resources (ARM's JSON of ``{WS}/computes/{name}``) as ``ComputeInfo``, and VM sizes as ``VmSize``.

A compute resource is ``{"name", "properties": {"computeType", "provisioningState", "createdOn", "provisioningErrors",
"properties": {…}}}``; the inner ``properties`` is ``ComputeInstanceProperties`` (``state``, ``vmSize``,
``idleTimeBeforeShutdown`` as an ISO 8601 duration, ``lastOperation``, ``errors``, ``schedules``,
``personalComputeInstanceSettings``, ``createdBy``) or ``AmlComputeProperties`` (``vmSize``, ``scaleSettings``,
``allocationState``, ``currentNodeCount``, ``targetNodeCount``, ``nodeStateCounts``, ``errors``) — the shapes of
azure-ai-ml 1.35.2's REST models and of the SDK's recordings. Everything is read defensively: a field the service
left out or sent as null is simply not shown.
"""

from __future__ import annotations

import re
from typing import Any

from studio.core.compute import (
    AZURE_ACTIONS,
    CLUSTER,
    INSTANCE,
    ClusterNodes,
    ComputeInfo,
    ComputeState,
    VmSize,
)
from studio.workspaces.azure.jobs import iso_seconds

INSTANCE_TYPE = "computeinstance"
CLUSTER_TYPES = frozenset({"amlcompute", "kubernetes"})
"""``computeType``s shown as clusters (read-only; jobs can go there). Attached VMs, Databricks… are left out."""
_STATES = {state.value.lower(): state for state in ComputeState}
_PROVISIONING = {
    "creating": ComputeState.CREATING,
    "deleting": ComputeState.DELETING,
    "failed": ComputeState.CREATE_FAILED,
}
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_STARTS = frozenset({"start", "create"})
"""Operations after which an instance that is Running has been up since the operation's time."""


def is_listed(document: dict[str, Any]) -> bool:
    """Whether the compute resource is an instance or a cluster (the kinds the Compute pane shows)."""
    kind = _compute_type(document)
    return kind == INSTANCE_TYPE or kind in CLUSTER_TYPES


def compute_info(document: dict[str, Any]) -> ComputeInfo:
    """The ``ComputeInfo`` of one compute resource's JSON."""
    outer = _dict(document.get("properties"))
    inner = _dict(outer.get("properties"))
    name = str(document.get("name") or "")
    created = iso_seconds(outer.get("createdOn")) or 0.0
    errors = _errors(inner.get("errors")) or _errors(outer.get("provisioningErrors"))
    if _compute_type(document) == INSTANCE_TYPE:
        return _instance(name, outer, inner, created, errors)
    return _cluster(name, outer, inner, created, errors)


def _instance(
    name: str, outer: dict[str, Any], inner: dict[str, Any], created: float, errors: list[str]
) -> ComputeInfo:
    state = _instance_state(inner.get("state"), outer.get("provisioningState"))
    operation = _dict(inner.get("lastOperation"))
    op_name = str(operation.get("operationName") or "")
    op_status = str(operation.get("operationStatus") or "")
    op_at = iso_seconds(operation.get("operationTime"))
    up = state in (ComputeState.RUNNING, ComputeState.JOB_RUNNING)
    started = op_at if up and op_name.lower() in _STARTS and op_status.lower() == "succeeded" else None
    last_error = errors[0] if errors else ""
    reason = last_error if state.is_failed else ""
    if not reason and op_status.lower() == "failed" and op_name:
        reason = f"The last {op_name.lower()} failed."
    return ComputeInfo(
        name=name,
        state=state,
        max_concurrent_jobs=1,
        idle_shutdown_minutes=duration_minutes(inner.get("idleTimeBeforeShutdown")),
        running_jobs=0,
        queued_jobs=0,
        state_reason=reason,
        created_at=created,
        started_at=started,
        kind=INSTANCE,
        vm_size=str(inner.get("vmSize") or ""),
        assigned_user=_assigned_user(inner),
        schedules=tuple(schedule_text(s) for s in _schedules(inner.get("schedules"))),
        last_operation=op_name,
        last_operation_status=op_status,
        last_operation_at=op_at,
        last_error=last_error,
        counts_jobs=False,
        actions=AZURE_ACTIONS.get(state, frozenset()),
    )


def _cluster(name: str, outer: dict[str, Any], inner: dict[str, Any], created: float, errors: list[str]) -> ComputeInfo:
    provisioning = str(outer.get("provisioningState") or "").lower()
    allocation = str(inner.get("allocationState") or "").lower()
    if provisioning in _PROVISIONING:
        state = _PROVISIONING[provisioning]
    elif allocation == "resizing":
        state = ComputeState.RESIZING
    else:
        state = ComputeState.STEADY
    scale = _dict(inner.get("scaleSettings"))
    counts = _dict(inner.get("nodeStateCounts"))
    nodes = ClusterNodes(
        min_nodes=_int(scale.get("minNodeCount")),
        max_nodes=_int(scale.get("maxNodeCount")),
        current=_int(inner.get("currentNodeCount")),
        target=_int(inner.get("targetNodeCount")),
        idle=_int(counts.get("idleNodeCount")),
        running=_int(counts.get("runningNodeCount")),
        preparing=_int(counts.get("preparingNodeCount")),
        unusable=_int(counts.get("unusableNodeCount")),
        leaving=_int(counts.get("leavingNodeCount")),
        preempted=_int(counts.get("preemptedNodeCount")),
        scale_down_after_s=_seconds(scale.get("nodeIdleTimeBeforeScaleDown")),
    )
    last_error = errors[0] if errors else ""
    return ComputeInfo(
        name=name,
        state=state,
        max_concurrent_jobs=max(nodes.max_nodes, 1),
        idle_shutdown_minutes=None,
        running_jobs=0,
        queued_jobs=0,
        state_reason=last_error if state.is_failed else "",
        created_at=created,
        kind=CLUSTER,
        vm_size=str(inner.get("vmSize") or ""),
        last_error=last_error,
        nodes=nodes,
        counts_jobs=False,
        actions=frozenset(),
    )


def _instance_state(state: Any, provisioning: Any) -> ComputeState:
    """Azure's ``state``; while it is null (a new instance), what ``provisioningState`` says."""
    if isinstance(state, str) and state.lower() in _STATES:
        return _STATES[state.lower()]
    if isinstance(provisioning, str) and provisioning.lower() in _PROVISIONING:
        return _PROVISIONING[provisioning.lower()]
    return ComputeState.UNKNOWN


def duration_minutes(text: Any) -> float | None:
    """Minutes of an ISO 8601 duration (``PT60M``, ``PT1H30M``, ``P1D``); None if absent or unreadable."""
    seconds = _seconds(text)
    return None if seconds is None else seconds / 60.0


def _seconds(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    match = _DURATION.match(text.strip())
    if not match or text.strip().upper() in ("P", "PT"):
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)


def _assigned_user(inner: dict[str, Any]) -> str:
    """Who the instance is for: the creator's name when it is theirs, else the assigned user's object id."""
    created_by = _dict(inner.get("createdBy"))
    assigned = _dict(_dict(inner.get("personalComputeInstanceSettings")).get("assignedUser"))
    user_name = str(created_by.get("userName") or "")
    object_id = str(assigned.get("objectId") or "")
    if object_id and object_id != str(created_by.get("userId") or ""):
        return object_id
    return user_name or object_id


def _errors(value: Any) -> list[str]:
    """The messages of ARM's ``[{"error": {"code", "message"}}]`` (or bare ``{"code", "message"}``) list."""
    messages: list[str] = []
    for item in value if isinstance(value, list) else ():
        error = _dict(_dict(item).get("error")) or _dict(item)
        message = str(error.get("message") or error.get("code") or "").strip()
        if message:
            messages.append(" ".join(message.split()))
    return messages


def _schedules(value: Any) -> list[dict[str, Any]]:
    return [_dict(s) for s in _dict(value).get("computeStartStop") or () if isinstance(s, dict)]


_DAYS = {
    "monday": "Mon",
    "tuesday": "Tue",
    "wednesday": "Wed",
    "thursday": "Thu",
    "friday": "Fri",
    "saturday": "Sat",
    "sunday": "Sun",
}
_CRON_DAYS = {"0": "Sun", "1": "Mon", "2": "Tue", "3": "Wed", "4": "Thu", "5": "Fri", "6": "Sat", "7": "Sun"}


def schedule_text(schedule: dict[str, Any]) -> str:
    """One start/stop schedule in words: "Stop at 19:00 on Mon-Fri (UTC)", "Start every day at 08:30 (W. Europe…)"."""
    action = str(schedule.get("action") or "Start/stop").capitalize()
    disabled = str(schedule.get("status") or "").lower() == "disabled"
    trigger = str(schedule.get("triggerType") or "").lower()
    if trigger == "cron" or (not trigger and schedule.get("cron")):
        cron = _dict(schedule.get("cron"))
        when, zone = _cron_words(str(cron.get("expression") or "")), cron.get("timeZone")
    else:
        recurrence = _dict(schedule.get("recurrence"))
        when, zone = _recurrence_words(recurrence), recurrence.get("timeZone")
    zone_text = f" ({zone})" if zone else ""
    return f"{action} {when}{zone_text}{' — disabled' if disabled else ''}"


def _cron_words(expression: str) -> str:
    fields = expression.split()
    if len(fields) == 5 and fields[0].isdigit() and fields[1].isdigit() and fields[2] == "*" and fields[3] == "*":
        at = f"at {int(fields[1]):02d}:{int(fields[0]):02d}"
        return f"{at} every day" if fields[4] == "*" else f"{at} on {_cron_day_words(fields[4])}"
    return f"on cron schedule '{expression}'" if expression else "on a schedule"


def _cron_day_words(field: str) -> str:
    words = []
    for part in field.split(","):
        ends = part.split("-")
        words.append("-".join(_CRON_DAYS.get(e, e) for e in ends))
    return ", ".join(words)


def _recurrence_words(recurrence: dict[str, Any]) -> str:
    frequency = str(recurrence.get("frequency") or "").lower()
    interval = _int(recurrence.get("interval")) or 1
    plan = _dict(recurrence.get("schedule"))
    hours = [h for h in plan.get("hours") or () if isinstance(h, int)]
    minutes = [m for m in plan.get("minutes") or () if isinstance(m, int)] or [0]
    times = ", ".join(f"{h:02d}:{m:02d}" for h in hours for m in minutes)
    at = f" at {times}" if times else ""
    days = [_DAYS.get(str(d).lower(), str(d)) for d in plan.get("weekDays") or plan.get("week_days") or ()]
    if frequency == "week" or days:
        on = f" on {', '.join(days)}" if days else ""
        every = "" if interval == 1 and days else (" every week" if interval == 1 else f" every {interval} weeks")
        return f"{at.strip()}{on}{every}".strip() or "every week"
    unit = {"minute": "minute", "hour": "hour", "day": "day", "month": "month"}.get(frequency, frequency or "time")
    every = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
    return f"{every}{at}"


def vm_size(size: Any) -> VmSize:
    """A ``VmSize`` from azure-ai-ml's ``VmSize`` entity (``compute.list_sizes()``).

    azure-ai-ml 1.35.2's ``VmSize._from_rest_object`` copies the REST names (``vCPUs``, ``memoryGB``,
    ``supportedComputeTypes``) into the entity beside its own attributes, which stay None: both are read."""
    return VmSize(
        name=str(_field(size, "name", "name") or ""),
        cores=_int(_field(size, "v_cp_us", "vCPUs")),
        memory_gb=float(_field(size, "memory_gb", "memoryGB") or 0.0),
        gpus=_int(_field(size, "gpus", "gpus")),
        family=str(_field(size, "family", "family") or ""),
    )


def supports_instances(size: Any) -> bool:
    """Whether a size can be a compute instance (sizes that say nothing are kept)."""
    types = _field(size, "supported_compute_types", "supportedComputeTypes")
    if not types:
        return True
    names = types.split(",") if isinstance(types, str) else [str(t) for t in types]
    return any(t.strip().lower() == INSTANCE_TYPE for t in names)


def _field(entity: Any, attribute: str, rest_name: str) -> Any:
    value = getattr(entity, attribute, None)
    if value is None:
        value = getattr(entity, "__dict__", {}).get(rest_name)
    return value


def _compute_type(document: dict[str, Any]) -> str:
    return str(_dict(document.get("properties")).get("computeType") or "").lower()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
