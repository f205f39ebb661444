"""An Azure ML workspace's compute instances and clusters (the ``ComputeBackend`` half of ``AzureBackend``).

Listing: ARM's JSON of ``GET {WS}/computes`` at the api-version azure-ai-ml 1.35.2 sends (``COMPUTE_API``), one
request per page through the backend's ``ArmClient``, read by ``compute_shapes``. Not ``ml_client.compute.list()``:
its ``AmlCompute`` entity drops a cluster's node counts and allocation state (the pane shows them), and the raw JSON
spares the SDK's model parsing; one ``get`` is ``GET {WS}/computes/{name}`` the same way.

Operations: ``ml_client.compute.begin_start/begin_stop/begin_restart/begin_delete(name)`` and
``begin_create_or_update(ComputeInstance(…))`` (they take no keyword arguments: azure-core's poller polls the
operation on its own thread at the service's ``Retry-After``, else its default). Before anything is sent, the
freshest state known (the last list or get if younger than ``fresh_s``, else one GET) must allow the action
(``ComputeInfo.refusal``); a refusal is a ``RunStateError`` with that sentence and nothing is sent. Without ``wait``
an operation returns once the service accepted it, with the transitional state (Starting…); the poller is kept per
name and ``wait`` follows it (cancel stops the waiting, not the operation). Round trips: list = 1 per page; get = 1;
start/stop/restart/delete = 1 (the POST) when the state is fresh, else 2; create = 3 (a GET to refuse an existing
name unless listed recently, the SDK's ``workspaces.get`` for the location, the PUT).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from studio.core.compute import (
    AZURE_ACTIONS,
    CLUSTER,
    INSTANCE,
    ComputeAction,
    ComputeInfo,
    ComputeOptions,
    ComputeRefresh,
    ComputeState,
)
from studio.core.errors import CancelledError, NotFoundError, RunStateError
from studio.core.tasks import CancelToken
from studio.workspaces.azure.compute_errors import operation_error
from studio.workspaces.azure.compute_options import (
    DEFAULT_ENVIRONMENT,
    DEFAULT_VM_SIZE,
    check_instance_name,
    compute_options,
    idle_minutes,
)
from studio.workspaces.azure.compute_shapes import compute_info, is_listed
from studio.workspaces.azure.connection import AzureConnection

__all__ = ["COMPUTE_API", "DEFAULT_ENVIRONMENT", "DEFAULT_VM_SIZE", "AzureCompute", "check_instance_name"]

COMPUTE_API = "2023-08-01-preview"
"""The api-version azure-ai-ml 1.35.2 sends for ``{WS}/computes``."""
FRESH_S = 30.0
"""A state listed or read this recently is trusted for refusing an action (the pane lists every 30 s when idle)."""
POLL_S = 5.0
"""Between GETs while waiting for a state without a known operation."""
WAIT_STEP_S = 0.2
"""Waiting checks the cancel token this often."""
OPTIONS_TTL_S = 600.0
"""VM sizes and environments are asked again after this long."""
TRANSITIONS = {
    "start": ComputeState.STARTING,
    "stop": ComputeState.STOPPING,
    "restart": ComputeState.RESTARTING,
    "delete": ComputeState.DELETING,
    "create": ComputeState.CREATING,
}
SUCCEEDED_AS = {
    "start": (ComputeState.RUNNING, ComputeState.JOB_RUNNING),
    "restart": (ComputeState.RUNNING, ComputeState.JOB_RUNNING),
    "create": (ComputeState.RUNNING, ComputeState.JOB_RUNNING),
    "stop": (ComputeState.STOPPED,),
}
"""A state listed after an operation began that shows it succeeded (azure-core polls Azure's operation only every
30 s, as Azure sends no hint: a list every 5 s notices sooner)."""
_OPERATION_NAMES = {"start": "Start", "stop": "Stop", "restart": "Restart", "delete": "Delete", "create": "Create"}


@dataclass
class _Operation:
    """An operation this backend started: azure-core's poller, and the state the instance had before."""

    action: str
    poller: Any
    before: ComputeState | None
    started: float = field(default_factory=time.monotonic)


class AzureCompute:
    """Compute instances and clusters of one workspace (see the module docstring). Thread-safe."""

    def __init__(self, connection: AzureConnection, *, fresh_s: float = FRESH_S, poll_s: float = POLL_S) -> None:
        self.connection = connection
        self.fresh_s = fresh_s
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._known: dict[str, tuple[ComputeInfo, float]] = {}
        self._listed_at: float | None = None
        self._operations: dict[str, _Operation] = {}
        self._options: tuple[ComputeOptions, float] | None = None

    # -- reading -------------------------------------------------------------------------------------

    def list(self) -> list[ComputeInfo]:
        """Instances, then clusters, by name: one ARM request per page."""
        documents = self.connection.arm.items(
            f"{self.connection.ws_path}/computes", {"api-version": COMPUTE_API}, what="the workspace's compute"
        )
        infos = [self._with_operation(compute_info(d)) for d in documents if is_listed(d)]
        infos.sort(key=lambda i: (i.kind != INSTANCE, i.name.lower()))
        now = time.monotonic()
        with self._lock:
            self._known = {info.name: (info, now) for info in infos}
            self._listed_at = now
        return infos

    def get(self, name: str) -> ComputeInfo:
        """One instance or cluster (one GET); NotFoundError if the workspace has none by that name."""
        document = self.connection.arm.get_json(
            f"{self.connection.ws_path}/computes/{name}", {"api-version": COMPUTE_API}, what=f"compute {name!r}"
        )
        info = self._with_operation(compute_info(document))
        with self._lock:
            self._known[name] = (info, time.monotonic())
        return info

    def known(self, name: str) -> ComputeInfo | None:
        """The last state listed or read for ``name`` if younger than ``fresh_s`` (no I/O)."""
        with self._lock:
            entry = self._known.get(name)
            operation = self._operations.get(name)
        if entry is None or time.monotonic() - entry[1] >= self.fresh_s:
            return None
        if operation is not None and operation.poller.done():
            return None  # an operation ended since: the state shown then is out of date
        return entry[0]

    def _fresh(self, name: str) -> ComputeInfo:
        return self.known(name) or self.get(name)

    def _with_operation(self, info: ComputeInfo) -> ComputeInfo:
        """While an operation this backend started runs, a state still saying what it was before shows the
        transition instead (the service may not have moved yet when the list is read)."""
        with self._lock:
            operation = self._operations.get(info.name)
        if operation is None or operation.poller.done() or info.state is not operation.before:
            return info
        return _transitional(info, operation.action)

    @staticmethod
    def refresh() -> ComputeRefresh:
        """ARM's read budget: list every 30 s, every 5 s while something moves; running instances cost money."""
        return ComputeRefresh(idle_s=30.0, moving_s=5.0, billed=True)

    def options(self) -> ComputeOptions:
        """VM sizes of the workspace's region and environments (curated first), kept ``OPTIONS_TTL_S``."""
        with self._lock:
            if self._options is not None and time.monotonic() - self._options[1] < OPTIONS_TTL_S:
                return self._options[0]
        options = compute_options(self.connection)
        with self._lock:
            self._options = (options, time.monotonic())
        return options

    # -- operations ----------------------------------------------------------------------------------

    def start(self, name: str, wait: bool = False) -> ComputeInfo:
        """``begin_start`` (see the module docstring)."""
        return self._operate("start", name, wait)

    def stop(self, name: str, wait: bool = False) -> ComputeInfo:
        """``begin_stop``."""
        return self._operate("stop", name, wait)

    def restart(self, name: str, wait: bool = False) -> ComputeInfo:
        """``begin_restart``."""
        return self._operate("restart", name, wait)

    def delete(self, name: str, wait: bool = True) -> None:
        """``begin_delete``; with ``wait``, returns once the instance is gone."""
        self._operate("delete", name, wait)

    def _operate(self, action: str, name: str, wait: bool) -> ComputeInfo:
        info = self._fresh(name)
        refusal = info.refusal(ComputeAction(action))
        if refusal:
            raise RunStateError(refusal)
        operations = self.connection.ml_client.compute
        begin: Callable[[str], Any] = {
            "start": operations.begin_start,
            "stop": operations.begin_stop,
            "restart": operations.begin_restart,
            "delete": operations.begin_delete,
        }[action]
        shown = self._begin(action, name, lambda: begin(name), info, info.state)
        if not wait:
            return shown
        after = self.wait(name)
        return after if after is not None else replace(shown, state=ComputeState.DELETING)

    def create(
        self, name: str, idle_shutdown_minutes: float | None = None, wait: bool = False, *, vm_size: str | None = None
    ) -> ComputeInfo:
        """``begin_create_or_update(ComputeInstance(…))`` after checking the name, size and idle shutdown."""
        check_instance_name(name)
        minutes = idle_minutes(idle_shutdown_minutes)
        size = (vm_size or "").strip() or DEFAULT_VM_SIZE
        with self._lock:
            options = self._options[0] if self._options else None
            listed_recently = self._listed_at is not None and time.monotonic() - self._listed_at < self.fresh_s
            listed = name in self._known
        if options is not None and options.vm_sizes and size.lower() not in {s.name.lower() for s in options.vm_sizes}:
            raise ValueError(f"{size} is not a VM size of this workspace's region; pick one of the sizes offered.")
        exists = listed
        if not listed_recently and not exists:
            try:
                self.get(name)
                exists = True
            except NotFoundError:
                exists = False
        if exists:
            raise ValueError(f"A compute named {name} already exists in the workspace; choose another name.")
        from azure.ai.ml.entities import ComputeInstance

        instance = ComputeInstance(name=name, size=size, idle_time_before_shutdown_minutes=minutes)
        operations = self.connection.ml_client.compute
        new = ComputeInfo(
            name=name,
            state=ComputeState.CREATING,
            max_concurrent_jobs=1,
            idle_shutdown_minutes=minutes,
            running_jobs=0,
            queued_jobs=0,
            created_at=time.time(),
            vm_size=size,
            counts_jobs=False,
            actions=frozenset(),
        )
        shown = self._begin("create", name, lambda: operations.begin_create_or_update(instance), new, None)
        if not wait:
            return shown
        after = self.wait(name)
        if after is None:
            raise NotFoundError(f"{name} was created and then disappeared from the workspace.")
        return after

    def _begin(
        self, action: str, name: str, send: Callable[[], Any], info: ComputeInfo, before: ComputeState | None
    ) -> ComputeInfo:
        """Send the request; keep its poller; the instance as shown until the operation ends."""
        try:
            poller = send()
        except Exception as exc:
            self._forget(name)
            raise operation_error(exc, action, name, host=self.connection.cloud.arm_host) from None
        shown = _transitional(info, action)
        with self._lock:
            self._operations[name] = _Operation(action, poller, before)
            self._known[name] = (shown, time.monotonic())
        return shown

    def wait(self, name: str, cancel: CancelToken | None = None) -> ComputeInfo | None:
        """Follow the operation this backend last started on ``name`` (else its state) until it ends."""
        with self._lock:
            operation = self._operations.get(name)
        if operation is None:
            return self._settled(name, cancel)
        poller = operation.poller
        try:
            while not poller.done():
                _check(cancel, name, operation.action)
                poller.wait(WAIT_STEP_S)
                if self._seen_succeeded(name, operation):
                    break
            else:
                poller.result()
        except CancelledError:
            raise
        except Exception as exc:
            self._finished(name, operation)
            raise operation_error(exc, operation.action, name, host=self.connection.cloud.arm_host) from None
        self._finished(name, operation)
        return self._settled(name, cancel)

    def _seen_succeeded(self, name: str, operation: _Operation) -> bool:
        """A list or read since the operation began shows the state it ends in (its poller is left to finish)."""
        wanted = SUCCEEDED_AS.get(operation.action)
        with self._lock:
            seen = self._known.get(name)
        return wanted is not None and seen is not None and seen[1] > operation.started and seen[0].state in wanted

    def _settled(self, name: str, cancel: CancelToken | None) -> ComputeInfo | None:
        """GET every ``poll_s`` until the state is not transitional; None once the compute is gone."""
        while True:
            try:
                info = self.get(name)
            except NotFoundError:
                self._forget(name)
                return None
            if not info.state.is_transitional or info.kind == CLUSTER:
                return info
            deadline = time.monotonic() + self.poll_s
            while (left := deadline - time.monotonic()) > 0:
                _check(cancel, name, "")
                time.sleep(min(WAIT_STEP_S, left))

    def _finished(self, name: str, operation: _Operation) -> None:
        with self._lock:
            if self._operations.get(name) is operation:
                del self._operations[name]
            self._known.pop(name, None)
            self._listed_at = None

    def _forget(self, name: str) -> None:
        with self._lock:
            self._known.pop(name, None)
            self._listed_at = None

    def close(self) -> None:
        """Forget the operations (azure-core's pollers go on on their own threads until the service answers)."""
        with self._lock:
            self._operations.clear()
            self._known.clear()


def _transitional(info: ComputeInfo, action: str) -> ComputeInfo:
    state = TRANSITIONS[action]
    return replace(
        info,
        state=state,
        actions=AZURE_ACTIONS.get(state, frozenset()),
        started_at=info.started_at if action in ("stop", "delete") else None,
        last_operation=_OPERATION_NAMES[action],
        last_operation_status="InProgress",
        last_operation_at=time.time(),
        state_reason="",
    )


def _check(cancel: CancelToken | None, name: str, action: str) -> None:
    if cancel is not None and cancel.cancelled:
        what = f"the {action} goes on in Azure" if action else "its state goes on changing in Azure"
        raise CancelledError(f"Stopped waiting for {name}; {what}.")
