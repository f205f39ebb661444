"""The New compute instance dialog: name, VM size (for kinds that have sizes), max concurrent jobs, idle shutdown.

The sizes come from ``backend.compute_options()``, fetched by the pane in the background: the dialog opens at
once with "Loading sizes…" and fills the list when they arrive (or says why it could not).
"""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from studio.core.compute import ComputeOptions
from studio.ui.compute.compute_texts import NAME_RULE, name_problem

_ERROR_STYLE = "color: #d64541;"
_W = TypeVar("_W", bound=QWidget)
LOADING_SIZES = "Loading sizes…"


def _named(widget: _W, name: str) -> _W:
    widget.setObjectName(name)
    return widget


class NewComputeDialog(QDialog):
    """Asks for a new instance's name, VM size, how many jobs it runs at once and its idle shutdown."""

    def __init__(
        self, existing: set[str], parent: QWidget | None = None, options: ComputeOptions | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("newComputeDialog")
        self.setWindowTitle("New compute instance")
        self.setMinimumWidth(460)  # the name hint fits on one line: no jumps while typing
        self._existing = existing
        self._min_name_length = 2
        self._rule = NAME_RULE
        self.name_edit = _named(QLineEdit(placeholderText="e.g. gpu-box-1"), "computeName")
        self.hint = _named(QLabel(NAME_RULE, wordWrap=True), "computeNameHint")
        self.vm_size = _named(QComboBox(), "computeVmSize")
        self.vm_size.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.vm_size.setMinimumContentsLength(24)
        self.sizes_note = _named(QLabel(wordWrap=True), "computeVmSizeNote")
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
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None
        self.ok_button = ok
        self.ok_button.setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.form = form = QFormLayout(self)
        form.addRow("Name:", self.name_edit)
        form.addRow("", self.hint)
        form.addRow("VM size:", self.vm_size)
        form.addRow("", self.sizes_note)
        form.addRow("Max concurrent jobs:", self.max_jobs)
        form.addRow("Idle shutdown:", idle_row)
        form.addRow(self.buttons)
        self.name_edit.textChanged.connect(self._validate)
        self._sizes_loading = options is None
        if options is None:
            self.vm_size.addItem(LOADING_SIZES)
            self.vm_size.setEnabled(False)
            form.setRowVisible(self.max_jobs, False)  # shown when the options say the kind has it
        else:
            self.set_options(options)
        self._validate("")

    def set_options(self, options: ComputeOptions) -> None:
        """What the kind offers arrived: fill the sizes (hidden without any) and show Max jobs if it applies."""
        self._sizes_loading = False
        self.vm_size.clear()
        for size in options.vm_sizes:
            self.vm_size.addItem(size.text, size.name)
        default = self.vm_size.findData(options.default_vm_size) if options.default_vm_size else -1
        self.vm_size.setCurrentIndex(max(default, 0))
        self.vm_size.setEnabled(True)
        has_sizes = bool(options.vm_sizes)
        self.form.setRowVisible(self.vm_size, has_sizes)
        self.form.setRowVisible(self.sizes_note, False)
        self.form.setRowVisible(self.max_jobs, options.max_concurrent_jobs)
        low, high = options.idle_minutes_range
        self.idle_minutes.setRange(low, high)
        if options.default_idle_minutes is not None:
            self.idle_minutes.setValue(options.default_idle_minutes)
            self.idle_check.setChecked(True)  # an instance that costs money stops itself unless told otherwise
        self.idle_minutes.setToolTip(f"From {low} to {high:,} minutes")
        self._min_name_length = options.min_name_length
        if options.min_name_length != 2:
            self._rule = (
                f"{options.min_name_length} to 24 letters, digits or '-', starting with a letter and not ending "
                "with '-'."
            )
        self._validate(self.name_edit.text())

    def set_options_failed(self, reason: str) -> None:
        """The sizes could not be listed: say so; the instance gets the kind's default size."""
        self._sizes_loading = False
        self.vm_size.clear()
        self.vm_size.addItem("Default size")
        self.vm_size.setEnabled(False)
        self.sizes_note.setText(f"Could not list the VM sizes ({reason}). The service's default size is used.")
        self.sizes_note.setStyleSheet(_ERROR_STYLE)
        self.form.setRowVisible(self.sizes_note, True)
        self._validate(self.name_edit.text())

    def _validate(self, text: str) -> None:
        problem = name_problem(text, self._existing, self._min_name_length)
        self.ok_button.setEnabled(not problem)
        shown_as_error = bool(problem and text)
        self.hint.setText(problem if shown_as_error else self._rule)
        self.hint.setStyleSheet(_ERROR_STYLE if shown_as_error else "")
        role = QPalette.ColorRole.WindowText if shown_as_error else QPalette.ColorRole.PlaceholderText
        self.hint.setForegroundRole(role)  # the style sheet's colour applies to WindowText
        if not self.sizes_note.text():
            self.form.setRowVisible(self.sizes_note, False)

    def chosen_vm_size(self) -> str | None:
        """The VM size picked, or None for the kind's default (no sizes, still loading, or failed)."""
        data = self.vm_size.currentData() if self.vm_size.isEnabled() else None
        return str(data) if data else None

    def values(self) -> tuple[str, int, float | None]:
        """(name, max concurrent jobs, idle shutdown minutes or None)."""
        idle = float(self.idle_minutes.value()) if self.idle_check.isChecked() else None
        return self.name_edit.text(), self.max_jobs.value(), idle
