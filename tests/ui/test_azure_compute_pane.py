"""The Compute pane of the real window on an Azure ML workspace, end to end on the emulator (real azure-ai-ml over
HTTPS): Stopped → Starting… → Running → Stopping… → Stopped with the pane's states in order; a start the pane
refuses (explained, nothing sent); a start the service accepts and then refuses (its sentence, the real state
after); an operation that fails half-way; a 409 from a busy instance; the window closed during an operation
(nothing hangs); the close prompt with a running instance started here. The workspace is opened with the Azure
kind's opener, guarded: no backend call on the GUI thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from studio.core.compute import ComputeState
from studio.ui.compute.close_prompt import CloseAnswer
from studio.ui.compute.compute_pane import ComputePane
from studio.ui.shell.main_window import MainWindow
from tests.azure_fixtures import AzureService
from tests.ui.azure_window import azure_window, close_window
from tests.ui_helpers import GuardedOpener
from tests.waiting import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

TIMEOUT = 30


@dataclass
class Window:
    """The window on the emulator's workspace, its compute pane and the guarded opener."""

    window: MainWindow
    pane: ComputePane
    opener: GuardedOpener


def _pollers_done(azure_env: AzureService, qtbot: QtBot) -> None:
    """End the emulator's operations and let azure-core's poller threads finish (they hold pooled connections)."""
    azure_env.compute.finish_operations()
    wait_until(
        lambda: not [t for t in threading.enumerate() if t.name.startswith("LROPoller")],
        "azure-core's pollers ended",
        qtbot=qtbot,
        timeout=TIMEOUT,
    )


@pytest.fixture
def window(azure_env: AzureService, qtbot: QtBot, tmp_path: Path) -> Iterator[Window]:
    """The real window on the real Azure opener (guarded), signed in by the fake ``az``, the workspace open."""
    with azure_window(azure_env.location, qtbot, tmp_path) as (win, opener):
        pane = win.compute_pane
        wait_until(lambda: pane.model.row_of("ci1") >= 0, "ci1 listed", qtbot=qtbot, timeout=TIMEOUT)
        yield Window(win, pane, opener)
        _pollers_done(azure_env, qtbot)


def state_of(pane: ComputePane, name: str) -> ComputeState | None:
    row = pane.model.row_of(name)
    info = pane.model.info(row)
    return info.state if info is not None else None


def state_cell(pane: ComputePane, name: str) -> str:
    row = pane.model.row_of(name)
    return str(pane.model.index(row, pane.model.column("state")).data()) if row >= 0 else ""


def select(pane: ComputePane, name: str) -> None:
    row = pane.model.row_of(name)
    assert row >= 0, name
    pane.table.selectRow(row)
    assert pane.selected() is not None and pane.selected().name == name  # type: ignore[union-attr]


def operation_posts(azure_env: AzureService, name: str) -> list[str]:
    """The start/stop/restart POSTs the service received for ``name``."""
    return [
        r.path.rsplit("/", 1)[1]
        for r in azure_env.requests()
        if r.method == "POST" and f"/computes/{name}/" in r.path and r.path.endswith(("/start", "/stop", "/restart"))
    ]


class StateRecorder:
    """Every distinct state the pane showed for one instance, in order."""

    def __init__(self, pane: ComputePane, name: str) -> None:
        self.pane, self.name, self.seen = pane, name, [state_of(pane, name)]
        pane.model.dataChanged.connect(self._changed)
        pane.model.modelReset.connect(self._changed)

    def _changed(self, *_args: object) -> None:
        state = state_of(self.pane, self.name)
        if state is not None and state != self.seen[-1]:
            self.seen.append(state)


def test_start_and_stop_show_every_state_in_order(window: Window, azure_env: AzureService, qtbot: QtBot) -> None:
    pane = window.pane
    azure_env.compute.operation_s = 1.5
    assert pane.model.columns[:3] == ("name", "type", "state")  # Azure's columns
    assert [i.name for i in pane.model.instances()][-1] == "cpu-cluster"  # clusters after instances
    assert pane.poll_interval_s() == 30.0  # never every second on Azure
    select(pane, "ci1")
    recorder = StateRecorder(pane, "ci1")
    pane.start_action.trigger()
    wait_until(lambda: pane.waits.get("ci1") is not None, "the start followed", qtbot=qtbot, timeout=TIMEOUT)
    assert state_cell(pane, "ci1").startswith("Starting… 0:0")
    assert pane.stop_waiting_action.isEnabled() and pane.poll_interval_s() == 5.0
    assert pane.stop_action.toolTip() == "ci1 is Starting; stop it when it is Running."
    wait_until(lambda: state_of(pane, "ci1") == ComputeState.RUNNING, "ci1 Running", qtbot=qtbot, timeout=TIMEOUT)
    assert pane.running_started_here() == ["ci1"]
    assert pane.details.fields()["Running for"] in ("under a minute", "1 min")
    wait_until(pane.stop_action.isEnabled, "Stop allowed", qtbot=qtbot)
    pane.stop_action.trigger()
    wait_until(lambda: state_of(pane, "ci1") == ComputeState.STOPPED, "ci1 Stopped", qtbot=qtbot, timeout=TIMEOUT)
    assert recorder.seen == [
        ComputeState.STOPPED,
        ComputeState.STARTING,
        ComputeState.RUNNING,
        ComputeState.STOPPING,
        ComputeState.STOPPED,
    ]
    assert operation_posts(azure_env, "ci1") == ["start", "stop"]
    assert azure_env.compute.state_of("ci1") == "Stopped"
    assert pane.running_started_here() == []


def test_a_refused_start_is_explained_and_nothing_is_sent(
    window: Window, azure_env: AzureService, qtbot: QtBot
) -> None:
    pane = window.pane
    select(pane, "ci-running")
    assert not pane.start_action.isEnabled()
    assert pane.start_action.toolTip() == "ci-running is already running."
    azure_env.clear_log()
    pane.start_action.trigger()  # disabled: nothing happens
    qtbot.keyClick(pane.table, Qt.Key.Key_Return)
    assert operation_posts(azure_env, "ci-running") == []
    assert azure_env.compute.operations == []


def test_a_start_the_service_refuses_shows_its_sentence_and_the_real_state(
    window: Window, azure_env: AzureService, qtbot: QtBot
) -> None:
    """The pane listed ci1 Stopped; meanwhile someone started it: the service accepts and fails the operation."""
    pane = window.pane
    select(pane, "ci1")
    azure_env.compute.set_state("ci1", "Running")
    with qtbot.waitSignal(window.window.notifier.sig_notified, timeout=TIMEOUT * 1000) as notified:
        pane.start_action.trigger()
    assert notified.args[0].startswith("Starting ci1: Azure refused to start ci1: ")
    assert "only allowed when the instance ci1 is in 'stopped' state" in notified.args[0]
    wait_until(lambda: state_of(pane, "ci1") == ComputeState.RUNNING, "ci1's real state", qtbot=qtbot, timeout=TIMEOUT)
    assert "only allowed" in pane.details.fields()["Last error"]
    assert operation_posts(azure_env, "ci1") == ["start"]
    assert pane.running_started_here() == []


def test_an_operation_that_fails_half_way(window: Window, azure_env: AzureService, qtbot: QtBot) -> None:
    pane = window.pane
    azure_env.compute.fail_next("ci1", "start")
    select(pane, "ci1")
    recorder = StateRecorder(pane, "ci1")
    with qtbot.waitSignal(window.window.notifier.sig_notified, timeout=TIMEOUT * 1000) as notified:
        pane.start_action.trigger()
    assert notified.args[0].startswith("Starting ci1: Azure could not start ci1: Allocation failed.")
    wait_until(lambda: state_of(pane, "ci1") == ComputeState.STOPPED, "ci1 Stopped", qtbot=qtbot, timeout=TIMEOUT)
    assert recorder.seen[:3] == [ComputeState.STOPPED, ComputeState.STARTING, ComputeState.STOPPED]
    row = pane.model.row_of("ci1")
    tooltip = pane.model.index(row, pane.model.column("state")).data(Qt.ItemDataRole.ToolTipRole)
    assert "Allocation failed" in tooltip
    assert "Allocation failed" in pane.details.fields()["Last error"]
    assert pane.start_action.isEnabled()  # it may be tried again


def test_a_busy_instance_answers_409(window: Window, azure_env: AzureService, qtbot: QtBot, monkeypatch) -> None:
    """Delete is allowed while Starting; the service is busy with the start and answers 409 Conflict."""
    pane = window.pane
    azure_env.compute.operation_s = 3.0
    monkeypatch.setattr(pane, "confirm", lambda title, text: True)
    select(pane, "ci1")
    pane.start_action.trigger()
    wait_until(lambda: pane.waits.get("ci1") is not None, "the start followed", qtbot=qtbot, timeout=TIMEOUT)
    assert pane.delete_action.isEnabled()
    with qtbot.waitSignal(window.window.notifier.sig_notified, timeout=TIMEOUT * 1000) as notified:
        pane.delete_action.trigger()
    assert notified.args[0].startswith("Deleting ci1: ci1 is busy with another operation")
    assert any(r.status == 409 and r.method == "DELETE" for r in azure_env.requests())
    wait_until(lambda: state_of(pane, "ci1") == ComputeState.RUNNING, "ci1 Running", qtbot=qtbot, timeout=TIMEOUT)
    assert azure_env.compute.state_of("ci1") == "Running"


def test_the_window_closed_during_an_operation_does_not_hang(
    azure_env: AzureService, qtbot: QtBot, tmp_path: Path
) -> None:
    with azure_window(azure_env.location, qtbot, tmp_path) as (win, _opener):
        pane = win.compute_pane
        azure_env.compute.operation_s = 600.0  # longer than any test
        wait_until(lambda: pane.model.row_of("ci1") >= 0, "ci1 listed", qtbot=qtbot, timeout=TIMEOUT)
        select(pane, "ci1")
        pane.start_action.trigger()
        wait_until(lambda: pane.waits.get("ci1") is not None, "the start followed", qtbot=qtbot, timeout=TIMEOUT)
        wait_until(lambda: pane.waits.active_threads() == 1, "the wait on its thread", qtbot=qtbot)
        began = time.monotonic()
        close_window(win)
        wait_until(lambda: pane.waits.active_threads() == 0, "the wait's thread ended", qtbot=qtbot, timeout=5)
        assert time.monotonic() - began < 12
        assert azure_env.compute.state_of("ci1") == "Starting"  # the operation goes on in Azure
        _pollers_done(azure_env, qtbot)


def test_closing_asks_to_stop_an_instance_started_here(
    window: Window, azure_env: AzureService, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    pane = window.pane
    asked: list[list[str]] = []

    def ask(parent: object, names: list[str]) -> tuple[CloseAnswer, bool]:
        asked.append(names)
        return CloseAnswer.STOP, False

    monkeypatch.setattr(pane, "ask_close", ask)
    assert pane.ask_before_close(window.window) and asked == []  # ci-running was not started here
    select(pane, "ci1")
    pane.start_action.trigger()
    wait_until(lambda: state_of(pane, "ci1") == ComputeState.RUNNING, "ci1 Running", qtbot=qtbot, timeout=TIMEOUT)
    assert pane.running_started_here() == ["ci1"]
    assert pane.ask_before_close(window.window)
    assert asked == [["ci1"]]
    assert operation_posts(azure_env, "ci1") == ["start", "stop"]
    assert azure_env.compute.state_of("ci1") in ("Stopping", "Stopped")
    assert operation_posts(azure_env, "ci-running") == []


def test_closing_the_window_asks_and_cancel_keeps_it_open(
    window: Window, azure_env: AzureService, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    pane, win = window.pane, window.window
    answers = [(CloseAnswer.CANCEL, False), (CloseAnswer.STOP, False)]
    asked: list[list[str]] = []
    monkeypatch.setattr(pane, "ask_close", lambda parent, names: asked.append(names) or answers.pop(0))
    select(pane, "ci1")
    pane.start_action.trigger()
    wait_until(lambda: state_of(pane, "ci1") == ComputeState.RUNNING, "ci1 Running", qtbot=qtbot, timeout=TIMEOUT)
    win.close()  # the title bar's close button: Cancel
    assert win.isVisible() and win.backend is not None and asked == [["ci1"]]
    assert operation_posts(azure_env, "ci1") == ["start"]
    win.close()  # again: Stop, then the window closes
    assert not win.isVisible() and asked == [["ci1"], ["ci1"]]
    assert operation_posts(azure_env, "ci1") == ["start", "stop"]
