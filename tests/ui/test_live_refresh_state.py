"""LiveRefresh reads the workspace's state at each poll (``info().note``/``offline`` and a cached kind's versions),
also while its polls fail for want of a network, and says each change once; a new workspace starts afresh."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from studio.core.errors import WorkspaceError
from studio.core.types import WorkspaceInfo
from studio.ui.background import live_refresh
from studio.ui.background.live_refresh import LiveRefresh, WorkspaceState
from studio.ui.background.tasks import TaskRunner
from tests.waiting import wait_until


class CachedLike:
    """A backend that says a note, as the Azure kind's offline cache does; its polls fail while ``offline``."""

    def __init__(self, note: str = "") -> None:
        self.note, self.offline = note, False
        self.experiments_version = 0
        self.listings_version = 0
        self.last_refresh_error: BaseException | None = None
        self.lock = threading.Lock()
        self.polls = 0

    def info(self) -> WorkspaceInfo:
        with self.lock:
            return WorkspaceInfo(name="ws", kind="cached", location="cached://ws", note=self.note, offline=self.offline)

    def change_token(self) -> int:
        with self.lock:
            self.polls += 1
        return 1

    def list_changed_runs(self, since: int, limit: int = 1000) -> tuple[list[Any], int]:
        if self.offline:
            raise WorkspaceError("Cannot reach the service: check the network.")
        return [], since


class Plain:
    """A kind with nothing to say (no note, no versions)."""

    def __init__(self) -> None:
        self.polls = 0

    def info(self) -> WorkspaceInfo:
        return WorkspaceInfo(name="plain", kind="local", location="/tmp/plain")

    def change_token(self) -> int:
        self.polls += 1
        return 1

    def list_changed_runs(self, since: int, limit: int = 1000) -> tuple[list[Any], int]:
        return [], since


@pytest.fixture
def live(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(live_refresh, "POLL_MS", 10)
    owner = QObject()
    runner = TaskRunner(owner)
    refresh = LiveRefresh(runner, owner)
    yield refresh
    refresh.stop()
    runner.shutdown()


def test_the_state_is_said_as_the_workspace_opens_and_at_each_change(live: LiveRefresh, qtbot: QtBot) -> None:
    said: list[tuple[WorkspaceState, WorkspaceState]] = []
    live.sig_state_changed.connect(lambda old, new: said.append((old, new)))
    backend = CachedLike("Cached 12:03 — refreshing…")
    live.set_backend(backend)  # type: ignore[arg-type]
    wait_until(lambda: said, "the first state", qtbot=qtbot)
    assert said == [(WorkspaceState(), WorkspaceState(note="Cached 12:03 — refreshing…"))]

    with backend.lock:
        backend.note, backend.listings_version = "", 1
    wait_until(lambda: said[-1][1] == WorkspaceState(listings_version=1), "the refreshed state", qtbot=qtbot)

    with backend.lock:  # polls fail now; the state still arrives
        backend.note, backend.offline = "Offline: showing the cache of 12:03. Cannot reach the service.", True
    wait_until(lambda: said[-1][1].offline, "the offline state", qtbot=qtbot)
    assert said[-1][1].note.startswith("Offline: ") and said[-1][0].listings_version == 1
    count, polls = len(said), backend.polls
    wait_until(lambda: backend.polls >= polls + 3, "more polls", qtbot=qtbot)
    assert len(said) == count  # an unchanged state is not said again


def test_a_new_workspace_clears_the_old_ones_note_and_a_plain_kind_says_nothing(
    live: LiveRefresh, qtbot: QtBot
) -> None:
    said: list[tuple[WorkspaceState, WorkspaceState]] = []
    live.sig_state_changed.connect(lambda old, new: said.append((old, new)))
    live.set_backend(CachedLike("Cached 12:03 — refreshing…"))  # type: ignore[arg-type]
    wait_until(lambda: said, "the first state", qtbot=qtbot)
    plain = Plain()
    live.set_backend(plain)  # type: ignore[arg-type]
    assert said[-1] == (WorkspaceState(), WorkspaceState())  # the note goes; nothing to list again
    assert live.state == WorkspaceState()
    count = len(said)
    wait_until(lambda: plain.polls >= 3, "polls of the plain workspace", qtbot=qtbot)
    assert len(said) == count  # nothing to say about a plain workspace
