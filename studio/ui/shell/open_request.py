"""What a studio is started or handed over to show: a run, an experiment's runs, or only its window.

``studio --open-run`` and ``studio studio://…`` links name a run or an experiment. A studio already open on that
workspace gets it as a hand-over message (``single_instance``); a new one shows it once its workspace is open.
``MainWindow.handle_message`` raises the window for every message and opens runs; the experiment is opened here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt

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
