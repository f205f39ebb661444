"""`studio --open-run` and `studio studio://run/…`: a cold start on a run, the hand-over to a running studio."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from studio.sdk import Experiment, Workspace
from studio.sdk.widgets import RunDetails
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.open_request import follow_hand_overs, show_experiment_when_opened
from studio.ui.shell.settings import WindowSettings
from studio.ui.shell.single_instance import InstanceServer
from studio.workspaces.local.opener import LocalWorkspaceOpener
from tests.ui.fake_kinds import FakeKindOpener
from tests.ui_helpers import GuardedOpener
from tests.waiting import wait_until


@pytest.fixture
def run_in_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    runtime = Path(os.path.realpath("/tmp")) / f"rt-{os.getpid()}-{tmp_path.name[-12:]}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    ws = Workspace(tmp_path / "ws")
    run = Experiment(ws, "handover").start_logging(display_name="wanted")
    run.complete()
    yield run
    ws.backend.workspace.close()
    subprocess.run(["rm", "-rf", str(runtime)], check=False)


def test_second_studio_hands_the_run_to_the_first(qtbot: Any, run_in_workspace: Any, tmp_path: Path) -> None:
    location = str(run_in_workspace.experiment.workspace.path)
    server = InstanceServer(location)
    assert server.listen()
    window = MainWindow([LocalWorkspaceOpener()], WindowSettings(str(tmp_path / "s.ini")))
    qtbot.addWidget(window)
    server.sig_message.connect(window.handle_message)
    window.show()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(location)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    second = subprocess.Popen(
        [sys.executable, "-m", "studio", "--workspace", location, "--open-run", run_in_workspace.id],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: second.poll() is not None, qtbot=qtbot, timeout=30)  # the second one exits at once
    assert second.returncode == 0, second.stderr.read() if second.stderr else ""
    tabs = window.run_detail.tabs
    wait_until(lambda: tabs.count() == 1 and tabs.tabText(0) == "wanted", qtbot=qtbot)
    window.close()
    server.close()


def test_a_link_given_alone_hands_the_run_to_the_studio_on_its_workspace(
    qtbot: Any, run_in_workspace: Any, tmp_path: Path
) -> None:
    # What a desktop runs for a clicked link (Exec=studio %U): `studio <link>`, no --workspace, from another folder.
    location = str(run_in_workspace.experiment.workspace.path)
    server = InstanceServer(location)
    assert server.listen()
    window = MainWindow([LocalWorkspaceOpener()], WindowSettings(str(tmp_path / "s.ini")))
    qtbot.addWidget(window)
    follow_hand_overs(server, window)  # as run_gui does
    window.show()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(location)
    assert window.run_detail.tabs.count() == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    second = subprocess.Popen(
        [sys.executable, "-m", "studio", run_in_workspace.get_portal_url()],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        cwd=elsewhere,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: second.poll() is not None, qtbot=qtbot, timeout=30)  # handed over: it exits at once
    assert second.returncode == 0, second.stderr.read() if second.stderr else ""
    tabs = window.run_detail.tabs
    wait_until(lambda: tabs.count() == 1 and tabs.tabText(0) == "wanted", qtbot=qtbot)
    assert window.run_detail.open_run_ids() == [run_in_workspace.id]

    experiment = subprocess.Popen(
        [sys.executable, "-m", "studio", run_in_workspace.experiment.get_portal_url()],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        cwd=elsewhere,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: experiment.poll() is not None, qtbot=qtbot, timeout=30)
    assert experiment.returncode == 0, experiment.stderr.read() if experiment.stderr else ""
    wait_until(lambda: [t.experiment for t in window.run_detail.runs_tables()] == ["handover"], qtbot=qtbot)
    assert window.run_detail.tabs.currentWidget() is window.run_detail.runs_tables()[0]
    window.close()
    server.close()


def test_a_new_studio_started_on_an_experiment_shows_its_runs(
    qtbot: Any, run_in_workspace: Any, tmp_path: Path
) -> None:
    location = str(run_in_workspace.experiment.workspace.path)
    window = MainWindow([LocalWorkspaceOpener()], WindowSettings(str(tmp_path / "s.ini")))
    qtbot.addWidget(window)
    show_experiment_when_opened(window, location, "handover")  # what run_gui does for an experiment's link
    window.show()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(location)
    wait_until(lambda: [t.experiment for t in window.run_detail.runs_tables()] == ["handover"], qtbot=qtbot)
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(location)  # opened again later (its tabs close): the experiment is not opened again
    assert window.run_detail.runs_tables() == []
    window.close()


RECORDING_WINDOW = """
class RecordingWindow(studio_app.MainWindow):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        created.append(self)

studio_app.MainWindow = RecordingWindow
"""
"""The child program's windows, recorded so that it can close them (after ``created = []``)."""

MISSING_WORKSPACE = (
    """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from studio import cli
from studio.ui.shell import app as studio_app

studio_app.create_app()
created = []
"""
    + RECORDING_WINDOW
    + """
def close_when_failed():
    failure = created[0].experiment_pane.failure if created else None
    if failure is not None:
        print("FAILED", failure.title, "|", failure.message, flush=True)
        created[0].close()
        QApplication.instance().quit()
    else:
        QTimer.singleShot(50, close_when_failed)

QTimer.singleShot(50, close_when_failed)
QTimer.singleShot(30000, lambda: QApplication.instance().quit())
sys.exit(cli.main([sys.argv[1]]))
"""
)


def test_a_link_to_a_missing_workspace_says_so_in_the_window_and_creates_nothing(tmp_path: Path) -> None:
    from studio.core.studio_links import run_link

    missing = tmp_path / "gone" / "ws"
    out = subprocess.run(
        [sys.executable, "-c", MISSING_WORKSPACE, run_link(str(missing), "exp_1700000000_ab12")],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert f"FAILED Could not open ws | There is no folder {missing}: check the path" in out.stdout
    assert not (tmp_path / "gone").exists()


def test_open_run_works_for_a_location_of_any_kind(qtbot: Any, run_in_workspace: Any, tmp_path: Path) -> None:
    location = "fake://lab/handover-server"
    fake = GuardedOpener(FakeKindOpener(backing={location: run_in_workspace.experiment.workspace.path}))
    local = GuardedOpener(LocalWorkspaceOpener())
    window = MainWindow([fake, local], WindowSettings(str(tmp_path / "s.ini")))
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(location, open_run=run_in_workspace.id)
    tabs = window.run_detail.tabs
    wait_until(lambda: tabs.count() == 1 and tabs.tabText(0) == "wanted", qtbot=qtbot)
    assert window.windowTitle() == "Studio — handover-server"  # the kind's display name, not a Path's
    assert window.settings.recent_workspaces()[0] == location  # kept as given: "//" not folded
    assert window.workspace_pane.section_rows("Fake servers") == ["handover-server  (open)"]
    window.close()
    assert fake.violations == [] and local.violations == []


def test_run_details_widget_goes_through_the_same_path(run_in_workspace: Any) -> None:
    launched: list[list[str]] = []
    import studio.sdk.widgets as widgets

    original = widgets._launch
    widgets._launch = lambda cmd, **kwargs: launched.append(cmd)
    try:
        RunDetails(run_in_workspace).show()
    finally:
        widgets._launch = original
    assert launched[0][1:] == [
        "-m", "studio", "--workspace", str(run_in_workspace.experiment.workspace.path), "--open-run", run_in_workspace.id,
    ]  # fmt: skip


COLD_START = (
    """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from studio.workspaces.local.opener import LocalWorkspaceOpener
from studio.ui.shell import app as studio_app

studio_app.create_app()  # timers need the application first
created = []
"""
    + RECORDING_WINDOW
    + """
def close_when_open():
    if created and created[0].run_detail.tabs.count() == 1 and created[0].run_detail.tabs.tabText(0) == "wanted":
        print("OPEN", created[0].run_detail.open_run_ids(), flush=True)
        created[0].close()
        QApplication.instance().quit()
    else:
        QTimer.singleShot(50, close_when_open)

QTimer.singleShot(50, close_when_open)
QTimer.singleShot(30000, lambda: QApplication.instance().quit())
sys.exit(studio_app.run_gui([LocalWorkspaceOpener()], sys.argv[1], sys.argv[2]))
"""
)


def test_cold_start_on_a_run(run_in_workspace: Any) -> None:
    # In its own process: quitting a QApplication's event loop ends later loops of that process.
    location = str(run_in_workspace.experiment.workspace.path)
    out = subprocess.run(
        [sys.executable, "-c", COLD_START, location, run_in_workspace.id],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert f"OPEN ['{run_in_workspace.id}']" in out.stdout
