"""Following compute operations to their end, apart from the window's shared task pool.

A start on Azure takes minutes. ``backend.wait_compute`` follows it on a thread of this object's own small
pool, so the shared :class:`~studio.ui.background.tasks.TaskRunner` stays free for listings and reads. Each
wait has a cancel token: "Stop waiting" and closing the workspace set it, and ``wait_compute`` returns at
its next check (the operation itself goes on in the service).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject

from studio.core.backend import ComputeBackend
from studio.core.compute import ComputeInfo
from studio.core.tasks import CancelToken
from studio.ui.background.tasks import TaskRunner, TaskState

MAX_WAITS = 6
"""Operations followed at once; more wait for a thread (each only polls)."""


@dataclass
class Wait:
    """One operation being followed."""

    name: str
    doing: str
    """ "Starting", "Stopping"…"""
    since: float
    """When the user asked (epoch seconds)."""
    cancel: CancelToken = field(default_factory=CancelToken)


class OperationWaits(QObject):
    """Runs ``wait_compute`` per instance on a pool of its own; at most one wait per instance."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = TaskRunner(self, max_threads=MAX_WAITS)
        self._waits: dict[str, Wait] = {}

    def follow(
        self,
        backend: ComputeBackend,
        name: str,
        doing: str,
        since: float | None,
        done: Callable[[ComputeInfo | None], None],
        failed: Callable[[BaseException], None],
    ) -> Wait:
        """Wait for the operation on ``name`` in the background; ``done`` or ``failed`` on the GUI thread.

        A wait already running for ``name`` is cancelled first. Neither callback runs for a cancelled wait.
        """
        self.stop_waiting(name)
        wait = Wait(name, doing, time.time() if since is None else since)
        self._waits[name] = wait

        def call(_state: TaskState) -> Any:
            return backend.wait_compute(name, wait.cancel)

        def ended(result: Any = None, exc: BaseException | None = None) -> None:
            if self._waits.get(name) is not wait:
                return  # stopped, or replaced by a newer operation
            del self._waits[name]
            if exc is None:
                done(result)
            else:
                failed(exc)

        self._runner.submit(
            call,
            success=lambda result: ended(result),
            failure=lambda exc: ended(None, exc),
            with_state=True,
            owner=self,
        )
        return wait

    def get(self, name: str) -> Wait | None:
        """The wait on ``name``, if one runs."""
        return self._waits.get(name)

    def names(self) -> list[str]:
        """The instances whose operation is being followed."""
        return list(self._waits)

    def stop_waiting(self, name: str) -> bool:
        """Stop following ``name``'s operation (it goes on); True if one was followed."""
        wait = self._waits.pop(name, None)
        if wait is not None:
            wait.cancel.cancel()
        return wait is not None

    def stop_all(self) -> None:
        """Stop following every operation (the workspace changed or closes)."""
        for name in list(self._waits):
            self.stop_waiting(name)

    def active_threads(self) -> int:
        """Threads still running a wait (tests: none after closing)."""
        return int(self._runner.pool.activeThreadCount())

    def shutdown(self, timeout_ms: int = 3000) -> bool:
        """Stop every wait and let its thread end (bounded); True if all ended."""
        self.stop_all()
        return self._runner.shutdown(timeout_ms)
