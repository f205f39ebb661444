"""The Workspaces pane: a section per kind, recent entries told apart, missing ones marked, the list capped.

Real local workspaces; every opener is guarded, so no opener or backend call runs on the GUI thread.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QPushButton

from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import MAX_RECENT, WindowSettings
from studio.ui.workspaces.recent_labels import distinguishing_suffixes
from studio.workspaces.local.opener import LocalWorkspaceOpener
from studio.workspaces.mlflow.opener import MlflowServerOpener
from tests.compute_helpers import stop_everything
from tests.ui.fake_kinds import FakeKindOpener, FakeMlflowOpener, NoComputeOpener
from tests.ui_helpers import GuardedOpener
from tests.waiting import wait_until

LOCAL = "Local workspaces"


@pytest.fixture(autouse=True)
def own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the "Default" workspace: not the user's


def make_ws(path: Path) -> str:
    """An empty local workspace at ``path``."""
    LocalWorkspaceOpener().open(str(path), create=True).close()
    return str(path)


def new_window(qtbot: Any, openers: list[Any], settings_file: Path) -> MainWindow:
    window = MainWindow(openers, WindowSettings(str(settings_file)))
    qtbot.addWidget(window)
    window.show()
    return window


def open_in(qtbot: Any, window: MainWindow, location: str) -> None:
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(location)


def close(window: MainWindow, *openers: GuardedOpener) -> None:
    window.close()
    for opener in openers:
        assert opener.violations == []


def activate(window: MainWindow, location: str) -> None:
    item = window.workspace_pane.entry_item(location)
    assert item is not None, location
    window.workspace_pane.tree.itemActivated.emit(item, 0)


def test_one_section_per_kind_local_first_with_its_entries_and_actions(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_ws(tmp_path / "ws")
    settings = WindowSettings(str(tmp_path / "s.ini"))
    for location in ("fake://lab/alpha", "mlflow+http://tracking:5000", "azureml://no/such/kind/installed"):
        settings.add_recent(location)
    settings.sync()
    local, mlflow = GuardedOpener(LocalWorkspaceOpener()), GuardedOpener(FakeMlflowOpener())  # no server answers
    fake = GuardedOpener(FakeKindOpener())
    window = new_window(qtbot, [fake, mlflow, local], tmp_path / "s.ini")  # the registry's order: local last
    open_in(qtbot, window, ws)
    pane = window.workspace_pane
    assert pane.section_titles() == [LOCAL, "Fake servers", "MLflow servers"]  # no section for an absent kind
    assert pane.section_rows(LOCAL) == ["Default", "ws  (open)", "New workspace…", "Open folder…"]
    assert pane.section_rows("Fake servers") == ["alpha"]  # a plug-in kind: its entries, no actions
    assert pane.section_rows("MLflow servers") == ["tracking:5000", "Add server…"]
    assert pane.entry_item("mlflow+http://tracking:5000").toolTip(0) == "mlflow+http://tracking:5000"  # "//" kept
    activate(window, "mlflow+http://tracking:5000")  # its open fails: one line, the window stays on ws
    wait_until(lambda: window.notifier.last is not None and "MLflow server" in window.notifier.last[0], qtbot=qtbot)
    assert "\n" not in window.notifier.last[0] and window.location == ws
    assert window.settings.recent_workspaces()[:4] == [
        ws, "azureml://no/such/kind/installed", "mlflow+http://tracking:5000", "fake://lab/alpha",
    ]  # fmt: skip
    clicked: list[str] = []
    monkeypatch.setattr(window, "new_workspace", lambda: clicked.append("new"))  # not the folder dialog
    new_row = pane.tree.topLevelItem(0).child(2)
    qtbot.mouseClick(pane.tree.viewport(), Qt.MouseButton.LeftButton, pos=pane.tree.visualItemRect(new_row).center())
    assert clicked == ["new"]
    close(window, local, mlflow, fake)


def test_a_kind_opened_in_a_later_version_shows_a_note_instead_of_actions(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import studio.ui.workspaces.kind_actions as kind_actions

    monkeypatch.setattr(kind_actions, "OPENED_LATER", frozenset({"fake"}))  # no built-in kind is any more
    local, fake = GuardedOpener(LocalWorkspaceOpener()), GuardedOpener(FakeKindOpener())
    window = new_window(qtbot, [fake, local], tmp_path / "s.ini")
    pane = window.workspace_pane
    assert pane.section_rows("Fake servers") == ["Coming in a later version"]
    note = pane.tree.topLevelItem(1).child(0)
    assert not note.flags() & Qt.ItemFlag.ItemIsEnabled
    assert note.toolTip(0) == "Opening Fake servers comes in a later version of Studio."
    assert note.font(0).italic()  # not only grey: a "(missing)" entry is grey too
    close(window, local, fake)


def test_workspaces_with_the_same_name_show_their_parent_folder(qtbot: Any, tmp_path: Path) -> None:
    a, b = make_ws(tmp_path / "projects" / "a" / "ws"), make_ws(tmp_path / "projects" / "b" / "ws")
    other = make_ws(tmp_path / "elsewhere" / "other")
    opener = GuardedOpener(LocalWorkspaceOpener())
    window = new_window(qtbot, [opener], tmp_path / "s.ini")
    for location in (other, a, b):
        open_in(qtbot, window, location)
    assert window.windowTitle() == "Studio — ws"
    rows = window.workspace_pane.section_rows(LOCAL)
    assert rows[:4] == ["Default", "ws — b  (open)", "ws — a", "other"]
    assert window.workspace_pane.entry_item(a).toolTip(0) == a  # the full location on hover
    close(window, opener)


def test_shortest_distinguishing_parent_for_any_kind_of_location() -> None:
    got = distinguishing_suffixes(
        [
            ("/home/u/x/proj/ws", "ws"),
            ("/home/u/y/proj/ws", "ws"),
            ("/home/u/z/ws", "ws"),
            ("/data/solo", "solo"),
            ("mlflow+http://h:5000", "h:5000"),
            ("mlflow+https://h:5000", "h:5000"),
        ]
    )
    assert got == {
        "/home/u/x/proj/ws": "x/proj",
        "/home/u/y/proj/ws": "y/proj",
        "/home/u/z/ws": "z",
        "mlflow+http://h:5000": "mlflow+http:",
        "mlflow+https://h:5000": "mlflow+https:",
    }


def test_a_gone_workspace_is_marked_missing_and_can_be_removed_for_good(qtbot: Any, tmp_path: Path) -> None:
    here, gone = make_ws(tmp_path / "here"), make_ws(tmp_path / "gone")
    settings = WindowSettings(str(tmp_path / "s.ini"))
    settings.add_recent(gone)
    settings.sync()
    shutil.rmtree(gone)
    opener = GuardedOpener(LocalWorkspaceOpener())
    window = new_window(qtbot, [opener], tmp_path / "s.ini")
    pane = window.workspace_pane
    open_in(qtbot, window, here)
    wait_until(lambda: pane.section_rows(LOCAL)[1:3] == ["here  (open)", "gone  (missing)"], qtbot=qtbot)
    item = pane.entry_item(gone)
    assert item is not None
    assert "folder is gone" in item.toolTip(0) and gone in item.toolTip(0)
    disabled = pane.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
    assert item.foreground(0).color() == disabled
    assert pane.entry_item(here).text(0) == "here  (open)"
    activate(window, gone)  # says so instead of trying to open it
    assert "folder is gone" in window.statusBar().currentMessage()
    assert window.location == here and len(opener.backends) == 1
    assert pane.context_menu_for(pane.entry_item(pane.default)) is None  # the default is not removable
    menu = pane.context_menu_for(item)
    assert menu is not None and [a.text() for a in menu.actions()] == ["Remove from list"]
    menu.actions()[0].trigger()
    assert pane.entry_item(gone) is None and gone not in window.settings.recent_workspaces()
    close(window, opener)
    again = new_window(qtbot, [opener], tmp_path / "s.ini")
    assert again.workspace_pane.entry_item(here) is not None  # before any workspace opens
    assert again.workspace_pane.entry_item(gone) is None
    close(again, opener)


def test_a_kind_that_reports_missing_is_checked_off_the_gui_thread(qtbot: Any, tmp_path: Path) -> None:
    ws = make_ws(tmp_path / "ws")
    settings = WindowSettings(str(tmp_path / "s.ini"))
    settings.add_recent("fake://lab/old")
    settings.add_recent("fake://lab/new")
    settings.sync()
    local, fake = GuardedOpener(LocalWorkspaceOpener()), GuardedOpener(FakeKindOpener(gone=("fake://lab/old",)))
    window = new_window(qtbot, [fake, local], tmp_path / "s.ini")
    open_in(qtbot, window, ws)
    wait_until(lambda: window.workspace_pane.section_rows("Fake servers") == ["new", "old  (missing)"], qtbot=qtbot)
    close(window, local, fake)


def test_the_recent_list_is_capped_newest_first(qtbot: Any, tmp_path: Path) -> None:
    settings = WindowSettings(str(tmp_path / "s.ini"))
    locations = [str(tmp_path / f"w{i}") for i in range(MAX_RECENT + 3)] + ["mlflow+https://h:8443/ml"]
    for location in locations:
        settings.add_recent(location)
    settings.sync()
    recent = WindowSettings(str(tmp_path / "s.ini")).recent_workspaces()
    assert len(recent) == MAX_RECENT == 12
    assert recent[0] == "mlflow+https://h:8443/ml" and recent[-1] == locations[-MAX_RECENT]
    assert str(tmp_path / "w0") not in recent  # the oldest went first
    ws = make_ws(tmp_path / "w14")
    local, mlflow = GuardedOpener(LocalWorkspaceOpener()), GuardedOpener(MlflowServerOpener())
    window = new_window(qtbot, [mlflow, local], tmp_path / "s.ini")
    open_in(qtbot, window, ws)  # already in the list: moves to the head, nothing dropped
    assert window.settings.recent_workspaces()[:2] == [ws, "mlflow+https://h:8443/ml"]
    assert len(window.settings.recent_workspaces()) == MAX_RECENT
    assert window.workspace_pane.section_rows("MLflow servers")[0] == "h:8443/ml"
    close(window, local, mlflow)


def test_compute_pane_and_sample_action_only_for_a_backend_with_compute(qtbot: Any, tmp_path: Path) -> None:
    plain, local_ws = make_ws(tmp_path / "plain"), make_ws(tmp_path / "with-compute")
    remote = GuardedOpener(FakeKindOpener(backing={"fake://lab/plain": Path(plain)}))
    local = GuardedOpener(LocalWorkspaceOpener())
    window = new_window(qtbot, [NoComputeOpener(remote), local], tmp_path / "s.ini")
    open_in(qtbot, window, "fake://lab/plain")  # its backend has only the WorkspaceBackend methods
    assert window.windowTitle() == "Studio — plain"
    button = window.findChild(QPushButton, "sampleExperimentButton")
    wait_until(lambda: window.experiment_pane.stack.currentIndex() == 1, qtbot=qtbot)  # the empty state
    assert window.compute_pane.isHidden() and not window.compute_pane.toggleViewAction().isEnabled()
    assert not window.act_sample.isEnabled() and not window.act_sample.isVisible() and not button.isVisible()
    window.run_sample_experiment()  # even if asked: no call to a backend that cannot run scripts
    open_in(qtbot, window, local_ws)  # back on a kind with compute: the pane and the action come back
    wait_until(lambda: window.experiment_pane.stack.currentIndex() == 1, qtbot=qtbot)
    assert window.compute_pane.isVisible() and window.compute_pane.toggleViewAction().isEnabled()
    assert window.act_sample.isEnabled() and window.act_sample.isVisible()
    wait_until(button.isVisible, qtbot=qtbot)
    close(window, local, remote)
    assert "submit_script" not in remote.backends[0].calls
    stop_everything(Path(plain))
    stop_everything(Path(local_ws))


def test_an_unknown_location_is_one_line_in_the_notifier(qtbot: Any, tmp_path: Path) -> None:
    ws = make_ws(tmp_path / "ws")
    opener = GuardedOpener(LocalWorkspaceOpener())
    window = new_window(qtbot, [opener], tmp_path / "s.ini")
    open_in(qtbot, window, ws)
    window.open_workspace("ftp://files.example/ws")
    assert window.notifier.last is not None
    message = window.notifier.last[0]
    assert "is not a workspace location" in message and "a folder path (local)" in message and "\n" not in message
    assert window.location == ws and "ftp://files.example/ws" not in window.settings.recent_workspaces()
    close(window, opener)
