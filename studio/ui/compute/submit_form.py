"""The Submit script dialog's fields (widgets only: the dialog fills them from its workers and reads them back).

objectNames: ``submitFolder``, ``submitBrowseFolder``, ``submitUploadPreview``, ``submitScript``,
``submitArguments``, ``submitArgumentsPreview``, ``submitExperiment``, ``submitCompute``, ``submitComputeNote``,
``submitPackages``, ``submitEnvNamed``, ``submitEnvironment``, ``submitEnvironmentNote``, ``submitEnvConda``,
``submitCondaFile``, ``submitBrowseConda``, ``submitDisplayName``, ``submitTags``.
"""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import QObject, QSize, Qt
from PySide6.QtGui import QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from studio.core.compute import ComputeInfo, ComputeOptions
from studio.ui.compute.submit_plan import CONDA, NAMED, PACKAGES, SubmitFields, compute_text

ERROR_STYLE = "color: #d9363e"
_W = TypeVar("_W", bound=QObject)


def _named(obj: _W, name: str) -> _W:
    obj.setObjectName(name)
    return obj


def set_note(label: QLabel, text: str, error: bool = False) -> None:
    """A note under a field: placeholder colour, or the error colour; hidden when empty."""
    label.setText(text)
    label.setStyleSheet(ERROR_STYLE if error else "")
    label.setForegroundRole(QPalette.ColorRole.WindowText if error else QPalette.ColorRole.PlaceholderText)
    label.setVisible(bool(text))


class NoteLabel(QLabel):
    """A wrapped note as tall as its lines at its width (a form row otherwise keeps a narrow label's height)."""

    def sizeHint(self) -> QSize:
        """The height of the text wrapped at the label's width."""
        hint = super().sizeHint()
        if self.width() <= 1:
            return hint
        return QSize(hint.width(), max(self.heightForWidth(self.width()), self.fontMetrics().height()))

    def minimumSizeHint(self) -> QSize:
        """As narrow as a word, as tall as the wrapped text."""
        return QSize(super().minimumSizeHint().width(), self.sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Wrap again at the new width."""
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()


def _note(name: str) -> QLabel:
    label = _named(NoteLabel(), name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
    set_note(label, "")
    return label


def _placeholder(combo: QComboBox, text: str) -> None:
    edit = combo.lineEdit()
    if edit is not None:
        edit.setPlaceholderText(text)


def _text_box(name: str, placeholder: str, lines: int) -> QPlainTextEdit:
    box = _named(QPlainTextEdit(), name)
    box.setPlaceholderText(placeholder)
    box.setTabChangesFocus(True)
    box.setFixedHeight(box.fontMetrics().lineSpacing() * lines + 12)
    return box


class SubmitForm(QWidget):
    """Source folder, entry script, arguments, experiment, compute, environment, display name and tags."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = _named(QLineEdit(), "submitFolder")
        self.folder.setPlaceholderText("The folder with your script and what it imports")
        self.browse_folder = _named(QPushButton("Browse…"), "submitBrowseFolder")
        self.upload_preview = _note("submitUploadPreview")
        self.script = _named(QComboBox(), "submitScript")
        self.script.setEditable(True)
        self.script.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        _placeholder(self.script, "train.py")
        self.arguments = _named(QLineEdit(), "submitArguments")
        self.arguments.setPlaceholderText("--epochs 5 --lr 0.01")
        self.arguments_preview = _note("submitArgumentsPreview")
        self.experiment = _named(QComboBox(), "submitExperiment")
        self.experiment.setEditable(True)
        self.experiment.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        _placeholder(self.experiment, "An experiment, or a new name")
        self.compute = _named(QComboBox(), "submitCompute")
        self.compute_note = _note("submitComputeNote")
        self.compute_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)  # Retry link
        self.packages = _text_box("submitPackages", "One requirement per line, e.g.\nnumpy\npandas>=2", 3)
        self.packages.setToolTip(
            "Installed with pip into an environment kept for this list; empty: the compute's Python"
        )
        self.env_named = _named(QRadioButton("Environment"), "submitEnvNamed")
        self.environment = _named(QComboBox(), "submitEnvironment")
        self.environment.setEditable(True)
        self.environment.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        _placeholder(self.environment, "azureml:name@latest or azureml:name:version")
        self.environment_note = _note("submitEnvironmentNote")
        self.env_conda = _named(QRadioButton("Conda file"), "submitEnvConda")
        self.conda_file = _named(QLineEdit(), "submitCondaFile")
        self.conda_file.setReadOnly(True)
        self.conda_file.setPlaceholderText("environment.yml")
        self.browse_conda = _named(QPushButton("Browse…"), "submitBrowseConda")
        self.env_modes = QButtonGroup(self)
        self.env_modes.addButton(self.env_named)
        self.env_modes.addButton(self.env_conda)
        self.env_named.setChecked(True)
        self.env_loading = _note("submitEnvironmentLoading")
        self.display_name = _named(QLineEdit(), "submitDisplayName")
        self.display_name.setPlaceholderText("The script's name")
        self.tags = _text_box("submitTags", "key=value, one per line", 2)
        self._options: ComputeOptions | None = None
        self._computes: dict[str, ComputeInfo] = {}
        self._build()
        self.env_named.toggled.connect(self._env_mode_changed)
        self._env_mode_changed()

    def _build(self) -> None:
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.browse_folder)
        conda_row = QHBoxLayout()
        conda_row.addWidget(self.env_conda)
        conda_row.addWidget(self.conda_file, 1)
        conda_row.addWidget(self.browse_conda)
        named_row = QHBoxLayout()
        named_row.addWidget(self.env_named)
        named_row.addWidget(self.environment, 1)
        self.named_box = QWidget()
        self.conda_box = QWidget()
        for box, row in ((self.named_box, named_row), (self.conda_box, conda_row)):
            row.setContentsMargins(0, 0, 0, 0)
            box.setLayout(row)
        env = QVBoxLayout()
        env.setContentsMargins(0, 0, 0, 0)
        env.setSpacing(4)
        for widget in (self.env_loading, self.packages, self.named_box, self.environment_note, self.conda_box):
            env.addWidget(widget)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.addRow("Source folder:", folder_row)
        form.addRow("", self.upload_preview)
        form.addRow("Entry script:", self.script)
        form.addRow("Arguments:", self.arguments)
        form.addRow("", self.arguments_preview)
        form.addRow("Experiment:", self.experiment)
        form.addRow("Compute:", self.compute)
        form.addRow("", self.compute_note)
        form.addRow("Environment:", env)
        form.addRow("Display name:", self.display_name)
        form.addRow("Tags:", self.tags)
        self.show_options(None)

    # -- filled by the dialog -------------------------------------------------------------------

    def show_scripts(self, scripts: tuple[str, ...], keep: str) -> None:
        """The folder's .py files in the script combo, keeping what was typed or chosen (or the likeliest)."""
        self.script.blockSignals(True)
        self.script.clear()
        self.script.addItems(list(scripts))
        self.script.blockSignals(False)
        choice = keep if keep else _likely_entry(scripts)
        self.script.setEditText(choice)

    def show_experiments(self, names: list[str]) -> None:
        """The workspace's experiments in the combo; what was typed stays."""
        typed = self.experiment.currentText()
        self.experiment.blockSignals(True)
        self.experiment.clear()
        self.experiment.addItems(names)
        self.experiment.blockSignals(False)
        self.experiment.setEditText(typed)

    def show_compute_loading(self, text: str, error: bool = False) -> None:
        """ "Loading…" (or why the list failed) in place of the compute list."""
        self._computes = {}
        self.compute.clear()
        self.compute.addItem("Loading…" if not error else "No compute listed", "")
        self.compute.setEnabled(False)
        set_note(self.compute_note, text, error)

    def show_computes(self, computes: list[ComputeInfo], preselect: str) -> None:
        """Instances (and clusters) with their state; ``preselect`` chosen if listed, else ``local``, else the first."""
        current = preselect or self.compute.currentData() or ""
        self._computes = {c.name: c for c in computes}
        self.compute.blockSignals(True)
        self.compute.clear()
        for info in computes:
            self.compute.addItem(compute_text(info), info.name)
            self.compute.setItemData(
                self.compute.count() - 1, info.state_reason or info.name, Qt.ItemDataRole.ToolTipRole
            )
        names = [c.name for c in computes]
        choice = current if current in names else "local" if "local" in names else (names[0] if names else "")
        if choice:
            self.compute.setCurrentIndex(names.index(choice))
        self.compute.blockSignals(False)
        self.compute.setEnabled(bool(computes))
        self.compute.currentIndexChanged.emit(self.compute.currentIndex())

    def compute_info(self) -> ComputeInfo | None:
        """The chosen compute's last listed state."""
        return self._computes.get(str(self.compute.currentData() or ""))

    def show_options(self, options: ComputeOptions | None, loading_text: str = "Loading…", error: bool = False) -> None:
        """The environment fields the kind offers (None: still loading, or the options could not be read)."""
        self._options = options
        set_note(self.env_loading, loading_text if options is None else "", error)
        packages = options is not None and options.packages_environment
        named = options is not None and not options.packages_environment
        conda = options is not None and options.conda_file_environment
        self.packages.setVisible(packages)
        self.named_box.setVisible(named)
        self.env_named.setVisible(conda)  # a choice only when there are two ways
        self.conda_box.setVisible(conda)
        if options is not None and named:
            self.environment.blockSignals(True)
            self.environment.clear()
            for choice in options.environments:
                self.environment.addItem(choice.reference)
                tip = ("Curated by Azure ML. " if choice.curated else "") + choice.description
                self.environment.setItemData(self.environment.count() - 1, tip.strip(), Qt.ItemDataRole.ToolTipRole)
            self.environment.blockSignals(False)
            self.environment.setEditText(options.default_environment)
            edit = self.environment.lineEdit()
            if edit is not None:
                edit.setCursorPosition(0)  # the name's start shows in a narrow dialog
        self._env_mode_changed()

    def _env_mode_changed(self) -> None:
        named = self.env_named.isChecked()
        self.environment.setEnabled(named)
        self.conda_file.setEnabled(not named)
        self.browse_conda.setEnabled(not named)
        self.environment_note.setVisible(named and self.named_box.isVisible() and bool(self.environment_note.text()))

    def environment_description(self) -> str:
        """ "Curated environment: …" for a listed reference, "" for one typed in."""
        options = self._options
        reference = self.environment.currentText().strip()
        if options is None:
            return ""
        for choice in options.environments:
            if choice.reference == reference:
                kind = "Curated environment" if choice.curated else "Registered environment"
                return f"{kind}{': ' + choice.description if choice.description else ''}"
        return "A registered environment of this workspace (not listed)." if reference else ""

    def values(self) -> SubmitFields:
        """The fields as typed."""
        options = self._options
        if options is None or options.packages_environment:
            mode = PACKAGES
        else:
            mode = NAMED if (self.env_named.isChecked() or not options.conda_file_environment) else CONDA
        return SubmitFields(
            folder=self.folder.text(),
            script=self.script.currentText(),
            arguments=self.arguments.text(),
            experiment=self.experiment.currentText(),
            compute=str(self.compute.currentData() or ""),
            env_mode=mode,
            packages=self.packages.toPlainText(),
            environment=self.environment.currentText(),
            conda_file=self.conda_file.text(),
            display_name=self.display_name.text(),
            tags=self.tags.toPlainText(),
        )


def _likely_entry(scripts: tuple[str, ...]) -> str:
    for name in ("train.py", "main.py", "run.py"):
        if name in scripts:
            return name
    top = [s for s in scripts if "/" not in s]
    return (top or list(scripts) or [""])[0]
