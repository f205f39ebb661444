"""MLflow servers in the Workspaces pane: Add server… keeps the password in the keyring (on a worker) and opens
the server; a server's entry can forget its password; removing it forgets it too; it is never "(missing)".

The servers are in memory (FakeMlflowOpener serves FakeServerBackends); every opener is guarded, and the
test keyring counts calls from the GUI thread.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from studio.core.credentials import ServerCredentials, load_credentials, save_credentials
from studio.ui.shell.main_window import MainWindow
from studio.ui.shell.settings import WindowSettings
from studio.ui.workspaces.add_server_dialog import AddServerDialog
from studio.workspaces.local.opener import LocalWorkspaceOpener
from tests.fake_backend import FakeServerBackend
from tests.memory_keyring import MemoryKeyring
from tests.ui.fake_kinds import FakeMlflowOpener
from tests.ui_helpers import GuardedOpener
from tests.waiting import wait_until

SERVER = "mlflow+http://tracking.test:5000"
SECRET = "pa55-W0rd-never-shown"
SECTION = "MLflow servers"


@pytest.fixture
def servers(qtbot: QtBot, tmp_path: Path) -> Any:
    """A window with the local kind and an MLflow kind serving SERVER; closed (and checked) after the test."""
    mlflow = GuardedOpener(FakeMlflowOpener({SERVER: FakeServerBackend(location=SERVER)}))
    local = GuardedOpener(LocalWorkspaceOpener())
    settings_file = tmp_path / "settings.ini"
    window = MainWindow([mlflow, local], WindowSettings(str(settings_file)))
    qtbot.addWidget(window)
    window.show()
    yield window, mlflow, settings_file
    window.close()
    assert mlflow.violations == [] and local.violations == []


def click_row(qtbot: QtBot, window: MainWindow, section: str, text: str) -> None:
    pane = window.workspace_pane
    titles = pane.section_titles()
    top = pane.tree.topLevelItem(titles.index(section))
    row = next(top.child(i) for i in range(top.childCount()) if top.child(i).text(0) == text)
    qtbot.mouseClick(pane.tree.viewport(), Qt.MouseButton.LeftButton, pos=pane.tree.visualItemRect(row).center())


def add_server_dialog(qtbot: QtBot, window: MainWindow) -> AddServerDialog:
    click_row(qtbot, window, SECTION, "Add server…")
    return wait_until(
        lambda: next((d for d in window.findChildren(AddServerDialog) if d.isVisible()), None),
        "the Add server dialog",
        qtbot=qtbot,
    )


def test_the_section_offers_add_server_instead_of_a_later_note(servers: Any) -> None:
    window, _mlflow, _file = servers
    assert window.workspace_pane.section_rows(SECTION) == ["Add server…"]
    assert "Coming in a later version" not in str(window.workspace_pane.section_rows(SECTION))


def test_add_server_keeps_the_password_in_the_keyring_and_opens_the_server(
    servers: Any, qtbot: QtBot, memory_keyring: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    window, mlflow, settings_file = servers
    dialog = add_server_dialog(qtbot, window)
    qtbot.keyClicks(dialog.url, "http://Tracking.test:5000/")
    dialog.radios["basic"].click()
    qtbot.keyClicks(dialog.username, "alice")
    qtbot.keyClicks(dialog.password, SECRET)
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000) as opened:
        dialog.ok.click()
    assert opened.args == [SERVER]
    assert window.location == SERVER and window.windowTitle() == "Studio — tracking.test:5000"
    assert memory_keyring.gui_thread_calls == 0  # saved on a worker
    assert load_credentials(SERVER) == ServerCredentials("basic", "alice", SECRET)
    assert window.settings.recent_workspaces()[0] == SERVER  # remembered like any workspace
    assert window.workspace_pane.section_rows(SECTION) == ["tracking.test:5000  (open)", "Add server…"]
    window.settings.sync()
    assert SERVER.split("//")[1] in settings_file.read_text()  # the location is in the settings...
    assert SECRET not in settings_file.read_text()  # ...the password is not
    assert all(SECRET not in r.getMessage() for r in caplog.records)
    assert window.notifier.last is None or SECRET not in window.notifier.last[0]
    assert len(mlflow.backends) == 1


def test_a_server_without_authentication_opens_without_touching_the_keyring(
    servers: Any, qtbot: QtBot, memory_keyring: MemoryKeyring
) -> None:
    window, _mlflow, _file = servers
    dialog = add_server_dialog(qtbot, window)
    dialog.url.setText("http://tracking.test:5000")
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        dialog.ok.click()
    assert window.location == SERVER and memory_keyring.entries == {}


def test_without_a_keyring_the_password_is_refused_in_one_sentence(servers: Any, qtbot: QtBot) -> None:
    window, mlflow, _file = servers  # tests/conftest.py: no system keyring
    window.add_server_location(SERVER, ServerCredentials("token", secret=SECRET))
    wait_until(lambda: window.notifier.last, "the error in the status bar", qtbot=qtbot)
    message = window.notifier.last[0]
    assert "No system keyring is available to keep the password" in message and "tracking.test:5000" in message
    assert SECRET not in message and SECRET not in window.notifier.last[1]
    assert mlflow.backends == [] and window.location == ""  # not opened without its password


def test_forget_password_and_remove_from_list_forget_the_saved_secret(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    other = "mlflow+https://other.test/ml"
    save_credentials(SERVER, ServerCredentials("basic", "alice", SECRET))
    save_credentials(other, ServerCredentials("token", secret=SECRET))
    memory_keyring.gui_thread_calls = 0  # the two above were the test's own
    settings = WindowSettings(str(tmp_path / "s.ini"))
    settings.add_recent(str(tmp_path / "gone"))  # a local folder that does not exist: "(missing)"
    settings.add_recent(other)
    settings.add_recent(SERVER)
    settings.sync()
    mlflow, local = GuardedOpener(FakeMlflowOpener()), GuardedOpener(LocalWorkspaceOpener())
    window = MainWindow([mlflow, local], WindowSettings(str(tmp_path / "s.ini")))
    qtbot.addWidget(window)
    pane = window.workspace_pane
    with qtbot.waitSignal(pane.sig_missing_checked, timeout=10_000):
        window.show()
        window._show_workspaces()
    assert pane.section_rows(SECTION) == ["tracking.test:5000", "other.test/ml", "Add server…"]  # never "(missing)"
    assert any(row.endswith("(missing)") for row in pane.section_rows("Local workspaces"))  # the check did run

    local_menu = pane.context_menu_for(pane.entry_item(str(tmp_path / "gone")))
    assert [a.text() for a in local_menu.actions()] == ["Remove from list"]
    menu = pane.context_menu_for(pane.entry_item(SERVER))
    assert [a.text() for a in menu.actions()] == ["Forget password", "Remove from list"]
    menu.actions()[0].trigger()
    wait_until(lambda: len(memory_keyring.entries) == 1, "the password forgotten", qtbot=qtbot)
    wait_until(lambda: "keeps no password" in window.statusBar().currentMessage(), qtbot=qtbot)
    assert SERVER in window.settings.recent_workspaces()  # still listed

    menu = pane.context_menu_for(pane.entry_item(other))
    menu.actions()[1].trigger()  # Remove from list
    assert pane.entry_item(other) is None and other not in window.settings.recent_workspaces()
    wait_until(lambda: memory_keyring.entries == {}, "the removed server's token forgotten too", qtbot=qtbot)
    assert memory_keyring.gui_thread_calls == 0
    assert load_credentials(SERVER) is None
    window.close()
    assert mlflow.violations == [] and local.violations == []


def test_a_failed_open_over_an_empty_server_can_be_dismissed_and_a_success_clears_it(
    servers: Any, qtbot: QtBot
) -> None:
    window, mlflow, _file = servers
    pane = window.experiment_pane
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        window.open_workspace(SERVER)  # no experiments: the pane shows its empty state
    wait_until(lambda: pane.stack.currentIndex() == 1, "the empty state", qtbot=qtbot)
    window.open_workspace("mlflow+http://gone.test:5000")
    failure = wait_until(lambda: pane.failure, "the failure", qtbot=qtbot)
    assert failure.title == "Could not open gone.test:5000" and "Cannot reach" in failure.message
    page = pane.failure_page
    assert pane.stack.currentIndex() == 2 and page.dismiss_button.isVisible()  # SERVER is open behind it
    assert not page.sign_in_button.isVisible()  # not refused: unreachable
    page.dismiss_button.click()
    assert pane.failure is None and pane.stack.currentIndex() == 1  # back to the open server's empty state
    window.open_workspace("mlflow+http://gone.test:5000")
    wait_until(lambda: pane.failure, "the failure again", qtbot=qtbot)
    mlflow._inner.servers["mlflow+http://gone.test:5000"] = FakeServerBackend(location="mlflow+http://gone.test:5000")
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=10_000):
        page.retry_button.click()
    assert pane.failure is None and window.location == "mlflow+http://gone.test:5000"
