"""Compute routes: compute instances and clusters of a workspace, their long-running operations, VM sizes, nodes.

Shapes follow azure-ai-ml's recordings (``test_compute_instance_stop_start_restart.json``,
``test_aml_compute_create_and_delete.json``) and its ``arm_ml_service`` models (``ComputeResource``,
``ComputeInstanceProperties``, ``AmlComputeProperties``, ``VirtualMachineSize``, ``AmlComputeNodeInformation``):

- ``GET {WS}/computes`` (paged, ``$skip`` in an absolute nextLink), ``GET {WS}/computes/{name}`` (404
  ``ResourceNotFound`` when absent).
- ``PUT {WS}/computes/{name}``: 201 with the resource (provisioningState Creating) and ``Azure-AsyncOperation``;
  the name and the VM size (against the region's sizes) are checked, 400 in ARM's shape otherwise.
- ``DELETE {WS}/computes/{name}?underlyingResourceAction=Delete``: 202, ``Azure-AsyncOperation`` and ``Location``.
- ``POST {WS}/computes/{name}/start|stop|restart``: 202, empty body, ``Azure-AsyncOperation:
  https://management.azure.com/subscriptions/…/locations/<loc>/computeOperationsStatus/<id>?api-version=…&service=new``.
- ``GET …/computeOperationsStatus/<id>``: ``{"status":"InProgress"}`` while the operation runs, then
  ``{"status":"Succeeded","percentComplete":100.0}`` or ``{"status":"Failed","error":{"code","message"}}``.
- ``POST {WS}/computes/{name}/listNodes`` (``nodes`` + nextLink; the SDK GETs the next link),
  ``GET /subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}/vmSizes``.

The service's behaviour: a refused transition (start when not Stopped, stop when not Running/JobRunning,
restart when not Running/JobRunning/SetupFailed/UserSetupFailed) is ACCEPTED (202) and its operation then
fails (``StartComputeInstanceOnlyAllowedInStoppedState``…), the instance untouched; an instance with an
operation in progress answers 409 Conflict to start/stop/restart/delete. 202s and InProgress polls carry
``retry-after-ms`` (azure-core reads a missing or zero ``Retry-After`` as "wait the default 30 s").

Time, not timers: an operation lasts ``operation_s`` seconds from its acceptance; every request settles
the operations whose time is up (state, lastOperation, errors), so list/get see Starting, then Running.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from tests.azure_emulator.arm import ARM_HOST, SUB, WS
from tests.azure_emulator.server import Emulator, Request, Response, error_response, json_response
from tests.azure_emulator.state import ML_PROVIDER, EmulatorState, Workspace

DEFAULT_OPERATION_S = 0.5
DEFAULT_RETRY_AFTER_MS = 50
DEFAULT_USER_OBJECT_ID = "4ce6c0c6-6f6f-47f4-b4f7-58c73129265b"
"""The signed-in test user's object id (the default assigned user and creator of instances)."""
COMPUTE_TYPE = f"{ML_PROVIDER}/workspaces/computes"
LOCATIONS = SUB + rf"/providers/{re.escape(ML_PROVIDER)}/locations/(?P<loc>[^/]+)"

# (name, family, vCPUs, memoryGB, gpus, supported compute types)
VM_SIZES: list[tuple[str, str, int, float, int, tuple[str, ...]]] = [
    ("Standard_DS1_v2", "standardDSv2Family", 1, 3.5, 0, ("AmlCompute",)),
    ("Standard_DS2_v2", "standardDSv2Family", 2, 7.0, 0, ("ComputeInstance", "AmlCompute")),
    ("Standard_DS3_v2", "standardDSv2Family", 4, 14.0, 0, ("ComputeInstance", "AmlCompute")),
    ("Standard_DS4_v2", "standardDSv2Family", 8, 28.0, 0, ("ComputeInstance", "AmlCompute")),
    ("Standard_D4s_v3", "standardDSv3Family", 4, 16.0, 0, ("ComputeInstance", "AmlCompute")),
    ("Standard_E4ds_v4", "standardEDSv4Family", 4, 32.0, 0, ("ComputeInstance", "AmlCompute")),
    ("Standard_F4s_v2", "standardFSv2Family", 4, 8.0, 0, ("ComputeInstance", "AmlCompute")),
    ("Standard_NC4as_T4_v3", "Standard NCASv3_T4 Family", 4, 28.0, 1, ("ComputeInstance", "AmlCompute")),
    ("Standard_NC6s_v3", "standardNCSv3Family", 6, 112.0, 1, ("ComputeInstance", "AmlCompute")),
    ("Standard_NC24ads_A100_v4", "StandardNCADSA100v4Family", 24, 220.0, 1, ("ComputeInstance", "AmlCompute")),
    ("Standard_ND96asr_v4", "standardNDASv4_A100Family", 96, 900.0, 8, ("AmlCompute",)),
]
"""The region's VM sizes (every location answers the same handful)."""

INSTANCE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]")
"""A compute instance name: 3 to 24 letters, digits or hyphens, starting with a letter, not ending with a hyphen."""
CLUSTER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]")
"""A compute cluster name: 3 to 32 characters, same rules."""

TRANSITIONAL = {
    "start": "Starting",
    "stop": "Stopping",
    "restart": "Restarting",
    "create": "Creating",
    "delete": "Deleting",
}
ENDS_AS = {"start": "Running", "stop": "Stopped", "restart": "Running", "create": "Running", "delete": None}
ALLOWED_FROM = {
    "start": {"Stopped"},
    "stop": {"Running", "JobRunning"},
    "restart": {"Running", "JobRunning", "SetupFailed", "UserSetupFailed"},
}
REFUSALS = {
    "start": (
        "StartComputeInstanceOnlyAllowedInStoppedState",
        "Start Azure ML Compute Instance is only allowed when the instance {name} is in 'stopped' state.",
    ),
    "stop": (
        "StopComputeInstanceOnlyAllowedInRunningState",
        "Stop Azure ML Compute Instance is only allowed when the instance {name} is in 'running' state.",
    ),
    "restart": (
        "RestartComputeInstanceOnlyAllowedInRunningOrFailedState",
        "Restart Azure ML Compute Instance is only allowed when the instance {name} is in 'running' or 'failed' state.",
    ),
}
FAILED_STATUS = {
    "create": "CreateFailed",
    "start": "StartFailed",
    "stop": "StopFailed",
    "restart": "RestartFailed",
    "delete": "DeleteFailed",
}
ALLOCATION_FAILED = (
    "AllocationFailed",
    "Allocation failed. We do not have sufficient capacity for the requested VM size in this region.",
)


def recurrence_schedule(
    action: str = "Stop",
    hour: int = 19,
    minute: int = 0,
    week_days: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"),
    time_zone: str = "UTC",
) -> dict[str, Any]:
    """A ``computeStartStop`` schedule as the service answers it (recurrence trigger, weekly)."""
    return {
        "id": str(uuid.uuid4()),
        "provisioningStatus": "Completed",
        "status": "Enabled",
        "action": action,
        "triggerType": "Recurrence",
        "recurrence": {
            "frequency": "Week",
            "interval": 1,
            "startTime": None,
            "timeZone": time_zone,
            "schedule": {"hours": [hour], "minutes": [minute], "weekDays": list(week_days), "monthDays": None},
        },
        "cron": None,
        "schedule": None,
    }


def cron_schedule(expression: str = "0 8 * * 1-5", action: str = "Start", time_zone: str = "UTC") -> dict[str, Any]:
    """A ``computeStartStop`` schedule with a cron trigger."""
    return {
        "id": str(uuid.uuid4()),
        "provisioningStatus": "Completed",
        "status": "Enabled",
        "action": action,
        "triggerType": "Cron",
        "recurrence": None,
        "cron": {"startTime": None, "timeZone": time_zone, "expression": expression},
        "schedule": None,
    }


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def _duration(minutes: float) -> str:
    if float(minutes).is_integer():
        return f"PT{int(minutes)}M"
    return f"PT{round(minutes * 60)}S"


@dataclass
class _Compute:
    """One compute instance or cluster of a workspace."""

    name: str
    kind: str  # "ComputeInstance" | "AmlCompute"
    vm_size: str
    state: str = "Stopped"
    provisioning: str = "Succeeded"
    idle_minutes: float | None = 60
    assigned_user: str = DEFAULT_USER_OBJECT_ID
    tenant_id: str = ""
    schedules: list[dict[str, Any]] = field(default_factory=list)
    description: str | None = None
    created_at: float = field(default_factory=time.time)
    modified_at: float = field(default_factory=time.time)
    last_operation: dict[str, Any] | None = None
    last_operation_at: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)
    # clusters
    min_nodes: int = 0
    max_nodes: int = 4
    idle: int = 0
    running: int = 0
    preparing: int = 0
    unusable: int = 0
    leaving: int = 0
    preempted: int = 0
    allocation: str = "Steady"
    scale_down: str = "PT2M"
    priority: str = "Dedicated"


@dataclass
class _Operation:
    """An accepted operation: InProgress until ``ends_at``, then Succeeded or Failed (settled once)."""

    op_id: str
    workspace: str
    compute: str
    operation: str  # start | stop | restart | create | delete
    ends_at: float
    error: tuple[str, str] | None = None
    end_state: str | None = None
    refused: bool = False
    settled: bool = False


class ComputeController:
    """The emulated compute of every workspace and its controls (``azure_env.compute``); thread-safe."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._lock = threading.RLock()
        self._computes: dict[str, dict[str, _Compute]] = {}
        self._ops: dict[str, _Operation] = {}
        self._fail_next: dict[tuple[str, str], tuple[str, str, str | None]] = {}
        self.operations: list[tuple[str, str]] = []
        """(compute name, operation) of every operation the service accepted (refused ones too), oldest first."""
        self.operation_s = DEFAULT_OPERATION_S
        """How long an accepted operation runs (seconds)."""
        self.retry_after_ms = DEFAULT_RETRY_AFTER_MS
        """The ``retry-after-ms`` hint on 202s and InProgress polls."""
        self.page_size: int | None = None
        """Computes per page of ``GET {WS}/computes`` and nodes per page of listNodes; None: ``state.arm_page_size``."""
        self.reset()

    # --- content --------------------------------------------------------------------------------------
    def _key(self, workspace: Workspace | str | None) -> str:
        if workspace is None:
            found = self._state.main_workspace
        elif isinstance(workspace, Workspace):
            found = workspace
        else:
            named = [w for w in self._state.workspaces if w.name.lower() == workspace.lower()]
            if not named:
                raise KeyError(f"no workspace named {workspace}")
            found = named[0]
        return found.arm_id.lower()

    def _tenant(self) -> str:
        return self._state.tenants[0].tenant_id

    def reset(self) -> None:
        """The default content (main workspace): instance ``ci1`` Stopped, ``ci-running`` Running (weekday
        19:00 UTC stop schedule), cluster ``cpu-cluster`` 0-4 nodes with 1 idle and 1 running; no operations,
        no queued failures, ``operation_s`` and ``retry_after_ms`` at their defaults."""
        with self._lock:
            self._computes.clear()
            self._ops.clear()
            self._fail_next.clear()
            self.operations.clear()
            self.operation_s = DEFAULT_OPERATION_S
            self.retry_after_ms = DEFAULT_RETRY_AFTER_MS
            self.page_size = None
            self._default_content()

    def _default_content(self) -> None:
        self.add_instance("ci1", state="Stopped")
        self.add_instance("ci-running", state="Running", schedules=[recurrence_schedule("Stop", 19, 0)])
        self.add_cluster("cpu-cluster", idle=1, running=1)

    def add_instance(
        self,
        name: str,
        state: str = "Stopped",
        vm_size: str = "Standard_DS3_v2",
        idle_minutes: float | None = 60,
        assigned_user: str = DEFAULT_USER_OBJECT_ID,
        schedules: list[dict[str, Any]] | None = None,
        workspace: Workspace | str | None = None,
        *,
        description: str | None = None,
        last_operation: str | None = None,
    ) -> None:
        """A compute instance (replacing one of that name). ``schedules``: REST ``computeStartStop`` items, e.g.
        ``recurrence_schedule()``. ``last_operation``: its name (Create by default, Start for a running one)."""
        now = time.time()
        op_name = last_operation or ("Start" if state in ("Running", "JobRunning") else "Create")
        compute = _Compute(
            name,
            "ComputeInstance",
            vm_size,
            state=state,
            idle_minutes=idle_minutes,
            assigned_user=assigned_user,
            tenant_id=self._tenant(),
            schedules=list(schedules or []),
            description=description,
            created_at=now - 86400,
            modified_at=now - 3600,
            last_operation=_last_operation(op_name, now - 3600, "Succeeded"),
            last_operation_at=now - 3600,
        )
        with self._lock:
            self._computes.setdefault(self._key(workspace), {})[name] = compute

    def add_cluster(
        self,
        name: str,
        vm_size: str = "Standard_DS3_v2",
        min_nodes: int = 0,
        max_nodes: int = 4,
        idle: int = 0,
        running: int = 0,
        preparing: int = 0,
        allocation: str = "Steady",
        workspace: Workspace | str | None = None,
        *,
        unusable: int = 0,
        leaving: int = 0,
        preempted: int = 0,
        priority: str = "Dedicated",
    ) -> None:
        """A compute cluster (AmlCompute) with these node counts (replacing one of that name)."""
        now = time.time()
        compute = _Compute(
            name,
            "AmlCompute",
            vm_size,
            state="",
            idle_minutes=None,
            tenant_id=self._tenant(),
            created_at=now - 86400 * 3,
            modified_at=now - 600,
            min_nodes=min_nodes,
            max_nodes=max_nodes,
            idle=idle,
            running=running,
            preparing=preparing,
            unusable=unusable,
            leaving=leaving,
            preempted=preempted,
            allocation=allocation,
            priority=priority,
        )
        with self._lock:
            self._computes.setdefault(self._key(workspace), {})[name] = compute

    def populate(self, instances: int, clusters: int, workspace: Workspace | str | None = None) -> None:
        """Exactly ``instances`` instances and ``clusters`` clusters (the defaults first, then ``ci-002``…,
        ``cluster-01``…; states and sizes mixed) in the workspace, for benchmarks."""
        sizes = ["Standard_DS3_v2", "Standard_DS2_v2", "Standard_E4ds_v4", "Standard_NC4as_T4_v3"]
        states = ["Stopped", "Running", "Stopped", "JobRunning", "Stopped", "Running", "CreateFailed"]
        with self._lock:
            key = self._key(workspace)
            self._computes[key] = {}
            defaults = [("ci1", "Stopped"), ("ci-running", "Running")]
            for index in range(instances):
                if index < len(defaults):
                    name, state = defaults[index]
                else:
                    name, state = f"ci-{index:03d}", states[index % len(states)]
                self.add_instance(
                    name,
                    state=state,
                    vm_size=sizes[index % len(sizes)],
                    idle_minutes=None if index % 5 == 4 else 60 + 30 * (index % 3),
                    assigned_user=DEFAULT_USER_OBJECT_ID if index % 4 else str(uuid.UUID(int=index + 1)),
                    schedules=[recurrence_schedule("Stop", 18 + index % 4, 0)] if index % 3 == 1 else None,
                    workspace=workspace,
                )
            for index in range(clusters):
                if index == 0:
                    self.add_cluster("cpu-cluster", idle=1, running=1, workspace=workspace)
                else:
                    gpu = index % 3 == 0
                    self.add_cluster(
                        f"cluster-{index:02d}",
                        vm_size="Standard_NC6s_v3" if gpu else "Standard_DS3_v2",
                        max_nodes=2 + index,
                        idle=index % 2,
                        running=index % 3,
                        preparing=1 if index % 4 == 1 else 0,
                        allocation="Resizing" if index % 4 == 1 else "Steady",
                        workspace=workspace,
                    )

    # --- inspection and control -----------------------------------------------------------------------
    def _find(self, name: str, workspace: Workspace | str | None = None) -> _Compute | None:
        return self._computes.get(self._key(workspace), {}).get(name)

    def state_of(self, name: str, workspace: Workspace | str | None = None) -> str | None:
        """The instance's state now (``Starting``…; a cluster's allocation state), None when there is none."""
        with self._lock:
            self._settle()
            found = self._find(name, workspace)
            if found is None:
                return None
            return found.state if found.kind == "ComputeInstance" else found.allocation

    def set_state(self, name: str, state: str, workspace: Workspace | str | None = None) -> None:
        """Put the instance in ``state`` at once (e.g. ``JobRunning``, ``SetupFailed``); an operation in progress
        on it is forgotten (its polls then answer Succeeded)."""
        with self._lock:
            self._settle()
            found = self._find(name, workspace)
            if found is None:
                raise KeyError(f"no compute named {name}")
            key = self._key(workspace)
            for op in self._ops.values():
                if op.workspace == key and op.compute == name and not op.settled:
                    op.settled = True
                    op.ends_at = time.monotonic()
            if found.kind == "ComputeInstance":
                found.state = state
            else:
                found.allocation = state
            found.modified_at = time.time()

    def idle_shutdown(self, name: str, workspace: Workspace | str | None = None, trigger: str = "IdleShutdown") -> None:
        """The service stopped the instance by itself (``trigger``: IdleShutdown or Schedule): Stopped, with
        lastOperation Stop/Succeeded/<trigger>."""
        with self._lock:
            self.set_state(name, "Stopped", workspace)
            found = self._find(name, workspace)
            assert found is not None
            now = time.time()
            found.last_operation_at = now
            found.last_operation = _last_operation("Stop", now, "Succeeded", trigger)

    def fail_next(
        self,
        name: str,
        operation: str = "start",
        code: str = ALLOCATION_FAILED[0],
        message: str = ALLOCATION_FAILED[1],
        end_state: str | None = "Stopped",
    ) -> None:
        """The next accepted ``operation`` (start, stop, restart, create, delete) on ``name`` runs its course
        (Starting…, InProgress polls) and then fails with ``code``/``message``, the instance left in
        ``end_state`` with the error in its ``errors`` and lastOperation ``StartFailed``…"""
        with self._lock:
            self._fail_next[(name, operation.lower())] = (code, message, end_state)

    def finish_operations(self) -> None:
        """Every operation in progress ends now (as it would have)."""
        with self._lock:
            now = time.monotonic()
            for op in self._ops.values():
                if not op.settled:
                    op.ends_at = min(op.ends_at, now)
            self._settle()

    def busy(self, name: str, workspace: Workspace | str | None = None) -> bool:
        """Whether an operation is in progress on the compute (start/stop/restart/delete answer 409)."""
        with self._lock:
            self._settle()
            return self._running_op(self._key(workspace), name) is not None

    # --- operations -----------------------------------------------------------------------------------
    def _running_op(self, key: str, name: str) -> _Operation | None:
        for op in self._ops.values():
            if op.workspace == key and op.compute == name and not op.settled and not op.refused:
                return op
        return None

    def _settle(self) -> None:
        """Apply the end of every operation whose time is up (call with the lock held)."""
        now = time.monotonic()
        for op in self._ops.values():
            if op.settled or op.ends_at > now:
                continue
            op.settled = True
            if op.refused:
                continue
            computes = self._computes.get(op.workspace, {})
            found = computes.get(op.compute)
            if found is None:
                continue
            found.modified_at = time.time()
            name = op.operation.capitalize()
            if op.error is None:
                end = ENDS_AS[op.operation]
                if end is None:
                    del computes[op.compute]
                    continue
                found.state = end if found.kind == "ComputeInstance" else ""
                if found.kind == "AmlCompute":
                    found.allocation = "Steady"
                found.provisioning = "Succeeded"
                found.errors = []
                found.last_operation = _last_operation(name, found.last_operation_at, "Succeeded")
            else:
                if op.end_state is not None:
                    found.state = op.end_state
                if op.operation == "create":
                    found.provisioning = "Failed"
                elif op.operation == "delete":
                    found.provisioning = "Succeeded"
                code, message = op.error
                found.errors = [{"error": {"code": code, "message": message, "details": [], "additionalInfo": []}}]
                found.last_operation = _last_operation(name, found.last_operation_at, FAILED_STATUS[op.operation])

    def _accept(self, key: str, found: _Compute, operation: str, refused: tuple[str, str] | None = None) -> _Operation:
        """Record an accepted operation (the lock held): the compute goes transitional unless refused."""
        op = _Operation(uuid.uuid4().hex, key, found.name, operation, time.monotonic())
        self.operations.append((found.name, operation))
        if refused is not None:
            op.refused = True
            op.error = refused
        else:
            op.ends_at += max(0.0, self.operation_s)
            failure = self._fail_next.pop((found.name, operation), None)
            if failure is not None:
                op.error = (failure[0], failure[1])
                op.end_state = failure[2]
            found.state = TRANSITIONAL[operation]
            if operation == "create":
                found.provisioning = "Creating"
            elif operation == "delete":
                found.provisioning = "Deleting"
            now = time.time()
            found.modified_at = now
            found.last_operation_at = now
            found.last_operation = _last_operation(operation.capitalize(), now, "InProgress")
        self._ops[op.op_id] = op
        return op

    def status(self, op_id: str) -> dict[str, Any] | None:
        """The operation's status document, None for an unknown id."""
        with self._lock:
            self._settle()
            op = self._ops.get(op_id)
            if op is None:
                return None
            if not op.settled:
                return {"status": "InProgress"}
            if op.error is not None:
                code, message = op.error
                return {"status": "Failed", "error": {"code": code, "message": message}}
            return {"status": "Succeeded", "percentComplete": 100.0}

    # --- answers --------------------------------------------------------------------------------------
    def resource(self, workspace: Workspace, found: _Compute, host: str) -> dict[str, Any]:
        """The compute as ARM answers it (``ComputeResource``)."""
        location = workspace.location
        inner = self._instance_properties(found, location) if found.kind == "ComputeInstance" else _cluster(found)
        return {
            "id": f"{workspace.arm_id}/computes/{found.name}",
            "name": found.name,
            "type": COMPUTE_TYPE,
            "location": location,
            "tags": {},
            "identity": {
                "type": "SystemAssigned",
                "principalId": str(uuid.uuid5(uuid.NAMESPACE_URL, found.name)),
                "tenantId": found.tenant_id,
            },
            "properties": {
                "createdOn": _iso(found.created_at),
                "modifiedOn": _iso(found.modified_at),
                "disableLocalAuth": found.kind == "AmlCompute",
                "description": found.description,
                "resourceId": None,
                "computeType": found.kind,
                "computeLocation": location,
                "provisioningState": found.provisioning,
                "provisioningErrors": None,
                "isAttachedCompute": False,
                "properties": inner,
            },
        }

    def _instance_properties(self, found: _Compute, location: str) -> dict[str, Any]:
        base = f"https://{found.name}.{location}.instances.azureml.ms"
        return {
            "vmSize": found.vm_size.upper(),
            "subnet": None,
            "applicationSharingPolicy": "Personal",
            "sshSettings": {
                "sshPublicAccess": "Disabled",
                "adminUserName": "azureuser",
                "sshPort": 4000,
                "adminPublicKey": None,
            },
            "errors": list(found.errors),
            "connectivityEndpoints": {"publicIpAddress": "20.102.161.158", "privateIpAddress": "10.0.18.4"},
            "applications": [
                {"displayName": "Jupyter", "endpointUri": f"{base}/tree/"},
                {"displayName": "Jupyter Lab", "endpointUri": f"{base}/lab"},
                {"displayName": "VS Code", "endpointUri": f"vscode://vscode-remote/amlext+{found.name}"},
            ],
            "state": found.state,
            "lastOperation": found.last_operation,
            "createdBy": {"userName": "Ada", "userOrgId": found.tenant_id, "userId": DEFAULT_USER_OBJECT_ID},
            "computeInstanceAuthorizationType": "personal",
            "personalComputeInstanceSettings": {
                "assignedUser": {"objectId": found.assigned_user, "tenantId": found.tenant_id}
            },
            "setupScripts": None,
            "schedules": {"computeStartStop": list(found.schedules)},
            "idleTimeBeforeShutdown": _duration(found.idle_minutes) if found.idle_minutes is not None else None,
            "enableNodePublicIp": True,
            "dataMounts": None,
            "dataDisks": None,
            "containers": None,
            "versions": {"runtime": "3.0.02094.0004"},
            "customServices": [],
            "osImageMetadata": {
                "currentImageVersion": "25.10.20",
                "latestImageVersion": "25.10.20",
                "isLatestOsImageVersion": True,
            },
        }


def _last_operation(name: str, at: float, status: str, trigger: str = "User") -> dict[str, Any]:
    return {
        "operationName": name,
        "operationTime": _iso(at),
        "operationStatus": status,
        "operationTrigger": trigger,
    }


def _cluster(found: _Compute) -> dict[str, Any]:
    current = found.idle + found.running + found.preparing + found.unusable + found.leaving + found.preempted
    target = current if found.allocation == "Steady" else min(found.max_nodes, max(found.min_nodes, current + 1))
    return {
        "osType": "Linux",
        "vmSize": found.vm_size.upper(),
        "vmPriority": found.priority,
        "virtualMachineImage": None,
        "isolatedNetwork": False,
        "scaleSettings": {
            "maxNodeCount": found.max_nodes,
            "minNodeCount": found.min_nodes,
            "nodeIdleTimeBeforeScaleDown": found.scale_down,
        },
        "userAccountCredentials": None,
        "subnet": None,
        "remoteLoginPortPublicAccess": "NotSpecified",
        "allocationState": found.allocation,
        "allocationStateTransitionTime": _iso(found.modified_at),
        "errors": None,
        "currentNodeCount": current,
        "targetNodeCount": target,
        "nodeStateCounts": {
            "idleNodeCount": found.idle,
            "runningNodeCount": found.running,
            "preparingNodeCount": found.preparing,
            "unusableNodeCount": found.unusable,
            "leavingNodeCount": found.leaving,
            "preemptedNodeCount": found.preempted,
        },
        "enableNodePublicIp": True,
        "propertyBag": None,
    }


def _nodes(found: _Compute) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    counts = [
        ("running", found.running),
        ("idle", found.idle),
        ("preparing", found.preparing),
        ("unusable", found.unusable),
        ("leaving", found.leaving),
        ("preempted", found.preempted),
    ]
    for state, count in counts:
        for _ in range(count):
            index = len(nodes)
            nodes.append(
                {
                    "nodeId": f"tvmps_{uuid.uuid5(uuid.NAMESPACE_URL, f'{found.name}/{index}').hex}_d",
                    "privateIpAddress": f"10.0.0.{4 + index}",
                    "publicIpAddress": f"20.81.{index // 250}.{10 + index % 240}",
                    "port": 50000 + index,
                    "nodeState": state,
                    "runId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{found.name}/run/{index}"))
                    if state == "running"
                    else None,
                }
            )
    return nodes


def vm_size_json(
    name: str, family: str, cores: int, memory_gb: float, gpus: int, types: tuple[str, ...]
) -> dict[str, Any]:
    """One ``VirtualMachineSize``."""
    return {
        "name": name,
        "family": family,
        "vCPUs": cores,
        "gpus": gpus,
        "osVhdSizeMB": 1047552,
        "maxResourceVolumeMB": int(memory_gb * 2048),
        "memoryGB": memory_gb,
        "lowPriorityCapable": True,
        "premiumIO": True,
        "supportedComputeTypes": list(types),
    }


class _Routes:
    def __init__(self, emulator: Emulator, controller: ComputeController) -> None:
        self.state: EmulatorState = emulator.state  # type: ignore[attr-defined]
        self.compute = controller

    # --- helpers --------------------------------------------------------------------------------------
    def _workspace(self, request: Request, match: re.Match[str]) -> Workspace | Response:
        if not request.query.get("api-version"):
            return error_response(
                request,
                400,
                "The api-version query parameter (?api-version=) is required for all requests.",
                "MissingApiVersionParameter",
            )
        workspace = self.state.find_workspace(match["sub"], match["rg"], match["ws"])
        if workspace is None:
            return error_response(
                request,
                404,
                f"The Resource '{ML_PROVIDER}/workspaces/{match['ws']}' under resource group '{match['rg']}' was not found.",
                "ResourceNotFound",
            )
        return workspace

    def _not_found(self, request: Request, match: re.Match[str]) -> Response:
        return error_response(
            request,
            404,
            f"The Resource '{ML_PROVIDER}/workspaces/{match['ws']}/computes/{match['name']}' under resource group "
            f"'{match['rg']}' was not found.",
            "ResourceNotFound",
        )

    def _page(self, request: Request, items: list[dict[str, Any]], key: str = "value") -> Response:
        size = max(1, self.compute.page_size or self.state.arm_page_size)
        try:
            start = int(request.query.get("$skip", "0") or 0)
        except ValueError:
            return error_response(request, 400, "Invalid $skip.", "InvalidSkipToken")
        page: dict[str, Any] = {key: items[start : start + size]}
        if start + size < len(items):
            query = {k: v for k, v in request.query.items() if k != "$skip"}
            query["$skip"] = str(start + size)
            page["nextLink"] = f"{request.base_url}{request.path}?{urlencode(query)}"
        elif key == "nodes":
            page["nextLink"] = None
        return json_response(200, page)

    def _status_url(self, request: Request, workspace: Workspace, op: _Operation) -> str:
        query = urlencode({"api-version": request.query["api-version"], "service": "new"})
        return (
            f"{request.base_url}/subscriptions/{workspace.subscription_id}/providers/{ML_PROVIDER}/locations/"
            f"{workspace.location}/computeOperationsStatus/{op.op_id}?{query}"
        )

    def _hint(self) -> dict[str, str]:
        return {"retry-after-ms": str(self.compute.retry_after_ms)}

    def _busy(self, request: Request, name: str, op: _Operation, asked: str) -> Response:
        return error_response(
            request,
            409,
            f"Cannot {asked} compute instance {name}: another operation ({op.operation.capitalize()}) is in "
            "progress on it. Try again when that operation has completed.",
            "Conflict",
        )

    # --- routes ---------------------------------------------------------------------------------------
    def list(self, request: Request, match: re.Match[str]) -> Response:
        workspace = self._workspace(request, match)
        if isinstance(workspace, Response):
            return workspace
        with self.compute._lock:
            self.compute._settle()
            computes = list(self.compute._computes.get(workspace.arm_id.lower(), {}).values())
            items = [self.compute.resource(workspace, c, request.host) for c in computes]
        return self._page(request, items)

    def get(self, request: Request, match: re.Match[str]) -> Response:
        workspace = self._workspace(request, match)
        if isinstance(workspace, Response):
            return workspace
        with self.compute._lock:
            self.compute._settle()
            found = self.compute._computes.get(workspace.arm_id.lower(), {}).get(match["name"])
            if found is None:
                return self._not_found(request, match)
            return json_response(200, self.compute.resource(workspace, found, request.host))

    def put(self, request: Request, match: re.Match[str]) -> Response:
        workspace = self._workspace(request, match)
        if isinstance(workspace, Response):
            return workspace
        name = match["name"]
        try:
            body = request.json()
        except ValueError:
            return error_response(request, 400, "The request body is not valid JSON.", "InvalidRequestContent")
        properties = (body or {}).get("properties") or {}
        kind = properties.get("computeType")
        inner = properties.get("properties") or {}
        if kind not in ("ComputeInstance", "AmlCompute"):
            return error_response(request, 400, f"Compute type {kind!r} is not supported here.", "BadRequest")
        pattern = INSTANCE_NAME if kind == "ComputeInstance" else CLUSTER_NAME
        if not pattern.fullmatch(name):
            limit = 24 if kind == "ComputeInstance" else 32
            return error_response(
                request,
                400,
                f"Compute name '{name}' is invalid: it must be 3 to {limit} characters long, start with a letter, "
                "contain only letters, digits and hyphens, and not end with a hyphen.",
                "InvalidComputeName",
            )
        vm_size = str(inner.get("vmSize") or "")
        size = next((s for s in VM_SIZES if s[0].lower() == vm_size.lower()), None)
        if size is None or kind not in size[5]:
            return error_response(
                request,
                400,
                f"The VM size '{vm_size}' is not supported for {kind} in region '{workspace.location}'. "
                "List the supported sizes with the vmSizes API.",
                "InvalidVmSize",
            )
        key = workspace.arm_id.lower()
        with self.compute._lock:
            self.compute._settle()
            computes = self.compute._computes.setdefault(key, {})
            if name in computes:
                existing = computes[name]
                running = self.compute._running_op(key, name)
                if running is not None:
                    return self._busy(request, name, running, "update")
                return error_response(
                    request,
                    409,
                    f"Compute {name} already exists in workspace {workspace.name}; updating a {existing.kind} "
                    "this way is not supported.",
                    "Conflict",
                )
            if kind == "ComputeInstance":
                idle = inner.get("idleTimeBeforeShutdown")
                minutes = _minutes(idle) if idle else None
                user = ((inner.get("personalComputeInstanceSettings") or {}).get("assignedUser") or {}).get("objectId")
                schedules = [
                    {
                        **s,
                        "id": str(uuid.uuid4()),
                        "provisioningStatus": "Completed",
                        "status": s.get("status") or "Enabled",
                    }
                    for s in ((inner.get("schedules") or {}).get("computeStartStop") or [])
                ]
                self.compute.add_instance(
                    name,
                    state="Creating",
                    vm_size=size[0],
                    idle_minutes=minutes,
                    assigned_user=user or DEFAULT_USER_OBJECT_ID,
                    schedules=schedules,
                    workspace=workspace,
                    description=properties.get("description"),
                )
            else:
                scale = inner.get("scaleSettings") or {}
                self.compute.add_cluster(
                    name,
                    vm_size=size[0],
                    min_nodes=int(scale.get("minNodeCount") or 0),
                    max_nodes=int(scale.get("maxNodeCount") or 4),
                    allocation="Resizing",
                    workspace=workspace,
                    priority=str(inner.get("vmPriority") or "Dedicated"),
                )
            found = computes[name]
            found.created_at = found.modified_at = time.time()
            found.description = properties.get("description")
            op = self.compute._accept(key, found, "create")
            if kind == "AmlCompute":
                found.state = ""
            answer = self.compute.resource(workspace, found, request.host)
        answer["properties"]["provisioningState"] = "Creating"
        headers = {"Azure-AsyncOperation": self._status_url(request, workspace, op), **self._hint()}
        return json_response(201, answer, headers)

    def delete(self, request: Request, match: re.Match[str]) -> Response:
        workspace = self._workspace(request, match)
        if isinstance(workspace, Response):
            return workspace
        action = request.query.get("underlyingResourceAction", "")
        if action not in ("Delete", "Detach"):
            return error_response(
                request,
                400,
                "The underlyingResourceAction query parameter is required: Delete or Detach.",
                "BadRequest",
            )
        key = workspace.arm_id.lower()
        with self.compute._lock:
            self.compute._settle()
            found = self.compute._computes.get(key, {}).get(match["name"])
            if found is None:
                return self._not_found(request, match)
            running = self.compute._running_op(key, found.name)
            if running is not None:
                return self._busy(request, found.name, running, "delete")
            op = self.compute._accept(key, found, "delete")
        url = self._status_url(request, workspace, op)
        return Response(202, b"", {"Azure-AsyncOperation": url, "Location": url, **self._hint()})

    def action(self, request: Request, match: re.Match[str]) -> Response:
        workspace = self._workspace(request, match)
        if isinstance(workspace, Response):
            return workspace
        operation = match["action"]
        key = workspace.arm_id.lower()
        with self.compute._lock:
            self.compute._settle()
            found = self.compute._computes.get(key, {}).get(match["name"])
            if found is None:
                return self._not_found(request, match)
            if found.kind != "ComputeInstance":
                return error_response(
                    request,
                    400,
                    f"The {operation} operation is only supported for compute instances; {found.name} is {found.kind}.",
                    "BadRequest",
                )
            running = self.compute._running_op(key, found.name)
            if running is not None:
                return self._busy(request, found.name, running, operation)
            refused = None
            if found.state not in ALLOWED_FROM[operation]:
                code, message = REFUSALS[operation]
                refused = (code, message.format(name=found.name))
            op = self.compute._accept(key, found, operation, refused)
        return Response(202, b"", {"Azure-AsyncOperation": self._status_url(request, workspace, op), **self._hint()})

    def operation_status(self, request: Request, match: re.Match[str]) -> Response:
        if not request.query.get("api-version"):
            return error_response(
                request,
                400,
                "The api-version query parameter (?api-version=) is required for all requests.",
                "MissingApiVersionParameter",
            )
        status = self.compute.status(match["op"])
        if status is None:
            return error_response(request, 404, f"Operation {match['op']} was not found.", "ResourceNotFound")
        headers = self._hint() if status["status"] == "InProgress" else {}
        return json_response(200, status, headers)

    def list_nodes(self, request: Request, match: re.Match[str]) -> Response:
        workspace = self._workspace(request, match)
        if isinstance(workspace, Response):
            return workspace
        with self.compute._lock:
            self.compute._settle()
            found = self.compute._computes.get(workspace.arm_id.lower(), {}).get(match["name"])
            if found is None:
                return self._not_found(request, match)
            if found.kind != "AmlCompute":
                return error_response(
                    request,
                    400,
                    f"Listing nodes is only supported for AmlCompute; {found.name} is {found.kind}.",
                    "BadRequest",
                )
            nodes = _nodes(found)
        return self._page(request, nodes, "nodes")

    def vm_sizes(self, request: Request, match: re.Match[str]) -> Response:
        if not request.query.get("api-version"):
            return error_response(
                request,
                400,
                "The api-version query parameter (?api-version=) is required for all requests.",
                "MissingApiVersionParameter",
            )
        return json_response(200, {"value": [vm_size_json(*size) for size in VM_SIZES]})


def _minutes(duration: str) -> float | None:
    found = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration)
    if not found:
        return None
    hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return hours * 60 + minutes + seconds / 60


def register(emulator: Emulator) -> None:
    """Add the compute routes and ``emulator.compute`` (the controller)."""
    controller = ComputeController(emulator.state)  # type: ignore[attr-defined]
    emulator.compute = controller  # type: ignore[attr-defined]
    routes = _Routes(emulator, controller)
    computes = WS + r"/computes"
    one = computes + r"/(?P<name>[^/]+)"
    route = emulator.route
    route("GET", ARM_HOST, computes, routes.list)
    route("GET", ARM_HOST, one, routes.get)
    route("PUT", ARM_HOST, one, routes.put)
    route("DELETE", ARM_HOST, one, routes.delete)
    route("POST", ARM_HOST, one + r"/(?P<action>start|stop|restart)", routes.action)
    route("POST", ARM_HOST, one + r"/listNodes", routes.list_nodes)
    route("GET", ARM_HOST, one + r"/listNodes", routes.list_nodes)  # the SDK follows nextLink with GET
    route("GET", ARM_HOST, LOCATIONS + r"/computeOperationsStatus/(?P<op>[^/]+)", routes.operation_status)
    route("GET", ARM_HOST, LOCATIONS + r"/vmSizes", routes.vm_sizes)
