"""The offline cache as the user meets it, through the real Azure opener on the emulator.

The window (openers handed over as ``studio`` does, ``cli.window_kinds``): a workspace opened once, then reopened
with the network gone, shows its experiments and jobs from the cache and says in the status bar that it is offline;
once the network is back the mark goes and what was made meanwhile shows (experiments and jobs), with no F5. The command line
(``studio --workspace azureml://… info`` / ``job list``): never a stale listing, since it asks the service first;
without a network it prints the cache, with a note saying so.
"""

from __future__ import annotations

import gc
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from studio.cli import main, window_kinds
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
from studio.workspaces.azure.opener import AzureWorkspaceOpener
from studio.workspaces.local.opener import LocalWorkspaceOpener
from tests.azure_fixtures import AzureService
from tests.waiting import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

TIMEOUT_S = 90.0
"""Generous: the first test may start the service and import the SDK, on a machine the other tests share."""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def quick(azure_env: AzureService, monkeypatch: pytest.MonkeyPatch) -> AzureService:
    """Short timeouts and few retries, so a refused network is said in seconds (as tests/cli/test_azure_cli.py)."""
    from studio.workspaces.azure import connection
    from studio.workspaces.azure.arm_client import ArmTimeouts
    from studio.workspaces.mlflow.rest import transport
    from studio.workspaces.mlflow.rest.retry import RetryPolicy

    short = ArmTimeouts(connect_s=2.0, read_s=5.0, retry_total=1, backoff_s=0.05, backoff_max_s=0.1)
    monkeypatch.setattr(connection, "ArmTimeouts", lambda: short)
    monkeypatch.setattr(
        transport, "RetryPolicy", lambda: RetryPolicy(attempts=2, backoff_s=0.02, backoff_max_s=0.05, deadline_s=8)
    )
    return azure_env


def _experiment(service: AzureService, *run_names: str) -> tuple[str, list[str]]:
    """A new experiment with finished runs of these names: (its name, the run ids)."""
    from mlflow import MlflowClient

    client = MlflowClient(service.mlflow_url)
    name = f"offline-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(name)
    runs = []
    for run_name in run_names:
        run = client.create_run(experiment_id, run_name=run_name).info.run_id
        client.log_metric(run, "loss", 0.5)
        client.set_terminated(run)
        runs.append(run)
    return name, runs


def _names_under(window: MainWindow, experiment: str) -> list[str] | None:
    """The run names shown under the experiment in the Experiments pane (None while it is not listed)."""
    model = window.experiment_pane.model
    parent = model.index_of_experiment(experiment)
    if not parent.isValid():
        return None
    window.experiment_pane.view.expand(parent)
    rows = [model.index(r, 0, parent) for r in range(model.rowCount(parent))]
    return [str(i.data()) for i in rows if isinstance(i, QModelIndex) and i.data()]


@pytest.fixture
def windows(qtbot: QtBot, tmp_path: Path) -> Iterator[Any]:
    """Makes windows on the Azure and local kinds as ``studio`` hands them over; closes them at the end."""
    made: list[MainWindow] = []

    def make() -> MainWindow:
        kinds = window_kinds([AzureWorkspaceOpener(), LocalWorkspaceOpener()])
        window = MainWindow(kinds, WindowSettings(str(tmp_path / "s.ini")))
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        close(window)
    # A closed workspace may still hold, in an error it keeps (a refused sign-in), the SDK's response and so its
    # pooled connection to the emulator: let the windows go, then collect (MLClient's objects are in cycles).
    made.clear()
    gc.collect()


def close(window: MainWindow) -> None:
    """Close the window and wait for its workspace to be closed (on a thread of the window's)."""
    window.close()
    for thread in threading.enumerate():
        if thread.name == "studio-close-workspace":
            thread.join(timeout=30)
    gc.collect()  # MLClient's reference cycles hold pooled connections to the emulator


def test_a_window_reopened_without_a_network_shows_the_cache_and_says_it_is_offline(
    quick: AzureService, windows: Any, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment, _runs = _experiment(quick, "baseline", "wide")
    first = windows()
    with qtbot.waitSignal(first.sig_workspace_opened, timeout=int(TIMEOUT_S * 1000)):
        first.open_workspace(quick.location)
    wait_until(
        lambda: sorted(_names_under(first, experiment) or []) == ["baseline", "wide"],
        "the jobs listed",
        qtbot=qtbot,
        timeout=TIMEOUT_S,
    )
    assert not first.workspace_note.isVisible()  # fresh from the service: nothing to say
    close(first)

    for name in ("HTTPS_PROXY", "https_proxy"):  # the proxy is the only way out: the network is gone
        monkeypatch.setenv(name, f"http://127.0.0.1:{_closed_port()}")
    window = windows()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):  # at once: it was cached
        window.open_workspace(quick.location)
    wait_until(
        lambda: sorted(_names_under(window, experiment) or []) == ["baseline", "wide"],
        "the jobs shown from the cache",
        qtbot=qtbot,
        timeout=TIMEOUT_S,
    )
    note = window.workspace_note
    wait_until(
        lambda: note.isVisible() and note.full_text().startswith("Offline: showing the cache of "),
        "the window saying it is offline",
        qtbot=qtbot,
        timeout=TIMEOUT_S,
    )
    assert "Cannot reach Azure" in note.full_text() and note.toolTip() == note.full_text()

    later, _ = _experiment(quick)  # made while the window is offline: listed once the network is back
    from mlflow import MlflowClient

    client = MlflowClient(quick.mlflow_url)
    late = client.create_run(client.get_experiment_by_name(experiment).experiment_id, run_name="late").info.run_id
    client.set_terminated(late)
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, quick.proxy_url)
    wait_until(lambda: not note.isVisible(), "the offline mark gone", qtbot=qtbot, timeout=TIMEOUT_S)
    assert note.full_text() == "" and window.experiment_pane.failure is None
    wait_until(
        lambda: window.experiment_pane.model.index_of_experiment(later).isValid(),
        "the experiment list from the service again",
        qtbot=qtbot,
        timeout=TIMEOUT_S,
    )
    wait_until(  # the page painted from the cache is fetched again once the network is back (no F5)
        lambda: sorted(_names_under(window, experiment) or []) == ["baseline", "late", "wide"],
        "the job made while offline",
        qtbot=qtbot,
        timeout=TIMEOUT_S,
    )


def _printed(capsys: pytest.CaptureFixture[str], *args: str, note: str = "") -> str:
    """``studio ARGS`` in this process: what it printed (it must succeed, with ``note`` on stderr or nothing)."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err.startswith(f"note: {note}") if note else err == "", err
    return out


def test_the_command_line_never_paints_from_the_cache(
    quick: AzureService, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.workspaces import opener_for

    assert getattr(opener_for(quick.location), "paint_from_cache", None) is False  # as kinds() hands it over
    ws = ("--workspace", quick.location)
    experiment, (first_run,) = _experiment(quick, "first")
    assert experiment in _printed(capsys, *ws, "info")
    assert first_run in _printed(capsys, "job", "list", *ws, "--experiment", experiment)

    # Cached now; what changed since is printed at once (the window would paint the cached copy first).
    newer, _ = _experiment(quick)
    from mlflow import MlflowClient

    client = MlflowClient(quick.mlflow_url)
    second_run = client.create_run(client.get_experiment_by_name(experiment).experiment_id, run_name="second")
    client.set_terminated(second_run.info.run_id)  # finished: job list asks nothing more of it (offline below)
    assert newer in _printed(capsys, *ws, "info")
    listed = _printed(capsys, "job", "list", *ws, "--experiment", experiment)
    assert first_run in listed and second_run.info.run_id in listed

    # The same workspace opened as the window's opener paints the cached list first, marked, then refreshes.
    latest, _ = _experiment(quick)
    backend = window_kinds([AzureWorkspaceOpener()])[0].open(quick.location)
    try:
        painted = [e.name for e in backend.list_experiments()]
        assert newer in painted and latest not in painted
        assert backend.info().note.startswith("Cached ")
        wait_until(lambda: backend.info().note == "", "the refresh behind the cached paint", timeout=TIMEOUT_S)
        assert latest in [e.name for e in backend.list_experiments()]
    finally:
        backend.close()

    # Without a network the command line answers from the cache and says so.
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{_closed_port()}")
    offline = _printed(capsys, *ws, "info", note="Offline: showing the cache")
    assert experiment in offline and newer in offline
    listed = _printed(capsys, "job", "list", *ws, "--experiment", experiment, note="Offline: cached ")
    assert first_run in listed and second_run.info.run_id in listed


def test_a_reopened_window_whose_sign_in_is_refused_offers_to_sign_in_over_the_cached_list(
    quick: AzureService, windows: Any, qtbot: QtBot
) -> None:
    experiment, _runs = _experiment(quick, "baseline")
    first = windows()
    with qtbot.waitSignal(first.sig_workspace_opened, timeout=int(TIMEOUT_S * 1000)):
        first.open_workspace(quick.location)
    wait_until(lambda: _names_under(first, experiment) == ["baseline"], "the job", qtbot=qtbot, timeout=TIMEOUT_S)
    close(first)

    quick.revoke_tokens()  # 401 in Azure's shape: the sign-in expired while Studio was closed
    window = windows()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(quick.location)
    pane = window.experiment_pane
    wait_until(lambda: pane.failure_banner.isVisibleTo(pane), "the failure banner", qtbot=qtbot, timeout=TIMEOUT_S)
    wait_until(  # the cached list stays usable below it
        lambda: _names_under(window, experiment) == ["baseline"], "the cached job", qtbot=qtbot, timeout=TIMEOUT_S
    )
    banner = pane.failure_banner
    assert banner.title.text() == f"Could not refresh the experiments of {quick.workspace_name}"
    assert "sign in again" in banner.message.text() and banner.sign_in_button.isVisibleTo(banner)
    assert window.workspace_note.full_text().startswith("Cached ")
    assert "could not refresh" in window.workspace_note.full_text()
