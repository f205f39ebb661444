"""Polls the workspace for changed runs once a second and hands them to the panes.

Each poll asks ``change_token`` first (a remote kind polls its server there, at its own pace: see the
protocol's docstring), then ``list_changed_runs``. A failing poll is tried again at the next tick;
``FAILURES_TO_REPORT`` failures in a row are reported once (``sig_failed``), not every second.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from studio.core.backend import WorkspaceBackend
from studio.core.types import RunInfo
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner

POLL_MS = 1000
FAILURES_TO_REPORT = 3
"""Polls failing in a row before the failure is said (one may be a busy disk or a server's hiccup)."""


def changed_runs(backend: WorkspaceBackend, since: int) -> tuple[list[RunInfo], int]:
    """One poll (worker thread): let the backend look for changes, then list those after ``since``."""
    backend.change_token()
    return backend.list_changed_runs(since)


class LiveRefresh(QObject):
    """One poll in flight at most; a new workspace starts from its current change token."""

    sig_runs_changed = Signal(list)
    """Runs (RunInfo) that changed since the last poll."""
    sig_failed = Signal(object)
    """Polling has failed FAILURES_TO_REPORT times in a row (the last exception); said once until a poll works."""

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._backend: WorkspaceBackend | None = None
        self._since: int | None = None
        self._failures = 0
        # No failure handler for the token: a workspace that cannot say it is told (notifier).
        self._token = TaskSlot(runner, success=self._start, owner=self)
        self._polling = TaskSlot(runner, success=self._done, failure=self._failed, owner=self)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    def set_backend(self, backend: WorkspaceBackend | None) -> None:
        """Follow another workspace (None stops polling)."""
        self._backend = backend
        self._since, self._failures = None, 0
        self._token.reset()
        self._polling.reset()
        if backend is None:
            self.timer.stop()
            return
        self._token.request(backend.change_token)

    def _start(self, token: int) -> None:
        self._since = token
        self.timer.start()

    def poll(self) -> None:
        """Ask for changed runs now (unless a poll is running: the next tick asks again)."""
        backend, since = self._backend, self._since
        if backend is None or since is None or self._polling.busy:
            return
        self._polling.request(changed_runs, backend, since)

    def _done(self, result: tuple[list[RunInfo], int]) -> None:
        runs, self._since = result
        self._failures = 0
        if runs:
            self.sig_runs_changed.emit(runs)

    def _failed(self, exc: BaseException) -> None:
        """Most errors here are transient (a busy disk): the next tick tries again. A streak is said once."""
        self._failures += 1
        if self._failures == FAILURES_TO_REPORT:
            self.sig_failed.emit(exc)

    def stop(self) -> None:
        """Stop polling."""
        self.timer.stop()
        self._token.reset()
        self._polling.reset()
