"""Submit script…: send a script from a source folder to a compute instance or cluster of the open workspace.

Everything that touches the disk or the workspace runs on workers: the kind's options, the compute and
experiment lists, the upload preview (the snapshot plan, again once the folder rests) and the submit itself.
Submit stays disabled, with the reason under the form, while anything would be refused. A refusal from the
backend is shown in the dialog, which stays open with every field kept; once submitted, ``sig_submitted``
names the run and the dialog closes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.core.compute import ComputeInfo, ComputeOptions
from studio.core.types import ExperimentInfo
from studio.ui.background.debounce import qdebounced
from studio.ui.background.notifier import readable, sentence
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner
from studio.ui.compute.submit_form import SubmitForm, set_note
from studio.ui.compute.submit_plan import (
    FolderScan,
    SubmitRequest,
    compute_warning,
    parse_arguments,
    problem_of,
    request_of,
    scan_folder,
)

SCAN_DELAY_MS = 300
"""How long the folder field rests before its files are counted again."""
FOLDER_KEY = "submit/folder"
SCRIPT_KEY = "submit/script"
RETRY = '<a href="retry">Retry</a>'


class SubmitScriptDialog(QDialog):
    """The Submit script dialog (objectName ``submitScriptDialog``); ``open()`` it, it never blocks.

    ``backend`` is the open workspace (a ComputeBackend; called only on workers), ``experiment`` and
    ``compute`` are preselected, ``settings`` remembers the last source folder and script.
    """

    sig_submitted = Signal(str, str)
    """A run was submitted: (experiment, run id)."""

    def __init__(
        self,
        backend: Any,
        runner: TaskRunner,
        settings: QSettings | None = None,
        experiment: str = "",
        compute: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("submitScriptDialog")
        self.setWindowTitle("Submit script")
        self.backend, self.runner, self.settings = backend, runner, settings
        self._preselect = compute
        self.options: ComputeOptions | None = None
        self.computes: list[ComputeInfo] | None = None
        self.scan: FolderScan | None = None
        self.submitting = False
        self._failures: dict[str, str] = {}
        """Why the options or the compute could not be listed (by what), until listed again."""
        self._hidden_while_submitting = False
        self._starts_local = False
        self.form = SubmitForm(self)
        self.problem = self._line("submitProblem")
        self.refusal = self._line("submitRefusal")
        self.refusal.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.submit_button = QPushButton("Submit", self)
        self.submit_button.setObjectName("submitButton")
        self.submit_button.setDefault(True)
        self.buttons.addButton(self.submit_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        scroll = QScrollArea(self)
        scroll.setObjectName("submitScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        page = QWidget(scroll)
        page_layout = QVBoxLayout(page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.addWidget(self.form)
        page_layout.addStretch(1)  # the rows keep their heights when the dialog is taller than the form
        scroll.setWidget(page)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.refusal)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.resize(640, 480)
        self._options_slot = TaskSlot(runner, success=self._options_arrived, failure=self._options_failed, owner=self)
        self._compute_slot = TaskSlot(runner, success=self._computes_arrived, failure=self._computes_failed, owner=self)
        self._experiment_slot = TaskSlot(runner, success=self._experiments_arrived, failure=lambda _e: None, owner=self)
        self._scan_slot = TaskSlot(
            runner, success=self._scanned, failure=self._scan_failed, when_busy="latest", owner=self
        )
        self._folder_rested = qdebounced(self._scan, SCAN_DELAY_MS, self)
        self._connect()
        self.form.experiment.setEditText(experiment)
        self.form.show_compute_loading("")
        self.load()
        remembered = str(settings.value(FOLDER_KEY, "") or "") if settings is not None else ""
        if remembered:
            self.form.folder.setText(remembered)  # counted once the options (the limits) are in
            self._script_wanted = str(settings.value(SCRIPT_KEY, "") or "") if settings is not None else ""
        self._validate()

    _script_wanted = ""

    def _line(self, name: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setWordWrap(True)
        set_note(label, "")
        return label

    def _connect(self) -> None:
        form = self.form
        form.folder.textChanged.connect(self._folder_changed)
        form.browse_folder.clicked.connect(self.browse_folder)
        form.browse_conda.clicked.connect(self.browse_conda_file)
        form.compute_note.linkActivated.connect(lambda _link: self.load())
        form.env_loading.linkActivated.connect(lambda _link: self.load())
        form.env_loading.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        form.upload_preview.linkActivated.connect(lambda _link: self._scan())
        form.upload_preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        for combo in (form.script, form.experiment, form.environment):
            combo.editTextChanged.connect(self._validate)
        form.compute.currentIndexChanged.connect(self._validate)
        for line in (form.arguments, form.conda_file, form.display_name):
            line.textChanged.connect(self._validate)
        for box in (form.packages, form.tags):
            box.textChanged.connect(self._validate)
        form.env_named.toggled.connect(self._validate)

    # -- background work ------------------------------------------------------------------------

    def load(self) -> None:
        """List (again) the kind's options, the compute and the experiments, on workers."""
        backend = self.backend
        self._failures.clear()
        if self.options is None:
            self.form.show_options(None, "Loading…")
            self._options_slot.request(_read_options, backend)
        self.form.show_compute_loading("")
        self._compute_slot.request(backend.list_compute)
        self._experiment_slot.request(backend.list_experiments)
        self._validate()

    def _options_arrived(self, answer: tuple[ComputeOptions, bool]) -> None:
        options, self._starts_local = answer
        self.options = options
        self.form.show_options(options)
        self._scan()
        self._validate()

    def _options_failed(self, exc: BaseException) -> None:
        self._failures["options"] = "Could not read the workspace's options: Retry once it answers."
        self.form.show_options(None, f"Could not read the workspace's options: {sentence(exc)} {RETRY}", error=True)
        self._validate()

    def _computes_arrived(self, computes: list[ComputeInfo]) -> None:
        self.computes = list(computes)
        self.form.show_computes(self.computes, self._preselect)
        self._preselect = ""
        self._validate()

    def _computes_failed(self, exc: BaseException) -> None:
        self._failures["compute"] = "Could not list the compute: Retry once the workspace answers."
        self.computes = None
        self.form.show_compute_loading(f"Could not list the compute: {sentence(exc)} {RETRY}", error=True)
        self._validate()

    def _experiments_arrived(self, experiments: list[ExperimentInfo]) -> None:
        self.form.show_experiments(sorted(e.name for e in experiments))

    def _folder_changed(self) -> None:
        self.scan = None
        self._folder_rested()
        self._validate()

    def _scan(self) -> None:
        folder = self.form.folder.text().strip()
        options = self.options
        if not folder or options is None:
            return
        set_note(self.form.upload_preview, "Counting the files to upload…")
        self._scan_slot.request(scan_folder, folder, options.snapshot_max_bytes, options.snapshot_max_files)

    def _scanned(self, scan: FolderScan) -> None:
        if scan.folder != self.form.folder.text().strip():
            return  # the folder changed meanwhile: its own scan follows
        self.scan = scan
        plan = scan.plan
        if plan.problem:
            text = f"{plan.summary}: {plan.problem}" if plan.files else plan.problem
            set_note(self.form.upload_preview, text, error=True)
        else:
            set_note(self.form.upload_preview, f"Uploads {plan.summary}")
        wanted = self._script_wanted or self.form.script.currentText().strip()
        self._script_wanted = ""
        self.form.show_scripts(scan.uploaded_scripts, wanted if wanted in scan.present_scripts else "")
        self._validate()

    def _scan_failed(self, exc: BaseException) -> None:
        set_note(self.form.upload_preview, f"Could not read the folder: {sentence(exc)} {RETRY}", error=True)

    # -- what the user sees ---------------------------------------------------------------------

    def _validate(self) -> None:
        form = self.form
        values = form.values()
        try:
            args = parse_arguments(values.arguments)
            set_note(form.arguments_preview, f"The script gets {args!r}" if args else "")
        except ValueError as exc:
            set_note(form.arguments_preview, str(exc), error=True)
        if self.computes is not None:
            set_note(
                form.compute_note,
                compute_warning(form.compute_info(), self._starts_local and values.compute == "local"),
            )
        set_note(form.environment_note, form.environment_description() if values.env_mode == "named" else "")
        problem = problem_of(values, self.scan, self.computes, self.options, self._failure())
        waiting = problem.endswith("…") or problem.startswith("Choose")  # still to do, not wrong
        set_note(self.problem, problem, error=bool(problem) and not waiting)
        self.submit_button.setEnabled(not problem and not self.submitting)
        self.submit_button.setToolTip(problem)

    def _failure(self) -> str:
        return self._failures.get("options") or self._failures.get("compute") or ""

    def browse_folder(self) -> None:
        """Pick the source folder."""
        start = self.form.folder.text().strip() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Source folder of the script", start)
        if folder:
            self.form.folder.setText(folder)
            self._folder_rested.flush()

    def browse_conda_file(self) -> None:
        """Pick a conda environment file."""
        start = self.form.folder.text().strip() or str(Path.home())
        path, _filter = QFileDialog.getOpenFileName(
            self, "Conda environment file", start, "Conda environment (*.yml *.yaml);;All files (*)"
        )
        if path:
            self.form.conda_file.setText(path)

    # -- submit ---------------------------------------------------------------------------------

    def submit(self) -> None:
        """Submit on a worker (if nothing would be refused); the dialog waits, busy, for the answer."""
        values = self.form.values()
        if self.submitting or problem_of(values, self.scan, self.computes, self.options, self._failure()):
            return
        request = request_of(values)
        self._set_busy(True)
        set_note(self.refusal, "")
        target = request.compute or "the default compute"
        self.runner.submit(
            request.call,
            self.backend,
            success=lambda run_id: self._submitted(request, run_id),
            failure=self._refused,
            label=f"Submitting {request.script} to {target}",
        )

    def _set_busy(self, busy: bool) -> None:
        self.submitting = busy
        self.form.setEnabled(not busy)
        self.submit_button.setText("Submitting…" if busy else "Submit")
        self._validate()

    def _submitted(self, request: SubmitRequest, run_id: str) -> None:
        self._set_busy(False)
        if self.settings is not None:
            self.settings.setValue(FOLDER_KEY, request.source_directory)
            self.settings.setValue(SCRIPT_KEY, request.script)
        self.sig_submitted.emit(request.experiment, run_id)
        self.accept()

    def _refused(self, exc: BaseException) -> None:
        self._set_busy(False)
        set_note(self.refusal, f"Not submitted: {readable(exc)}", error=True)
        if self._hidden_while_submitting:
            self._hidden_while_submitting = False
            self.show()

    def reject(self) -> None:
        """Cancel: closes; while a submit is on its way the dialog only hides (a refusal shows it again)."""
        if self.submitting:
            self._hidden_while_submitting = True
            self.hide()
            return
        super().reject()


def _read_options(backend: Any) -> tuple[ComputeOptions, bool]:
    """On a worker: the kind's options, and whether a submit starts a stopped ``local`` (a kind that bills does not)."""
    return backend.compute_options(), not backend.compute_refresh().billed
