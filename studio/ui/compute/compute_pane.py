"""The compute pane: a live table of compute instances with New, Start, Stop, Restart and Delete.

Every backend call runs through the TaskRunner; the pane polls ``list_compute`` once a
second (one call in flight at most), so transitions such as Starting… -> Running show live.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QItemSelectionModel, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSpinBox,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from studio.core.backend import ComputeBackend
from studio.core.compute import ComputeInfo, ComputeState
from studio.ui.background.notifier import Notifier
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner
from studio.ui.compute.compute_model import (
    NAME_RULE,
    STATE,
    TRANSITIONAL,
    ComputeModel,
    jobs_text,
    name_problem,
    state_text,
)

POLL_INTERVAL_MS = 1000
FAST_POLL_MS = 200
# Every local workspace has this instance; it cannot be deleted.
LOCAL = "local"
_ERROR_STYLE = "color: #d64541;"
EMPTY_TEXT = "No workspace is open.\nOpen one to see and manage its compute instances."
_W = TypeVar("_W", bound=QObject)


def _named(obj: _W, name: str) -> _W:
    obj.setObjectName(name)
    return obj


class NewComputeDialog(QDialog):
    """Asks for a new instance's name, how many jobs it runs at once and its idle shutdown."""

    def __init__(self, existing: set[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("newComputeDialog")
        self.setWindowTitle("New compute instance")
        self.setMinimumWidth(460)  # the name hint fits on one line: no jumps while typing
        self._existing = existing
        self.name_edit = _named(QLineEdit(placeholderText="e.g. gpu-box-1"), "computeName")
        self.hint = _named(QLabel(NAME_RULE, wordWrap=True), "computeNameHint")
        self.max_jobs = _named(QSpinBox(minimum=1, maximum=64), "computeMaxJobs")
        self.idle_check = _named(QCheckBox("Stop after"), "computeIdleShutdown")
        self.idle_minutes = _named(QSpinBox(minimum=1, maximum=10_080, value=30), "computeIdleMinutes")
        self.idle_minutes.setSuffix(" min idle")
        self.idle_minutes.setEnabled(False)
        self.idle_check.toggled.connect(self.idle_minutes.setEnabled)
        idle_row = QHBoxLayout()
        idle_row.addWidget(self.idle_check)
        idle_row.addWidget(self.idle_minutes, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Name:", self.name_edit)
        form.addRow("", self.hint)
        form.addRow("Max concurrent jobs:", self.max_jobs)
        form.addRow("Idle shutdown:", idle_row)
        form.addRow(self.buttons)
        self.name_edit.textChanged.connect(self._validate)
        self._validate("")

    def _validate(self, text: str) -> None:
        problem = name_problem(text, self._existing)
        self.ok_button.setEnabled(not problem)
        shown_as_error = bool(problem and text)
        self.hint.setText(problem if shown_as_error else NAME_RULE)
        self.hint.setStyleSheet(_ERROR_STYLE if shown_as_error else "")
        role = QPalette.ColorRole.WindowText if shown_as_error else QPalette.ColorRole.PlaceholderText
        self.hint.setForegroundRole(role)  # the style sheet's colour applies to WindowText

    def values(self) -> tuple[str, int, float | None]:
        """(name, max concurrent jobs, idle shutdown minutes or None)."""
        idle = float(self.idle_minutes.value()) if self.idle_check.isChecked() else None
        return self.name_edit.text(), self.max_jobs.value(), idle


class ComputePane(QDockWidget):
    """Lists a workspace's compute instances, live, and starts, stops, restarts, creates and deletes them."""

    sig_instances_changed = Signal(list)
    """The compute instances changed (the new list of ComputeInfo, in row order)."""

    def __init__(self, runner: TaskRunner, notifier: Notifier, parent: QWidget | None = None) -> None:
        super().__init__("Compute", parent)
        self.setObjectName("computePane")
        self._runner, self._notifier = runner, notifier
        self._backend: ComputeBackend | None = None
        # Bumped per backend: late answers to actions on an old one's instances are dropped.
        self._generation = 0
        self._polling = TaskSlot(runner, success=self._polled, failure=self._poll_failed, owner=self)
        self._poll_error = ""  # the last polling error, told once
        self._acting_on: set[str] = set()  # instances with an action in flight
        self._select_when_listed = ""
        self._timer = QTimer(self, singleShot=True, interval=POLL_INTERVAL_MS)
        self._timer.timeout.connect(self.refresh)
        self.model = ComputeModel(self)
        self._build()
        self.set_backend(None)

    def _build(self) -> None:
        bar = _named(QToolBar("Compute actions"), "computeToolBar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.new_action = self._action(bar, "New…", "computeNew", self._new, "Create a compute instance")
        bar.addSeparator()
        self.start_action = self._action(bar, "Start", "computeStart", self._start, "Start the selected instance")
        self.stop_action = self._action(bar, "Stop", "computeStop", self._stop, "Stop the selected instance")
        self.restart_action = self._action(bar, "Restart", "computeRestart", self._restart, "Restart the instance")
        self.delete_action = self._action(bar, "Delete", "computeDelete", self._delete, "Delete the instance")
        self.table = _named(QTableView(), "computeTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)  # long names are elided, rows keep their height
        self.table.setAlternatingRowColors(True)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.table.addActions([self.start_action, self.stop_action, self.restart_action, self.delete_action])
        header = self.table.horizontalHeader()
        # Narrow docks scroll, names stay whole; the name takes the dock's spare width.
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(60)
        header.setSectionResizeMode(STATE, QHeaderView.ResizeMode.Fixed)
        widest = max(self.fontMetrics().horizontalAdvance(state_text(s)) for s in ComputeState)
        header.resizeSection(STATE, widest + 40)  # room for the status icon and padding
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        self.empty_label = _named(QLabel(EMPTY_TEXT, wordWrap=True), "computeEmpty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.table)
        self.setWidget(body)

    def _action(self, bar: QToolBar, text: str, name: str, slot: Callable[[], None], tip: str) -> QAction:
        action = _named(QAction(text, self, iconText=text, toolTip=tip, statusTip=tip), f"{name}Action")
        action.triggered.connect(slot)
        bar.addAction(action)
        bar.widgetForAction(action).setObjectName(name)
        return action

    def set_backend(self, backend: ComputeBackend | None) -> None:
        """Show ``backend``'s instances (polled live), or nothing when it is None."""
        self._backend = backend
        self._generation += 1
        self._polling.reset()
        self._poll_error, self._select_when_listed = "", ""
        self._acting_on.clear()
        self._timer.stop()
        self._show([])
        self.table.setVisible(backend is not None)
        self.empty_label.setVisible(backend is None)
        self.refresh()

    def refresh(self) -> None:
        """Fetch the instances in the background now (or right after the call in flight)."""
        if (backend := self._backend) is None:
            return
        self._timer.stop()
        self._polling.request(backend.list_compute)

    def _polled(self, infos: list[ComputeInfo]) -> None:
        self._poll_error = ""
        self._show(infos)
        # While an instance changes state, look more often so "Starting…" turns "Running" promptly.
        moving = any(i.state in TRANSITIONAL for i in infos)
        self._timer.setInterval(FAST_POLL_MS if moving else POLL_INTERVAL_MS)
        self._poll_later()

    def _poll_failed(self, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if error != self._poll_error:  # say it once, not every second
            self._notifier.error(exc, context="Listing compute instances")
        self._poll_error = error
        self._poll_later()

    def _poll_later(self) -> None:
        if not self._polling.waiting:  # else a refresh asked meanwhile runs right away
            self._timer.start()

    def _show(self, infos: list[ComputeInfo]) -> None:
        if self.model.set_instances(infos):
            self.sig_instances_changed.emit(self.model.instances())
        wanted = self._select_when_listed or ("" if self.selected() else (infos[0].name if infos else ""))
        row = self.model.row_of(wanted) if wanted else -1
        if row >= 0:
            self._select_when_listed = ""
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            self.table.selectionModel().setCurrentIndex(self.model.index(row, 0), flags)
        self._update_actions()

    def selected(self) -> ComputeInfo | None:
        """The selected instance, as last listed."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.info(rows[0].row()) if rows else None

    def _update_actions(self) -> None:
        has_backend, info = self._backend is not None, self.selected()
        ok = info if has_backend and info is not None and info.name not in self._acting_on else None
        self.new_action.setEnabled(has_backend)
        self.start_action.setEnabled(bool(ok and ok.can_start))
        self.stop_action.setEnabled(bool(ok and ok.can_stop))
        self.restart_action.setEnabled(bool(ok and ok.can_restart))
        self.delete_action.setEnabled(bool(ok and ok.name != LOCAL and ok.state != ComputeState.DELETING))

    def confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question; True for yes (tests replace this method)."""
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        answer = QMessageBox.question(self, title, text, buttons, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _run(self, doing: str, name: str, call: Callable[[ComputeBackend], Any]) -> None:
        """Call the backend in the background, labelled "<doing> <name>"; errors go to the notifier."""
        if (backend := self._backend) is None:
            return
        label, generation = f"{doing} {name}", self._generation
        self._acting_on.add(name)
        self._update_actions()

        def done(_: object = None) -> None:
            if generation == self._generation:
                self._acting_on.discard(name)
                self._update_actions()
                self.refresh()

        def failed(exc: BaseException) -> None:
            self._notifier.error(exc, context=label)
            done()

        self._runner.submit(call, backend, success=done, failure=failed, label=label, owner=self)

    def _new(self) -> None:
        dialog = NewComputeDialog({info.name for info in self.model.instances()}, self)
        dialog.accepted.connect(lambda: self._create(*dialog.values()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _create(self, name: str, max_jobs: int, idle_minutes: float | None) -> None:
        self._select_when_listed = name
        self._run("Creating", name, lambda b: b.create_compute(name, max_jobs, idle_minutes))

    def _start(self) -> None:
        if info := self.selected():
            self._run("Starting", info.name, lambda b: b.start_compute(info.name))

    def _stop(self) -> None:
        self._stop_or_restart("Stop", "Stopping", lambda b, name: b.stop_compute(name))

    def _restart(self) -> None:
        self._stop_or_restart("Restart", "Restarting", lambda b, name: b.restart_compute(name))

    def _stop_or_restart(self, verb: str, doing: str, call: Callable[[ComputeBackend, str], Any]) -> None:
        """Both cancel the running jobs: ask first when there are some."""
        if (info := self.selected()) is None:
            return
        question = f"{doing} {info.name} cancels its {jobs_text(info.running_jobs, 'running')}. {verb} it?"
        if not info.running_jobs or self.confirm(verb, question):
            self._run(doing, info.name, lambda b: call(b, info.name))

    def _delete(self) -> None:
        if (info := self.selected()) is None:
            return
        lost = [jobs_text(n, kind) for n, kind in ((info.running_jobs, "running"), (info.queued_jobs, "queued")) if n]
        consequence = f" Its {' and '.join(lost)} will be canceled." if lost else ""
        if self.confirm("Delete", f"Delete the compute instance {info.name}?{consequence} This cannot be undone."):
            self._run("Deleting", info.name, lambda b: b.delete_compute(info.name))
