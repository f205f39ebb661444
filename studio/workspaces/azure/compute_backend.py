"""The ``ComputeBackend`` half of ``AzureBackend``: each call passed to its ``AzureCompute`` (``compute.py``) or to
``submit.py``; kept apart so the workspace backend stays about runs and files."""

from __future__ import annotations

from typing import Any

from studio.core.compute import ComputeInfo, ComputeOptions, ComputeRefresh
from studio.core.tasks import CancelToken
from studio.workspaces.azure.compute import AzureCompute
from studio.workspaces.azure.connection import AzureConnection


class AzureComputeMethods:
    """Compute instances, clusters and script jobs of an Azure ML workspace (mixed into ``AzureBackend``)."""

    connection: AzureConnection
    compute: AzureCompute

    def _submitted(self) -> None:
        """A job was made: the backend forgets what it cached of run listings."""

    def submit_script(
        self,
        experiment: str,
        source_directory: str,
        script: str,
        arguments: list[Any] | None = None,
        compute: str | None = None,
        *,
        environment: dict[str, Any] | None = None,
        display_name: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """A command job (``azure.ai.ml.command`` → ``jobs.create_or_update``); refused before uploading what the
        service would refuse. Returns the job's name (its run id). See ``submit.py``."""
        from studio.workspaces.azure.submit import submit_script

        run_id = submit_script(
            self.connection,
            self.compute,
            experiment,
            source_directory,
            script,
            arguments,
            compute,
            environment=environment,
            display_name=display_name,
            tags=tags,
        )
        self._submitted()
        return run_id

    def list_compute(self) -> list[ComputeInfo]:
        """Instances, then clusters (one ARM request per page)."""
        return self.compute.list()

    def get_compute(self, name: str) -> ComputeInfo:
        """One instance or cluster; NotFoundError if there is none."""
        return self.compute.get(name)

    def compute_refresh(self) -> ComputeRefresh:
        """List every 30 s, every 5 s while something moves; Azure bills running instances."""
        return self.compute.refresh()

    def compute_options(self) -> ComputeOptions:
        """The region's VM sizes and the environments (curated, then registered)."""
        return self.compute.options()

    def create_compute(
        self,
        name: str,
        max_concurrent_jobs: int = 1,
        idle_shutdown_minutes: float | None = None,
        wait: bool = False,
        *,
        vm_size: str | None = None,
    ) -> ComputeInfo:
        """A new compute instance (Azure has no max-concurrent-jobs setting: ignored)."""
        return self.compute.create(name, idle_shutdown_minutes, wait, vm_size=vm_size)

    def start_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """``begin_start``; RunStateError with the refusal's sentence before sending when the state forbids it."""
        return self.compute.start(name, wait)

    def stop_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """``begin_stop``."""
        return self.compute.stop(name, wait)

    def restart_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """``begin_restart``."""
        return self.compute.restart(name, wait)

    def delete_compute(self, name: str, wait: bool = True) -> None:
        """``begin_delete``."""
        self.compute.delete(name, wait)

    def wait_compute(self, name: str, cancel: CancelToken | None = None) -> ComputeInfo | None:
        """Follow the operation this backend started on ``name`` (else its state) until it ends."""
        return self.compute.wait(name, cancel)
