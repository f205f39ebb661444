"""Polls the workspace for changed runs once a second and hands them to the panes."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from studio.core.backend import WorkspaceBackend
from studio.core.types import RunInfo
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner

POLL_MS = 1000


class LiveRefresh(QObject):
    """One poll in flight at most; a new workspace starts from its current change token."""

    sig_runs_changed = Signal(list)
    """Runs (RunInfo) that changed since the last poll."""

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._backend: WorkspaceBackend | None = None
        self._since: int | None = None
        # No failure handler for the token: a workspace that cannot say it is told (notifier).
        self._token = TaskSlot(runner, success=self._start, owner=self)
        self._polling = TaskSlot(runner, success=self._done, failure=self._failed, owner=self)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    def set_backend(self, backend: WorkspaceBackend | None) -> None:
        """Follow another workspace (None stops polling)."""
        self._backend = backend
        self._since = None
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
        self._polling.request(backend.list_changed_runs, since)

    def _done(self, result: tuple[list[RunInfo], int]) -> None:
        runs, self._since = result
        if runs:
            self.sig_runs_changed.emit(runs)

    def _failed(self, _exc: BaseException) -> None:
        """Errors here are transient (a busy disk): the next tick tries again."""

    def stop(self) -> None:
        """Stop polling."""
        self.timer.stop()
        self._token.reset()
        self._polling.reset()
