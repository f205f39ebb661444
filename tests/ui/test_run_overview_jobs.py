"""The Overview of jobs a service ran (Azure ML's details dict: sweep, pipeline, AutoML, command), on a fake
backend: readable rows, no dict dumped, rows a job does not have hidden, the web studio button only with a web
address, and Azure's extra statuses in words with their colours.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtGui import QTextDocument
from pytestqt.qtbot import QtBot

from studio.core.status import RunStatus
from studio.ui.background.tasks import TaskRunner
from studio.ui.runs.run_overview import RunOverview
from studio.ui.shell.status_style import STATUS_COLOURS, status_label
from tests.fake_backend import FakeBackend
from tests.ui_helpers import GuardedBackend
from tests.waiting import wait_until

WS = "/subscriptions/5f2c9a41-0000-4000-8000-00000000a0b1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
SWEEP = {
    "runType": "sweep",
    "target": "gpu-cluster",
    "objective": "maximize val_accuracy",
    "samplingAlgorithm": "random",
    "limits": {"max_total_trials": 50, "max_concurrent_trials": 4, "timeout": 7200},
    "inputs": {"data": "azureml://datastores/workspaceblobstore/paths/mnist/ (uri_folder)", "epochs": "20"},
    "services": {"Studio": f"https://ml.azure.com/runs/sweep_1?wsid={WS}", "TensorBoard": "https://tb.example/x"},
    "studioUrl": f"https://ml.azure.com/runs/sweep_1?wsid={WS}",
    "createdBy": "Ada Lovelace",
    "createdAt": 1_700_000_000.0,
    "properties": {"_azureml.ComputeTargetType": "amlctrain", "azureml.git.dirty": "False"},
}
PIPELINE = {"runType": "pipeline", "target": "serverless", "steps": ["prep", "train", "evaluate"]}
AUTOML = {"runType": "AutoML", "target": "cpu-cluster", "task": "classification", "primaryMetric": "AUC_weighted"}


class Env:
    """A fake workspace, guarded (no backend call on the GUI thread), and the Overviews made on it."""

    def __init__(self) -> None:
        self.fake = FakeBackend()
        self.backend = GuardedBackend(self.fake)
        self.runner = TaskRunner(max_threads=2)

    def overview(self, qtbot: QtBot, details: dict[str, Any], status: RunStatus | None = None) -> RunOverview:
        run_id = self.fake.add_run("e", "job", details=details)
        if status is not None:
            self.fake.set_status(run_id, status)
        view = RunOverview(self.backend, self.runner, run_id)  # type: ignore[arg-type]
        qtbot.addWidget(view)
        view.resize(900, 900)
        view.show()
        wait_until(lambda: view.run is not None, "the Overview", qtbot=qtbot)
        return view


@pytest.fixture
def env() -> Iterator[Env]:
    e = Env()
    yield e
    assert e.runner.shutdown()
    assert e.backend.violations == []


def text(view: RunOverview, row: str) -> str | None:
    """A row's words without markup (None when the row is hidden)."""
    label = view.fields[row]
    if not view.form.isRowVisible(label):
        return None
    document = QTextDocument()
    document.setHtml(label.text())
    return document.toPlainText()


def test_a_sweep_job_reads_as_rows(qtbot: QtBot, env: Env) -> None:
    view = env.overview(qtbot, SWEEP)
    assert text(view, "Type") == "Sweep job"
    assert text(view, "Compute") == "gpu-cluster"
    assert text(view, "Objective") == "maximize val_accuracy" and text(view, "Sampling") == "random"
    assert text(view, "Limits") == "50 trials, 4 at once, timeout 7200 s"
    assert text(view, "Inputs") == "data: azureml://datastores/workspaceblobstore/paths/mnist/ (uri_folder)\nepochs: 20"
    assert text(view, "Services") == "Studio · TensorBoard"
    assert text(view, "Created by") == "Ada Lovelace"
    assert text(view, "Properties") == "azureml.git.dirty=False"  # the service's own _bookkeeping left out
    assert text(view, "Command") is None and text(view, "Outputs") is None and text(view, "Steps") is None
    for shown in filter(None, (text(view, name) for name in view.fields)):
        assert "{" not in shown and "[" not in shown  # no dict or list dumped
    assert view.studio_button.isVisible() and view.studio_url == SWEEP["studioUrl"]


def test_a_service_link_and_the_studio_button_open_the_browser(
    qtbot: QtBot, env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.ui.runs import run_overview

    opened: list[str] = []
    monkeypatch.setattr(run_overview.QDesktopServices, "openUrl", lambda url: opened.append(url.toString()) or True)
    view = env.overview(qtbot, SWEEP)
    view.studio_button.click()
    view.fields["Services"].linkActivated.emit("https://tb.example/x")
    view.fields["Services"].linkActivated.emit("file:///etc/passwd")  # never anything but a web address
    assert opened == [SWEEP["studioUrl"], "https://tb.example/x"]


def test_pipeline_and_automl_jobs_show_their_own_rows_and_no_studio_button_without_a_web_address(
    qtbot: QtBot, env: Env
) -> None:
    pipeline = env.overview(qtbot, {**PIPELINE, "studioUrl": "azureml://not-a-web-page"})
    assert text(pipeline, "Type") == "Pipeline job" and text(pipeline, "Steps") == "prep, train, evaluate"
    assert pipeline.studio_button.isHidden() and pipeline.studio_url is None
    automl = env.overview(qtbot, AUTOML)
    assert text(automl, "Type") == "AutoML job"
    assert text(automl, "Task") == "classification" and text(automl, "Objective") == "AUC_weighted"


def test_a_local_run_keeps_its_rows(qtbot: QtBot, env: Env) -> None:
    view = env.overview(
        qtbot, {"runType": "script", "target": "local", "script": "train.py", "arguments": ["--lr", "0.1"]}
    )
    assert text(view, "Type") is None and text(view, "Command") is None
    assert text(view, "Script") == "train.py" and text(view, "Arguments") == "--lr 0.1"
    assert text(view, "Environment") == "default" and view.studio_button.isHidden()


@pytest.mark.parametrize(
    "status", [RunStatus.PROVISIONING, RunStatus.NOT_RESPONDING, RunStatus.PAUSED, RunStatus.UNKNOWN]
)
def test_azures_extra_statuses_show_in_words_with_their_colour(qtbot: QtBot, env: Env, status: RunStatus) -> None:
    view = env.overview(qtbot, {"runType": "command"}, status)
    assert text(view, "Status") == f"● {status_label(status)}"
    assert STATUS_COLOURS[status] in view.fields["Status"].text()
    assert not view.cancel_button.isHidden()  # none of them is final: the job can still be canceled
