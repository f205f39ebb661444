"""Compute instances and clusters: their states, the record the compute pane shows, and which actions each allows.

The states are Azure ML's (``ComputeInstanceState``); the local kind uses a subset. Which action a state
allows, and the sentence that explains a refusal in the service's terms ("ci1 is Starting; stop it when it
is Running."), live here so the pane, the CLI and every backend say the same thing before a request is sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum


class ComputeState(StrEnum):
    """States of a compute instance, named as Azure ML names them (plus Steady for an idle cluster)."""

    CREATING = "Creating"
    CREATE_FAILED = "CreateFailed"
    STARTING = "Starting"
    SETTING_UP = "SettingUp"
    USER_SETTING_UP = "UserSettingUp"
    RUNNING = "Running"
    JOB_RUNNING = "JobRunning"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    RESTARTING = "Restarting"
    RESIZING = "Resizing"
    DELETING = "Deleting"
    SETUP_FAILED = "SetupFailed"
    USER_SETUP_FAILED = "UserSetupFailed"
    UNUSABLE = "Unusable"
    UNKNOWN = "Unknown"
    STEADY = "Steady"
    """A cluster whose node count is not changing (Azure's allocation state)."""

    @property
    def is_up(self) -> bool:
        """True while a daemon process is (or should be) running (the local kind's meaning)."""
        return self in _UP

    @property
    def is_transitional(self) -> bool:
        """True while the state is on its way to another (Starting, Stopping, Creating, …)."""
        return self in TRANSITIONAL

    @property
    def is_failed(self) -> bool:
        """True for the states that need the user (CreateFailed, SetupFailed, UserSetupFailed, Unusable)."""
        return self in FAILED

    @property
    def label(self) -> str:
        """The state in words, as the pane and the CLI show it ("Starting…", "Create failed", "Running jobs")."""
        return _LABELS.get(self, self.value)


_UP = frozenset(
    {
        ComputeState.STARTING,
        ComputeState.RUNNING,
        ComputeState.JOB_RUNNING,
        ComputeState.STOPPING,
        ComputeState.RESTARTING,
    }
)
TRANSITIONAL = frozenset(
    {
        ComputeState.CREATING,
        ComputeState.STARTING,
        ComputeState.SETTING_UP,
        ComputeState.USER_SETTING_UP,
        ComputeState.STOPPING,
        ComputeState.RESTARTING,
        ComputeState.RESIZING,
        ComputeState.DELETING,
    }
)
"""States on their way to another: the pane polls faster and shows the time spent in them."""
FAILED = frozenset(
    {ComputeState.CREATE_FAILED, ComputeState.SETUP_FAILED, ComputeState.USER_SETUP_FAILED, ComputeState.UNUSABLE}
)
_LABELS = {
    ComputeState.CREATING: "Creating…",
    ComputeState.CREATE_FAILED: "Create failed",
    ComputeState.STARTING: "Starting…",
    ComputeState.SETTING_UP: "Setting up…",
    ComputeState.USER_SETTING_UP: "Running setup script…",
    ComputeState.JOB_RUNNING: "Running jobs",
    ComputeState.STOPPING: "Stopping…",
    ComputeState.RESTARTING: "Restarting…",
    ComputeState.RESIZING: "Resizing…",
    ComputeState.DELETING: "Deleting…",
    ComputeState.SETUP_FAILED: "Setup failed",
    ComputeState.USER_SETUP_FAILED: "Setup script failed",
}
SETTLES_AS: dict[ComputeState, ComputeState] = {
    ComputeState.CREATING: ComputeState.RUNNING,
    ComputeState.STARTING: ComputeState.RUNNING,
    ComputeState.SETTING_UP: ComputeState.RUNNING,
    ComputeState.USER_SETTING_UP: ComputeState.RUNNING,
    ComputeState.RESTARTING: ComputeState.RUNNING,
    ComputeState.STOPPING: ComputeState.STOPPED,
    ComputeState.RESIZING: ComputeState.STEADY,
}
"""The state a transitional one normally ends in (Deleting ends with the instance gone)."""


class ComputeAction(StrEnum):
    """What the user can ask of a compute instance."""

    START = "start"
    STOP = "stop"
    RESTART = "restart"
    DELETE = "delete"


INSTANCE = "instance"
"""``ComputeInfo.kind`` of a compute instance (one machine the studio starts and stops)."""
CLUSTER = "cluster"
"""``ComputeInfo.kind`` of an Azure ML compute cluster (nodes scale by themselves; read-only here)."""

#: The local kind's rules (its daemon can be started again after it died: Unusable allows start).
LOCAL_ACTIONS: dict[ComputeState, frozenset[ComputeAction]] = {
    ComputeState.STOPPED: frozenset({ComputeAction.START, ComputeAction.DELETE}),
    ComputeState.UNUSABLE: frozenset({ComputeAction.START, ComputeAction.RESTART, ComputeAction.DELETE}),
    ComputeState.STARTING: frozenset({ComputeAction.STOP, ComputeAction.DELETE}),
    ComputeState.RUNNING: frozenset({ComputeAction.STOP, ComputeAction.RESTART, ComputeAction.DELETE}),
    ComputeState.JOB_RUNNING: frozenset({ComputeAction.STOP, ComputeAction.RESTART, ComputeAction.DELETE}),
    ComputeState.STOPPING: frozenset({ComputeAction.DELETE}),
    ComputeState.RESTARTING: frozenset({ComputeAction.DELETE}),
    ComputeState.CREATING: frozenset({ComputeAction.DELETE}),
}
_ANY_BUT_BUSY = frozenset({ComputeAction.DELETE})
#: Azure ML's rules for compute instances (start only from Stopped, stop and restart only when running).
AZURE_ACTIONS: dict[ComputeState, frozenset[ComputeAction]] = {
    ComputeState.STOPPED: frozenset({ComputeAction.START, ComputeAction.DELETE}),
    ComputeState.RUNNING: frozenset({ComputeAction.STOP, ComputeAction.RESTART, ComputeAction.DELETE}),
    ComputeState.JOB_RUNNING: frozenset({ComputeAction.STOP, ComputeAction.RESTART, ComputeAction.DELETE}),
    ComputeState.CREATE_FAILED: _ANY_BUT_BUSY,
    ComputeState.SETUP_FAILED: frozenset({ComputeAction.RESTART, ComputeAction.DELETE}),
    ComputeState.USER_SETUP_FAILED: frozenset({ComputeAction.RESTART, ComputeAction.DELETE}),
    ComputeState.UNUSABLE: _ANY_BUT_BUSY,
    ComputeState.UNKNOWN: _ANY_BUT_BUSY,
    ComputeState.STARTING: _ANY_BUT_BUSY,
    ComputeState.STOPPING: _ANY_BUT_BUSY,
    ComputeState.RESTARTING: _ANY_BUT_BUSY,
    ComputeState.SETTING_UP: _ANY_BUT_BUSY,
    ComputeState.USER_SETTING_UP: _ANY_BUT_BUSY,
}


@dataclass(frozen=True)
class ClusterNodes:
    """A compute cluster's node counts (Azure's ``nodeStateCounts`` and scale settings)."""

    min_nodes: int
    max_nodes: int
    current: int
    target: int = 0
    idle: int = 0
    running: int = 0
    preparing: int = 0
    unusable: int = 0
    leaving: int = 0
    preempted: int = 0
    scale_down_after_s: float | None = None

    @property
    def text(self) -> str:
        """ "2 of 0-4 (1 idle, 1 running)"."""
        parts = [
            f"{n} {word}"
            for n, word in (
                (self.idle, "idle"),
                (self.running, "running"),
                (self.preparing, "preparing"),
                (self.unusable, "unusable"),
                (self.leaving, "leaving"),
                (self.preempted, "preempted"),
            )
            if n
        ]
        detail = f" ({', '.join(parts)})" if parts else ""
        return f"{self.current} of {self.min_nodes}-{self.max_nodes}{detail}"


@dataclass(frozen=True)
class ComputeInfo:
    """One compute instance (or Azure ML cluster) with its state, job counts and what the service says of it."""

    name: str
    state: ComputeState
    max_concurrent_jobs: int
    idle_shutdown_minutes: float | None
    running_jobs: int
    queued_jobs: int
    state_reason: str = ""
    created_at: float = 0.0
    started_at: float | None = None
    """When the instance last went up (epoch seconds), or None; Azure: the last start operation's time."""
    kind: str = INSTANCE
    """``INSTANCE`` or ``CLUSTER``."""
    vm_size: str = ""
    runtime: str = ""
    """What runs the jobs' code, in words, where the kind says (local: "Python 3.12.1 at /usr/bin/python3", or
    why the interpreter named cannot run jobs)."""
    assigned_user: str = ""
    schedules: tuple[str, ...] = ()
    """The instance's start / stop schedules in words ("Stop at 19:00 on Mon-Fri")."""
    last_operation: str = ""
    """The last operation the service ran ("Start", "Stop", "Create"…) or ""."""
    last_operation_status: str = ""
    """Its outcome as the service says it ("Succeeded", "Failed", "InProgress"…) or ""."""
    last_operation_at: float | None = None
    last_error: str = ""
    """The last operation's or the instance's error, as the service wrote it."""
    nodes: ClusterNodes | None = None
    """A cluster's node counts (None for instances)."""
    deletable: bool = True
    """False for an instance the kind keeps for ever (the local workspace's ``local``)."""
    counts_jobs: bool = True
    """False where the service has no job counts per instance (Azure): the pane shows "—"."""
    actions: frozenset[ComputeAction] | None = field(default=None, compare=True)
    """What the state allows; None means the local kind's rules (``LOCAL_ACTIONS``)."""

    @property
    def allowed(self) -> frozenset[ComputeAction]:
        """The actions the instance's state allows now (none for a cluster: they are read-only here)."""
        if self.kind == CLUSTER:
            return frozenset()
        allowed = self.actions if self.actions is not None else LOCAL_ACTIONS.get(self.state, frozenset())
        return allowed if self.deletable else allowed - {ComputeAction.DELETE}

    @property
    def can_start(self) -> bool:
        """Start is allowed."""
        return ComputeAction.START in self.allowed

    @property
    def can_stop(self) -> bool:
        """Stop is allowed."""
        return ComputeAction.STOP in self.allowed

    @property
    def can_restart(self) -> bool:
        """Restart is allowed."""
        return ComputeAction.RESTART in self.allowed

    @property
    def can_delete(self) -> bool:
        """Delete is allowed."""
        return ComputeAction.DELETE in self.allowed

    @property
    def is_running(self) -> bool:
        """An instance that is Running or running jobs: up (and, on Azure, billed)."""
        return self.kind != CLUSTER and self.state in (ComputeState.RUNNING, ComputeState.JOB_RUNNING)

    def up_seconds(self, now: float | None = None) -> float | None:
        """Seconds a running instance has been up (from ``started_at``), or None."""
        if not self.is_running or not self.started_at:
            return None
        return max(0.0, (time.time() if now is None else now) - self.started_at)

    def refusal(self, action: ComputeAction) -> str:
        """Why ``action`` is not allowed now, in the service's terms, or "" when it is."""
        if action in self.allowed:
            return ""
        return refusal_text(self, action)


def up_text(seconds: float) -> str:
    """How long in words: "2 h 14 min", "14 min", "under a minute", "3 d 2 h"."""
    minutes = max(0, int(seconds)) // 60
    days, rem = divmod(minutes, 24 * 60)
    hours, mins = divmod(rem, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min" if mins else "under a minute"


_VERB = {
    ComputeAction.START: "start",
    ComputeAction.STOP: "stop",
    ComputeAction.RESTART: "restart",
    ComputeAction.DELETE: "delete",
}


def refusal_text(info: ComputeInfo, action: ComputeAction) -> str:
    """The sentence that explains why ``action`` cannot be done to ``info`` in its state."""
    name, state, verb = info.name, info.state, _VERB[action]
    if info.kind == CLUSTER:
        return (
            f"{name} is a compute cluster: Azure ML adds and removes its nodes as jobs need them, "
            "so the studio does not start, stop or delete it."
        )
    if state == ComputeState.DELETING:
        return f"{name} is being deleted."
    if action == ComputeAction.DELETE and not info.deletable:
        return f"{name} is the workspace's own compute instance; it cannot be deleted."
    if action == ComputeAction.START and state in (ComputeState.RUNNING, ComputeState.JOB_RUNNING):
        return f"{name} is already running."
    if action == ComputeAction.STOP and state == ComputeState.STOPPED:
        return f"{name} is already stopped."
    if action in (ComputeAction.STOP, ComputeAction.RESTART) and state == ComputeState.STOPPED:
        return f"{name} is Stopped; start it instead."
    if state in SETTLES_AS:
        wanted = ComputeState.STOPPED if action == ComputeAction.START else ComputeState.RUNNING
        return f"{name} is {state.value}; {verb} it when it is {wanted.value}."
    if state.is_failed:
        reason = f" ({info.last_error or info.state_reason})" if (info.last_error or info.state_reason) else ""
        return f"{name} is {state.value}{reason}; it cannot be {_PAST[action]}. Delete it and create it again."
    return f"{name} cannot be {_PAST[action]} while it is {state.value}."


_PAST = {
    ComputeAction.START: "started",
    ComputeAction.STOP: "stopped",
    ComputeAction.RESTART: "restarted",
    ComputeAction.DELETE: "deleted",
}


@dataclass(frozen=True)
class VmSize:
    """A virtual machine size a new compute instance can have (Azure's ``vmSizes``)."""

    name: str
    cores: int = 0
    memory_gb: float = 0.0
    gpus: int = 0
    family: str = ""

    @property
    def text(self) -> str:
        """ "Standard_DS3_v2 — 4 cores, 14 GB" (with GPUs when it has them)."""
        gpus = f", {self.gpus} GPU" + ("s" if self.gpus != 1 else "") if self.gpus else ""
        return f"{self.name} — {self.cores} cores, {self.memory_gb:g} GB{gpus}"


@dataclass(frozen=True)
class ComputeRefresh:
    """How often the compute pane asks for the list: the kind knows what its service tolerates."""

    idle_s: float
    """Between lists while nothing changes state."""
    moving_s: float
    """Between lists while an instance is Starting, Stopping, Creating…"""
    billed: bool = False
    """Running instances cost money (Azure): closing the window asks about those started from the studio."""


@dataclass(frozen=True)
class EnvironmentChoice:
    """An environment a script job can run in (Azure: ``azureml:name@latest`` or ``azureml:name:version``)."""

    reference: str
    """What ``submit_script``'s ``environment={"name": reference}`` takes."""
    description: str = ""
    curated: bool = False


@dataclass(frozen=True)
class ComputeOptions:
    """What a kind offers when creating instances and submitting scripts (``ComputeBackend.compute_options``)."""

    vm_sizes: tuple[VmSize, ...] = ()
    """Sizes a new instance can have; empty where the kind has no sizes (local)."""
    default_vm_size: str = ""
    max_concurrent_jobs: bool = True
    """Instances take a max-concurrent-jobs setting (local) or not (Azure)."""
    clusters: bool = False
    """Jobs can go to compute clusters too (Azure)."""
    environments: tuple[EnvironmentChoice, ...] = ()
    """Named environments to pick from (Azure's curated and registered ones); empty for the local kind."""
    default_environment: str = ""
    packages_environment: bool = True
    """The environment is a list of Python packages (local) rather than a named environment or conda file."""
    conda_file_environment: bool = False
    """A conda file can describe the environment (Azure)."""
    snapshot_max_bytes: int | None = None
    snapshot_max_files: int | None = None
    min_name_length: int = 2
    """A new instance's name has 2 (local) or 3 (Azure) to 24 characters."""
    idle_minutes_range: tuple[int, int] = (1, 10_080)
    """The idle shutdown a new instance may have, in minutes (Azure: 15 minutes to 3 days)."""
    default_idle_minutes: int | None = None
    """The New dialog's idle shutdown: None leaves it off (local); Azure starts at 60 (an instance costs money)."""
