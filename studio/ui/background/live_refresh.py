"""Polls the workspace for changed runs once a second and hands them to the panes.

Each poll asks ``change_token`` first (a remote kind polls its server there, at its own pace: see the
protocol's docstring), then ``list_changed_runs``. A failing poll is tried again at the next tick;
``FAILURES_TO_REPORT`` failures in a row are reported once (``sig_failed``), not every second.

Each poll also reads the workspace's state (``WorkspaceState``: ``info().note`` and ``offline``, and the versions
a kind with an offline cache keeps), cheap for every kind, failing or not; ``sig_state_changed`` says when it
differs, so the window can show "Cached 12:03 — refreshing…" / "Offline: …" and list again what it painted from a
cache once that was refreshed.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from studio.core.backend import WorkspaceBackend
from studio.core.types import RunInfo
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner

POLL_MS = 1000
FAILURES_TO_REPORT = 3
"""Polls failing in a row before the failure is said (one may be a busy disk or a server's hiccup)."""


@dataclass(frozen=True)
class WorkspaceState:
    """What the window says about a workspace beside its content; all empty for a kind without a cache."""

    note: str = ""
    """``WorkspaceInfo.note``: "Cached 12:03 — refreshing…", "Offline: showing the cache of 12:03. <why>", or ""."""
    offline: bool = False
    """``WorkspaceInfo.offline``: the service cannot be reached and what shows comes from the offline cache."""
    experiments_version: int = 0
    """A cached kind's ``experiments_version``: it moves when the refreshed experiment list differs from the
    one painted from the cache."""
    listings_version: int = 0
    """A cached kind's ``listings_version``: it moves when a listing painted from the cache was refreshed."""
    refresh_error: BaseException | None = None
    """A cached kind's ``last_refresh_error``: why refreshing what it painted from the cache failed, if it did."""


def workspace_state(backend: WorkspaceBackend) -> WorkspaceState:
    """The workspace's state (worker thread; ``info()`` is cheap for every kind). The versions and the error are
    read by name, so the window needs no kind's class."""
    info = backend.info()
    error = getattr(backend, "last_refresh_error", None)
    return WorkspaceState(
        note=info.note,
        offline=info.offline,
        experiments_version=int(getattr(backend, "experiments_version", 0)),
        listings_version=int(getattr(backend, "listings_version", 0)),
        refresh_error=error if isinstance(error, BaseException) else None,
    )


@dataclass(frozen=True)
class Poll:
    """What one poll found: the changed runs and the next token, or why that failed; and the workspace's state
    (None if it could not be read)."""

    runs: list[RunInfo]
    since: int
    error: BaseException | None
    state: WorkspaceState | None


def changed_runs(backend: WorkspaceBackend, since: int) -> tuple[list[RunInfo], int]:
    """One poll (worker thread): let the backend look for changes, then list those after ``since``."""
    backend.change_token()
    return backend.list_changed_runs(since)


def poll_workspace(backend: WorkspaceBackend, since: int) -> Poll:
    """One poll (worker thread): ``changed_runs``, then the state, read even when the first failed (offline)."""
    try:
        runs, new_since = changed_runs(backend, since)
        error: BaseException | None = None
    except Exception as exc:  # said by sig_failed, after a streak
        runs, new_since, error = [], since, exc
    return Poll(runs, new_since, error, _state_or_none(backend))


def _state_or_none(backend: WorkspaceBackend) -> WorkspaceState | None:
    try:
        return workspace_state(backend)
    except Exception:  # a workspace that cannot say: the last state said stays
        return None


class LiveRefresh(QObject):
    """One poll in flight at most; a new workspace starts from its current change token."""

    sig_runs_changed = Signal(list)
    """Runs (RunInfo) that changed since the last poll."""
    sig_failed = Signal(object)
    """Polling has failed FAILURES_TO_REPORT times in a row (the last exception); said once until a poll works."""
    sig_state_changed = Signal(object, object)
    """The workspace's state (``WorkspaceState``) differs from the last one: (old, new). A new workspace starts
    from ``WorkspaceState()``; switching away from a workspace with a state says (WorkspaceState(), WorkspaceState()):
    its note goes, and nothing is to be listed again."""

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._backend: WorkspaceBackend | None = None
        self._since: int | None = None
        self._failures = 0
        # No failure handler for the token: a workspace that cannot say it is told (notifier).
        self._token = TaskSlot(runner, success=self._start, owner=self)
        self._polling = TaskSlot(runner, success=self._done, failure=self._failed, owner=self)
        self._describing = TaskSlot(runner, success=self._take_state, failure=lambda _exc: None, owner=self)
        self.state = WorkspaceState()
        """The last state said (``sig_state_changed``)."""
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    def set_backend(self, backend: WorkspaceBackend | None) -> None:
        """Follow another workspace (None stops polling)."""
        self._backend = backend
        self._since, self._failures = None, 0
        self._token.reset()
        self._polling.reset()
        self._describing.reset()
        if self.state != WorkspaceState():  # the old workspace's note goes; nothing of the new one to list again
            self.state = WorkspaceState()
            self.sig_state_changed.emit(self.state, self.state)
        if backend is None:
            self.timer.stop()
            return
        self._token.request(backend.change_token)
        self._describing.request(workspace_state, backend)  # the note shows as the workspace opens, not a poll later

    def _start(self, token: int) -> None:
        self._since = token
        self.timer.start()

    def poll(self) -> None:
        """Ask for changed runs now (unless a poll is running: the next tick asks again)."""
        backend, since = self._backend, self._since
        if backend is None or since is None or self._polling.busy:
            return
        self._polling.request(poll_workspace, backend, since)

    def _done(self, poll: Poll) -> None:
        if poll.error is not None:
            self._failed(poll.error)
        else:
            self._since, self._failures = poll.since, 0
            if poll.runs:
                self.sig_runs_changed.emit(poll.runs)
        if poll.state is not None:
            self._take_state(poll.state)

    def _take_state(self, state: WorkspaceState) -> None:
        old, self.state = self.state, state
        if state != old:
            self.sig_state_changed.emit(old, state)

    def _failed(self, exc: BaseException) -> None:
        """Most errors here are transient (a busy disk): the next tick tries again. A streak is said once."""
        self._failures += 1
        if self._failures == FAILURES_TO_REPORT:
            self.sig_failed.emit(exc)

    def stop(self) -> None:
        """Stop polling, and let go of the workspace and its state (an error in it holds what raised it)."""
        self._backend, self.state = None, WorkspaceState()
        self.timer.stop()
        self._token.reset()
        self._polling.reset()
        self._describing.reset()
