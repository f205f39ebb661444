"""The compute pane: live states, actions, confirmations, the New dialog, errors.

Two backends. ``fake_env`` (a FakeComputeBackend, in memory, state changes at once) serves the
tests of the pane's own behaviour: the New dialog's checks, no workspace, polls that never
overlap, an error from a vanished instance. ``env`` (a real local workspace) serves the tests
whose point is real compute: daemons that start, restart and stop as detached processes, and a
real running job whose cancellation the Stop/Restart confirmations announce (the fake has no
running jobs). The fixture stops every daemon at the end.
Every backend call must happen off the GUI thread (GuardedBackend records any that does not).
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QDialog, QMainWindow, QTableView, QToolButton
from pytestqt.qtbot import QtBot

from studio.core.compute import ComputeInfo, ComputeState
from studio.core.status import RunStatus
from studio.ui.background.notifier import Notifier
from studio.ui.background.tasks import TaskRunner
from studio.ui.compute.compute_model import INFO_ROLE, NAME_RULE, STATE, ComputeModel
from studio.ui.compute.compute_pane import ComputePane, NewComputeDialog
from studio.workspaces.local.backend import LocalBackend
from tests.compute_helpers import stop_everything, write_script
from tests.fake_backend import FakeComputeBackend
from tests.ui_helpers import GuardedBackend
from tests.waiting import wait_until

DAEMON_TIMEOUT_S = 60.0
ACTIONS = ("computeNew", "computeStart", "computeStop", "computeRestart", "computeDelete")


@dataclass
class Env:
    """A compute pane docked in a main window, on a guarded backend (``inner`` is the unguarded one)."""

    pane: ComputePane
    window: QMainWindow
    runner: TaskRunner
    notifier: Notifier
    guarded: GuardedBackend
    inner: Any  # LocalBackend or FakeComputeBackend


@dataclass
class LocalEnv(Env):
    """The pane on a real local workspace at ``root``."""

    inner: LocalBackend
    root: Path


@dataclass
class FakeEnv(Env):
    """The pane on an in-memory FakeComputeBackend."""

    inner: FakeComputeBackend


def _python_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}


@contextlib.contextmanager
def _pane_on(
    qtbot: QtBot, inner: Any
) -> Iterator[tuple[ComputePane, QMainWindow, TaskRunner, Notifier, GuardedBackend]]:
    """A shown pane on ``inner`` (guarded); at the end no task, pool thread or Python thread is left."""
    threads_before = _python_threads()
    guarded = GuardedBackend(inner)
    window = QMainWindow()
    qtbot.addWidget(window)
    runner = TaskRunner(window)
    notifier = Notifier(window.statusBar(), window)
    pane = ComputePane(runner, notifier, window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, pane)
    window.resize(900, 400)
    window.resizeDocks([pane], [850], Qt.Orientation.Horizontal)
    window.show()
    pane.set_backend(guarded)  # type: ignore[arg-type]
    try:
        yield pane, window, runner, notifier, guarded
    finally:
        pane.set_backend(None)
        stopped = runner.shutdown()
    assert stopped, "background tasks still running"
    assert runner.pool.activeThreadCount() == 0
    assert _python_threads() <= threads_before
    assert guarded.violations == []


@pytest.fixture
def env(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEnv]:
    """A compute pane on a guarded real local backend; every daemon stopped at the end."""
    monkeypatch.setenv("STUDIO_CANCEL_GRACE_S", "1")
    root = tmp_path / "ws"
    inner = LocalBackend(root)
    try:
        with _pane_on(qtbot, inner) as parts:
            yield LocalEnv(*parts, inner=inner, root=root)
    finally:
        stop_everything(root)
        inner.close()


@pytest.fixture
def fake_env(qtbot: QtBot) -> Iterator[FakeEnv]:
    """A compute pane on a guarded FakeComputeBackend whose ``local`` is Stopped, as the local kind's starts."""
    inner = FakeComputeBackend()
    inner.stop_compute("local")
    with _pane_on(qtbot, inner) as parts:
        yield FakeEnv(*parts, inner=inner)


def cells(pane: ComputePane, name: str) -> list[str] | None:
    """The texts of an instance's row, or None when it is not listed."""
    model = pane.model
    row = model.row_of(name)
    if row < 0:
        return None
    return [model.index(row, c).data() for c in range(model.columnCount())]


def state_of(pane: ComputePane, name: str) -> str | None:
    row = cells(pane, name)
    return row[STATE] if row else None


def button(pane: ComputePane, name: str) -> QToolButton:
    found = pane.findChild(QToolButton, name)
    assert found is not None, name
    return found


def enabled(pane: ComputePane) -> dict[str, bool]:
    return {name: button(pane, name).isEnabled() for name in ACTIONS}


def select(pane: ComputePane, name: str) -> None:
    row = pane.model.row_of(name)
    assert row >= 0, name
    flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    pane.table.selectionModel().setCurrentIndex(pane.model.index(row, 0), flags)
    assert pane.selected() is not None and pane.selected().name == name  # type: ignore[union-attr]


def click(qtbot: QtBot, pane: ComputePane, name: str) -> None:
    target = button(pane, name)
    assert target.isVisible() and target.isEnabled(), name
    qtbot.mouseClick(target, Qt.MouseButton.LeftButton)


def refuse_confirm(title: str, text: str) -> bool:
    raise AssertionError(f"unexpected confirmation: {title}: {text}")


def test_local_is_listed_stopped_and_starts_restarts_and_stops(
    env: LocalEnv, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    pane = env.pane
    assert pane.objectName() == "computePane" and pane.windowTitle() == "Compute"
    assert pane.findChild(QTableView, "computeTable") is pane.table
    wait_until(lambda: state_of(pane, "local") == "Stopped", "local listed as Stopped", qtbot=qtbot)
    assert cells(pane, "local") == ["local", "Stopped", "0", "0", "1", "60 min"]
    assert pane.selected() is not None and pane.selected().name == "local"  # type: ignore[union-attr]
    assert enabled(pane) == dict.fromkeys(ACTIONS, False) | {"computeNew": True, "computeStart": True}
    assert not pane.model.index(0, STATE).data(Qt.ItemDataRole.DecorationRole).isNull()

    seen: list[str] = []
    pane.sig_instances_changed.connect(lambda infos: seen.extend(i.state.value for i in infos if i.name == "local"))
    monkeypatch.setattr(pane, "confirm", refuse_confirm)
    with qtbot.waitSignal(env.runner.sig_task_started) as started:
        click(qtbot, pane, "computeStart")
    assert started.args[0].label == "Starting local"
    assert not button(pane, "computeStart").isEnabled()  # busy until the call returns
    wait_until(lambda: state_of(pane, "local") == "Running", "local Running", qtbot=qtbot, timeout=DAEMON_TIMEOUT_S)
    assert set(seen) <= {"Starting", "Running"} and seen[-1] == "Running"
    assert enabled(pane) == {
        "computeNew": True,
        "computeStart": False,
        "computeStop": True,
        "computeRestart": True,
        "computeDelete": False,
    }

    # Restart without jobs: no question; the instance comes back with a new start time.
    first_start = pane.model.index(0, 0).data(INFO_ROLE).started_at
    click(qtbot, pane, "computeRestart")
    wait_until(
        lambda: state_of(pane, "local") == "Running" and pane.model.info(0).started_at != first_start,  # type: ignore[union-attr]
        "local Running again, with a new start time",
        qtbot=qtbot,
        timeout=DAEMON_TIMEOUT_S,
    )

    click(qtbot, pane, "computeStop")
    wait_until(lambda: state_of(pane, "local") == "Stopped", "local Stopped", qtbot=qtbot, timeout=DAEMON_TIMEOUT_S)
    assert env.guarded.calls.count("stop_compute") == 1
    assert enabled(pane)["computeStart"] and not enabled(pane)["computeStop"]


def open_new_dialog(qtbot: QtBot, pane: ComputePane) -> NewComputeDialog:
    click(qtbot, pane, "computeNew")
    dialog = pane.findChild(QDialog, "newComputeDialog")
    assert isinstance(dialog, NewComputeDialog)
    wait_until(dialog.isVisible, "the New dialog shown", qtbot=qtbot)
    return dialog


def test_invalid_names_keep_ok_disabled(fake_env: FakeEnv, qtbot: QtBot) -> None:
    env = fake_env
    pane = env.pane
    wait_until(lambda: state_of(pane, "local") == "Stopped", "local listed as Stopped", qtbot=qtbot)
    dialog = open_new_dialog(qtbot, pane)
    assert not dialog.ok_button.isEnabled() and dialog.hint.text() == NAME_RULE
    for bad, why in [
        ("1abc", "letter"),
        ("a", "at least 2"),
        ("has space", "only letters"),
        ("x" * 25, "2 to 24"),
        ("under_score", "only letters"),
        ("local", "already exists"),
    ]:
        dialog.name_edit.clear()
        qtbot.keyClicks(dialog.name_edit, bad)
        assert not dialog.ok_button.isEnabled(), bad
        assert why in dialog.hint.text(), (bad, dialog.hint.text())
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)  # Return on an invalid name does not accept
    assert dialog.isVisible()
    dialog.name_edit.clear()
    qtbot.keyClicks(dialog.name_edit, "gpu-box-1")
    assert dialog.ok_button.isEnabled() and dialog.hint.text() == NAME_RULE
    assert not dialog.idle_minutes.isEnabled()
    dialog.reject()
    assert "create_compute" not in env.guarded.calls


def test_create_stop_with_a_running_job_and_delete(
    env: LocalEnv, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pane = env.pane
    wait_until(lambda: state_of(pane, "local") == "Stopped", "local listed as Stopped", qtbot=qtbot)
    dialog = open_new_dialog(qtbot, pane)
    qtbot.keyClicks(dialog.name_edit, "ci1")
    dialog.max_jobs.setValue(2)
    dialog.idle_check.setChecked(True)
    assert dialog.idle_minutes.isEnabled()
    dialog.idle_minutes.setValue(30)
    with qtbot.waitSignal(pane.sig_instances_changed, timeout=int(DAEMON_TIMEOUT_S * 1000)):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    wait_until(lambda: state_of(pane, "ci1") == "Running", "ci1 Running", qtbot=qtbot, timeout=DAEMON_TIMEOUT_S)
    assert cells(pane, "ci1") == ["ci1", "Running", "0", "0", "2", "30 min"]
    assert pane.selected() is not None and pane.selected().name == "ci1"  # type: ignore[union-attr]
    assert enabled(pane)["computeDelete"]

    source = tmp_path / "src"
    write_script(source, "sleep.py", "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n")
    run_id = env.inner.submit_script("exp", str(source), "sleep.py", compute="ci1")
    wait_until(
        lambda: (cells(pane, "ci1") or ["", "", ""])[2] == "1",
        "ci1's running job counted",
        qtbot=qtbot,
        timeout=DAEMON_TIMEOUT_S,
    )
    assert state_of(pane, "ci1") == "Running jobs"  # Azure's JobRunning, in words

    asked: list[str] = []
    monkeypatch.setattr(pane, "confirm", lambda title, text: asked.append(text) or False)
    click(qtbot, pane, "computeStop")
    click(qtbot, pane, "computeRestart")
    assert asked == [
        "Stopping ci1 cancels its 1 running job. Stop it?",
        "Restarting ci1 cancels its 1 running job. Restart it?",
    ]
    assert not {"stop_compute", "restart_compute"} & set(env.guarded.calls) and env.runner.running() == []

    monkeypatch.setattr(pane, "confirm", lambda title, text: asked.append(text) or True)
    with qtbot.waitSignal(env.runner.sig_task_started) as started:
        click(qtbot, pane, "computeStop")
    assert started.args[0].label == "Stopping ci1" and len(asked) == 3
    wait_until(lambda: state_of(pane, "ci1") == "Stopped", "ci1 Stopped", qtbot=qtbot, timeout=DAEMON_TIMEOUT_S)
    wait_until(lambda: env.inner.get_run(run_id).status == RunStatus.CANCELED, "ci1's job Canceled", qtbot=qtbot)

    monkeypatch.setattr(pane, "confirm", lambda title, text: asked.append(text) or False)
    click(qtbot, pane, "computeDelete")
    assert asked[-1] == "Delete the compute instance ci1? This cannot be undone."
    assert "delete_compute" not in env.guarded.calls and cells(pane, "ci1") is not None

    monkeypatch.setattr(pane, "confirm", lambda title, text: asked.append(text) or True)
    with qtbot.waitSignal(env.runner.sig_task_started) as started:
        click(qtbot, pane, "computeDelete")
    assert started.args[0].label == "Deleting ci1"
    wait_until(lambda: cells(pane, "ci1") is None, "ci1 gone from the list", qtbot=qtbot, timeout=DAEMON_TIMEOUT_S)
    assert [i.name for i in env.inner.list_compute()] == ["local"]
    assert pane.selected() is not None and pane.selected().name == "local"  # type: ignore[union-attr]
    assert not enabled(pane)["computeDelete"]  # never for local


def test_an_error_reaches_the_notifier_and_the_pane_keeps_working(fake_env: FakeEnv, qtbot: QtBot) -> None:
    env, other = fake_env, fake_env.inner  # the test writes unguarded: another window, another process
    pane = env.pane
    other.create_compute("ci2")
    other.stop_compute("ci2")
    wait_until(lambda: state_of(pane, "ci2") == "Stopped", "ci2 listed as Stopped", qtbot=qtbot)
    select(pane, "ci2")
    start = button(pane, "computeStart")
    assert start.isEnabled()
    other.delete_compute("ci2")
    with qtbot.waitSignal(env.notifier.sig_notified) as notified:
        start.click()  # before the next poll shows that ci2 is gone
    assert notified.args[0] == "Starting ci2: There is no compute instance named 'ci2'."
    assert env.notifier.last is not None and env.notifier.last[0] == notified.args[0]
    assert "no compute instance named 'ci2'" in env.window.statusBar().currentMessage()
    wait_until(lambda: cells(pane, "ci2") is None, "ci2 gone from the list", qtbot=qtbot)
    assert pane.selected() is not None and pane.selected().name == "local"  # type: ignore[union-attr]
    assert enabled(pane)["computeStart"] and enabled(pane)["computeNew"]
    other.create_compute("ci3")  # still polling
    wait_until(lambda: state_of(pane, "ci3") == "Running", "ci3 listed as Running", qtbot=qtbot)


def test_without_a_workspace_the_pane_is_empty_and_disabled(fake_env: FakeEnv, qtbot: QtBot) -> None:
    env = fake_env
    pane = env.pane
    wait_until(lambda: state_of(pane, "local") == "Stopped", "local listed as Stopped", qtbot=qtbot)
    empty = pane.empty_label
    assert empty.isHidden() and pane.table.isVisible()
    with qtbot.waitSignal(pane.sig_instances_changed) as changed:
        pane.set_backend(None)
    assert changed.args == [[]]
    assert pane.model.rowCount() == 0 and empty.isVisible() and not pane.table.isVisible()
    assert "No workspace" in empty.text()
    assert enabled(pane) == dict.fromkeys(ACTIONS, False)
    pane.refresh()  # nothing to do, no error
    pane.set_backend(env.guarded)  # type: ignore[arg-type]
    wait_until(lambda: state_of(pane, "local") == "Stopped", "local listed as Stopped", qtbot=qtbot)
    assert empty.isHidden() and enabled(pane)["computeNew"]


class SlowLister:
    """Delegates to a backend; ``list_compute`` blocks until released and counts overlapping calls."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.release = threading.Event()
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def list_compute(self) -> list[ComputeInfo]:
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self.release.wait(timeout=30)
            return list(self._inner.list_compute())
        finally:
            with self._lock:
                self.in_flight -= 1


def test_polls_never_overlap(fake_env: FakeEnv, qtbot: QtBot) -> None:
    env = fake_env
    slow = SlowLister(env.guarded)
    env.pane.set_backend(slow)  # type: ignore[arg-type]
    try:
        wait_until(lambda: slow.calls == 1, "the first poll", qtbot=qtbot)
        for _ in range(5):
            env.pane.refresh()  # while one is in flight: remembered, not started
        assert slow.calls == 1
    finally:
        slow.release.set()
    wait_until(
        lambda: slow.calls >= 3, "the asked-for poll and the timer's", qtbot=qtbot, timeout=10
    )  # the asked-for refresh, then the timer
    assert slow.max_in_flight == 1
    assert state_of(env.pane, "local") == "Stopped"


def _info(name: str, state: ComputeState = ComputeState.STOPPED, running: int = 0, reason: str = "") -> ComputeInfo:
    return ComputeInfo(name, state, 1, None, running, 0, state_reason=reason)


def test_model_updates_rows_in_place_and_keeps_the_selection(qtbot: QtBot) -> None:
    model = ComputeModel()
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    assert model.set_instances([_info("local"), _info("a1"), _info("b1")])
    view.selectRow(2)
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, bottom, roles=(): changed.append((top.row(), bottom.row())))
    inserted: list[int] = []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append(first))

    assert not model.set_instances([_info("local"), _info("a1"), _info("b1")])
    assert changed == [] and inserted == []
    starting = _info("b1", ComputeState.STARTING, reason="Starting.")
    assert model.set_instances([_info("local"), _info("a0"), starting, _info("c1", ComputeState.UNUSABLE)])
    assert [i.name for i in model.instances()] == ["local", "a0", "b1", "c1"]
    assert changed == [(2, 2)] and sorted(inserted) == [1, 3]
    assert [i.row() for i in view.selectionModel().selectedRows()] == [2]  # still b1
    index = model.index(2, STATE)
    assert index.data() == "Starting…" and index.data(Qt.ItemDataRole.ToolTipRole) == "Starting."
    assert model.index(3, STATE).data() == "Unusable"
    icons = [model.index(r, STATE).data(Qt.ItemDataRole.DecorationRole) for r in range(4)]
    assert icons[0].cacheKey() == icons[1].cacheKey() != icons[2].cacheKey() != icons[3].cacheKey()

    model.set_instances([_info("b1", ComputeState.RUNNING), _info("local")])  # removed and reordered
    assert [i.name for i in model.instances()] == ["b1", "local"]
    assert [i.row() for i in view.selectionModel().selectedRows()] == [0]
    assert model.headerData(5, Qt.Orientation.Horizontal) == "Idle shutdown"
    model.set_instances([])
    assert model.rowCount() == 0


def test_python_for_local_jobs_is_shown_chosen_and_refused_in_words(
    env: LocalEnv, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.ui.compute import job_python
    from tests.compute_helpers import python_with_numpy_only

    monkeypatch.delenv("STUDIO_JOB_PYTHON", raising=False)
    pane = env.pane
    assert pane.python_action.isVisible()  # the local kind has the setting
    wait_until(lambda: cells(pane, "local"), "local listed", qtbot=qtbot)
    pane.table.selectRow(pane.model.row_of("local"))
    own = f"Python {platform.python_version()} at {sys.executable} (the studio's own)"
    wait_until(lambda: pane.details.fields().get("Python") == own, "the studio's own Python", qtbot=qtbot)

    chosen: list[str] = []
    plain = python_with_numpy_only(tmp_path)

    def pick(_parent: Any, _title: str, folder: str) -> str:
        chosen.append(folder)
        return str(plain)

    monkeypatch.setattr(job_python, "_pick_file", pick)
    pane.python_action.trigger()
    wanted = f"Python {platform.python_version()} at {plain}"
    wait_until(lambda: pane.details.fields().get("Python") == wanted, "the chosen Python", qtbot=qtbot)
    assert chosen == [os.path.dirname(sys.executable)]  # the dialog opened where the one in use is

    not_python = tmp_path / "tool"
    not_python.write_text("#!/bin/sh\necho 'tool: unknown option -c' >&2\nexit 2\n")
    not_python.chmod(0o755)
    monkeypatch.setattr(job_python, "_pick_file", lambda *_: str(not_python))
    with qtbot.waitSignal(env.notifier.sig_notified, timeout=20_000) as said:
        pane.python_action.trigger()
    assert said.args[0] == (
        f"Choosing the Python for local jobs: {not_python} is not a Python interpreter that runs: "
        "tool: unknown option -c"
    )
    assert pane.details.fields()["Python"] == wanted  # the old setting stays


def test_a_kind_without_the_setting_offers_no_python_action(fake_env: FakeEnv) -> None:
    assert not fake_env.pane.python_action.isVisible()
