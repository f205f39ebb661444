"""The compute pane: a live table of compute instances (and Azure's clusters) with New, Start, Stop, Restart, Delete.

Every backend call runs off the GUI thread. The list is polled through the shared TaskRunner (one call in
flight at most) at the kind's own pace (``backend.compute_refresh()``: the local kind once a second, Azure
every 30 s and every 5 s while something changes state). An action is one request that returns once the
service accepted it (the row shows "Starting…" at once); the pane then follows the operation with
``wait_compute`` on a small pool of its own (:class:`OperationWaits`), showing the time spent ("Starting…
0:42") until it ends. "Stop waiting" stops following, never the operation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QItemSelectionModel, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QLabel,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from studio.core.backend import ComputeBackend
from studio.core.compute import CLUSTER, ComputeAction, ComputeInfo, ComputeOptions, ComputeRefresh
from studio.ui.background.notifier import Notifier, sentence
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner
from studio.ui.compute import close_prompt
from studio.ui.compute.close_prompt import CloseAnswer
from studio.ui.compute.compute_actions import ActionSlots, ComputeActions
from studio.ui.compute.compute_details import ComputeDetails
from studio.ui.compute.compute_model import ComputeModel, jobs_text
from studio.ui.compute.compute_table import ComputeTable
from studio.ui.compute.compute_texts import is_running
from studio.ui.compute.job_python import choose_job_python, job_python_setter
from studio.ui.compute.new_compute_dialog import NewComputeDialog
from studio.ui.compute.operation_waits import OperationWaits
from studio.ui.shell.settings import WindowSettings

__all__ = ["ComputePane", "NewComputeDialog"]

EMPTY_TEXT = "No workspace is open.\nOpen one to see and manage its compute instances."
LISTING_TEXT = "Listing compute…"
NO_COMPUTE_TEXT = "No compute instances yet. New… creates one."
WIDE_DOCK_PX = 900
"""A dock at least this wide (and wider than tall) shows the details beside the table."""
DETAILS_WIDTH_PX = 360
_DEFAULT_REFRESH = ComputeRefresh(idle_s=1.0, moving_s=0.2)
_DOING = {
    ComputeAction.START: "Starting",
    ComputeAction.STOP: "Stopping",
    ComputeAction.RESTART: "Restarting",
    ComputeAction.DELETE: "Deleting",
}
_W = TypeVar("_W", bound=QObject)


def _named(obj: _W, name: str) -> _W:
    obj.setObjectName(name)
    return obj


def _listing(backend: ComputeBackend, epoch: int) -> tuple[int, ComputeRefresh, list[ComputeInfo]]:
    """One poll (on a worker): the kind's pace (no I/O) and the list."""
    return epoch, backend.compute_refresh(), backend.list_compute()


class ComputePane(QDockWidget):
    """Lists a workspace's compute, live, and starts, stops, restarts, creates and deletes instances."""

    sig_instances_changed = Signal(list)
    """The compute changed (the new list of ComputeInfo, in row order)."""
    sig_submit_requested = Signal(str)
    """The user asked to submit a script (to the selected compute's name, or "" for none selected)."""

    def __init__(self, runner: TaskRunner, notifier: Notifier, parent: QWidget | None = None) -> None:
        super().__init__("Compute", parent)
        self.setObjectName("computePane")
        self._runner, self._notifier = runner, notifier
        self._backend: ComputeBackend | None = None
        # Bumped per backend: late answers to actions on an old one's instances are dropped.
        self._generation = 0
        # Bumped when an action was accepted: a listing asked for before that answers with the old state.
        self._epoch = 0
        self._polling = TaskSlot(runner, success=self._polled, failure=self._poll_failed, owner=self)
        self._options = TaskSlot(runner, success=self._options_arrived, failure=self._options_failed, owner=self)
        self._known_options: ComputeOptions | None = None
        self._dialog: NewComputeDialog | None = None
        self._refresh = _DEFAULT_REFRESH
        self._poll_error = ""  # the last polling error, told once
        self._listed = False
        self._acting_on: dict[str, str] = {}  # instance -> what is being asked of it ("Starting")
        self._started_here: set[str] = set()  # instances the user started (or created) from this pane
        self._select_when_listed = ""
        self.waits = OperationWaits(self)
        self._timer = QTimer(self, singleShot=True, interval=1000)
        self._timer.timeout.connect(self.refresh)
        self._clock = QTimer(self, interval=1000)  # elapsed times and "Up for" while they show
        self._clock.timeout.connect(self._tick)
        self.settings: WindowSettings | None = None
        """Where "Don't ask again" is kept (None: the window's settings, else the user's)."""
        self.model = ComputeModel(self)
        self._build()
        self.set_backend(None)

    # -- building ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.toolbar = ComputeActions(
            self,
            ActionSlots(
                new=self._new,
                start=self._start,
                stop=self._stop,
                restart=self._restart,
                delete=self._delete,
                stop_waiting=self.stop_waiting,
                submit=self._submit,
                choose_python=self._choose_python,
            ),
        )
        bar = self.toolbar.bar
        self.new_action, self.start_action, self.stop_action = self.toolbar.new, self.toolbar.start, self.toolbar.stop
        self.restart_action, self.delete_action = self.toolbar.restart, self.toolbar.delete
        self.stop_waiting_action, self.submit_action = self.toolbar.stop_waiting, self.toolbar.submit
        self.python_action = self.toolbar.python
        self.table = ComputeTable(self.model)
        self.table.addActions(self.toolbar.row_actions())
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.empty_label = _named(QLabel(EMPTY_TEXT, wordWrap=True), "computeEmpty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.details = ComputeDetails()
        self.splitter = _named(QSplitter(Qt.Orientation.Vertical), "computeSplitter")
        self.splitter.addWidget(self.table)
        self.details_area = _named(QScrollArea(), "computeDetailsArea")
        self.details_area.setWidget(self.details)
        self.details_area.setWidgetResizable(True)
        self.details_area.setFrameShape(QFrame.Shape.NoFrame)
        self.details_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.splitter.addWidget(self.details_area)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self._split_sized = False  # the split is set once the dock has a size, then when it turns
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.splitter)
        self.setWidget(body)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Details beside the table in a wide, low dock (the bottom one), under it in a tall or narrow one."""
        super().resizeEvent(event)
        size = event.size()
        wide = size.width() >= WIDE_DOCK_PX and size.width() > 1.6 * size.height()
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.splitter.orientation() != orientation or not self._split_sized:
            self._split_sized = True
            self.splitter.setOrientation(orientation)
            if wide:
                side = min(DETAILS_WIDTH_PX, size.width() // 3)
                self.splitter.setSizes([size.width() - side, side])
            else:
                self.splitter.setSizes([size.height() * 3 // 5, size.height() * 2 // 5])

    # -- the backend and its list ---------------------------------------------------------------

    def set_backend(self, backend: ComputeBackend | None) -> None:
        """Show ``backend``'s compute (polled live), or nothing when it is None."""
        self._backend = backend
        self._generation += 1
        self._polling.reset()
        self._options.reset()
        self.waits.stop_all()
        self.model.forget_operations()
        self._known_options, self._refresh, self._listed = None, _DEFAULT_REFRESH, False
        self._poll_error, self._select_when_listed = "", ""
        self._acting_on.clear()
        self._started_here.clear()
        self._timer.stop()
        self._show([])
        self.python_action.setVisible(job_python_setter(backend) is not None)
        self.refresh()

    def _choose_python(self) -> None:
        selected = self.selected()
        runtime = selected.runtime if selected is not None else ""
        choose_job_python(self, self._backend, self._runner, self._notifier, runtime, self.refresh)

    def refresh(self) -> None:
        """Fetch the compute in the background now (or right after the call in flight)."""
        if (backend := self._backend) is None:
            return
        self._timer.stop()
        self._polling.request(_listing, backend, self._epoch)

    def _polled(self, answer: tuple[int, ComputeRefresh, list[ComputeInfo]]) -> None:
        epoch, self._refresh, infos = answer
        if epoch != self._epoch:
            self.refresh()  # asked for before an action was accepted: it shows the state before it
            return
        self._poll_error, self._listed = "", True
        self._show(infos)
        self._poll_later()

    def _poll_failed(self, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if error != self._poll_error:  # say it once, not every poll
            self._notifier.error(exc, context="Listing compute")
        self._poll_error = error
        if not self._listed:
            self.empty_label.setText(f"Could not list the compute: {sentence(exc)}")
        self._poll_later()

    def poll_interval_s(self) -> float:
        """Seconds to the next listing: the kind's faster pace while an instance changes state."""
        # A cluster resizing is Azure scaling it for jobs (it may take long): no reason to list faster.
        moving = self.waits.names() or any(
            i.state.is_transitional and i.kind != CLUSTER for i in self.model.instances()
        )
        return self._refresh.moving_s if moving else self._refresh.idle_s

    def _poll_later(self) -> None:
        if self._backend is not None and not self._polling.busy and not self._polling.waiting:
            self._timer.start(max(50, int(self.poll_interval_s() * 1000)))

    def _show(self, infos: list[ComputeInfo]) -> None:
        ordered = sorted(infos, key=lambda i: i.kind == CLUSTER)  # instances first, then clusters
        if self.model.set_instances(ordered):
            self.table.size_columns()
            self.sig_instances_changed.emit(self.model.instances())
        self._after_change()

    def _after_change(self) -> None:
        wanted = self._select_when_listed or ("" if self.selected() else self._first_name())
        row = self.model.row_of(wanted) if wanted else -1
        if row >= 0:
            self._select_when_listed = ""
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            self.table.selectionModel().setCurrentIndex(self.model.index(row, 0), flags)
        self._show_empty()
        self._selection_changed()
        if self.model.has_clock() or self.waits.names():
            if not self._clock.isActive():
                self._clock.start()
        else:
            self._clock.stop()

    def _first_name(self) -> str:
        info = self.model.info(0)
        return info.name if info else ""

    def _show_empty(self) -> None:
        rows = self.model.rowCount()
        if self._backend is None:
            text = EMPTY_TEXT
        elif not self._listed and not rows:
            text = self.empty_label.text() if self._poll_error else LISTING_TEXT
        else:
            text = NO_COMPUTE_TEXT
        if not self._poll_error or self._listed:
            self.empty_label.setText(text)
        self.splitter.setVisible(self._backend is not None and rows > 0)
        self.empty_label.setVisible(self._backend is None or rows == 0)

    def _tick(self) -> None:
        self.model.tick()
        self._show_details()
        if not (self.model.has_clock() or self.waits.names()):
            self._clock.stop()

    # -- selection and actions -----------------------------------------------------------------

    def selected(self) -> ComputeInfo | None:
        """The selected row's record, as last listed."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.info(rows[0].row()) if rows else None

    def _selection_changed(self) -> None:
        self._update_actions()
        self._show_details()

    def _show_details(self) -> None:
        info = self.selected()
        if info is None:
            self.details.show_info(None)
            return
        self.details.show_info(info, self.model.followed_since(info.name), self.model.problem(info.name))

    def _update_actions(self) -> None:
        info = self.selected()
        busy = self._acting_on.get(info.name) if info is not None else None
        wait = self.waits.get(info.name) if info is not None else None
        self.toolbar.update(self._backend is not None, info, busy, wait.doing if wait is not None else None)

    def confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question; True for yes (tests replace this method)."""
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        answer = QMessageBox.question(self, title, text, buttons, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _operate(self, doing: str, name: str, call: Callable[[ComputeBackend], Any], kind: str = "") -> None:
        """Ask the backend for an operation (returns once accepted), show its answer, then follow it."""
        if (backend := self._backend) is None:
            return
        label, generation, since = f"{doing} {name}", self._generation, time.time()
        self._acting_on[name] = doing
        self.model.set_problem(name, "")
        self._update_actions()

        def accepted(result: object = None) -> None:
            if generation != self._generation:
                return
            self._acting_on.pop(name, None)
            self._epoch += 1  # a listing in flight shows the state from before the request
            if kind in ("start", "create"):
                self._started_here.add(name)
            elif kind in ("stop", "delete"):
                self._started_here.discard(name)
            if isinstance(result, ComputeInfo) and self.model.update_one(result):
                self.table.size_columns()
                self.sig_instances_changed.emit(self.model.instances())
            self.model.set_followed(name, since)
            self.waits.follow(backend, name, doing, since, done=settled, failed=wait_failed)
            self._after_change()
            self._poll_later()

        def refused(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self._acting_on.pop(name, None)
            self._notifier.error(exc, context=label)
            self.model.set_problem(name, sentence(exc))
            self._after_change()
            self.refresh()

        def settled(info: ComputeInfo | None) -> None:
            if generation != self._generation:
                return
            self.model.set_followed(name, None)
            changed = self.model.remove(name) if info is None else self.model.update_one(info)
            if changed:
                self.sig_instances_changed.emit(self.model.instances())
            self._after_change()
            self.refresh()

        def wait_failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self.model.set_followed(name, None)
            if kind in ("start", "create"):
                self._started_here.discard(name)  # it did not start: whoever made it run, not this pane
            self._notifier.error(exc, context=label)
            self.model.set_problem(name, sentence(exc))
            self._after_change()
            self.refresh()

        self._runner.submit(call, backend, success=accepted, failure=refused, label=label, owner=self)

    def stop_waiting(self) -> None:
        """Stop following the selected instance's operation; the operation goes on (the list shows it)."""
        if (info := self.selected()) is None or not self.waits.stop_waiting(info.name):
            return
        self.model.set_followed(info.name, None)
        self._notifier.info(f"No longer waiting for {info.name}; the operation goes on.")
        self._after_change()
        self.refresh()

    def _submit(self) -> None:
        info = self.selected()
        self.sig_submit_requested.emit(info.name if info is not None else "")

    # -- New… ----------------------------------------------------------------------------------

    def _new(self) -> None:
        if (backend := self._backend) is None:
            return
        dialog = NewComputeDialog({info.name for info in self.model.instances()}, self, self._known_options)
        self._dialog = dialog
        dialog.accepted.connect(lambda: self._create(*dialog.values(), vm_size=dialog.chosen_vm_size()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.finished.connect(lambda _result: setattr(self, "_dialog", None))
        if self._known_options is None:
            self._options.request(backend.compute_options)
        dialog.open()

    def _options_arrived(self, options: ComputeOptions) -> None:
        self._known_options = options
        if self._dialog is not None and isValid(self._dialog):
            self._dialog.set_options(options)

    def _options_failed(self, exc: BaseException) -> None:
        if self._dialog is not None and isValid(self._dialog):
            self._dialog.set_options_failed(sentence(exc))

    def _create(self, name: str, max_jobs: int, idle_minutes: float | None, vm_size: str | None = None) -> None:
        self._select_when_listed = name
        self._operate(
            "Creating",
            name,
            lambda b: b.create_compute(name, max_jobs, idle_minutes, vm_size=vm_size),
            kind="create",
        )

    def _start(self) -> None:
        if (info := self.selected()) and info.can_start:
            self._operate("Starting", info.name, lambda b: b.start_compute(info.name), kind="start")

    def _stop(self) -> None:
        self._stop_or_restart("Stop", ComputeAction.STOP, lambda b, name: b.stop_compute(name))

    def _restart(self) -> None:
        self._stop_or_restart("Restart", ComputeAction.RESTART, lambda b, name: b.restart_compute(name))

    def _stop_or_restart(self, verb: str, action: ComputeAction, call: Callable[[ComputeBackend, str], Any]) -> None:
        """Both cancel the running jobs: ask first when there are some."""
        if (info := self.selected()) is None or action not in info.allowed:
            return
        doing = _DOING[action]
        question = f"{doing} {info.name} cancels its {jobs_text(info.running_jobs, 'running')}. {verb} it?"
        if not info.running_jobs or self.confirm(verb, question):
            kind = "stop" if action == ComputeAction.STOP else "start"
            self._operate(doing, info.name, lambda b: call(b, info.name), kind=kind)

    def _delete(self) -> None:
        if (info := self.selected()) is None or not info.can_delete:
            return
        lost = [jobs_text(n, kind) for n, kind in ((info.running_jobs, "running"), (info.queued_jobs, "queued")) if n]
        consequence = f" Its {' and '.join(lost)} will be canceled." if lost else ""
        if self.confirm("Delete", f"Delete the compute instance {info.name}?{consequence} This cannot be undone."):
            self._operate("Deleting", info.name, lambda b: b.delete_compute(info.name, wait=False), kind="delete")

    # -- closing the window --------------------------------------------------------------------

    def running_started_here(self) -> list[str]:
        """Instances the user started or created from this pane (this session) that are running now."""
        return [i.name for i in self.model.instances() if i.name in self._started_here and is_running(i)]

    def ask_close(self, parent: QWidget | None, names: list[str]) -> tuple[CloseAnswer, bool]:
        """Ask whether to stop ``names`` before closing: (answer, "Don't ask again"); tests replace this."""
        return close_prompt.ask(parent, names)

    def ask_before_close(self, parent: QWidget | None = None) -> bool:
        """Before the window closes: offer to stop billed instances started here; True if closing may go on.

        Stop sends the stop requests on workers and waits (bounded, the window responsive) for them to be
        accepted. A refused stop keeps the window open, with the service's sentence in the status bar.
        """
        backend = self._backend
        names = self.running_started_here() if backend is not None and self._refresh.billed else []
        if backend is None or not names:
            return True
        settings = self._settings()
        answer = close_prompt.remembered_answer(settings)
        if answer is None:
            answer, dont_ask = self.ask_close(parent if parent is not None else self.window(), names)
            if answer == CloseAnswer.CANCEL:
                return False
            if dont_ask:
                close_prompt.remember(settings, answer)
        if answer == CloseAnswer.LEAVE:
            return True
        return self._stop_before_close(backend, names)

    def _stop_before_close(self, backend: ComputeBackend, names: list[str]) -> bool:
        self._notifier.info(f"Stopping {', '.join(names)} before closing…", 15_000)
        failures = close_prompt.stop_all(self._runner, backend, names)
        for name, exc in failures.items():
            self._notifier.error(exc, context=f"Stopping {name}")
        self._started_here.difference_update(set(names) - set(failures))
        return not failures

    def _settings(self) -> WindowSettings:
        if self.settings is None:
            window_settings = getattr(self.window(), "settings", None)
            self.settings = window_settings if isinstance(window_settings, WindowSettings) else WindowSettings()
        return self.settings
