"""Polls the workspace for changed runs once a second and hands them to the panes."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from studio.core.backend import WorkspaceBackend
from studio.core.types import RunInfo
from studio.ui.background.tasks import TaskRunner

POLL_MS = 1000


class LiveRefresh(QObject):
    """One poll in flight at most; a new workspace starts from its current change token."""

    sig_runs_changed = Signal(list)
    """Runs (RunInfo) that changed since the last poll."""

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._backend: WorkspaceBackend | None = None
        self._since: int | None = None
        self._busy = False
        self._generation = 0
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    def set_backend(self, backend: WorkspaceBackend | None) -> None:
        """Follow another workspace (None stops polling)."""
        self._backend = backend
        self._generation += 1
        self._since = None
        self._busy = False
        if backend is None:
            self.timer.stop()
            return
        gen = self._generation
        self._runner.submit(backend.change_token, success=lambda token: self._start(gen, token), owner=self)

    def _start(self, gen: int, token: int) -> None:
        if gen == self._generation:
            self._since = token
            self.timer.start()

    def poll(self) -> None:
        """Ask for changed runs now (unless a poll is running)."""
        backend, since = self._backend, self._since
        if backend is None or since is None or self._busy:
            return
        self._busy = True
        gen = self._generation
        self._runner.submit(
            lambda: backend.list_changed_runs(since),
            success=lambda result: self._done(gen, result),
            failure=lambda _exc: self._failed(gen),
            owner=self,
        )

    def _done(self, gen: int, result: tuple[list[RunInfo], int]) -> None:
        if gen != self._generation:
            return
        self._busy = False
        runs, self._since = result
        if runs:
            self.sig_runs_changed.emit(runs)

    def _failed(self, gen: int) -> None:
        if gen == self._generation:
            self._busy = False  # try again on the next tick; errors here are transient (a busy disk)

    def stop(self) -> None:
        """Stop polling."""
        self.timer.stop()
        self._generation += 1
