"""The compute pane on an Azure-like fake: every state's label, colour and actions, refusals explained before any
request, operations accepted then followed (elapsed time, Stop waiting), failures, the details area, the pace
of polling, the New dialog's VM sizes and the prompt on closing with billed instances started here.

``ScriptedCompute`` is in memory and behaves like Azure's compute as the backend presents it: no job counts,
``actions`` from ``AZURE_ACTIONS``, clusters, a start that is accepted (Starting) and then followed by
``wait_compute`` until the test ends it (``finish``), with a success or the service's failure.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QMainWindow
from pytestqt.qtbot import QtBot

from studio.core.compute import (
    AZURE_ACTIONS,
    CLUSTER,
    SETTLES_AS,
    ClusterNodes,
    ComputeAction,
    ComputeInfo,
    ComputeOptions,
    ComputeRefresh,
    ComputeState,
    VmSize,
)
from studio.core.errors import CancelledError, NotFoundError, RunStateError, StudioError
from studio.core.tasks import CancelToken
from studio.ui.background.notifier import Notifier
from studio.ui.background.tasks import TaskRunner
from studio.ui.compute.close_prompt import ANSWER_KEY, ASK_KEY, CloseAnswer, question_text
from studio.ui.compute.compute_model import AZURE_COLUMNS, TITLES, status_icon
from studio.ui.compute.compute_pane import NO_COMPUTE_TEXT, ComputePane
from studio.ui.compute.compute_texts import AMBER, BLUE, GREEN, GREY, RED, state_color
from studio.ui.compute.new_compute_dialog import NewComputeDialog
from studio.ui.shell.settings import WindowSettings
from tests.ui_helpers import GuardedBackend
from tests.waiting import wait_until

OPERATIONS = {
    ComputeAction.START: ComputeState.STARTING,
    ComputeAction.STOP: ComputeState.STOPPING,
    ComputeAction.RESTART: ComputeState.RESTARTING,
}


def azure_info(name: str, state: ComputeState, **changes: object) -> ComputeInfo:
    """An instance as the Azure backend describes it."""
    info = ComputeInfo(
        name,
        state,
        1,
        60.0,
        0,
        0,
        kind="instance",
        vm_size="Standard_DS3_v2",
        assigned_user="Ada Lovelace",
        counts_jobs=False,
        actions=AZURE_ACTIONS.get(state, frozenset()),
    )
    return replace(info, **changes)  # type: ignore[arg-type]


def cluster(name: str = "cpu-cluster") -> ComputeInfo:
    nodes = ClusterNodes(0, 4, 2, target=2, idle=1, running=1, scale_down_after_s=120)
    return ComputeInfo(
        name, ComputeState.STEADY, 1, None, 0, 0, kind=CLUSTER, vm_size="Standard_D2_v3", nodes=nodes, counts_jobs=False
    )


class ScriptedCompute:
    """Azure-like compute in memory; operations end when the test says (``finish``)."""

    def __init__(self, infos: list[ComputeInfo], billed: bool = True) -> None:
        self._lock = threading.Lock()
        self._infos = {i.name: i for i in infos}
        self.refresh = ComputeRefresh(idle_s=30.0, moving_s=5.0, billed=billed)
        self.requests: list[tuple[str, str]] = []  # (operation, name) the service received
        self.lists = 0
        self.options = ComputeOptions(
            vm_sizes=(VmSize("Standard_DS3_v2", 4, 14), VmSize("Standard_NC6", 6, 56, gpus=1)),
            default_vm_size="Standard_DS3_v2",
            max_concurrent_jobs=False,
        )
        self.options_fail: Exception | None = None
        self.options_gate = threading.Event()
        self.options_gate.set()
        self._ends: dict[str, tuple[threading.Event, BaseException | None, ComputeState | None]] = {}
        self.waiting: set[str] = set()
        self.cancelled: list[str] = []

    # -- the test's controls --------------------------------------------------------------------

    def finish(self, name: str, error: BaseException | None = None, state: ComputeState | None = None) -> None:
        """End the operation on ``name``: settled, or failed with ``error`` leaving ``state``."""
        with self._lock:
            event, _, _ = self._ends[name]
            self._ends[name] = (event, error, state)
        event.set()

    def set_state(self, name: str, state: ComputeState, **changes: object) -> None:
        with self._lock:
            info = self._infos[name]
            self._infos[name] = replace(info, state=state, actions=AZURE_ACTIONS.get(state, frozenset()), **changes)  # type: ignore[arg-type]

    # -- ComputeBackend --------------------------------------------------------------------------

    def compute_refresh(self) -> ComputeRefresh:
        return self.refresh

    def compute_options(self) -> ComputeOptions:
        self.options_gate.wait(10)
        if self.options_fail is not None:
            raise self.options_fail
        return self.options

    def list_compute(self) -> list[ComputeInfo]:
        with self._lock:
            self.lists += 1
            return list(self._infos.values())

    def get_compute(self, name: str) -> ComputeInfo:
        with self._lock:
            if name not in self._infos:
                raise NotFoundError(f"There is no compute named {name!r}.")
            return self._infos[name]

    def _operate(self, action: ComputeAction, name: str) -> ComputeInfo:
        info = self.get_compute(name)
        if action not in info.allowed:
            raise AssertionError(f"the pane sent a refused {action} for {name}")
        with self._lock:
            self.requests.append((action.value, name))
            self._ends[name] = (threading.Event(), None, None)
        now = time.time()
        state = OPERATIONS.get(action, ComputeState.DELETING)
        self.set_state(
            name, state, last_operation=action.value.title(), last_operation_status="InProgress", last_operation_at=now
        )
        return self.get_compute(name)

    def start_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        return self._operate(ComputeAction.START, name)

    def stop_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        return self._operate(ComputeAction.STOP, name)

    def restart_compute(self, name: str, wait: bool = False) -> ComputeInfo:
        return self._operate(ComputeAction.RESTART, name)

    def delete_compute(self, name: str, wait: bool = True) -> None:
        self._operate(ComputeAction.DELETE, name)

    def create_compute(
        self,
        name: str,
        max_concurrent_jobs: int = 1,
        idle_shutdown_minutes: float | None = None,
        wait: bool = False,
        *,
        vm_size: str | None = None,
    ) -> ComputeInfo:
        with self._lock:
            self.requests.append(("create", name))
            self._ends[name] = (threading.Event(), None, None)
            info = azure_info(
                name, ComputeState.CREATING, vm_size=vm_size or "default", idle_shutdown_minutes=idle_shutdown_minutes
            )
            self._infos[name] = info
            return info

    def wait_compute(self, name: str, cancel: CancelToken | None = None) -> ComputeInfo | None:
        with self._lock:
            self.waiting.add(name)
            event = self._ends[name][0] if name in self._ends else None
        try:
            while event is not None and not event.wait(0.01):
                if cancel is not None and cancel.cancelled:
                    self.cancelled.append(name)
                    raise CancelledError("cancelled")
            with self._lock:
                _, error, failed_state = self._ends.pop(name, (None, None, None))
                info = self._infos.get(name)
            if info is None:
                return None
            if error is not None:
                self.set_state(
                    name, failed_state or ComputeState.STOPPED, last_operation_status="Failed", last_error=str(error)
                )
                raise error
            if info.state == ComputeState.DELETING:
                with self._lock:
                    del self._infos[name]
                return None
            self.set_state(
                name,
                SETTLES_AS.get(info.state, info.state),
                last_operation_status="Succeeded",
                started_at=time.time() if SETTLES_AS.get(info.state) == ComputeState.RUNNING else info.started_at,
            )
            return self.get_compute(name)
        finally:
            with self._lock:
                self.waiting.discard(name)


@dataclass
class Env:
    pane: ComputePane
    window: QMainWindow
    runner: TaskRunner
    notifier: Notifier
    backend: ScriptedCompute
    guarded: GuardedBackend


@contextlib.contextmanager
def _open(qtbot: QtBot, backend: ScriptedCompute, width: int = 1000) -> Iterator[Env]:
    guarded = GuardedBackend(backend)
    window = QMainWindow()
    qtbot.addWidget(window)
    runner = TaskRunner(window)
    notifier = Notifier(window.statusBar(), window)
    pane = ComputePane(runner, notifier, window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, pane)
    window.resize(width + 50, 500)
    window.resizeDocks([pane], [width], Qt.Orientation.Horizontal)
    window.show()
    pane.set_backend(guarded)  # type: ignore[arg-type]
    try:
        yield Env(pane, window, runner, notifier, backend, guarded)
    finally:
        for name in list(backend._ends):
            backend.finish(name)
        pane.set_backend(None)
        waits_ended = pane.waits.shutdown()
        stopped = runner.shutdown()
    assert waits_ended and stopped, "background work still running"
    assert guarded.violations == []


@pytest.fixture
def azure(qtbot: QtBot) -> Iterator[Env]:
    """The pane on Azure-like compute: ci1 Stopped, ci-running Running for 2 h 14 min, a cluster."""
    two_hours_ago = time.time() - (2 * 3600 + 14 * 60 + 5)
    backend = ScriptedCompute(
        [
            cluster(),
            azure_info("ci1", ComputeState.STOPPED),
            azure_info(
                "ci-running",
                ComputeState.RUNNING,
                started_at=two_hours_ago,
                schedules=("Stop at 19:00 on Mon-Fri",),
                last_operation="Start",
                last_operation_status="Succeeded",
                last_operation_at=two_hours_ago,
            ),
        ]
    )
    with _open(qtbot, backend) as env:
        yield env


def row_texts(pane: ComputePane, name: str) -> dict[str, str]:
    row = pane.model.row_of(name)
    assert row >= 0, name
    return {key: pane.model.index(row, c).data() for c, key in enumerate(pane.model.columns)}


def state_cell(pane: ComputePane, name: str) -> str | None:
    row = pane.model.row_of(name)
    return pane.model.index(row, pane.model.column("state")).data() if row >= 0 else None


def select(pane: ComputePane, name: str) -> None:
    row = pane.model.row_of(name)
    assert row >= 0, name
    pane.table.selectRow(row)
    assert pane.selected() is not None and pane.selected().name == name  # type: ignore[union-attr]


def listed(qtbot: QtBot, pane: ComputePane, name: str) -> None:
    wait_until(lambda: pane.model.row_of(name) >= 0, f"{name} listed", qtbot=qtbot)


ACTIONS = {
    ComputeAction.START: "start_action",
    ComputeAction.STOP: "stop_action",
    ComputeAction.RESTART: "restart_action",
    ComputeAction.DELETE: "delete_action",
}


def test_every_state_has_its_label_colour_and_actions_with_refusals_explained(qtbot: QtBot) -> None:
    colours = {
        ComputeState.RUNNING: GREEN,
        ComputeState.JOB_RUNNING: BLUE,
        ComputeState.STOPPED: GREY,
        ComputeState.UNKNOWN: GREY,
        ComputeState.STARTING: AMBER,
        ComputeState.STOPPING: AMBER,
        ComputeState.CREATING: AMBER,
        ComputeState.DELETING: AMBER,
        ComputeState.SETTING_UP: AMBER,
        ComputeState.CREATE_FAILED: RED,
        ComputeState.SETUP_FAILED: RED,
        ComputeState.USER_SETUP_FAILED: RED,
        ComputeState.UNUSABLE: RED,
    }
    states = [s for s in ComputeState if s != ComputeState.STEADY]
    backend = ScriptedCompute([azure_info(f"s-{s.value.lower()}", s) for s in states] + [cluster()])
    with _open(qtbot, backend) as env:
        pane = env.pane
        listed(qtbot, pane, "cpu-cluster")
        assert pane.model.columns == AZURE_COLUMNS
        headers = [pane.model.headerData(c, Qt.Orientation.Horizontal) for c in range(pane.model.columnCount())]
        assert headers == ["Name", "Type", "State", "VM size", "Nodes", "Idle shutdown", "Up for", "Assigned to"]
        assert [i.kind for i in pane.model.instances()][-1] == CLUSTER  # clusters after the instances
        state_column = pane.model.column("state")
        for state in states:
            name = f"s-{state.value.lower()}"
            row = pane.model.row_of(name)
            assert state_cell(pane, name) == state.label, state
            icon = pane.model.index(row, state_column).data(Qt.ItemDataRole.DecorationRole)
            assert icon.cacheKey() == status_icon(state_color(state)).cacheKey()
            if state in colours:
                assert state_color(state) == colours[state], state
            assert row_texts(pane, name)["type"] == "Instance"
            select(pane, name)
            info = pane.selected()
            assert info is not None
            for action, attribute in ACTIONS.items():
                qaction = getattr(pane, attribute)
                allowed = action in AZURE_ACTIONS.get(state, frozenset())
                assert qaction.isEnabled() == allowed, (state, action)
                if not allowed:
                    assert qaction.toolTip() == info.refusal(action) != "", (state, action)
                    assert qaction.statusTip() == qaction.toolTip()
        assert state_cell(pane, "s-starting") == "Starting…"
        assert state_cell(pane, "s-createfailed") == "Create failed"
        assert state_cell(pane, "s-jobrunning") == "Running jobs"
        select(pane, "s-starting")
        assert pane.stop_action.toolTip() == "s-starting is Starting; stop it when it is Running."

        select(pane, "cpu-cluster")
        texts = row_texts(pane, "cpu-cluster")
        assert texts["type"] == "Cluster" and texts["state"] == "Steady"
        assert texts["nodes"] == "2 of 0-4 (1 idle, 1 running)" and texts["vm_size"] == "Standard_D2_v3"
        for attribute in ACTIONS.values():
            qaction = getattr(pane, attribute)
            assert not qaction.isEnabled()
            assert "compute cluster" in qaction.toolTip()
        name_tip = pane.model.index(pane.model.row_of("cpu-cluster"), 0).data(Qt.ItemDataRole.ToolTipRole)
        assert "compute cluster" in name_tip
        assert pane.details.fields()["Nodes"] == "2 of 0-4 (1 idle, 1 running)"
        assert pane.details.fields()["Scale down"] == "after 2 min idle"
        assert env.backend.requests == []


def test_local_kind_keeps_its_columns(qtbot: QtBot) -> None:
    backend = ScriptedCompute([ComputeInfo("local", ComputeState.RUNNING, 2, 60.0, 1, 3, started_at=time.time())])
    with _open(qtbot, backend) as env:
        listed(qtbot, env.pane, "local")
        assert [TITLES[c] for c in env.pane.model.columns] == [
            "Name",
            "State",
            "Running",
            "Queued",
            "Max jobs",
            "Idle shutdown",
        ]
        assert list(row_texts(env.pane, "local").values()) == ["local", "Running", "1", "3", "2", "60 min"]
        assert env.pane.details.fields()["Jobs"] == "1 running, 3 queued, at most 2 at once"


def test_a_start_shows_starting_with_elapsed_time_then_running(azure: Env, qtbot: QtBot) -> None:
    pane, backend = azure.pane, azure.backend
    listed(qtbot, pane, "ci1")
    select(pane, "ci1")
    assert pane.start_action.isEnabled() and not pane.stop_waiting_action.isEnabled()
    seen: list[str] = []
    pane.model.dataChanged.connect(lambda *_: seen.append(state_cell(pane, "ci1") or ""))
    pane.start_action.trigger()
    wait_until(lambda: backend.waiting == {"ci1"}, "the start followed", qtbot=qtbot)
    assert backend.requests == [("start", "ci1")]
    assert state_cell(pane, "ci1") in ("Starting… 0:00", "Starting… 0:01")
    assert pane.stop_waiting_action.isEnabled()
    assert "goes on" in pane.stop_waiting_action.toolTip() and "ci1" in pane.stop_waiting_action.toolTip()
    assert not pane.start_action.isEnabled()
    assert pane.stop_action.toolTip() == "ci1 is Starting; stop it when it is Running."
    wait_until(lambda: state_cell(pane, "ci1") == "Starting… 0:01", "the elapsed time ticking", qtbot=qtbot, timeout=5)
    assert pane.details.fields()["State"].startswith("Starting… 0:0")
    lists_before = backend.lists
    backend.finish("ci1")
    wait_until(lambda: state_cell(pane, "ci1") == "Running", "ci1 Running", qtbot=qtbot)
    wait_until(lambda: backend.lists > lists_before, "the list refreshed when the wait ended", qtbot=qtbot)
    assert not pane.stop_waiting_action.isEnabled() and pane.stop_action.isEnabled()
    assert "Stopped" not in seen[seen.index(next(s for s in seen if s.startswith("Starting"))) :]
    assert pane.running_started_here() == ["ci1"]
    assert row_texts(pane, "ci1")["up_for"] == "under a minute"


def test_stop_waiting_stops_following_not_the_operation(azure: Env, qtbot: QtBot) -> None:
    pane, backend = azure.pane, azure.backend
    listed(qtbot, pane, "ci-running")
    select(pane, "ci-running")
    pane.stop_action.trigger()
    wait_until(lambda: backend.waiting == {"ci-running"}, "the stop followed", qtbot=qtbot)
    assert state_cell(
        pane,
        "ci-running",
    ).startswith("Stopping…")  # type: ignore[union-attr]
    pane.stop_waiting_action.trigger()
    wait_until(lambda: backend.cancelled == ["ci-running"], "the wait cancelled", qtbot=qtbot)
    wait_until(lambda: not backend.waiting, "no wait left", qtbot=qtbot)
    assert not pane.stop_waiting_action.isEnabled()
    assert backend.get_compute("ci-running").state == ComputeState.STOPPING  # the operation goes on
    assert backend.requests == [("stop", "ci-running")]
    # The service's own in-progress operation still gives the time spent.
    assert state_cell(pane, "ci-running").startswith("Stopping… 0:0")  # type: ignore[union-attr]
    assert "no longer waiting" in azure.window.statusBar().currentMessage().lower()


def test_a_failed_operation_shows_the_service_sentence_and_the_real_state(azure: Env, qtbot: QtBot) -> None:
    pane, backend = azure.pane, azure.backend
    listed(qtbot, pane, "ci1")
    select(pane, "ci1")
    pane.start_action.trigger()
    wait_until(lambda: backend.waiting == {"ci1"}, "the start followed", qtbot=qtbot)
    sentence = "StartComputeInstanceOnlyAllowedInStoppedState: ci1 cannot be started now."
    with qtbot.waitSignal(azure.notifier.sig_notified) as notified:
        backend.finish("ci1", RunStateError(sentence), ComputeState.STOPPED)
    assert notified.args[0] == f"Starting ci1: {sentence}"
    wait_until(lambda: state_cell(pane, "ci1") == "Stopped", "ci1's real state", qtbot=qtbot)
    row = pane.model.row_of("ci1")
    assert sentence in pane.model.index(row, pane.model.column("state")).data(Qt.ItemDataRole.ToolTipRole)
    assert pane.details.fields()["Last error"] == sentence
    assert pane.details.fields()["Last operation"].startswith("Start — Failed")
    assert pane.start_action.isEnabled()  # it can be tried again
    assert pane.running_started_here() == []


def test_a_refused_request_is_explained_and_the_pane_goes_on(azure: Env, qtbot: QtBot) -> None:
    """A state that changed between the last list and the click: the service refuses at once (409)."""
    pane, backend = azure.pane, azure.backend
    listed(qtbot, pane, "ci1")
    select(pane, "ci1")
    backend.set_state("ci1", ComputeState.STARTING)  # someone else started it; the pane has not listed since

    def busy(name: str, wait: bool = False) -> ComputeInfo:
        raise RunStateError("Conflict: ci1 is busy with another operation (Starting).")

    backend.start_compute = busy  # type: ignore[method-assign]
    with qtbot.waitSignal(azure.notifier.sig_notified) as notified:
        pane.start_action.trigger()
    assert notified.args[0] == "Starting ci1: Conflict: ci1 is busy with another operation (Starting)."
    wait_until(lambda: (state_cell(pane, "ci1") or "").startswith("Starting…"), "the real state listed", qtbot=qtbot)
    assert not pane.start_action.isEnabled()
    assert pane.start_action.toolTip() == "ci1 is Starting; start it when it is Stopped."
    assert not backend.waiting and backend.requests == []


def test_poll_pace_comes_from_the_kind(azure: Env, qtbot: QtBot) -> None:
    pane, backend = azure.pane, azure.backend
    listed(qtbot, pane, "ci1")
    wait_until(pane._timer.isActive, "the next poll planned", qtbot=qtbot)
    assert pane.poll_interval_s() == 30.0 and pane._timer.interval() == 30_000
    lists = backend.lists
    select(pane, "ci1")
    pane.start_action.trigger()
    wait_until(lambda: backend.waiting == {"ci1"}, "the start followed", qtbot=qtbot)
    assert pane.poll_interval_s() == 5.0
    wait_until(lambda: pane._timer.isActive() and pane._timer.interval() == 5000, "5 s while Starting", qtbot=qtbot)
    assert backend.lists <= lists + 1  # never every second
    backend.finish("ci1")
    wait_until(lambda: state_cell(pane, "ci1") == "Running", "ci1 Running", qtbot=qtbot)
    wait_until(lambda: pane._timer.isActive() and pane._timer.interval() == 30_000, "30 s again", qtbot=qtbot)


def test_details_show_what_costs_money(azure: Env, qtbot: QtBot) -> None:
    pane = azure.pane
    listed(qtbot, pane, "ci-running")
    select(pane, "ci-running")
    fields = pane.details.fields()
    assert fields["Running for"] == "2 h 14 min"
    assert fields["VM size"] == "Standard_DS3_v2" and fields["Assigned to"] == "Ada Lovelace"
    assert fields["Idle shutdown"] == "after 60 min idle"
    assert fields["Schedules"] == "Stop at 19:00 on Mon-Fri"
    assert fields["Last operation"].startswith("Start — Succeeded — ")
    assert "Last error" not in fields and "Jobs" not in fields
    assert row_texts(pane, "ci-running")["up_for"] == "2 h 14 min"
    assert row_texts(pane, "ci-running")["running"] if "running" in pane.model.columns else True
    assert pane.details.isVisible()
    select(pane, "ci1")
    assert "Running for" not in pane.details.fields()


def test_empty_states(qtbot: QtBot) -> None:
    with _open(qtbot, ScriptedCompute([])) as env:
        wait_until(
            lambda: env.backend.lists >= 1 and env.pane.empty_label.text() == NO_COMPUTE_TEXT, "empty", qtbot=qtbot
        )
        assert env.pane.empty_label.isVisible() and not env.pane.table.isVisible()
        assert env.pane.new_action.isEnabled()
        env.pane.set_backend(None)
        assert "No workspace" in env.pane.empty_label.text() and not env.pane.new_action.isEnabled()


def _new_dialog(qtbot: QtBot, pane: ComputePane) -> NewComputeDialog:
    pane.new_action.trigger()
    dialog = pane.findChild(QDialog, "newComputeDialog")
    assert isinstance(dialog, NewComputeDialog)
    wait_until(dialog.isVisible, "the New dialog", qtbot=qtbot)
    return dialog


def test_new_instance_with_a_vm_size_is_created_and_followed(azure: Env, qtbot: QtBot) -> None:
    pane, backend = azure.pane, azure.backend
    listed(qtbot, pane, "ci1")
    backend.options_gate.clear()
    dialog = _new_dialog(qtbot, pane)
    assert dialog.vm_size.currentText() == "Loading sizes…" and not dialog.vm_size.isEnabled()
    backend.options_gate.set()
    wait_until(dialog.vm_size.isEnabled, "the sizes arrived", qtbot=qtbot)
    assert [dialog.vm_size.itemText(i) for i in range(dialog.vm_size.count())] == [
        "Standard_DS3_v2 — 4 cores, 14 GB",
        "Standard_NC6 — 6 cores, 56 GB, 1 GPU",
    ]
    assert not dialog.max_jobs.isVisible()  # Azure has no such setting
    qtbot.keyClicks(dialog.name_edit, "gpu-1")
    dialog.vm_size.setCurrentIndex(1)
    dialog.idle_check.setChecked(True)
    dialog.ok_button.click()
    wait_until(lambda: backend.waiting == {"gpu-1"}, "the create followed", qtbot=qtbot)
    assert backend.get_compute("gpu-1").vm_size == "Standard_NC6"
    assert state_cell(pane, "gpu-1").startswith("Creating… 0:0")  # type: ignore[union-attr]
    assert pane.selected() is not None and pane.selected().name == "gpu-1"  # type: ignore[union-attr]
    # Instances stay before the clusters.
    assert [i.kind for i in pane.model.instances()] == ["instance"] * 3 + [CLUSTER]
    backend.finish("gpu-1")
    wait_until(lambda: state_cell(pane, "gpu-1") == "Running", "gpu-1 Running", qtbot=qtbot)
    assert "gpu-1" in pane.running_started_here()


def test_new_dialog_when_sizes_cannot_be_listed(azure: Env, qtbot: QtBot) -> None:
    azure.backend.options_fail = StudioError("The service did not answer.")
    listed(qtbot, azure.pane, "ci1")
    dialog = _new_dialog(qtbot, azure.pane)
    wait_until(dialog.sizes_note.isVisible, "the failure said", qtbot=qtbot)
    assert "The service did not answer." in dialog.sizes_note.text()
    assert dialog.chosen_vm_size() is None
    dialog.reject()


def test_new_dialog_without_sizes_shows_max_jobs(qtbot: QtBot) -> None:
    dialog = NewComputeDialog(set(), options=ComputeOptions())
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.vm_size.isVisible() and dialog.max_jobs.isVisible()


def test_new_dialog_follows_azures_rules_for_names_and_idle_shutdown(qtbot: QtBot) -> None:
    options = ComputeOptions(min_name_length=3, idle_minutes_range=(15, 4320), default_idle_minutes=60)
    dialog = NewComputeDialog({"ci1"}, options=options)
    qtbot.addWidget(dialog)
    dialog.show()
    # An instance that costs money stops itself after an hour unless the user says otherwise.
    assert dialog.idle_check.isChecked() and dialog.idle_minutes.value() == 60
    assert (dialog.idle_minutes.minimum(), dialog.idle_minutes.maximum()) == (15, 4320)
    assert "3 to 24" in dialog.hint.text()
    for typed, problem in (("ab", "Use at least 3 characters."), ("abc-", "End the name with a letter or a digit.")):
        dialog.name_edit.setText(typed)
        assert dialog.hint.text() == problem and not dialog.ok_button.isEnabled()
    dialog.name_edit.setText("ci1")
    assert dialog.hint.text() == "ci1 already exists." and not dialog.ok_button.isEnabled()
    dialog.name_edit.setText("abc")
    assert dialog.ok_button.isEnabled() and dialog.values() == ("abc", 1, 60.0)


def test_submit_script_asks_for_the_selected_compute(azure: Env, qtbot: QtBot) -> None:
    pane = azure.pane
    listed(qtbot, pane, "cpu-cluster")
    select(pane, "cpu-cluster")
    with qtbot.waitSignal(pane.sig_submit_requested) as asked:
        pane.submit_action.trigger()
    assert asked.args == ["cpu-cluster"]
    pane.table.clearSelection()
    with qtbot.waitSignal(pane.sig_submit_requested) as asked:
        pane.submit_action.trigger()
    assert asked.args == [""]


def test_closing_the_workspace_during_an_operation_ends_the_wait(azure: Env, qtbot: QtBot) -> None:
    pane, backend = azure.pane, azure.backend
    listed(qtbot, pane, "ci1")
    select(pane, "ci1")
    pane.start_action.trigger()
    wait_until(lambda: backend.waiting == {"ci1"}, "the start followed", qtbot=qtbot)
    assert azure.runner.pool.activeThreadCount() == 0 or azure.runner.running() == []  # not on the shared pool
    pane.set_backend(None)
    wait_until(lambda: pane.waits.active_threads() == 0, "the wait's thread ended", qtbot=qtbot, timeout=5)
    assert backend.cancelled == ["ci1"]


# -- closing the window -------------------------------------------------------------------------


def _started_and_running(env: Env, qtbot: QtBot, name: str = "ci1") -> None:
    listed(qtbot, env.pane, name)
    select(env.pane, name)
    env.pane.start_action.trigger()
    wait_until(lambda: env.backend.waiting == {name}, f"{name} starting", qtbot=qtbot)
    env.backend.finish(name)
    wait_until(lambda: state_cell(env.pane, name) == "Running", f"{name} Running", qtbot=qtbot)


def test_close_prompt_stops_instances_started_here(
    azure: Env, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pane, backend = azure.pane, azure.backend
    pane.settings = WindowSettings(str(tmp_path / "settings.ini"))
    asked: list[list[str]] = []
    answers = [(CloseAnswer.CANCEL, False), (CloseAnswer.STOP, False)]
    monkeypatch.setattr(pane, "ask_close", lambda parent, names: asked.append(names) or answers.pop(0))
    listed(qtbot, pane, "ci-running")
    assert pane.running_started_here() == [] and pane.ask_before_close() and asked == []  # not started here
    _started_and_running(azure, qtbot)
    assert pane.running_started_here() == ["ci1"]
    assert question_text(["ci1"]) == "ci1 is still running and costs money. Stop it before closing?"
    assert not pane.ask_before_close()  # Cancel: the window stays
    assert pane.ask_before_close()  # Stop: sent, then closing goes on
    assert asked == [["ci1"], ["ci1"]]
    assert backend.requests[-1] == ("stop", "ci1")
    assert pane.running_started_here() == []


def test_close_prompt_remembers_dont_ask_again(
    azure: Env, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pane, backend = azure.pane, azure.backend
    settings = pane.settings = WindowSettings(str(tmp_path / "settings.ini"))
    asked: list[list[str]] = []
    monkeypatch.setattr(pane, "ask_close", lambda parent, names: asked.append(names) or (CloseAnswer.LEAVE, True))
    _started_and_running(azure, qtbot)
    assert pane.ask_before_close()
    assert settings.q.value(ASK_KEY) in (False, "false") and settings.q.value(ANSWER_KEY) == "leave"
    assert pane.ask_before_close() and len(asked) == 1  # not asked again
    assert ("stop", "ci1") not in backend.requests


def test_close_prompt_not_for_a_kind_that_costs_nothing(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = ScriptedCompute([azure_info("ci1", ComputeState.STOPPED)], billed=False)
    with _open(qtbot, backend) as env:
        monkeypatch.setattr(env.pane, "ask_close", lambda parent, names: pytest.fail("asked"))
        _started_and_running(env, qtbot)
        assert env.pane.running_started_here() == ["ci1"]
        assert env.pane.ask_before_close()


def test_a_refused_stop_on_closing_keeps_the_window(
    azure: Env, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pane, backend = azure.pane, azure.backend
    pane.settings = WindowSettings(str(tmp_path / "settings.ini"))
    monkeypatch.setattr(pane, "ask_close", lambda parent, names: (CloseAnswer.STOP, False))
    _started_and_running(azure, qtbot)

    def refuse(name: str, wait: bool = False) -> ComputeInfo:
        raise RunStateError(f"{name} is busy.")

    backend.stop_compute = refuse  # type: ignore[method-assign]
    with qtbot.waitSignal(azure.notifier.sig_notified) as notified:
        assert not pane.ask_before_close()
    assert notified.args[0] == "Stopping ci1: ci1 is busy."


def test_the_close_question_itself(qtbot: QtBot) -> None:
    """The real message box: its sentence, its three buttons and "Don't ask again"."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from studio.ui.compute.close_prompt import ask

    seen: list[tuple[str, list[str]]] = []

    def answer(button: str, tick: bool) -> None:
        box = next((w for w in QApplication.topLevelWidgets() if w.objectName() == "computeClosePrompt"), None)
        if not isinstance(box, QMessageBox) or not box.isVisible():
            QTimer.singleShot(10, lambda: answer(button, tick))
            return
        seen.append((box.text(), [b.text() for b in box.buttons()]))
        check = box.checkBox()
        assert check is not None and check.text() == "Don't ask again"
        check.setChecked(tick)
        next(b for b in box.buttons() if b.text().replace("&", "") == button).click()

    QTimer.singleShot(0, lambda: answer("Leave running", True))
    assert ask(None, ["ci1", "ci2"]) == (CloseAnswer.LEAVE, True)
    text, buttons = seen[0]
    assert text == "ci1 and ci2 are still running and cost money. Stop them before closing?"
    assert sorted(b.replace("&", "") for b in buttons) == ["Cancel", "Leave running", "Stop"]
    QTimer.singleShot(0, lambda: answer("Cancel", True))
    assert ask(None, ["ci1"]) == (CloseAnswer.CANCEL, False)  # "don't ask" means nothing with Cancel
    QTimer.singleShot(0, lambda: answer("Stop", False))
    assert ask(None, ["ci1"]) == (CloseAnswer.STOP, False)


def test_a_resizing_cluster_does_not_speed_up_polling(qtbot: QtBot) -> None:
    resizing = replace(cluster(), state=ComputeState.RESIZING)
    with _open(qtbot, ScriptedCompute([azure_info("ci1", ComputeState.STOPPED), resizing])) as env:
        listed(qtbot, env.pane, "cpu-cluster")
        assert state_cell(env.pane, "cpu-cluster") == "Resizing…"
        assert env.pane.poll_interval_s() == 30.0
        env.backend.set_state("ci1", ComputeState.STARTING)  # started elsewhere: listed faster until it settles
        env.pane.refresh()
        wait_until(lambda: env.pane.poll_interval_s() == 5.0, "5 s while ci1 is Starting", qtbot=qtbot)
