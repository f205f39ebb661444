"""Add server…: the URL a user types becomes an ``mlflow+`` location, a malformed one says why, OK waits for
everything the chosen sign-in needs."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from studio.core.credentials import ServerCredentials
from studio.ui.workspaces.add_server_dialog import AddServerDialog
from studio.ui.workspaces.server_url import ServerUrlError, server_location
from studio.workspaces.mlflow.opener import MlflowServerOpener, parse_location
from tests.waiting import wait_until


@pytest.mark.parametrize(
    ("typed", "location"),
    [
        ("http://localhost:5000", "mlflow+http://localhost:5000"),
        ("  HTTPS://Tracking.Example.com/ml/  ", "mlflow+https://tracking.example.com/ml"),
        ("mlflow+http://127.0.0.1:5000/", "mlflow+http://127.0.0.1:5000"),
        ("MLflow+HTTPS://h:8443/a/B", "mlflow+https://h:8443/a/B"),  # the path keeps its case
        ("http://[::1]:5000", "mlflow+http://[::1]:5000"),
    ],
)
def test_a_server_url_becomes_the_location_the_mlflow_kind_opens(typed: str, location: str) -> None:
    assert server_location(typed) == location
    opener = MlflowServerOpener()
    assert opener.owns(location) and opener.is_workspace(location)
    assert f"mlflow+{parse_location(location).base_url}" == location  # already in the kind's own spelling


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("localhost:5000", "Start the URL with http:// or https://, e.g. http://localhost:5000."),
        ("ftp://files.example", "ftp:// is not a server URL"),
        ("http://", "names no server"),
        ("http://host:99999", "port is not a number from 1 to 65535"),
        ("http://host:abc", "port is not a number"),
        ("http://alice:pw@host:5000", "Put no user name or password in the URL"),
        ("http://host:5000/?x=1", "no ?query or #fragment"),
        ("http://my host:5000", "is not a host name"),
        ("http://host_name", "is not a host name"),
    ],
)
def test_a_malformed_url_is_one_sentence_saying_what_to_fix(typed: str, says: str) -> None:
    with pytest.raises(ServerUrlError) as caught:
        server_location(typed)
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert "pw" not in str(caught.value)  # a password typed into the URL is not repeated


def test_ok_waits_for_a_good_url_and_the_error_shows_inline(qtbot: QtBot) -> None:
    dialog = AddServerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.ok.isEnabled() and not dialog.url_note.isVisible()  # nothing typed, nothing scolded
    qtbot.keyClicks(dialog.url, "http:/")
    assert not dialog.ok.isEnabled()
    wait_until(lambda: dialog.url_note.isVisible(), "the error once typing rests", qtbot=qtbot)
    assert "Start the URL with http://" in dialog.url_note.text()
    assert dialog.ok.toolTip() == dialog.url_note.text()
    qtbot.keyClicks(dialog.url, "/Localhost:5000/")
    assert dialog.ok.isEnabled()
    assert dialog.url_note.text() == "Opens as mlflow+http://localhost:5000" and dialog.url_note.isVisible()
    dialog.url.setText("http://localhost:99999")
    dialog.url.editingFinished.emit()  # leaving the field says it at once
    assert "port" in dialog.url_note.text() and not dialog.ok.isEnabled()
    dialog.url.setText("https://tracking.example/ml")
    assert dialog.location() == "mlflow+https://tracking.example/ml" and dialog.credentials() is None


def test_the_fields_follow_the_authentication_choice(qtbot: QtBot) -> None:
    dialog = AddServerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.url.setText("http://localhost:5000")
    assert dialog.radios["none"].isChecked() and dialog.ok.isEnabled()
    assert not dialog.username.isVisible() and not dialog.password.isVisible() and not dialog.token.isVisible()
    dialog.radios["basic"].click()
    assert dialog.username.isVisible() and dialog.password.isVisible() and not dialog.token.isVisible()
    assert dialog.keyring_note.isVisible() and "system keyring" in dialog.keyring_note.text()
    assert not dialog.ok.isEnabled() and dialog.ok.toolTip() == "Type the user name."
    qtbot.keyClicks(dialog.username, "alice")
    assert not dialog.ok.isEnabled() and dialog.ok.toolTip() == "Type the password."
    qtbot.keyClicks(dialog.password, "s3cret")
    assert dialog.ok.isEnabled()
    assert dialog.password.echoMode() == dialog.password.EchoMode.Password
    assert dialog.credentials() == ServerCredentials("basic", "alice", "s3cret")
    dialog.radios["token"].click()
    assert dialog.token.isVisible() and not dialog.username.isVisible() and not dialog.password.isVisible()
    assert not dialog.ok.isEnabled()
    qtbot.keyClicks(dialog.token, " tok-123 ")
    assert dialog.ok.isEnabled() and dialog.credentials() == ServerCredentials("token", "", "tok-123")
    assert dialog.token.echoMode() == dialog.token.EchoMode.Password
    with qtbot.waitSignal(dialog.accepted):
        dialog.ok.click()


def test_ok_does_nothing_while_disabled(qtbot: QtBot) -> None:
    dialog = AddServerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.url.setText("nonsense")
    dialog.buttons.accepted.emit()  # Enter in a field
    assert dialog.isVisible() and dialog.result() == 0


def test_sign_in_fills_the_servers_url_and_asks_for_a_user_name_and_password(qtbot: QtBot) -> None:
    dialog = AddServerDialog(sign_in="mlflow+https://tracking.example.com:8443/ml")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.url.text() == "https://tracking.example.com:8443/ml"
    assert dialog.location() == "mlflow+https://tracking.example.com:8443/ml"
    assert dialog.windowTitle() == "Sign in to tracking.example.com:8443/ml" and dialog.ok.text() == "Sign in and open"
    assert dialog.scheme() == "basic" and dialog.username.isVisible() and dialog.password.isVisible()
    wait_until(dialog.username.hasFocus, "the cursor in the user name", qtbot=qtbot)
    assert not dialog.ok.isEnabled() and dialog.ok.toolTip() == "Type the user name."
