"""What the emulated Azure holds: tenants, subscriptions, workspaces, and the tests' overrides of job states."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

ML_PROVIDER = "Microsoft.MachineLearningServices"


@dataclass
class Tenant:
    """An Entra ID tenant the signed-in account belongs to."""

    tenant_id: str
    display_name: str
    default_domain: str


@dataclass
class Subscription:
    """A subscription of a tenant."""

    subscription_id: str
    display_name: str
    tenant_id: str
    state: str = "Enabled"


@dataclass
class Workspace:
    """An Azure ML workspace (ARM resource)."""

    subscription_id: str
    resource_group: str
    name: str
    location: str = "eastus"
    kind: str = "Default"
    display_name: str = ""
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    workspace_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def arm_id(self) -> str:
        """``/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}``."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{ML_PROVIDER}/workspaces/{self.name}"
        )


class EmulatorState:
    """The directory (tenants, subscriptions, workspaces) and per-job overrides; thread-safe where mutated."""

    def __init__(self, tenant_id: str, subscription_id: str, resource_group: str, workspace_name: str) -> None:
        self.lock = threading.RLock()
        self.tenants: list[Tenant] = [Tenant(tenant_id, "Studio Test", "studiotest.onmicrosoft.com")]
        self.subscriptions: list[Subscription] = [Subscription(subscription_id, "Studio test subscription", tenant_id)]
        self.workspaces: list[Workspace] = [
            Workspace(subscription_id, resource_group, workspace_name, display_name="Studio test workspace")
        ]
        self.arm_page_size = 2
        """Items per page of ARM lists (subscriptions, tenants, workspaces): small, so every test pages."""
        self.jobs_page_size = 20
        """Jobs per page of ARM's job list (``GET {WS}/jobs``)."""
        self.cancel_after_s = 1.0
        """A canceled job reads CancelRequested this long, then Canceled."""
        self._job_status: dict[str, str] = {}
        self._cancel_requested: dict[str, float] = {}
        self._job_properties: dict[str, dict[str, object]] = {}
        self._job_errors: dict[str, str] = {}
        self._timers: list[threading.Timer] = []
        self._saved: tuple[list[Tenant], list[Subscription], list[Workspace], int, float, int] = (
            [],
            [],
            [],
            2,
            1.0,
            20,
        )

    def snapshot(self) -> None:
        """Remember the directory and settings as they are now (``restore`` goes back to it)."""
        with self.lock:
            self._saved = (
                list(self.tenants),
                list(self.subscriptions),
                list(self.workspaces),
                self.arm_page_size,
                self.cancel_after_s,
                self.jobs_page_size,
            )

    def restore(self) -> None:
        """The directory and settings of the last ``snapshot``; no job overrides."""
        with self.lock:
            tenants, subscriptions, workspaces, self.arm_page_size, self.cancel_after_s, self.jobs_page_size = (
                self._saved
            )
            self.tenants, self.subscriptions, self.workspaces = list(tenants), list(subscriptions), list(workspaces)
        self.reset_jobs()

    @property
    def main_workspace(self) -> Workspace:
        """The workspace the fixture's ``workspace_name`` names (always the first)."""
        return self.workspaces[0]

    def find_workspace(self, subscription_id: str, resource_group: str, name: str) -> Workspace | None:
        """The workspace with that ARM path (resource group compared case-insensitively, as ARM does)."""
        with self.lock:
            for workspace in self.workspaces:
                if (
                    workspace.subscription_id == subscription_id
                    and workspace.resource_group.lower() == resource_group.lower()
                    and workspace.name.lower() == name.lower()
                ):
                    return workspace
        return None

    # --- job status overrides -------------------------------------------------------------------------
    def set_job_status(self, job: str, azure_status: str) -> None:
        """The job reads this Azure status (whatever MLflow says) until reset."""
        with self.lock:
            self._job_status[job] = azure_status
            self._cancel_requested.pop(job, None)

    def request_cancel(self, job: str) -> None:
        """The job reads CancelRequested, then Canceled after ``cancel_after_s``."""
        with self.lock:
            self._job_status.pop(job, None)
            self._cancel_requested[job] = time.monotonic()

    def job_status(self, job: str) -> str | None:
        """The overridden status, or None when MLflow's status applies."""
        with self.lock:
            if job in self._job_status:
                return self._job_status[job]
            requested = self._cancel_requested.get(job)
        if requested is None:
            return None
        return "CancelRequested" if time.monotonic() - requested < self.cancel_after_s else "Canceled"

    def set_job_properties(self, job: str, properties: dict[str, object]) -> None:
        """Merge these fields into the job's ARM ``properties`` (e.g. ``{"jobType": "Sweep", ...}``)."""
        with self.lock:
            self._job_properties.setdefault(job, {}).update(properties)

    def job_properties(self, job: str) -> dict[str, object]:
        """The fields a test merged into the job's ARM ``properties``."""
        with self.lock:
            return dict(self._job_properties.get(job, {}))

    def set_job_error(self, job: str, message: str) -> None:
        """The failed job's error message (run history's ``details``)."""
        with self.lock:
            self._job_errors[job] = message

    def job_error(self, job: str) -> str | None:
        """The error message set for the job, None for the default one."""
        with self.lock:
            return self._job_errors.get(job)

    def later(self, delay_s: float, action: object) -> None:
        """Run ``action()`` after ``delay_s`` on a timer thread (cancelled by ``reset_jobs``)."""
        timer = threading.Timer(delay_s, action)  # type: ignore[arg-type]
        timer.daemon = True
        with self.lock:
            self._timers.append(timer)
        timer.start()

    def reset_jobs(self) -> None:
        """Forget every status override, cancel, property override and error; stop pending timers."""
        with self.lock:
            self._job_status.clear()
            self._cancel_requested.clear()
            self._job_properties.clear()
            self._job_errors.clear()
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
