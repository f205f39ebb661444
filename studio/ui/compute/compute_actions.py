"""The Compute pane's toolbar: its actions, and which of them the selected row allows, each disabled one saying why.

The rules are the instance's own (``ComputeInfo.allowed`` / ``refusal``, from ``studio.core.compute``); this module
only turns them into enabled states and tooltips, and adds what the pane knows: an action already asked of the
instance ("Starting ci1: waiting for the service to answer") and an operation being followed ("Stop waiting").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QToolBar

from studio.core.compute import ComputeAction, ComputeInfo

STOP_WAITING_TIP = "Stop waiting for the operation to end (the operation itself goes on)."
TIPS = {
    ComputeAction.START: "Start the selected instance",
    ComputeAction.STOP: "Stop the selected instance",
    ComputeAction.RESTART: "Restart the instance",
    ComputeAction.DELETE: "Delete the instance",
}


@dataclass(frozen=True)
class ActionSlots:
    """What each action of the toolbar does (the pane's methods)."""

    new: Callable[[], None]
    start: Callable[[], None]
    stop: Callable[[], None]
    restart: Callable[[], None]
    delete: Callable[[], None]
    stop_waiting: Callable[[], None]
    submit: Callable[[], None]
    choose_python: Callable[[], None]


class ComputeActions:
    """The toolbar's actions (owned by ``owner``), and ``update`` for the row selected."""

    def __init__(self, owner: QObject, slots: ActionSlots) -> None:
        self.bar = QToolBar("Compute actions")
        self.bar.setObjectName("computeToolBar")
        self.bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self._owner = owner
        self.new = self._action("New…", "computeNew", slots.new, "Create a compute instance")
        self.bar.addSeparator()
        self.start = self._action("Start", "computeStart", slots.start, TIPS[ComputeAction.START])
        self.stop = self._action("Stop", "computeStop", slots.stop, TIPS[ComputeAction.STOP])
        self.restart = self._action("Restart", "computeRestart", slots.restart, TIPS[ComputeAction.RESTART])
        self.delete = self._action("Delete", "computeDelete", slots.delete, TIPS[ComputeAction.DELETE])
        self.stop_waiting = self._action("Stop waiting", "computeStopWaiting", slots.stop_waiting, STOP_WAITING_TIP)
        self.bar.addSeparator()
        self.submit = self._action(
            "Submit script…", "computeSubmit", slots.submit, "Submit a script to run on the selected compute"
        )
        self.python = self._action(
            "Python…", "computePython", slots.choose_python, "Choose the Python interpreter for local jobs"
        )
        self.by_kind = {
            ComputeAction.START: self.start,
            ComputeAction.STOP: self.stop,
            ComputeAction.RESTART: self.restart,
            ComputeAction.DELETE: self.delete,
        }

    def row_actions(self) -> list[QAction]:
        """The actions on one row (the table's context menu)."""
        return [*self.by_kind.values(), self.stop_waiting, self.submit]

    def _action(self, text: str, name: str, slot: Callable[[], None], tip: str) -> QAction:
        action = QAction(text, self._owner, iconText=text, toolTip=tip, statusTip=tip)
        action.setObjectName(f"{name}Action")
        action.triggered.connect(slot)
        self.bar.addAction(action)
        self.bar.widgetForAction(action).setObjectName(name)
        return action

    def update(self, has_backend: bool, info: ComputeInfo | None, busy: str | None, waiting: str | None) -> None:
        """Enable what ``info`` allows: ``busy`` is what was asked of it and not yet answered ("Starting"),
        ``waiting`` the operation being followed ("Starting"), each None when there is none."""
        if not has_backend:
            info = None
        for kind, action in self.by_kind.items():
            allowed = info is not None and not busy and kind in info.allowed
            action.setEnabled(allowed)
            if info is None or allowed:
                tip = TIPS[kind]
            elif busy:
                tip = f"{busy} {info.name}: waiting for the service to answer."
            else:
                tip = info.refusal(kind) or TIPS[kind]
            _tip(action, tip)
        self.stop_waiting.setEnabled(info is not None and waiting is not None)
        if info is not None and waiting is not None:
            _tip(
                self.stop_waiting,
                f"Stop waiting for {waiting.lower()} {info.name} to end; the operation itself goes on.",
            )
        else:
            _tip(self.stop_waiting, STOP_WAITING_TIP)
        self.new.setEnabled(has_backend)
        self.submit.setEnabled(has_backend)


def _tip(action: QAction, text: str) -> None:
    action.setToolTip(text)
    action.setStatusTip(text)
