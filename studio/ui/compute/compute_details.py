"""The details under the compute table: what the selected instance or cluster is, costs and last did."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QSizePolicy, QWidget

from studio.core.compute import CLUSTER, ComputeInfo, up_text
from studio.ui.compute.compute_model import state_cell
from studio.ui.compute.compute_texts import idle_text, is_running, up_for, when_text

FIELDS = (
    "State",
    "VM size",
    "Python",
    "Assigned to",
    "Running for",
    "Idle shutdown",
    "Schedules",
    "Jobs",
    "Nodes",
    "Scale down",
    "Last operation",
    "Last error",
)
_ERROR_STYLE = "color: #d64541;"
UNUSABLE = "Unusable: "
"""How a kind starts ``ComputeInfo.runtime`` when what would run the jobs cannot (the local kind's interpreter)."""


def details_of(
    info: ComputeInfo, followed_since: float | None, problem: str, now: float | None = None
) -> dict[str, str]:
    """The lines shown for ``info`` (only those with something to say), by field name."""
    now = time.time() if now is None else now
    cluster = info.kind == CLUSTER
    fields: dict[str, str] = {"State": state_cell(info, followed_since, now)}
    if info.state_reason and info.state_reason != info.state.label:
        fields["State"] += f" — {info.state_reason}"
    fields["VM size"] = info.vm_size
    fields["Python"] = info.runtime
    fields["Assigned to"] = info.assigned_user
    seconds = up_for(info, now)
    if seconds is not None:
        fields["Running for"] = up_text(seconds)
    elif is_running(info):
        fields["Running for"] = "unknown"
    if not cluster:
        fields["Idle shutdown"] = (
            f"after {idle_text(info.idle_shutdown_minutes)} idle" if info.idle_shutdown_minutes else "never"
        )
    fields["Schedules"] = "\n".join(info.schedules)
    if info.counts_jobs and not cluster:
        fields["Jobs"] = (
            f"{info.running_jobs} running, {info.queued_jobs} queued, at most {info.max_concurrent_jobs} at once"
        )
    if info.nodes is not None:
        fields["Nodes"] = info.nodes.text
        if info.nodes.scale_down_after_s is not None:
            fields["Scale down"] = f"after {up_text(info.nodes.scale_down_after_s)} idle"
    if info.last_operation:
        parts = [info.last_operation, info.last_operation_status, when_text(info.last_operation_at, now)]
        fields["Last operation"] = " — ".join(p for p in parts if p)
    fields["Last error"] = problem or info.last_error
    return {k: v for k, v in fields.items() if v}


class ComputeDetails(QFrame):
    """A form of the selected row's details; lines without a value are hidden."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("computeDetails")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAutoFillBackground(False)
        self._form = QFormLayout(self)
        self._form.setContentsMargins(8, 6, 8, 6)
        self._form.setVerticalSpacing(2)
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self._title = QLabel()
        self._title.setObjectName("computeDetailsTitle")
        self._title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # a long name is cut
        font = self._title.font()
        font.setBold(True)
        self._title.setFont(font)
        self._form.addRow(self._title)
        self._values: dict[str, QLabel] = {}
        for name in FIELDS:
            value = QLabel(wordWrap=True)
            value.setObjectName(f"computeDetail{name.title().replace(' ', '')}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            key = QLabel(f"{name}:")
            key.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            self._form.addRow(key, value)
            self._values[name] = value
        self._values["Last error"].setStyleSheet(_ERROR_STYLE)
        self._shown: dict[str, str] = {}
        self.show_info(None)

    def show_info(self, info: ComputeInfo | None, followed_since: float | None = None, problem: str = "") -> None:
        """Show ``info``'s details (or nothing)."""
        self._shown = {} if info is None else details_of(info, followed_since, problem)
        self._title.setText("" if info is None else info.name)
        self._title.setToolTip("" if info is None else info.name)
        for name, label in self._values.items():
            text = self._shown.get(name, "")
            if label.text() != text:
                label.setText(text)
                if name == "Python":  # an interpreter that cannot run jobs reads as an error
                    label.setStyleSheet(_ERROR_STYLE if text.startswith(UNUSABLE) else "")
            self._form.setRowVisible(label, bool(text))
        self.setVisible(info is not None)

    def fields(self) -> dict[str, str]:
        """The lines shown, by field name (tests, accessibility)."""
        return dict(self._shown)
