"""LiveRefresh: each poll lets the backend look for changes (``change_token``: a remote kind polls its server
there) before it lists them; a workspace that stops answering is said once, not every second, and polling goes
on by itself once it answers again."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from studio.core.errors import WorkspaceError
from studio.ui.background import live_refresh
from studio.ui.background.live_refresh import FAILURES_TO_REPORT, LiveRefresh
from studio.ui.background.tasks import TaskRunner
from tests.waiting import wait_until


class PolledServer:
    """A backend of a server without a change feed: ``change_token`` polls it, and fails while it is down."""

    def __init__(self) -> None:
        self.down = False
        self.tokens = 0
        self.listed: list[int] = []
        self.lock = threading.Lock()

    def change_token(self) -> int:
        with self.lock:
            self.tokens += 1
        if self.down:
            raise WorkspaceError("Could not reach the MLflow server at http://tracking.test: connection refused.")
        return 7

    def list_changed_runs(self, since: int, limit: int = 1000) -> tuple[list[Any], int]:
        self.listed.append(since)
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


def test_each_poll_asks_for_the_change_token_first(live: LiveRefresh, qtbot: QtBot) -> None:
    server = PolledServer()
    live.set_backend(server)  # type: ignore[arg-type]
    wait_until(lambda: len(server.listed) >= 3, "three polls", qtbot=qtbot)
    assert server.tokens >= 4  # the first token, then one per poll: the server is polled, not only memory read
    assert set(server.listed) == {7}


def test_a_workspace_that_stops_answering_is_said_once_and_polling_goes_on(live: LiveRefresh, qtbot: QtBot) -> None:
    server = PolledServer()
    reported: list[BaseException] = []
    live.sig_failed.connect(reported.append)
    live.set_backend(server)  # type: ignore[arg-type]
    wait_until(lambda: server.listed, "a first poll", qtbot=qtbot)
    server.down = True
    wait_until(lambda: reported, "the failure reported", qtbot=qtbot)
    failing_since = server.tokens
    wait_until(lambda: server.tokens >= failing_since + 2 * FAILURES_TO_REPORT, "more failing polls", qtbot=qtbot)
    assert len(reported) == 1 and "connection refused" in str(reported[0])  # once, not every second
    server.down = False
    listed = len(server.listed)
    wait_until(lambda: len(server.listed) > listed, "polling again", qtbot=qtbot)
    server.down = True
    wait_until(lambda: len(reported) == 2, "a new outage said again", qtbot=qtbot)
