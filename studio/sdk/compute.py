"""Compute instances, after ``azureml.core.compute``: ComputeTarget and ComputeInstance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from studio.core.compute import ComputeInfo
from studio.core.errors import NotFoundError

if TYPE_CHECKING:
    from studio.sdk.workspace import Workspace


@dataclass(frozen=True)
class ProvisioningConfiguration:
    """How to create an instance."""

    max_concurrent_jobs: int = 1
    idle_shutdown_minutes: float | None = None


@dataclass(frozen=True)
class ComputeStatus:
    """``instance.get_status()``: ``.state`` and the job counts."""

    state: str
    running_jobs: int
    queued_jobs: int
    reason: str = ""


class ComputeInstance:
    """``ComputeInstance(workspace=ws, name=name)`` opens an existing instance."""

    def __init__(self, workspace: Workspace, name: str, **_ignored: Any) -> None:
        self.workspace = workspace
        self.name = name
        workspace.compute.get_compute(name)  # NotFoundError if there is none

    @staticmethod
    def provisioning_configuration(
        max_concurrent_jobs: int = 1, idle_shutdown_minutes: float | None = None, **_ignored: Any
    ) -> ProvisioningConfiguration:
        """Settings for ComputeTarget.create."""
        return ProvisioningConfiguration(max_concurrent_jobs, idle_shutdown_minutes)

    def _info(self) -> ComputeInfo:
        return self.workspace.compute.get_compute(self.name)

    def get_status(self) -> ComputeStatus:
        """The current state (Running, Stopped, ...) and job counts."""
        info = self._info()
        return ComputeStatus(info.state.value, info.running_jobs, info.queued_jobs, info.state_reason)

    def start(self, wait_for_completion: bool = True, show_output: bool = False) -> None:
        """Start the instance (nothing happens if it is running)."""
        self.workspace.compute.start_compute(self.name, wait=wait_for_completion)

    def stop(self, wait_for_completion: bool = True, show_output: bool = False) -> None:
        """Stop the instance: running jobs are canceled, queued jobs wait."""
        self.workspace.compute.stop_compute(self.name, wait=wait_for_completion)

    def restart(self, wait_for_completion: bool = True, show_output: bool = False) -> None:
        """Restart the instance."""
        self.workspace.compute.restart_compute(self.name, wait=wait_for_completion)

    def delete(self) -> None:
        """Delete the instance (stopping it first)."""
        self.workspace.compute.delete_compute(self.name)

    def wait_for_completion(self, show_output: bool = False, **_ignored: Any) -> None:
        """Wait until a starting instance is running."""
        self.workspace.compute.start_compute(self.name, wait=True)

    def __repr__(self) -> str:
        return f"ComputeInstance(name={self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ComputeInstance) and (other.workspace, other.name) == (self.workspace, self.name)

    def __hash__(self) -> int:
        return hash((self.workspace, self.name))


class ComputeTarget:
    """``ComputeTarget.create(ws, name, config)`` creates and starts an instance."""

    @staticmethod
    def create(
        workspace: Workspace, name: str, provisioning_configuration: ProvisioningConfiguration
    ) -> ComputeInstance:
        """Create the instance and start it (waiting until it runs)."""
        cfg = provisioning_configuration
        workspace.compute.create_compute(name, cfg.max_concurrent_jobs, cfg.idle_shutdown_minutes)
        workspace.compute.start_compute(name, wait=True)  # create starts it; this waits until it runs
        return ComputeInstance(workspace, name)

    def __new__(cls, workspace: Workspace, name: str) -> ComputeInstance:  # type: ignore[misc]
        """``ComputeTarget(workspace=ws, name=name)`` opens an existing instance."""
        return ComputeInstance(workspace, name)


__all__ = ["ComputeInstance", "ComputeStatus", "ComputeTarget", "NotFoundError", "ProvisioningConfiguration"]
