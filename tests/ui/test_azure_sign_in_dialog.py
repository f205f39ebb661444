"""Sign in…: the ways to sign in and their fields, the sign-in on a worker with its progress, the device code
shown until it is entered, Cancel at once, a refusal said inline, and the question before keeping tokens in a
plain file. Against the in-memory AccountDirectory of tests/ui/azure_fakes.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QLineEdit, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from studio.core.accounts import AccountInfo
from studio.ui.background.tasks import TaskRunner
from studio.ui.workspaces.azure_device_code import remaining_text
from studio.ui.workspaces.azure_sign_in_dialog import CONSENT_TEXT, AzureSignInDialog
from tests.ui.azure_fakes import FakeDirectory
from tests.waiting import wait_until

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    tasks.shutdown()


def new_dialog(qtbot: QtBot, directory: FakeDirectory, runner: TaskRunner, **kwargs: object) -> AzureSignInDialog:
    dialog = AzureSignInDialog(directory, runner, **kwargs)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def field(dialog: AzureSignInDialog, method: str, name: str) -> QLineEdit:
    return dialog.fields[method][name]


def test_the_methods_show_with_unavailable_ones_greyed_and_the_fields_each_needs(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = TaskRunner()
    dialog = new_dialog(qtbot, FakeDirectory(), runner)
    assert list(dialog.radios) == ["browser", "device_code", "cli", "service_principal"]
    assert not dialog.radios["cli"].isEnabled()
    note = dialog.findChild(type(dialog.status), "azureMethodNote:cli")
    assert note is not None and note.text() == "The Azure CLI (az) is not on PATH." and note.isVisible()
    assert dialog.method_id() == "browser" and dialog.sign_in_button.isEnabled()  # nothing to fill in
    assert not dialog.forms["service_principal"].isVisible()
    dialog.radios["service_principal"].click()
    assert dialog.forms["service_principal"].isVisible() and not dialog.forms["browser"].isVisible()
    assert field(dialog, "service_principal", "client_secret").echoMode() == QLineEdit.EchoMode.Password
    assert field(dialog, "service_principal", "tenant_id").echoMode() == QLineEdit.EchoMode.Normal
    browse = dialog.findChild(QPushButton, "azureBrowse:certificate_path")
    assert browse is not None and browse.isVisible()
    assert not dialog.sign_in_button.isEnabled() and dialog.sign_in_button.toolTip() == "Fill in Tenant."
    qtbot.keyClicks(field(dialog, "service_principal", "tenant_id"), "t1")
    qtbot.keyClicks(field(dialog, "service_principal", "client_id"), "app-1")
    assert dialog.sign_in_button.isEnabled()  # the secret and the certificate are optional: either will do
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: ("/keys/app-1.pem", ""))
    qtbot.mouseClick(browse, LEFT)
    assert field(dialog, "service_principal", "certificate_path").text() == "/keys/app-1.pem"
    dialog.reject()
    runner.shutdown()


def test_a_refused_sign_in_says_why_inline_and_a_good_one_closes_the_dialog(qtbot: QtBot, runner: TaskRunner) -> None:
    directory = FakeDirectory()
    dialog = new_dialog(qtbot, directory, runner)
    dialog.radios["service_principal"].click()
    qtbot.keyClicks(field(dialog, "service_principal", "tenant_id"), "t1")
    qtbot.keyClicks(field(dialog, "service_principal", "client_id"), "app-1")
    qtbot.keyClicks(field(dialog, "service_principal", "client_secret"), "wrong")
    directory.hold("sign_in")
    qtbot.mouseClick(dialog.sign_in_button, LEFT)
    assert dialog.busy and dialog.progress.isVisible() and not dialog.sign_in_button.isEnabled()
    assert not dialog.forms["service_principal"].isEnabled() and dialog.status.text() == "Signing in…"
    directory.release("sign_in")
    wait_until(lambda: dialog.error.isVisible(), "the error", qtbot=qtbot)
    assert dialog.error.text() == "Azure refused the service principal app-1: check the tenant, client id and secret."
    assert not dialog.busy and not dialog.progress.isVisible() and dialog.forms["service_principal"].isEnabled()
    assert "wrong" not in dialog.error.text()
    secret = field(dialog, "service_principal", "client_secret")
    secret.clear()
    qtbot.keyClicks(secret, "s3cret")
    with qtbot.waitSignal(dialog.sig_signed_in, timeout=10_000) as signed:
        qtbot.mouseClick(dialog.sign_in_button, LEFT)
    info = signed.args[0]
    assert isinstance(info, AccountInfo) and info.label == "service principal app-1" and info.state == "signed-in"
    assert not dialog.isVisible() and dialog.result() == AzureSignInDialog.DialogCode.Accepted
    assert directory.called("sign_in")[-1].args == (
        "service_principal",
        {"tenant_id": "t1", "client_id": "app-1", "client_secret": "s3cret", "certificate_path": ""},
    )
    assert not any(c.on_gui_thread for c in directory.called("sign_in"))


def test_device_code_shows_the_code_and_page_and_closes_itself_once_it_is_entered(
    qtbot: QtBot, runner: TaskRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = FakeDirectory()
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(QUrl(url).toString()) or True)
    dialog = new_dialog(qtbot, directory, runner)
    dialog.radios["device_code"].click()
    qtbot.mouseClick(dialog.sign_in_button, LEFT)
    panel = dialog.device_code
    wait_until(lambda: panel.isVisible(), "the device code", qtbot=qtbot)
    assert panel.code.text() == "FAKE-CODE9" and panel.code.font().pointSizeF() > dialog.font().pointSizeF() * 1.5
    assert panel.code.textInteractionFlags() & panel.code.textInteractionFlags().TextSelectableByMouse
    assert "https://microsoft.com/devicelogin" in panel.link.text()
    panel.link.linkActivated.emit("https://microsoft.com/devicelogin")
    assert opened == ["https://microsoft.com/devicelogin"]
    qtbot.mouseClick(panel.copy, LEFT)
    assert QGuiApplication.clipboard().text() == "FAKE-CODE9" and panel.copy.text() == "Copied"
    assert panel.countdown.text() in ("The code expires in 15:00.", "The code expires in 14:59.")
    assert dialog.status.text() == "Waiting for the code to be entered…" and dialog.busy
    with qtbot.waitSignal(dialog.finished, timeout=10_000):
        directory.device_code_entered.set()
    assert not dialog.isVisible() and dialog.account is not None and dialog.account.label == "new@contoso.com"


def test_cancel_stops_the_sign_in_and_closes_at_once(qtbot: QtBot, runner: TaskRunner) -> None:
    directory = FakeDirectory()
    dialog = new_dialog(qtbot, directory, runner)
    dialog.radios["device_code"].click()
    qtbot.mouseClick(dialog.sign_in_button, LEFT)
    wait_until(lambda: dialog.device_code.isVisible(), "the device code", qtbot=qtbot)
    signed: list[object] = []
    dialog.sig_signed_in.connect(signed.append)
    qtbot.mouseClick(dialog.cancel_button, LEFT)
    assert not dialog.isVisible() and dialog.result() == AzureSignInDialog.DialogCode.Rejected  # not after the worker
    wait_until(lambda: directory.cancelled == ["device_code"], "the worker seeing the cancel", qtbot=qtbot)
    assert signed == []


def test_the_countdown_says_when_the_code_expired() -> None:
    assert remaining_text(61.5) == "The code expires in 1:01."
    assert remaining_text(0) == "The code expired: cancel and sign in again."


def test_without_an_encrypted_store_it_asks_once_remembers_the_answer_and_signs_in(
    qtbot: QtBot, runner: TaskRunner
) -> None:
    directory = FakeDirectory()
    directory.needs_consent = True
    dialog = new_dialog(qtbot, directory, runner)
    qtbot.mouseClick(dialog.sign_in_button, LEFT)  # the browser
    box = wait_until(lambda: dialog.consent_box, "the question", qtbot=qtbot)
    assert isinstance(box, QMessageBox) and box.text() == CONSENT_TEXT and box.isVisible()
    assert "file only you can read" in box.text()
    with qtbot.waitSignal(dialog.sig_signed_in, timeout=10_000):
        qtbot.mouseClick(box.findChild(QPushButton, "azureConsentYes"), LEFT)
    assert directory.consent is True
    assert [c.args for c in directory.called("set_unencrypted_cache_allowed")] == [(True,)]
    assert len(directory.called("sign_in")) == 2 and not dialog.isVisible()


def test_declining_the_plain_file_still_signs_in_for_this_session(qtbot: QtBot, runner: TaskRunner) -> None:
    directory = FakeDirectory()
    directory.needs_consent = True
    dialog = new_dialog(qtbot, directory, runner)
    qtbot.mouseClick(dialog.sign_in_button, LEFT)
    box = wait_until(lambda: dialog.consent_box, "the question", qtbot=qtbot)
    with qtbot.waitSignal(dialog.sig_signed_in, timeout=10_000):
        qtbot.mouseClick(box.findChild(QPushButton, "azureConsentNo"), LEFT)
    assert directory.consent is False


def test_signing_in_again_chooses_the_accounts_method_and_tenant(qtbot: QtBot, runner: TaskRunner) -> None:
    expired = AccountInfo("service_principal:t9:app-9", "service principal app-9", "service_principal", "t9", "expired")
    dialog = new_dialog(qtbot, FakeDirectory(), runner, again=expired)
    assert dialog.windowTitle() == "Sign in again: service principal app-9"
    assert dialog.method_id() == "service_principal" and field(dialog, "service_principal", "tenant_id").text() == "t9"
    dialog.reject()
