"""Signing in to a real MLflow server from the window: the fault proxy in front of the shared server asks for
HTTP basic auth (or a bearer token).

A password saved in the (test) keyring opens it; a refused one is a sentence in the Experiments pane naming the
server, with "Sign in…", which opens the Add server dialog on that URL and opens the server with what is typed
there. The secret shows in no settings file, log record, status-bar text, pane text, exception message or repr.
MLflow's environment variables sign in when nothing is saved. No keyring call and no backend call on the GUI
thread.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from studio.core.credentials import ServerCredentials, load_credentials, save_credentials
from studio.ui.shell.main_window import MainWindow
from studio.ui.workspaces.add_server_dialog import AddServerDialog
from tests.fault_proxy import FaultProxy
from tests.memory_keyring import MemoryKeyring
from tests.ui.mlflow_helpers import mlflow_window, open_server, quick_client, shot
from tests.ui_helpers import GuardedOpener
from tests.waiting import wait_until
from tests.workspaces.mlflow.test_server_auth import (
    PASSWORD,
    TOKEN,
    USER,
    WRONG,
    WRONG_TOKEN,
    basic,
    hidden_everywhere,
    no_mlflow_credentials,  # noqa: F401  (autouse: no MLflow variables or ~/.mlflow/credentials of this machine)
)


class Watched:
    """What the user and the logs see of a window: status-bar texts, exceptions the opener raised."""

    def __init__(self, window: MainWindow, opener: GuardedOpener) -> None:
        self.window = window
        self.texts: list[str] = []
        self.errors: list[BaseException] = []
        window.statusBar().messageChanged.connect(self.texts.append)
        window.notifier.sig_notified.connect(self.texts.append)
        inner_open = opener._inner.open

        def recording_open(location: str, create: bool = False) -> Any:
            try:
                return inner_open(location, create)
            except BaseException as exc:
                self.errors.append(exc)
                raise

        opener._inner.open = recording_open

    def assert_no_secret(self, caplog: pytest.LogCaptureFixture, settings: Path) -> None:
        """The secret is nowhere a user or a log reader could see it."""
        window = self.window
        window.settings.sync()
        pane = window.experiment_pane
        shown = [*self.texts, pane.failure_page.message.text(), pane.failure_page.title.text()]
        if window.notifier.last is not None:
            shown += list(window.notifier.last)
        for error in self.errors:
            shown += [str(error), repr(error), *traceback.format_exception(error)]
            shown += [repr(e) for e in (error.__cause__, error.__context__)]
        if window.backend is not None:
            client = window.backend._inner.client
            shown += [repr(window.backend._inner), repr(client), repr(client.transport)]
        shown += [record.getMessage() for record in caplog.records]
        shown.append(settings.read_text() if settings.exists() else "")
        assert all(hidden_everywhere(text) for text in shown)


@pytest.fixture
def signing_in(
    qtbot: QtBot, tmp_path: Path, proxy: FaultProxy, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """A window (not yet open on anything), the server's location behind a proxy wanting alice's password."""
    quick_client(monkeypatch)
    proxy.require_header("Authorization", basic(USER, PASSWORD))
    window, opener = mlflow_window(qtbot, tmp_path)
    yield window, Watched(window, opener), "mlflow+" + proxy.url
    window.close()
    assert opener.violations == []
    assert memory_keyring.gui_thread_calls == 0


def save(keyring: MemoryKeyring, location: str, credentials: ServerCredentials) -> None:
    """Save as the test (on the GUI thread, so not counted as the window's)."""
    before = keyring.gui_thread_calls
    save_credentials(location, credentials)
    keyring.gui_thread_calls = before


def saved(keyring: MemoryKeyring, location: str) -> ServerCredentials | None:
    """What is saved, read by the test (not counted as the window's)."""
    before = keyring.gui_thread_calls
    found = load_credentials(location)
    keyring.gui_thread_calls = before
    return found


def experiments_listed(qtbot: QtBot, window: MainWindow) -> None:
    model = window.experiment_pane.model
    wait_until(lambda: model.index_of_experiment("paging").isValid(), "the experiments", qtbot=qtbot)


def the_dialog(qtbot: QtBot, window: MainWindow) -> AddServerDialog:
    return wait_until(
        lambda: next((d for d in window.findChildren(AddServerDialog) if d.isVisible()), None),
        "the sign-in dialog",
        qtbot=qtbot,
    )


def test_a_saved_password_opens_the_server(
    signing_in: Any, qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture, memory_keyring: MemoryKeyring
) -> None:
    caplog.set_level(logging.DEBUG)
    window, watched, location = signing_in
    save(memory_keyring, location, ServerCredentials("basic", USER, PASSWORD))
    open_server(qtbot, window, location)
    experiments_listed(qtbot, window)
    assert window.experiment_pane.failure is None
    watched.assert_no_secret(caplog, tmp_path / "settings.ini")


def test_a_refused_password_says_so_and_sign_in_opens_the_server_with_the_new_one(
    signing_in: Any, qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture, memory_keyring: MemoryKeyring
) -> None:
    caplog.set_level(logging.DEBUG)
    window, watched, location = signing_in
    save(memory_keyring, location, ServerCredentials("basic", USER, WRONG))
    window.open_workspace(location)
    pane = window.experiment_pane
    failure = wait_until(lambda: pane.failure, "the refusal in the pane", qtbot=qtbot)
    host = location.split("//")[1]
    assert failure.title == f"Could not open {host}"
    assert f"The MLflow server at http://{host} refused the credentials (HTTP 401)" in failure.message
    assert failure.sign_in and pane.failure_page.sign_in_button.isVisible()
    shot(window, "sign-in-refused")
    pane.failure_page.sign_in_button.click()
    dialog = the_dialog(qtbot, window)
    assert dialog.url.text() == location.removeprefix("mlflow+") and dialog.scheme() == "basic"
    assert dialog.windowTitle() == f"Sign in to {host}" and dialog.ok.text() == "Sign in and open"
    qtbot.keyClicks(dialog.username, USER)
    qtbot.keyClicks(dialog.password, PASSWORD)
    shot(dialog, "sign-in-dialog")
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=30_000):
        dialog.ok.click()
    assert window.location == location and pane.failure is None
    experiments_listed(qtbot, window)
    assert saved(memory_keyring, location) == ServerCredentials("basic", USER, PASSWORD)  # the new one is kept
    watched.assert_no_secret(caplog, tmp_path / "settings.ini")


def test_sign_in_with_a_token(
    signing_in: Any,
    qtbot: QtBot,
    proxy: FaultProxy,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    memory_keyring: MemoryKeyring,
) -> None:
    caplog.set_level(logging.DEBUG)
    window, watched, location = signing_in
    proxy.require_header("Authorization", f"Bearer {TOKEN}")
    save(memory_keyring, location, ServerCredentials("token", "", WRONG_TOKEN))
    window.open_workspace(location)
    pane = window.experiment_pane
    failure = wait_until(lambda: pane.failure, "the refusal", qtbot=qtbot)
    assert "refused the credentials" in failure.message and failure.sign_in
    pane.failure_page.sign_in_button.click()
    dialog = the_dialog(qtbot, window)
    dialog.radios["token"].click()
    qtbot.keyClicks(dialog.token, TOKEN)
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=30_000):
        dialog.ok.click()
    experiments_listed(qtbot, window)
    assert saved(memory_keyring, location) == ServerCredentials("token", "", TOKEN)
    watched.assert_no_secret(caplog, tmp_path / "settings.ini")


def test_mlflows_variables_open_the_server_when_nothing_is_saved(
    signing_in: Any,
    qtbot: QtBot,
    proxy: FaultProxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
) -> None:
    window, _watched, location = signing_in
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", USER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    open_server(qtbot, window, location)
    experiments_listed(qtbot, window)
    assert memory_keyring.entries == {}
    window.close()
    proxy.require_header("Authorization", f"Bearer {TOKEN}")
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    (tmp_path / "again").mkdir()
    again, opener = mlflow_window(qtbot, tmp_path / "again")
    open_server(qtbot, again, location)
    experiments_listed(qtbot, again)
    again.close()
    assert opener.violations == []


def test_sign_in_with_no_authentication_forgets_the_refused_password(
    signing_in: Any, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    window, _watched, location = signing_in
    save(memory_keyring, location, ServerCredentials("basic", USER, WRONG))  # saved: it wins over the variables
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", USER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    window.open_workspace(location)
    pane = window.experiment_pane
    wait_until(lambda: pane.failure, "the refusal", qtbot=qtbot)
    pane.failure_page.sign_in_button.click()
    dialog = the_dialog(qtbot, window)
    dialog.radios["none"].click()
    with qtbot.waitSignal(window.sig_workspace_opened, timeout=30_000):
        dialog.ok.click()
    assert memory_keyring.entries == {}  # forgotten, so the variables signed in
    experiments_listed(qtbot, window)
