"""End to end through the real Azure kind: the window signs in with the Azure CLI (the emulator's fake ``az`` on
PATH), expands account → subscription → workspace in the Workspaces pane, and opens the workspace it activates;
a job of it shows its metric chart and its log and downloads its outputs (Azurite); a device-code sign-in after
the question about a plain-file cache; refused tokens read as an expired account. Every HTTPS call goes through
the loopback proxy to the emulator (tests/azure_fixtures.py, decision 1).
"""

from __future__ import annotations

import gc
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from studio.ui.charts.metric_chart import MetricChart
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
from studio.ui.workspaces.azure_section import AzureSection
from studio.ui.workspaces.azure_sign_in_dialog import AzureSignInDialog
from studio.workspaces.azure import identity
from studio.workspaces.azure.opener import AzureWorkspaceOpener
from studio.workspaces.local.opener import LocalWorkspaceOpener
from tests.azure_fixtures import AzureService
from tests.waiting import wait_until

LEFT = Qt.MouseButton.LeftButton
TIMEOUT_MS = 90_000
"""Generous: the first test starts the service and imports the SDK, on a machine the other tests share."""
TIMEOUT_S = TIMEOUT_MS / 1000
DEV_SUB = "6a1d0000-0000-4000-8000-000000000002"
"""The emulator's "Research (dev)" subscription (tests/azure_fixtures.py): dev-ws and dev-ws-2 in dev-rg."""


@pytest.fixture
def window(
    azure_env: AzureService, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MainWindow]:
    """The real window on the real Azure and local kinds, with a home of its own and no encrypted token store."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(identity, "_encryption_available", False)
    win = MainWindow([AzureWorkspaceOpener(), LocalWorkspaceOpener()], WindowSettings(str(tmp_path / "s.ini")))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    for thread in threading.enumerate():  # the window closes its workspace on a thread of its own
        if thread.name == "studio-close-workspace":
            thread.join(timeout=10)
    # The Azure SDK's clients hold pooled connections (and so the emulator's threads serving them) until they
    # are collected: MLClient has reference cycles.
    gc.collect()


def section(window: MainWindow) -> AzureSection:
    return window.workspace_pane.accounts["azure"]


def sign_in_dialog(qtbot: QtBot, window: MainWindow) -> AzureSignInDialog:
    """Click the section's "Sign in…" row; the dialog that opens."""
    azure = section(window)
    wait_until(
        lambda: azure.state.accounts.items is not None, "the saved accounts read", qtbot=qtbot, timeout=TIMEOUT_S
    )
    pane = window.workspace_pane
    azure_title = pane.tree.topLevelItem(1)
    row = next(
        azure_title.child(i) for i in range(azure_title.childCount()) if azure_title.child(i).text(0) == "Sign in…"
    )
    qtbot.mouseClick(pane.tree.viewport(), LEFT, pos=pane.tree.visualItemRect(row).center())
    dialog = wait_until(lambda: azure.dialog, "the sign-in dialog", qtbot=qtbot, timeout=TIMEOUT_S)
    assert isinstance(dialog, AzureSignInDialog)
    return dialog


def sign_in_with_cli_and_open(qtbot: QtBot, window: MainWindow, azure_env: AzureService) -> str:
    """Sign in with the Azure CLI and open the emulator's workspace from its row; the account id."""
    azure = section(window)
    dialog = sign_in_dialog(qtbot, window)
    dialog.radios["cli"].click()
    with qtbot.waitSignal(dialog.sig_signed_in, timeout=TIMEOUT_MS) as signed:
        qtbot.mouseClick(dialog.sign_in_button, LEFT)
    account_id = signed.args[0].account_id
    wait_until(lambda: azure.state.subs_of(account_id).items, "the subscriptions", qtbot=qtbot, timeout=TIMEOUT_S)
    sub = azure.item_for(account_id, azure_env.subscription_id)
    assert sub is not None
    sub.setExpanded(True)
    target = wait_until(
        lambda: azure.workspace_item(azure_env.location), "the workspace's row", qtbot=qtbot, timeout=TIMEOUT_S
    )
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=TIMEOUT_MS):
        window.workspace_pane.tree.itemActivated.emit(target, 0)
    return account_id


def test_sign_in_with_the_azure_cli_then_find_and_open_a_workspace(
    qtbot: QtBot, window: MainWindow, azure_env: AzureService
) -> None:
    azure = section(window)
    # No account yet: once the accounts are read (on a worker; "Loading accounts…" meanwhile), only the actions.
    wait_until(
        lambda: (
            window.workspace_pane.section_rows("Azure Machine Learning")[1:] == ["Sign in…", "Add from config.json…"]
        ),
        "the section with no account",
        qtbot=qtbot,
        timeout=TIMEOUT_S,
    )
    dialog = sign_in_dialog(qtbot, window)
    assert dialog.radios["cli"].isEnabled()  # the fake az is on PATH
    dialog.radios["cli"].click()
    with qtbot.waitSignal(dialog.sig_signed_in, timeout=TIMEOUT_MS) as signed:
        qtbot.mouseClick(dialog.sign_in_button, LEFT)
    account = signed.args[0]
    assert account.method_id == "cli" and account.state == "signed-in"
    # Signed in: the account shows expanded, its subscriptions fetched (every page) on a worker.
    wait_until(
        lambda: azure.state.subs_of(account.account_id).items, "the subscriptions", qtbot=qtbot, timeout=TIMEOUT_S
    )
    row = azure.item_for(account.account_id)
    assert row is not None and row.isExpanded()
    names = azure.rows_under(row)
    assert {"Research (dev)", "Research (prod)"} <= set(names) and len(names) >= 4  # more than one page of 2
    sub = azure.item_for(account.account_id, azure_env.subscription_id)
    assert sub is not None
    with qtbot.waitSignal(
        azure.sig_loaded, timeout=TIMEOUT_MS, check_params_cb=lambda k: k[-1] == azure_env.subscription_id
    ):
        sub.setExpanded(True)
    workspaces = azure.rows_under(azure.item_for(account.account_id, azure_env.subscription_id))
    assert {"vision-ws", "nlp-ws", "tabular-ws", azure_env.workspace_name} <= set(workspaces)
    assert "shared-hub" not in workspaces  # a hub holds no jobs
    # The filter finds a workspace in a subscription never expanded (its workspaces asked for by the filter).
    dev2 = f"azureml://subscriptions/{DEV_SUB}/resourcegroups/dev-rg/workspaces/dev-ws-2"
    azure.set_filter("dev-ws-2")
    wait_until(lambda: azure.workspace_item(dev2), "the filter's workspace", qtbot=qtbot, timeout=TIMEOUT_S)
    dev = azure.item_for(account.account_id, DEV_SUB)
    assert dev is not None and not dev.isHidden() and dev.isExpanded()
    assert azure.rows_under(dev, visible_only=True) == ["dev-ws-2"]
    assert azure.item_for(account.account_id, azure_env.subscription_id).isHidden()  # nothing there matches
    azure.set_filter("")
    target = azure.workspace_item(azure_env.location)
    assert target is not None
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=TIMEOUT_MS) as opened:
        window.workspace_pane.tree.itemActivated.emit(target, 0)
    assert opened.args == [azure_env.location] and window.location == azure_env.location
    assert window.backend is not None and window.backend.info().kind == "azure"
    assert window.settings.recent_workspaces()[0] == azure_env.location
    assert azure.directory.unencrypted_cache_allowed() is None  # the CLI keeps its own tokens: nothing asked
    from studio.workspaces.azure.settings_store import load_settings

    assert load_settings().workspace_accounts == {azure_env.location: account.account_id}
    hosts = {r.host for r in azure_env.requests()}
    assert "management.azure.com" in hosts


def test_sign_in_with_a_device_code_asks_before_a_plain_file_cache_and_closes_when_the_code_is_entered(
    qtbot: QtBot, window: MainWindow, azure_env: AzureService
) -> None:
    azure = section(window)
    dialog = sign_in_dialog(qtbot, window)
    dialog.radios["device_code"].click()
    qtbot.mouseClick(dialog.sign_in_button, LEFT)
    box = wait_until(
        lambda: dialog.consent_box, "the question about a plain-file cache", qtbot=qtbot, timeout=TIMEOUT_S
    )
    qtbot.mouseClick(box.findChild(QPushButton, "azureConsentYes"), LEFT)
    wait_until(lambda: dialog.device_code.isVisible(), "the device code", qtbot=qtbot, timeout=TIMEOUT_S)
    code = dialog.device_code.code.text()
    assert code and code in str(dialog.device_code.prompt)
    with qtbot.waitSignal(dialog.finished, timeout=TIMEOUT_MS):
        azure_env.emulator.aad.approve(code, "alice@studiotest.onmicrosoft.com")  # type: ignore[attr-defined]
    assert dialog.account is not None and dialog.account.label == "alice@studiotest.onmicrosoft.com"
    assert azure.directory.unencrypted_cache_allowed() is True
    wait_until(
        lambda: azure.item_for(dialog.account.account_id), "the new account's row", qtbot=qtbot, timeout=TIMEOUT_S
    )
    with qtbot.waitSignal(azure.sig_loaded, timeout=TIMEOUT_MS, check_params_cb=lambda k: k[0] == "signed-out"):
        azure.sign_out(dialog.account.account_id)  # also closes the account's HTTP sessions (MSAL's)
    assert azure.item_for(dialog.account.account_id) is None


def test_an_account_whose_tokens_are_refused_says_expired_after_refresh_and_offers_to_sign_in_again(
    qtbot: QtBot, window: MainWindow, azure_env: AzureService
) -> None:
    azure = section(window)
    dialog = sign_in_dialog(qtbot, window)
    dialog.radios["cli"].click()
    with qtbot.waitSignal(dialog.sig_signed_in, timeout=TIMEOUT_MS) as signed:
        qtbot.mouseClick(dialog.sign_in_button, LEFT)
    account_id = signed.args[0].account_id
    wait_until(lambda: azure.state.subs_of(account_id).items, "the subscriptions", qtbot=qtbot, timeout=TIMEOUT_S)
    azure_env.revoke_tokens()  # the service refuses every token from now on (401 in Azure's shape)
    menu = window.workspace_pane.context_menu_for(azure.item_for(account_id))
    assert menu is not None
    refresh = next(a for a in menu.actions() if a.objectName() == "actionAzureRefresh")
    refresh.trigger()
    wait_until(
        lambda: "expired" in (azure.item_for(account_id) or refresh).text(0),
        "the account expired",
        qtbot=qtbot,
        timeout=TIMEOUT_S,
    )
    row = azure.item_for(account_id)
    assert row is not None and row.text(0).endswith("(expired — sign in again)")
    assert azure.rows_under(row) == ["Sign in again…"]
    assert "sign in" in row.toolTip(0).lower() and "studio-test-" not in row.toolTip(0)  # a sentence, no token


def test_a_job_of_the_workspace_opened_from_the_accounts_shows_its_chart_and_log_and_downloads_its_outputs(
    qtbot: QtBot, window: MainWindow, azure_env: AzureService, tmp_path: Path
) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(azure_env.mlflow_url)
    experiment = f"gui-{uuid.uuid4().hex[:8]}"
    run = client.create_run(client.create_experiment(experiment), run_name="train-1")
    job = run.info.run_id
    client.log_batch(job, metrics=[Metric("loss", 2.0 / (1 + i), 1_700_000_000_000 + i, i) for i in range(200)])
    client.set_terminated(job, "FINISHED")
    log = "".join(f"epoch {e}: loss {2.0 / (1 + e):.4f}\n" for e in range(50)).encode()
    container = azure_env.container()
    container.upload_blob(f"ExperimentRun/dcid.{job}/user_logs/std_log.txt", log, overwrite=True)
    container.upload_blob(f"ExperimentRun/dcid.{job}/outputs/model.txt", b"weights", overwrite=True)
    sign_in_with_cli_and_open(qtbot, window, azure_env)
    model = window.experiment_pane.model
    wait_until(
        lambda: model.index_of_experiment(experiment).isValid(),
        "the experiment in the tree",
        qtbot=qtbot,
        timeout=TIMEOUT_S,
    )
    page = window.run_detail.open_run(job)
    assert page is not None
    page.show_tab("Metrics")
    chart = wait_until(
        lambda: page.findChild(MetricChart, "metricPlot:loss"), "the loss chart", qtbot=qtbot, timeout=TIMEOUT_S
    )
    wait_until(
        lambda: "loss" in chart and len(chart.series("loss").values) == 200,
        "every point",
        qtbot=qtbot,
        timeout=TIMEOUT_S,
    )
    page.show_tab("Outputs + logs")
    files = page.tab("Outputs + logs")
    wait_until(
        lambda: files.model.index_of("user_logs/std_log.txt").isValid(),
        "the job's files",
        qtbot=qtbot,
        timeout=TIMEOUT_S,
    )
    files.select("user_logs/std_log.txt")
    wait_until(
        lambda: files.preview.preview is not None and files.preview.preview.loaded,
        "the preview",
        qtbot=qtbot,
        timeout=TIMEOUT_S,
    )
    assert files.preview.preview.editor.toPlainText().startswith("epoch 0: loss 2.0000\n")
    out = tmp_path / "downloaded"
    window.download_outputs_to(job, str(out))
    got = wait_until(
        lambda: [p for p in out.rglob("model.txt")], "the outputs downloaded", qtbot=qtbot, timeout=TIMEOUT_S
    )
    assert got[0].read_bytes() == b"weights"
