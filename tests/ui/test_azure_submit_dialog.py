"""Submit script… on an Azure ML workspace (the emulator): the dialog lists instances and clusters with their
states and the workspace's environments, the job runs on ``cpu-cluster`` and opens, its log shown."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from studio.core.status import RunStatus
from studio.ui.previews.text_preview import TextPreview
from studio.ui.runs.run_detail import RunPage
from studio.ui.shell.main_window import MainWindow
from tests.azure_fixtures import AzureService
from tests.ui.azure_window import azure_window
from tests.waiting import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
pytest.importorskip("tests.azure_emulator.submit", reason="the emulator's submit routes")

TIMEOUT = 60


@pytest.fixture
def window(azure_env: AzureService, qtbot: QtBot, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The real window on the real Azure opener (guarded), the emulator's workspace open."""
    with azure_window(azure_env.location, qtbot, tmp_path) as (win, opener):
        yield {"window": win, "opener": opener}


def test_a_script_submitted_to_a_cluster_runs_and_opens_with_its_log(
    qtbot: QtBot, window: dict[str, Any], tmp_path: Path
) -> None:
    win: MainWindow = window["window"]
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("import sys\nprint('training with', sys.argv[1:])\n")
    (source / "notes.txt").write_text("left out\n")
    (source / ".amlignore").write_text("*.txt\n")
    experiment = f"dialog-{uuid.uuid4().hex[:8]}"
    assert win.act_submit.isVisible() and win.act_submit.isEnabled()
    win.act_submit.trigger()
    dialog = win.submit_dialog
    assert dialog is not None
    form = dialog.form
    wait_until(
        lambda: dialog.options is not None and dialog.computes is not None,
        "options and compute",
        qtbot=qtbot,
        timeout=TIMEOUT,
    )
    names = [form.compute.itemData(i) for i in range(form.compute.count())]
    assert "cpu-cluster" in names and "ci1" in names
    # Azure's environments: a named one preselected (curated ones listed), or a conda file.
    assert form.named_box.isVisibleTo(dialog) and not form.packages.isVisibleTo(dialog)
    assert form.env_conda.isVisibleTo(dialog) and form.environment.currentText()
    # A stopped instance: the job would wait (Azure does not start it).
    form.compute.setCurrentIndex(names.index("ci1"))
    assert form.compute_note.text() == "ci1 is Stopped: the job waits until it runs (start it in the Compute pane)."
    form.compute.setCurrentIndex(names.index("cpu-cluster"))
    assert not form.compute_note.isVisible()
    form.folder.setText(str(source))
    wait_until(lambda: dialog.scan is not None and dialog.scan.folder == str(source), "the folder counted", qtbot=qtbot)
    assert (
        form.upload_preview.text().startswith("Uploads 2 files") and "(after .amlignore)" in form.upload_preview.text()
    )
    form.experiment.setEditText(experiment)
    form.arguments.setText("--epochs 3")
    form.display_name.setText("from the dialog")
    assert dialog.submit_button.isEnabled(), dialog.problem.text()
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    wait_until(lambda: win.submit_dialog is None, "the dialog closed", qtbot=qtbot, timeout=TIMEOUT)
    tabs = win.run_detail.tabs
    page = wait_until(
        lambda: tabs.currentWidget() if isinstance(tabs.currentWidget(), RunPage) else None,
        "the job opened",
        qtbot=qtbot,
    )
    overview = page.overview
    wait_until(
        lambda: overview.run is not None and overview.run.status == RunStatus.COMPLETED,
        "the job completed",
        qtbot=qtbot,
        timeout=TIMEOUT,
    )
    assert overview.run.experiment == experiment and overview.run.display_name == "from the dialog"
    wait_until(
        lambda: win.experiment_pane.selected_run_ids() == [page.run_id],
        "selected in the tree",
        qtbot=qtbot,
        timeout=TIMEOUT,
    )
    page.show_tab("Outputs + logs")
    files = page.tab("Outputs + logs")
    wait_until(lambda: files.model.index_of("user_logs/std_log.txt").isValid(), "the log", qtbot=qtbot, timeout=TIMEOUT)
    files.select("user_logs/std_log.txt")
    preview = wait_until(
        lambda: files.preview.preview if files.preview.preview and files.preview.preview.loaded else None,
        "the log's preview",
        qtbot=qtbot,
        timeout=TIMEOUT,
    )
    assert isinstance(preview, TextPreview)
    wait_until(lambda: "training with ['--epochs', '3']" in preview.editor.toPlainText(), "the output", qtbot=qtbot)
