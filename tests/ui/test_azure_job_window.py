"""An Azure ML job in the real window, end to end on the emulator (real azure-ai-ml over HTTPS, Azurite, the fake
``az``): the workspace opened by location with the Azure kind's opener from ``studio.workspaces.kinds()``
(guarded: no backend call on the GUI thread), an experiment's runs table, a finished job's Overview (type,
compute, command, environment, inputs and outputs, services, who made it, the "Open in Azure ML studio" button),
its chart, a preview of its log, its outputs downloaded; a running job's ``user_logs/std_log.txt`` followed live
as the blob grows, until the job ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from pytestqt.qtbot import QtBot

from studio.ui.charts.metric_chart import MetricChart
from studio.ui.previews.text_preview import TextPreview
from studio.ui.runs.run_detail import RunPage
from studio.ui.shell.main_window import MainWindow
from tests.azure_fixtures import AzureService
from tests.ui.azure_window import azure_window
from tests.waiting import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

TIMEOUT = 30
POINTS = 300
DATA_URI = "azureml://datastores/workspaceblobstore/paths/mnist/"


@dataclass
class Jobs:
    """This test's experiment and its jobs in the emulator's workspace."""

    experiment: str
    finished: str
    running: str


def fill(azure_env: AzureService) -> Jobs:
    """A finished job (a loss curve, params, a log, an output, a data input) and a running one with a log."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(azure_env.mlflow_url)
    experiment = f"azure-job-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(experiment)
    finished = client.create_run(experiment_id, run_name="train-resnet").info.run_id
    client.log_batch(
        finished,
        metrics=[Metric("loss", 2.0 / (1 + i), 1_700_000_000_000 + i, i) for i in range(POINTS)],
        params=[Param("lr", "0.01"), Param("epochs", "10")],
    )
    client.set_terminated(finished, "FINISHED")
    azure_env.set_job_properties(
        finished,
        {
            "inputs": {"training_data": {"jobInputType": "uri_folder", "uri": DATA_URI, "mode": "ReadOnlyMount"}},
            "computeId": f"{azure_env.workspace_arm_id}/computes/gpu-cluster",
        },
    )
    running = client.create_run(experiment_id, run_name="train-live").info.run_id
    container = azure_env.container()
    log = "".join(f"epoch {e}: loss {2.0 / (1 + e):.4f}\n" for e in range(40)).encode()
    container.upload_blob(f"ExperimentRun/dcid.{finished}/user_logs/std_log.txt", log, overwrite=True)
    container.upload_blob(f"ExperimentRun/dcid.{finished}/outputs/model.pt", MODEL_BYTES, overwrite=True)
    container.upload_blob(f"ExperimentRun/dcid.{finished}/outputs/eval/metrics.json", b'{"acc": 0.93}\n')
    container.get_blob_client(f"ExperimentRun/dcid.{running}/user_logs/std_log.txt").create_append_blob()
    append_log(azure_env, running, b"starting on gpu-cluster\n")
    return Jobs(experiment, finished, running)


MODEL_BYTES = bytes(range(256)) * 300


def append_log(azure_env: AzureService, job: str, data: bytes) -> None:
    """Append to a running job's log in Azurite (an append blob, as Azure ML's own log writer makes)."""
    azure_env.container().get_blob_client(f"ExperimentRun/dcid.{job}/user_logs/std_log.txt").append_block(data)


@pytest.fixture
def window(azure_env: AzureService, qtbot: QtBot, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The real window on the real Azure opener (guarded), signed in by the fake ``az``, the workspace open."""
    jobs = fill(azure_env)
    with azure_window(azure_env.location, qtbot, tmp_path) as (win, opener):
        yield {"window": win, "jobs": jobs, "opener": opener}


class UrlCatcher(QObject):
    """Stands in for the system's browser: QDesktopServices hands it the https URLs it is asked to open."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        """Keep the URL instead of opening a browser."""
        self.urls.append(url.toString())


@pytest.fixture
def browser() -> Iterator[UrlCatcher]:
    """Catch every https URL the window opens."""
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("https", catcher, "open")
    yield catcher
    QDesktopServices.unsetUrlHandler("https")


def open_job(qtbot: QtBot, window: MainWindow, experiment: str, job: str) -> RunPage:
    """Open the experiment's runs table, then the job from it; its page once the Overview has loaded."""
    window.open_runs_table(experiment)
    table = window.run_detail.runs_tables()[0]
    wait_until(lambda: table.model.row_of(job) >= 0, "the job in the runs table", qtbot=qtbot, timeout=TIMEOUT)
    table.view.sig_open_runs.emit([job])
    page = wait_until(
        lambda: next((p for p in window.run_detail.findChildren(RunPage) if p.run_id == job), None),
        "the job's page",
        qtbot=qtbot,
    )
    wait_until(lambda: page.overview.run is not None, "the job's Overview", qtbot=qtbot, timeout=TIMEOUT)
    return page


def text(page: RunPage, row: str) -> str:
    """What a row of the Overview says, without markup (empty when the row is hidden)."""
    overview = page.overview
    label = overview.fields[row]
    if not overview.form.isRowVisible(label):
        return ""
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    document.setHtml(label.text())
    return document.toPlainText()


def test_a_finished_job_shows_its_details_studio_link_chart_log_and_downloads_its_outputs(
    qtbot: QtBot, window: dict[str, Any], azure_env: AzureService, browser: UrlCatcher, tmp_path: Path
) -> None:
    win, jobs = window["window"], window["jobs"]
    page = open_job(qtbot, win, jobs.experiment, jobs.finished)
    # The Overview: what Azure says of the job, as rows a person reads.
    assert text(page, "Status").startswith("● Completed")
    assert text(page, "Type") == "Command job"
    assert text(page, "Compute") == "gpu-cluster"
    assert text(page, "Command") == "python train.py --epochs 10 --lr 0.01"
    assert not text(page, "Script") and not text(page, "Arguments")  # the command says them
    assert text(page, "Environment") == "sklearn-1.5:19"
    assert page.overview.fields["Environment"].toolTip().startswith("azureml://registries/")
    assert text(page, "Inputs") == f"training_data: {DATA_URI} (uri_folder)"
    assert text(page, "Outputs") == (
        f"default: azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.{jobs.finished} (uri_folder)"
    )
    services = text(page, "Services").splitlines()
    assert services[0] == "Studio"  # a link (web services first)
    assert services[1] == "Tracking: azureml://eastus.api.azureml.ms/…/workspaces/studio-ws"  # whole in the tooltip
    tracking = f"Tracking: azureml://eastus.api.azureml.ms/mlflow/v1.0{azure_env.workspace_arm_id}"
    assert tracking in page.overview.fields["Services"].toolTip().splitlines()  # whole in the tooltip
    assert text(page, "Created") != "—"
    assert text(page, "Params") == "lr=0.01, epochs=10" or text(page, "Params") == "epochs=10, lr=0.01"
    assert "{" not in text(page, "Properties")  # no dict dumped
    assert "loss" in text(page, "Metrics")
    # "Open in Azure ML studio": the job's page in the browser.
    button = page.overview.studio_button
    assert button.isVisible() and button.text() == "Open in Azure ML studio"
    button.click()
    assert browser.urls and browser.urls[-1].startswith(f"https://ml.azure.com/runs/{jobs.finished}?wsid=")
    # The same from the Run menu, for the run page in front.
    action = win.findChild(type(win.act_refresh), "actionOpenInStudio")
    assert action is not None and action.isVisible()
    action.trigger()
    assert len(browser.urls) == 2 and browser.urls[0] == browser.urls[1]
    # The Metrics tab draws the whole loss curve.
    page.show_tab("Metrics")
    chart = wait_until(
        lambda: page.findChild(MetricChart, "metricPlot:loss"), "the loss chart", qtbot=qtbot, timeout=TIMEOUT
    )
    wait_until(
        lambda: "loss" in chart and len(chart.series("loss").values) == POINTS,
        "every point of the loss curve",
        qtbot=qtbot,
        timeout=TIMEOUT,
    )
    # The log previewed from blob storage (range reads), not followed: the job has ended.
    page.show_tab("Outputs + logs")
    files = page.tab("Outputs + logs")
    wait_until(
        lambda: files.model.index_of("user_logs/std_log.txt").isValid(), "the job's files", qtbot=qtbot, timeout=30
    )
    files.select("user_logs/std_log.txt")
    preview = wait_until(
        lambda: files.preview.preview if files.preview.preview and files.preview.preview.loaded else None,
        "the log's preview",
        qtbot=qtbot,
        timeout=TIMEOUT,
    )
    assert isinstance(preview, TextPreview) and not preview.following
    assert preview.editor.toPlainText().splitlines()[0] == "epoch 0: loss 2.0000"
    assert preview.editor.toPlainText().splitlines()[-1] == "epoch 39: loss 0.0500"
    # Its outputs downloaded from Azurite, byte for byte.
    out = tmp_path / "downloaded"
    win.download_outputs_to(jobs.finished, str(out))
    got = wait_until(lambda: sorted(out.rglob("model.pt")), "the outputs downloaded", qtbot=qtbot, timeout=TIMEOUT)
    assert got[0].read_bytes() == MODEL_BYTES
    metrics = wait_until(lambda: sorted(out.rglob("metrics.json")), "every output", qtbot=qtbot, timeout=TIMEOUT)
    assert metrics[0].read_bytes() == b'{"acc": 0.93}\n'


def test_a_running_jobs_log_is_followed_as_the_blob_grows_until_the_job_ends(
    qtbot: QtBot, window: dict[str, Any], azure_env: AzureService
) -> None:
    from mlflow import MlflowClient

    win, jobs = window["window"], window["jobs"]
    azure_env.set_job_status(jobs.running, "Running")
    page = open_job(qtbot, win, jobs.experiment, jobs.running)
    assert text(page, "Status").startswith("● Running")
    assert not page.overview.cancel_button.isHidden()  # Azure can cancel a job
    page.show_tab("Outputs + logs")
    files = page.tab("Outputs + logs")
    wait_until(lambda: files.model.index_of("user_logs/std_log.txt").isValid(), "the log", qtbot=qtbot, timeout=30)
    files.select("user_logs/std_log.txt")
    preview = wait_until(
        lambda: files.preview.preview if files.preview.preview and files.preview.preview.loaded else None,
        "the log's preview",
        qtbot=qtbot,
        timeout=TIMEOUT,
    )
    assert isinstance(preview, TextPreview)
    assert preview.following  # a running job's log is followed without asking
    assert preview.editor.toPlainText() == "starting on gpu-cluster"
    # The job writes more: the new lines show, read from where the log ended (a range read of the blob).
    append_log(azure_env, jobs.running, b"epoch 0: loss 2.0000\nepoch 1: loss 1.00")
    wait_until(
        lambda: preview.editor.toPlainText().endswith("epoch 0: loss 2.0000"), "the new line", qtbot=qtbot, timeout=15
    )
    assert "epoch 1" not in preview.editor.toPlainText()  # half a line waits for its end
    append_log(azure_env, jobs.running, b"00\nepoch 2: loss 0.6667\n")
    wait_until(
        lambda: preview.editor.toPlainText().endswith("epoch 1: loss 1.0000\nepoch 2: loss 0.6667"),
        "the next lines",
        qtbot=qtbot,
        timeout=15,
    )
    assert preview.editor.toPlainText().startswith("starting on gpu-cluster\nepoch 0")  # appended, not reloaded
    # The job ends: its last words show (even without a newline), then the log is no longer read.
    append_log(azure_env, jobs.running, b"done: model saved")
    MlflowClient(azure_env.mlflow_url).set_terminated(jobs.running, "FINISHED")
    azure_env.set_job_status(jobs.running, "Completed")
    wait_until(lambda: not preview.following, "following stopped", qtbot=qtbot, timeout=TIMEOUT)
    assert preview.editor.toPlainText().endswith("epoch 2: loss 0.6667\ndone: model saved")
    assert page.overview.run is not None and page.overview.run.status.value == "Completed"
    assert page.overview.cancel_button.isHidden()
    assert not preview._timer.isActive()  # no more reads of the log


def test_open_run_with_a_jobs_studio_address_hands_the_job_to_the_window_on_its_workspace(
    qtbot: QtBot, window: dict[str, Any], azure_env: AzureService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``studio --open-run <the address "Open in Azure ML studio" opens>``: the running studio shows the job."""
    from studio.ui.shell.single_instance import InstanceServer

    win, jobs = window["window"], window["jobs"]
    runtime = Path(os.path.realpath("/tmp")) / f"rt-{os.getpid()}-{tmp_path.name[-12:]}"  # a short socket path
    runtime.mkdir(mode=0o700, exist_ok=True)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    server = InstanceServer(win.location)
    try:
        assert server.listen()
        server.sig_message.connect(win.handle_message)
        address = (
            f"https://ml.azure.com/runs/{jobs.finished}?wsid={azure_env.workspace_arm_id}&tid={azure_env.tenant_id}"
        )
        second = subprocess.Popen(
            [sys.executable, "-m", "studio", "--open-run", address],  # no --workspace: the address names it
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until(lambda: second.poll() is not None, "the second studio handing over", qtbot=qtbot, timeout=60)
        assert second.returncode == 0, second.communicate()[1]
        tabs = win.run_detail.tabs
        wait_until(
            lambda: any(tabs.tabText(i) == "train-resnet" for i in range(tabs.count())),
            "the job's tab",
            qtbot=qtbot,
            timeout=TIMEOUT,
        )
    finally:
        server.close()
        shutil.rmtree(runtime, ignore_errors=True)


def test_the_runs_menu_opens_a_job_in_azure_ml_studio_without_opening_its_page(
    qtbot: QtBot, window: dict[str, Any], azure_env: AzureService, browser: UrlCatcher
) -> None:
    from PySide6.QtWidgets import QApplication, QMenu

    win, jobs = window["window"], window["jobs"]
    pane = win.experiment_pane
    model = pane.model
    wait_until(lambda: model.index_of_experiment(jobs.experiment).isValid(), "the experiment", qtbot=qtbot)
    pane.view.expand(model.index_of_experiment(jobs.experiment))
    wait_until(lambda: model.index_of_run(jobs.finished).isValid(), "the job in the tree", qtbot=qtbot, timeout=30)
    assert pane.select_run(jobs.finished)
    pane._context_menu(pane.view.visualRect(model.index_of_run(jobs.finished)).center())
    menu = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "runContextMenu" and w.isVisible())
    assert isinstance(menu, QMenu)
    action = next(a for a in menu.actions() if a.objectName() == "actionRunInStudio")
    assert action.text() == "Open in Azure ML studio" and action.isEnabled()
    action.trigger()  # the job's details are asked in the background, then its page opens in the browser
    menu.close()
    wait_until(lambda: browser.urls, "the browser asked to open the job", qtbot=qtbot, timeout=TIMEOUT)
    assert browser.urls == [
        f"https://ml.azure.com/runs/{jobs.finished}?wsid={azure_env.workspace_arm_id}&tid={azure_env.tenant_id}"
    ]
    assert win.run_detail.open_run_ids() == []  # no page was opened for it


AZURE_ONLY = {"Provisioning": "prov", "NotResponding": "stuck", "Paused": "paused", "Unknown": "odd"}
"""Azure's statuses RunStatus gained, and the display names of the jobs that have them."""


def test_azures_own_statuses_show_in_the_runs_table_and_the_tree_and_filter(
    qtbot: QtBot, window: dict[str, Any], azure_env: AzureService
) -> None:
    from mlflow import MlflowClient

    from studio.core.status import RunStatus
    from studio.ui.runs_table.runs_model import STATUS_COLUMN

    win = window["window"]
    client = MlflowClient(azure_env.mlflow_url)
    experiment = f"statuses-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(experiment)
    ids = {}
    for status, name in AZURE_ONLY.items():
        ids[status] = client.create_run(experiment_id, run_name=name).info.run_id  # MLflow: RUNNING
        azure_env.set_job_status(ids[status], status)
    failed = client.create_run(experiment_id, run_name="broken").info.run_id
    client.set_terminated(failed, "FAILED")
    # The runs table: each job's own status (asked of Azure after the page shows; it arrives as a change).
    win.open_runs_table(experiment)
    table = win.run_detail.runs_tables()[0]
    model = table.model

    def shown(status: str) -> str:
        row = model.row_of(ids[status])
        return str(model.data(model.index(row, STATUS_COLUMN))) if row >= 0 else ""

    # A poll that saw a job between its creation and its status change shows the old status until the backend
    # asks again (every 10 s): allow for that, and for a loaded machine.
    wait_until(lambda: all(shown(s) == s for s in AZURE_ONLY), "Azure's statuses", qtbot=qtbot, timeout=60)
    for status in AZURE_ONLY:
        icon = model.data(model.index(model.row_of(ids[status]), STATUS_COLUMN), Qt.ItemDataRole.DecorationRole)
        assert not icon.isNull()
        assert RunStatus(status).is_active  # none is final
    # A failed job's Overview says Azure's error (run history's), with its code.
    page = open_job(qtbot, win, experiment, failed)
    assert text(page, "Status").startswith("● Failed")
    assert text(page, "Error") == "UserError: Execution failed. User process 'python' exited with status code 1."
    # The Experiments pane's filter box knows them: status:NotResponding keeps only that job.
    pane = win.experiment_pane
    wait_until(lambda: pane.model.index_of_experiment(experiment).isValid(), "the experiment", qtbot=qtbot)
    pane.view.expand(pane.model.index_of_experiment(experiment))
    pane.filter_box.setText("status:NotResponding")
    wait_until(
        lambda: (
            pane.model.index_of_run(ids["NotResponding"]).isValid()
            and not pane.model.index_of_run(ids["Paused"]).isValid()
        ),
        "only the job that stopped responding",
        qtbot=qtbot,
        timeout=TIMEOUT,
    )
