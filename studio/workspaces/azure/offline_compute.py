"""CachedComputeBackend: an offline-cached workspace whose kind has compute (Azure ML): ``CachedBackend`` plus the
``ComputeBackend`` calls, each passed to the inner backend.

Compute is never cached: a state shown from a cache could start or stop something that moved meanwhile. Without a
network each call raises the inner backend's one-sentence error (and marks the workspace offline, as every call
does); ``compute_refresh`` is answered without waiting for the inner backend to open. ``CachedBackend`` itself is not
a ``ComputeBackend``: it also wraps kinds without compute.
"""

from __future__ import annotations

from typing import Any

from studio.core.backend import ComputeBackend
from studio.core.compute import ComputeInfo, ComputeOptions, ComputeRefresh
from studio.core.errors import UnsupportedOperation
from studio.core.tasks import CancelToken
from studio.workspaces.azure.offline_cache import CachedBackend


class CachedComputeBackend(CachedBackend):
    """A ``CachedBackend`` that is a ``ComputeBackend`` (see the module docstring)."""

    def _compute_call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """The inner backend's compute call (compute is never cached: without a network, its one-sentence error)."""
        inner = self._ready()
        if not isinstance(inner, ComputeBackend):
            raise UnsupportedOperation(f"{inner.info().name} has no compute instances or jobs.")
        return self._call(name, *args, **kwargs)

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
        """In the service; returns the new run's id."""
        return self._compute_call(  # type: ignore[no-any-return]
            "submit_script",
            experiment,
            source_directory,
            script,
            arguments,
            compute,
            environment=environment,
            display_name=display_name,
            tags=tags,
        )

    def list_compute(self) -> list[ComputeInfo]:
        """From the service."""
        return self._compute_call("list_compute")  # type: ignore[no-any-return]

    def get_compute(self, name: str) -> ComputeInfo:
        """From the service."""
        return self._compute_call("get_compute", name)  # type: ignore[no-any-return]

    def compute_refresh(self) -> ComputeRefresh:
        """The inner backend's pace once it is open, else the Azure kind's (no I/O, no waiting for the opening)."""
        with self._lock:
            inner = self._inner
        if isinstance(inner, ComputeBackend):
            return inner.compute_refresh()
        from studio.workspaces.azure.compute import AzureCompute

        return AzureCompute.refresh()

    def compute_options(self) -> ComputeOptions:
        """From the service."""
        return self._compute_call("compute_options")  # type: ignore[no-any-return]

    def create_compute(
        self,
        name: str,
        max_concurrent_jobs: int = 1,
        idle_shutdown_minutes: float | None = None,
        wait: bool = False,
        *,
        vm_size: str | None = None,
    ) -> ComputeInfo:
        """In the service."""
        return self._compute_call(  # type: ignore[no-any-return]
            "create_compute", name, max_concurrent_jobs, idle_shutdown_minutes, wait, vm_size=vm_size
        )

    def start_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """In the service."""
        return self._compute_call("start_compute", name, wait)  # type: ignore[no-any-return]

    def stop_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """In the service."""
        return self._compute_call("stop_compute", name, wait)  # type: ignore[no-any-return]

    def restart_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        """In the service."""
        return self._compute_call("restart_compute", name, wait)  # type: ignore[no-any-return]

    def delete_compute(self, name: str, wait: bool = True) -> None:
        """In the service."""
        self._compute_call("delete_compute", name, wait)

    def wait_compute(self, name: str, cancel: CancelToken | None = None) -> ComputeInfo | None:
        """Follows the inner backend's operation."""
        return self._compute_call("wait_compute", name, cancel)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"CachedComputeBackend({self.location!r})"
