"""An MLflow server that fails, as a user meets it in the window: one sentence where they look, and a retry.

Opening: a server that is down, a URL that answers with a web page, 401 / 403, a TLS mismatch and a hang each
put the sentence in the Experiments pane (and the status bar) with Retry, and "Sign in…" for 401 / 403. While
browsing, the fault proxy in front of the shared server drops connections, answers 500 or hangs: the tree, the
runs table and a run's Overview, Metrics and Outputs say so in one line each, and F5 (or Retry) brings them back
once the server is. Every opener is guarded: no backend call on the GUI thread. ``$STUDIO_SHOTS`` saves
screenshots of the failure states.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from studio.ui.runs.run_detail import RunPage
from studio.ui.runs.tabs.files_tab import FilesTab
from studio.ui.runs.tabs.metrics_tab import MetricsTab
from studio.ui.runs_table.runs_tab import RunsTableTab
from studio.ui.shell.main_window import MainWindow
from tests.fault_proxy import Drop, FaultProxy, Hang, Html, Status
from tests.mlflow_fixtures import MlflowFixture
from tests.ui.mlflow_helpers import closed_port, mlflow_window, open_server, quick_client, shot
from tests.waiting import wait_until

NO_TRACEBACK = ("Traceback", 'File "', "Error(")


def assert_one_sentence(text: str) -> None:
    """What a user reads: one line, no traceback, no Python exception spelled out."""
    assert text and "\n" not in text, text
    assert not any(mark in text for mark in NO_TRACEBACK), text


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients retry once, at once: a failure shows in a moment."""
    quick_client(monkeypatch)


# -- opening ---------------------------------------------------------------------------------------------------------

OPEN_FAILURES = {
    "down": (None, "connection refused", False),
    "web-page": (Html(), "answered with a web page, not the MLflow API", False),
    "401": (Status(401, body=b'{"error_code": "UNAUTHENTICATED", "message": "Unauthorized"}'), "asks for a user", True),
    "403": (Status(403, body=b'{"error_code": "PERMISSION_DENIED", "message": "no"}'), "refused access", True),
    "tls": (None, "answered in plain HTTP, not TLS", False),
}


@pytest.mark.parametrize("case", list(OPEN_FAILURES))
def test_a_server_that_cannot_be_opened_says_why_in_the_pane_with_retry(
    case: str, qtbot: QtBot, tmp_path: Path, proxy: FaultProxy, quick: None
) -> None:
    fault, phrase, sign_in = OPEN_FAILURES[case]
    window, opener = mlflow_window(qtbot, tmp_path)
    host = proxy.url.split("//")[1]
    if case == "down":
        host = f"127.0.0.1:{closed_port()}"
    location = f"mlflow+{'https' if case == 'tls' else 'http'}://{host}"
    if fault is not None:
        proxy.fail_all(fault)
    window.open_workspace(location)
    pane = window.experiment_pane
    failure = wait_until(lambda: pane.failure, "the failure in the Experiments pane", qtbot=qtbot)
    assert failure.title == f"Could not open {host}"
    assert phrase in failure.message and host in failure.message
    assert_one_sentence(failure.message)
    page = pane.failure_page
    assert page.isVisible() and page.retry_button.isVisible() and page.retry_button.isEnabled()
    assert page.sign_in_button.isVisible() == sign_in
    assert not page.dismiss_button.isVisible()  # nothing is open behind it
    assert not pane.filter_box.isVisible()
    assert phrase in window.statusBar().currentMessage()  # and in the status bar
    assert window.backend is None and window.location == ""
    shot(window, f"open-{case}")
    before = proxy.count
    window.act_refresh.trigger()  # F5 tries again too
    assert page.busy and page.title.text() == f"Opening {host}…"
    wait_until(lambda: not page.busy, "the second failure", qtbot=qtbot)
    assert pane.failure is not None and phrase in pane.failure.message
    assert proxy.count > before or case in ("down", "tls")  # those never get as far as a request
    window.close()
    assert opener.violations == []


def test_retry_opens_the_server_once_it_answers_again(
    qtbot: QtBot, tmp_path: Path, proxy: FaultProxy, quick: None
) -> None:
    window, opener = mlflow_window(qtbot, tmp_path)
    proxy.fail_all(Drop())
    window.open_workspace("mlflow+" + proxy.url)
    pane = window.experiment_pane
    failure = wait_until(lambda: pane.failure, "the failure", qtbot=qtbot)
    assert "dropped before it answered" in failure.message
    proxy.fail_all(None)
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=30_000):
        pane.failure_page.retry_button.click()
        assert pane.failure_page.busy and pane.failure_page.title.text().startswith("Opening 127.0.0.1:")
    assert pane.failure is None and pane.stack.currentWidget() is pane.view
    wait_until(lambda: pane.model.index_of_experiment("paging").isValid(), "the experiments", qtbot=qtbot)
    assert pane.filter_box.isVisible()
    window.close()
    assert opener.violations == []


def test_a_hang_ends_in_a_sentence_and_the_window_keeps_answering(
    qtbot: QtBot, tmp_path: Path, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_client(monkeypatch, read_s=0.5)
    window, opener = mlflow_window(qtbot, tmp_path)
    proxy.fail_all(Hang())
    window.open_workspace("mlflow+" + proxy.url)
    pane = window.experiment_pane
    assert pane.failure_page.title.text().startswith("Opening ")  # said while it waits
    failure = wait_until(lambda: pane.failure, "the timeout in the pane", qtbot=qtbot)
    assert "did not answer within" in failure.message and "try again later" in failure.message
    assert_one_sentence(failure.message)
    shot(window, "open-hang")
    window.close()
    assert opener.violations == []


def test_a_failed_open_over_an_open_server_is_a_banner_and_the_tree_stays(
    qtbot: QtBot, tmp_path: Path, proxy: FaultProxy, quick: None
) -> None:
    window, opener = mlflow_window(qtbot, tmp_path)
    open_server(qtbot, window, "mlflow+" + proxy.url)
    pane = window.experiment_pane
    wait_until(lambda: pane.model.index_of_experiment("paging").isValid(), "the experiments", qtbot=qtbot)
    down = f"127.0.0.1:{closed_port()}"
    window.open_workspace(f"mlflow+http://{down}")
    failure = wait_until(lambda: pane.failure, "the failure", qtbot=qtbot)
    assert failure.title == f"Could not open {down}" and "connection refused" in failure.message
    banner = pane.failure_banner
    assert banner.isVisible() and banner.retry_button.isVisible() and banner.dismiss_button.isVisible()
    assert pane.stack.currentWidget() is pane.view and pane.view.isVisible()  # the open server is still shown
    assert window.location == "mlflow+" + proxy.url
    shot(window, "open-failed-over-open-server")
    banner.dismiss_button.click()
    assert not banner.isVisible() and pane.failure is None
    window.close()
    assert opener.violations == []


# -- browsing --------------------------------------------------------------------------------------------------------


@pytest.fixture
def browsing(qtbot: QtBot, tmp_path: Path, proxy: FaultProxy, quick: None) -> MainWindow:
    """The window on the server through the proxy, its experiments listed."""
    window, opener = mlflow_window(qtbot, tmp_path)
    open_server(qtbot, window, "mlflow+" + proxy.url)
    wait_until(
        lambda: window.experiment_pane.model.index_of_experiment("paging").isValid(), "the experiments", qtbot=qtbot
    )
    yield window
    window.close()
    assert opener.violations == []


def test_experiments_that_cannot_be_listed_after_opening_say_so_with_retry(
    qtbot: QtBot, tmp_path: Path, proxy: FaultProxy, quick: None
) -> None:
    window, opener = mlflow_window(qtbot, tmp_path)
    proxy.fail_all(Status(500), path_contains="runs/search")  # the open's one request passes, the listing fails
    open_server(qtbot, window, "mlflow+" + proxy.url)
    pane = window.experiment_pane
    failure = wait_until(lambda: pane.failure, "the failure", qtbot=qtbot)
    assert failure.key == "experiments" and failure.title.startswith("Could not load the experiments of 127.0.0.1:")
    assert "failed (HTTP 500, INTERNAL_ERROR)" in failure.message and "injected by the fault proxy" in failure.message
    assert_one_sentence(failure.message)
    page = pane.failure_page
    assert page.isVisible() and not page.sign_in_button.isVisible() and not page.dismiss_button.isVisible()
    shot(window, "experiments-not-listed")
    proxy.fail_all(None)
    pane.failure_page.retry_button.click()
    wait_until(lambda: pane.model.index_of_experiment("paging").isValid(), "the experiments", qtbot=qtbot)
    assert pane.failure is None and pane.stack.currentWidget() is pane.view
    window.close()
    assert opener.violations == []


def test_the_tree_says_a_failed_refresh_and_a_failed_page_and_f5_recovers(
    browsing: MainWindow, qtbot: QtBot, proxy: FaultProxy, filled: object
) -> None:
    window, pane = browsing, browsing.experiment_pane
    model = pane.model
    proxy.fail_all(Drop())
    window.act_refresh.trigger()  # F5
    failure = wait_until(lambda: pane.failure, "the banner", qtbot=qtbot)
    assert failure.title.startswith("Could not refresh the experiments of 127.0.0.1:")
    assert_one_sentence(failure.message)
    assert pane.failure_banner.isVisible() and pane.view.isVisible()  # what was listed stays
    pane.view.expand(model.index_of_experiment("main"))  # its runs cannot come: the row under it says why
    main = model.index_of_experiment("main")
    placeholder = model.index(0, 0, main)
    wait_until(lambda: str(placeholder.data()).startswith("Could not load"), "the failed row", qtbot=qtbot)
    assert "dropped before it answered" in placeholder.data() and "F5" in str(placeholder.data(3))  # tooltip
    shot(window, "tree-server-gone")
    proxy.fail_all(None)
    window.act_refresh.trigger()
    wait_until(lambda: pane.failure is None, "the banner gone", qtbot=qtbot)
    wait_until(lambda: model.loaded_run_count("main") > 0, "the runs of main", qtbot=qtbot)


def test_the_runs_table_says_a_failed_load_and_f5_recovers(
    browsing: MainWindow, qtbot: QtBot, proxy: FaultProxy
) -> None:
    window = browsing
    window.open_runs_table("paging")
    tab = window.run_detail.tabs.currentWidget()
    assert isinstance(tab, RunsTableTab)
    wait_until(lambda: tab.model.rowCount() > 0, "the first page", qtbot=qtbot)
    proxy.fail_all(Status(500))
    window.act_refresh.trigger()
    wait_until(lambda: tab.load_error.isVisible(), "the error line", qtbot=qtbot)
    text = tab.load_error.text()
    assert "Could not load the runs: The MLflow server at" in text and ">Retry</a>" in text and "F5" in text
    assert_one_sentence(text)
    assert tab.model.rowCount() > 0  # the rows shown stay
    shot(window, "runs-table-server-failing")
    proxy.fail_all(None)
    window.act_refresh.trigger()
    wait_until(lambda: not tab.load_error.isVisible(), "the error line gone", qtbot=qtbot)


def test_a_runs_table_opened_while_the_server_is_down_says_so_in_its_body(
    browsing: MainWindow, qtbot: QtBot, proxy: FaultProxy
) -> None:
    window = browsing
    proxy.fail_all(Drop())
    window.open_runs_table("main")
    tab = window.run_detail.tabs.currentWidget()
    assert isinstance(tab, RunsTableTab)
    wait_until(lambda: tab.stack.currentWidget() is tab.empty and "Could not" in tab.empty.text(), qtbot=qtbot)
    assert_one_sentence(tab.empty.text())
    shot(window, "runs-table-opened-server-down")
    proxy.fail_all(None)
    window.act_refresh.trigger()
    wait_until(lambda: tab.model.rowCount() > 0 and tab.stack.currentWidget() is tab.view, qtbot=qtbot)


def test_a_run_opened_while_the_server_fails_says_so_in_each_tab_and_f5_brings_it_back(
    browsing: MainWindow, qtbot: QtBot, proxy: FaultProxy, mlflow_server: MlflowFixture
) -> None:
    window = browsing
    proxy.fail_all(Status(503, body=b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "down for a moment"}'))
    page = window.run_detail.open_run(mlflow_server.filled.run_ids["child-a"])  # small: it loads at once after
    assert isinstance(page, RunPage)
    status = page.overview.fields["Status"]
    wait_until(lambda: "Could not load this run" in status.text(), "the overview's failure", qtbot=qtbot)
    assert "down for a moment" in status.text() and "F5" in status.text()
    shot(window, "run-overview-server-failing")
    page.show_tab("Metrics")
    metrics = page.tab("Metrics")
    assert isinstance(metrics, MetricsTab)
    wait_until(lambda: "Could not list the metrics" in metrics.loading.text(), "the metrics' failure", qtbot=qtbot)
    assert metrics.stack.currentWidget() is metrics.loading and "F5" in metrics.loading.text()
    shot(window, "run-metrics-server-failing")
    page.show_tab("Outputs + logs")
    files = page.tab("Outputs + logs")
    assert isinstance(files, FilesTab)
    wait_until(lambda: "Could not list the files" in files.status.text(), "the files' failure", qtbot=qtbot)
    assert "F5" in files.status.text()
    shot(window, "run-outputs-server-failing")
    proxy.fail_all(None)
    window.act_refresh.trigger()
    wait_until(lambda: page.overview.run is not None, "the overview", qtbot=qtbot)
    wait_until(lambda: files.status.text().startswith("0 files"), "the files listed (none)", qtbot=qtbot)
    page.show_tab("Metrics")
    wait_until(lambda: metrics.stack.currentWidget() is metrics.grid, "the metrics", qtbot=qtbot)
    assert "loss" in metrics.infos and not metrics.message.isVisible()


def test_live_refresh_polls_the_server_and_says_once_when_it_dies(
    browsing: MainWindow, qtbot: QtBot, proxy: FaultProxy
) -> None:
    window = browsing
    window.backend._inner.poller.interval = 0.05  # polled at every tick, not every 3 s
    window.live.timer.setInterval(50)
    proxy.reset_counts()
    searches = lambda: sum(path.endswith("runs/search") for path in proxy.paths)  # noqa: E731
    wait_until(lambda: searches() >= 4, "polls reaching the server (two searches each)", qtbot=qtbot)
    notified: list[str] = []
    window.notifier.sig_notified.connect(notified.append)
    proxy.fail_all(Drop())
    said = wait_until(
        lambda: next((text for text in notified if text.startswith("Live refresh")), None),
        "live refresh's failure in the status bar",
        qtbot=qtbot,
    )
    assert "dropped before it answered" in said and "it goes on when the workspace answers" in said
    assert_one_sentence(said)
