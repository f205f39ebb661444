"""What a studio is started or handed over to show: a run, an experiment's runs, or only its window.

``studio --open-run`` and ``studio studio://…`` links name a run or an experiment. A studio already open on that
workspace gets it as a hand-over message (``single_instance``); a new one shows it once its workspace is open.
``MainWindow.handle_message`` raises the window for every message and opens runs; the experiment is opened here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt

from studio.core.errors import StudioError
from studio.ui.shell.single_instance import (
    ACTION_OPEN_EXPERIMENT,
    InstanceServer,
    open_experiment_message,
    open_run_message,
    raise_message,
)

if TYPE_CHECKING:
    from studio.ui.shell.main_window import MainWindow


def hand_over_message(open_run: str | None, open_experiment: str | None) -> dict[str, Any]:
    """The message for the studio already running: show the run, else the experiment, else raise the window."""
    if open_run:
        return open_run_message(open_run)
    if open_experiment:
        return open_experiment_message(open_experiment)
    return raise_message()


def follow_hand_overs(server: InstanceServer, window: MainWindow) -> None:
    """Let later ``studio`` commands on this workspace reach ``window``: raise it, show their run or experiment."""
    server.sig_message.connect(window.handle_message)
    server.sig_message.connect(lambda message: show_experiment(window, message))


def show_experiment(window: MainWindow, message: dict[str, Any]) -> None:
    """Open the runs table of the experiment an ``open_experiment`` message names (other messages: nothing)."""
    name = message.get("experiment")
    if message.get("action") == ACTION_OPEN_EXPERIMENT and isinstance(name, str) and name:
        window.open_runs_table(name)


def show_experiment_when_opened(window: MainWindow, location: str, experiment: str) -> None:
    """Open ``experiment``'s runs table once the window has opened ``location``: the first workspace opened only
    (if it failed, a workspace the user opens next is another one)."""

    def opened(opened_location: str) -> None:
        if opened_location == location:
            show_experiment(window, open_experiment_message(experiment))

    window.sig_workspace_opened.connect(opened, Qt.ConnectionType.SingleShotConnection)


class HandOverFollower(QObject):
    """Keeps the window's hand-over socket on the workspace it shows: when the window opens another workspace,
    later ``studio`` commands and links for that one reach it, and those for the one it left start their own
    window (before, they were handed to a window showing something else). If another studio already listens on
    the new workspace, this one listens on none: that studio stays the one links reach."""

    def __init__(self, window: MainWindow, server: InstanceServer | None, location: str) -> None:
        super().__init__(window)
        self._window = window
        self.server = server
        self.location = location if server is not None else None
        if server is not None:
            follow_hand_overs(server, window)
        window.sig_workspace_opened.connect(self._opened)

    def _opened(self, location: str) -> None:
        if location == self.location:
            return
        self.close()
        try:
            server = InstanceServer(location)
        except StudioError:  # a socket folder others can read: no hand-over, as at the start
            return
        if not server.listen():
            server.deleteLater()
            return
        self.server, self.location = server, location
        follow_hand_overs(server, self._window)

    def close(self) -> None:
        """Stop listening (the window closes, or moves to another workspace)."""
        if self.server is not None:
            self.server.close()
            self.server.deleteLater()
        self.server, self.location = None, None
