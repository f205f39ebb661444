"""Submit script…: the dialog's checks on a FakeComputeBackend, and a real job on a local workspace's `local` compute.

Every backend call is guarded: one made on the GUI thread fails the test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialog, QPushButton
from pytestqt.qtbot import QtBot

from studio.core.compute import CLUSTER, ClusterNodes, ComputeInfo, ComputeOptions, ComputeState, EnvironmentChoice
from studio.core.errors import StudioError
from studio.core.status import RunStatus
from studio.ui.background.tasks import TaskRunner
from studio.ui.compute.submit_dialog import FOLDER_KEY, SubmitScriptDialog
from studio.ui.compute.submit_plan import parse_arguments, parse_tags
from tests.fake_backend import FakeBackend, FakeComputeBackend
from tests.ui_helpers import GuardedBackend
from tests.waiting import wait_until

AZURE_OPTIONS = ComputeOptions(
    clusters=True,
    packages_environment=False,
    conda_file_environment=True,
    max_concurrent_jobs=False,
    environments=(
        EnvironmentChoice("azureml:AzureML-sklearn-1.5@latest", "Scikit-learn 1.5", curated=True),
        EnvironmentChoice("azureml:my-env:3", "Ours"),
    ),
    default_environment="azureml:AzureML-sklearn-1.5@latest",
)


class OptionsBackend(FakeComputeBackend):
    """A FakeComputeBackend with chosen options, and a refusal for the next submits when ``refuse`` is set."""

    def __init__(self, options: ComputeOptions | None = None) -> None:
        super().__init__()
        self.options = options or ComputeOptions(snapshot_max_bytes=10_000, snapshot_max_files=20)
        self.refuse = ""
        self.hold: threading.Event | None = None
        self.submitted: list[dict[str, Any]] = []
        self.add_experiment("mnist")

    def compute_options(self) -> ComputeOptions:
        return self.options

    def submit_script(self, experiment: str, source_directory: str, script: str, *args: Any, **kw: Any) -> str:
        if self.hold is not None:
            self.hold.wait(30)
        if self.refuse:
            raise StudioError(self.refuse)
        self.submitted.append({"experiment": experiment, "source": source_directory, "script": script, **kw})
        return super().submit_script(experiment, source_directory, script, *args, **kw)


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    task_runner = TaskRunner()
    yield task_runner
    task_runner.shutdown()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A source folder: train.py, pkg/util.py, and 3 KB of data that .amlignore leaves out."""
    folder = tmp_path / "src"
    (folder / "pkg").mkdir(parents=True)
    (folder / "data").mkdir()
    (folder / "train.py").write_text("import sys\nprint('args', sys.argv[1:])\n")
    (folder / "pkg" / "util.py").write_text("X = 1\n")
    (folder / "data" / "big.bin").write_bytes(b"x" * 3000)
    (folder / ".amlignore").write_text("data/\n")
    return folder


def open_dialog(
    qtbot: QtBot, backend: Any, runner: TaskRunner, tmp_path: Path, **kwargs: Any
) -> tuple[SubmitScriptDialog, GuardedBackend]:
    guarded = GuardedBackend(backend)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    dialog = SubmitScriptDialog(guarded, runner, settings, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    wait_until(lambda: dialog.options is not None and dialog.computes is not None, "options and compute", qtbot=qtbot)
    return dialog, guarded


def choose_folder(qtbot: QtBot, dialog: SubmitScriptDialog, folder: Path) -> None:
    dialog.form.folder.setText(str(folder))
    wait_until(lambda: dialog.scan is not None and dialog.scan.folder == str(folder), "the folder counted", qtbot=qtbot)


def test_a_ready_dialog_submits_what_the_fields_say(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path, source: Path
) -> None:
    backend = OptionsBackend()
    dialog, guarded = open_dialog(qtbot, backend, runner, tmp_path, experiment="mnist")
    assert not dialog.submit_button.isEnabled() and dialog.problem.text() == "Choose the source folder."
    choose_folder(qtbot, dialog, source)
    form = dialog.form
    assert form.script.currentText() == "train.py"
    assert [form.script.itemText(i) for i in range(form.script.count())] == [
        "train.py",
        "pkg/util.py",
    ]  # top level first
    size = sum(p.stat().st_size for p in (source / "train.py", source / "pkg" / "util.py", source / ".amlignore"))
    assert form.upload_preview.text() == f"Uploads 3 files, {size} bytes (after .amlignore)"  # data/ left out
    form.arguments.setText("--epochs 5 --name 'a b'")
    assert form.arguments_preview.text() == "The script gets ['--epochs', '5', '--name', 'a b']"
    form.packages.setPlainText("numpy  # arrays\n\npandas>=2\n")
    form.display_name.setText("first try")
    form.tags.setPlainText("team = vision\nlr=0.01\n")
    assert form.compute.currentText() == "local — Running"
    assert dialog.submit_button.isEnabled(), dialog.problem.text()
    with qtbot.waitSignal(dialog.sig_submitted, timeout=10_000) as submitted:
        qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    experiment, run_id = submitted.args
    assert experiment == "mnist" and backend.get_run(run_id).status == RunStatus.QUEUED
    assert backend.submitted == [
        {
            "experiment": "mnist",
            "source": str(source),
            "script": "train.py",
            "environment": {"pip_packages": ["numpy", "pandas>=2"]},
            "display_name": "first try",
            "tags": {"team": "vision", "lr": "0.01"},
        }
    ]
    assert backend.get_run(run_id).display_name == "first try"
    assert not dialog.isVisible() and guarded.violations == []
    assert dialog.settings is not None and dialog.settings.value(FOLDER_KEY) == str(source)  # offered next time


def test_submit_is_refused_with_the_reason_until_the_fields_are_right(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path, source: Path
) -> None:
    dialog, guarded = open_dialog(qtbot, OptionsBackend(), runner, tmp_path)
    choose_folder(qtbot, dialog, source)
    form = dialog.form

    def refused(reason: str) -> None:
        assert not dialog.submit_button.isEnabled()
        assert dialog.problem.text() == reason and dialog.problem.isVisible()

    refused("Choose an experiment or type a new name.")
    form.experiment.setEditText("bad name!")
    refused(
        "Experiment: experiment name 'bad name!': use 1-255 letters, digits, '_' or '-', starting with a letter or digit."
    )
    form.experiment.setEditText("new-experiment")  # a new name is fine
    assert dialog.submit_button.isEnabled()
    form.script.setEditText("nope.py")
    refused(f"nope.py is not in {source}.")
    form.script.setEditText("../outside.py")
    refused(f"The entry script must be a file inside {source}.")
    form.script.setEditText("train.py")
    form.arguments.setText("--name 'unclosed")
    refused("Arguments: No closing quotation (check the quotes).")
    assert form.arguments_preview.text() == "Arguments: No closing quotation (check the quotes)."
    form.arguments.setText("")
    form.tags.setPlainText("team=vision\njust words")
    refused("Tags, line 2: write key=value (“just words” is not).")
    form.tags.setPlainText("a=1\na=2")
    refused("Tags, line 2: the tag 'a' is given twice.")
    form.tags.setPlainText("")
    form.packages.setPlainText("--index-url x")
    refused("Packages, line 1: give a requirement such as numpy>=2, not a pip option.")
    form.packages.setPlainText("")
    assert dialog.submit_button.isEnabled()
    form.folder.setText("")
    refused("Choose the source folder.")
    assert guarded.violations == []


def test_a_script_left_out_by_amlignore_is_refused(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path, source: Path
) -> None:
    (source / "data" / "prepare.py").write_text("print(1)\n")
    dialog, _ = open_dialog(qtbot, OptionsBackend(), runner, tmp_path, experiment="mnist")
    choose_folder(qtbot, dialog, source)
    assert "data/prepare.py" not in [dialog.form.script.itemText(i) for i in range(dialog.form.script.count())]
    dialog.form.script.setEditText("data/prepare.py")
    assert dialog.problem.text() == "data/prepare.py is left out by .amlignore: it would not be uploaded."
    assert not dialog.submit_button.isEnabled()


def test_a_folder_over_the_kinds_limits_is_refused_before_uploading(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path, source: Path
) -> None:
    backend = OptionsBackend(ComputeOptions(snapshot_max_bytes=1000, snapshot_max_files=20))
    dialog, _ = open_dialog(qtbot, backend, runner, tmp_path, experiment="mnist")
    choose_folder(qtbot, dialog, source)
    assert dialog.submit_button.isEnabled()  # the 3 KB of data/ are left out by .amlignore
    (source / ".amlignore").unlink()
    dialog.form.folder.setText(str(source) + "/")  # the folder typed again: counted again
    dialog.form.folder.setText(str(source))
    wait_until(lambda: dialog.scan is not None and dialog.scan.plan.problem, "the folder counted again", qtbot=qtbot)
    preview = dialog.form.upload_preview
    assert preview.text().startswith("2+ files, 3.0 KB+: ")  # .amlignore was the first of its two files
    assert "holds more than 1000 bytes to upload" in preview.text()
    assert "#d9363e" in preview.styleSheet()  # the error colour
    assert not dialog.submit_button.isEnabled() and "list it in .amlignore" in dialog.problem.text()
    many = tmp_path / "many"
    many.mkdir()
    (many / "train.py").write_text("")
    for i in range(25):
        (many / f"f{i:02}.txt").write_text("")
    choose_folder(qtbot, dialog, many)
    assert "has more than 20 files to upload" in dialog.problem.text()
    assert not dialog.submit_button.isEnabled()


def test_a_refusal_from_the_backend_keeps_the_dialog_and_its_fields(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path, source: Path
) -> None:
    backend = OptionsBackend()
    backend.refuse = "The compute instance local is being deleted."
    dialog, _ = open_dialog(qtbot, backend, runner, tmp_path, experiment="mnist")
    choose_folder(qtbot, dialog, source)
    dialog.form.arguments.setText("--epochs 3")
    dialog.form.tags.setPlainText("a=1")
    dialog.submit()
    assert dialog.submitting and not dialog.submit_button.isEnabled()
    assert dialog.submit_button.text() == "Submitting…" and not dialog.form.isEnabled()
    wait_until(lambda: not dialog.submitting, "the refusal", qtbot=qtbot)
    assert dialog.isVisible()
    assert dialog.refusal.text() == "Not submitted: The compute instance local is being deleted."
    assert dialog.form.arguments.text() == "--epochs 3" and dialog.form.tags.toPlainText() == "a=1"
    assert dialog.form.folder.text() == str(source) and dialog.form.isEnabled()
    backend.refuse = ""
    with qtbot.waitSignal(dialog.sig_submitted, timeout=10_000):
        dialog.submit()  # once the cause is gone the same fields go through


def test_azure_style_options_offer_clusters_and_environments(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path, source: Path
) -> None:
    backend = OptionsBackend(AZURE_OPTIONS)
    backend._instances["local"] = replace(backend._instances["local"], state=ComputeState.STOPPED)
    backend._instances["cpu-cluster"] = ComputeInfo(
        "cpu-cluster", ComputeState.STEADY, 1, None, 0, 0, kind=CLUSTER, nodes=ClusterNodes(0, 4, 0)
    )
    dialog, guarded = open_dialog(qtbot, backend, runner, tmp_path, experiment="mnist", compute="cpu-cluster")
    form = dialog.form
    assert [form.compute.itemText(i) for i in range(form.compute.count())] == [
        "cpu-cluster — cluster, 0 of 0-4",
        "local — Stopped",
    ]
    assert form.compute.currentData() == "cpu-cluster" and not form.compute_note.isVisible()  # preselected
    assert not form.packages.isVisibleTo(dialog) and form.named_box.isVisibleTo(dialog)
    assert form.environment.currentText() == "azureml:AzureML-sklearn-1.5@latest"
    assert form.environment_note.text() == "Curated environment: Scikit-learn 1.5"
    assert [form.environment.itemText(i) for i in range(form.environment.count())] == [
        "azureml:AzureML-sklearn-1.5@latest",
        "azureml:my-env:3",
    ]
    form.compute.setCurrentIndex(1)
    assert form.compute_note.text() == "local is Stopped: it is started for this job."  # the fake bills nothing
    form.compute.setCurrentIndex(0)
    choose_folder(qtbot, dialog, source)
    form.env_conda.setChecked(True)
    assert dialog.problem.text() == "Choose a conda file (Browse…)."
    conda = tmp_path / "env.yml"
    conda.write_text("dependencies: [python=3.11]\n")
    form.conda_file.setText(str(conda))
    with qtbot.waitSignal(dialog.sig_submitted, timeout=10_000):
        dialog.submit()
    assert backend.submitted[-1]["environment"] == {"conda_file": str(conda)}
    assert backend.submitted[-1]["script"] == "train.py"
    assert guarded.violations == []


def test_a_named_environment_is_passed_by_reference(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path, source: Path
) -> None:
    backend = OptionsBackend(AZURE_OPTIONS)
    dialog, _ = open_dialog(qtbot, backend, runner, tmp_path, experiment="mnist")
    choose_folder(qtbot, dialog, source)
    dialog.form.environment.setEditText("my-env")
    assert dialog.problem.text() == "Environment: write azureml:<name>@latest or azureml:<name>:<version>."
    dialog.form.environment.setEditText("azureml:my-env:3")
    assert dialog.form.environment_note.text() == "Registered environment: Ours"
    with qtbot.waitSignal(dialog.sig_submitted, timeout=10_000):
        dialog.submit()
    assert backend.submitted[-1]["environment"] == {"name": "azureml:my-env:3"}


def test_cancel_during_a_submit_hides_the_dialog_until_the_answer(
    qtbot: QtBot, runner: TaskRunner, tmp_path: Path, source: Path
) -> None:
    backend = OptionsBackend()
    dialog, _ = open_dialog(qtbot, backend, runner, tmp_path, experiment="mnist")
    choose_folder(qtbot, dialog, source)
    backend.hold, backend.refuse = threading.Event(), "Quota exceeded for cpu-cluster."
    finished: list[int] = []
    dialog.finished.connect(finished.append)
    dialog.submit()
    dialog.reject()  # the upload cannot be taken back: the dialog hides and waits for the answer
    assert not dialog.isVisible() and finished == [] and dialog.submitting
    backend.hold.set()
    wait_until(lambda: dialog.isVisible(), "the refusal shows the dialog again", qtbot=qtbot)
    assert dialog.refusal.text() == "Not submitted: Quota exceeded for cpu-cluster." and finished == []
    backend.hold, backend.refuse = threading.Event(), ""
    dialog.submit()
    dialog.reject()
    with qtbot.waitSignal(dialog.sig_submitted, timeout=10_000):
        backend.hold.set()
    assert finished == [QDialog.DialogCode.Accepted]


class FailingOptions(OptionsBackend):
    def __init__(self) -> None:
        super().__init__()
        self.fail = True

    def compute_options(self) -> ComputeOptions:
        if self.fail:
            raise StudioError("The workspace did not answer.")
        return super().compute_options()

    def list_compute(self) -> list[ComputeInfo]:
        if self.fail:
            raise StudioError("The workspace did not answer.")
        return super().list_compute()


def test_failed_lists_say_so_and_retry(qtbot: QtBot, runner: TaskRunner, tmp_path: Path, source: Path) -> None:
    backend = FailingOptions()
    guarded = GuardedBackend(backend)
    dialog = SubmitScriptDialog(guarded, runner, None, experiment="mnist")
    qtbot.addWidget(dialog)
    dialog.show()
    form = dialog.form
    wait_until(lambda: "Could not list the compute" in form.compute_note.text(), qtbot=qtbot)
    wait_until(lambda: "Could not read the workspace's options" in form.env_loading.text(), qtbot=qtbot)
    assert "The workspace did not answer." in form.compute_note.text() and not form.compute.isEnabled()
    form.folder.setText(str(source))
    assert not dialog.submit_button.isEnabled()
    assert dialog.problem.text() == "Could not read the workspace's options: Retry once it answers."
    backend.fail = False
    form.compute_note.linkActivated.emit("retry")
    wait_until(lambda: dialog.options is not None and dialog.computes is not None, qtbot=qtbot)
    wait_until(lambda: dialog.submit_button.isEnabled(), "submit allowed after Retry", qtbot=qtbot)
    assert form.compute.currentText() == "local — Running" and guarded.violations == []


def test_parsing_of_arguments_and_tags() -> None:
    assert parse_arguments("--lr 0.01 --name \"a b\" 'c d'") == ["--lr", "0.01", "--name", "a b", "c d"]
    assert parse_tags("a=1\n\n b = two words \nurl=http://x?y=1") == {"a": "1", "b": "two words", "url": "http://x?y=1"}
    with pytest.raises(ValueError, match="line 1"):
        parse_tags("=1")


def test_submit_is_offered_only_where_the_workspace_runs_scripts(qtbot: QtBot, tmp_path: Path) -> None:
    from studio.ui.shell.main_window import MainWindow
    from studio.ui.shell.settings import WindowSettings
    from tests.ui.test_fake_backend_window import FakeOpener

    compute = OptionsBackend()
    compute.create_compute("gpu-box")
    backends: dict[str, FakeBackend] = {"fake://plain": FakeBackend(), "fake://compute": compute}
    backends["fake://plain"].add_experiment("mnist")
    window = MainWindow([FakeOpener(backends)], WindowSettings(str(tmp_path / "settings.ini")))
    qtbot.addWidget(window)
    window.show()
    try:
        with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
            window.open_workspace("fake://plain")
        assert not window.act_submit.isVisible() and not window.act_submit.isEnabled()
        assert window.open_submit_dialog() is None
        tab = window.run_detail.open_runs_table("mnist")
        window.open_runs_table("mnist")
        assert tab is not None and not tab.findChild(QPushButton, "runsTableSubmit").isVisibleTo(tab)
        with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
            window.open_workspace("fake://compute")
        assert window.act_submit.isEnabled() and window.can_submit
        window.open_runs_table("mnist")
        tab = next(t for t in window.run_detail.runs_tables() if t.experiment == "mnist")
        button = tab.findChild(QPushButton, "runsTableSubmit")
        assert button.isVisibleTo(tab)
        button.click()  # the table's experiment preselected
        dialog = window.submit_dialog
        assert dialog is not None and dialog.form.experiment.currentText() == "mnist"
        dialog.reject()
        wait_until(lambda: window.submit_dialog is None, qtbot=qtbot)
        # The Compute pane's Submit script… preselects the selected instance.
        pane = window.compute_pane
        wait_until(lambda: "gpu-box" in [i.name for i in pane.model.instances()], "the instances listed", qtbot=qtbot)
        pane.table.selectRow([i.name for i in pane.model.instances()].index("gpu-box"))
        pane.submit_action.trigger()
        dialog = window.submit_dialog
        assert dialog is not None
        wait_until(lambda: dialog.form.compute.currentData() == "gpu-box", "gpu-box preselected", qtbot=qtbot)
        assert dialog.form.experiment.currentText() == ""  # nothing selected in the tree
        dialog.reject()
    finally:
        window.close()


def test_a_script_submitted_from_the_window_runs_on_local_compute_and_opens(
    qtbot: QtBot, tmp_path: Path, source: Path
) -> None:
    from studio.ui.previews.text_preview import TextPreview
    from studio.ui.runs.run_detail import RunPage
    from tests.compute_helpers import stop_everything
    from tests.ui.test_main_window import open_window

    (source / "train.py").write_text(
        "import sys\nfrom studio.sdk import Run\nrun = Run.get_context()\n"
        "run.log('loss', 0.5)\nprint('got', sys.argv[1:])\n"
    )
    ws_path = tmp_path / "ws"
    window, opener = open_window(qtbot, ws_path, str(tmp_path / "settings.ini"), create=True)
    try:
        assert window.act_submit.isVisible() and window.act_submit.isEnabled()
        window.act_submit.trigger()  # Run menu → Submit script… (Ctrl+Shift+S)
        dialog = window.submit_dialog
        assert dialog is not None and dialog.isVisible()
        wait_until(lambda: dialog.options is not None and dialog.computes is not None, qtbot=qtbot)
        choose_folder(qtbot, dialog, source)
        dialog.form.experiment.setEditText("from-dialog")
        dialog.form.arguments.setText("--epochs 2 'a b'")
        dialog.form.tags.setPlainText("source=dialog")
        assert dialog.form.compute.currentData() == "local"
        assert dialog.submit_button.isEnabled(), dialog.problem.text()
        qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
        wait_until(lambda: window.submit_dialog is None, "the dialog closed", qtbot=qtbot)
        tabs = window.run_detail.tabs
        page = wait_until(
            lambda: tabs.currentWidget() if isinstance(tabs.currentWidget(), RunPage) else None, qtbot=qtbot
        )
        overview = page.overview
        wait_until(
            lambda: overview.run is not None and overview.run.status == RunStatus.COMPLETED,
            "the job completed",
            qtbot=qtbot,
            timeout=60,
        )
        assert overview.run.experiment == "from-dialog" and overview.run.tags == {"source": "dialog"}
        wait_until(
            lambda: window.experiment_pane.selected_run_ids() == [page.run_id], "selected in the tree", qtbot=qtbot
        )
        page.show_tab("Outputs + logs")
        files = page.tab("Outputs + logs")
        wait_until(lambda: files.model.index_of("user_logs/std_log.txt").isValid(), "the log", qtbot=qtbot, timeout=30)
        files.select("user_logs/std_log.txt")
        preview = wait_until(
            lambda: files.preview.preview if files.preview.preview and files.preview.preview.loaded else None,
            "the log's preview",
            qtbot=qtbot,
            timeout=30,
        )
        assert isinstance(preview, TextPreview)
        wait_until(
            lambda: "got ['--epochs', '2', 'a b']" in preview.editor.toPlainText(), "the script's output", qtbot=qtbot
        )
    finally:
        window.close()
        stop_everything(ws_path)
    assert opener.violations == []
