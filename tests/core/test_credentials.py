"""Server credentials in the OS keyring: one entry per server, the secret never shown, no keyring handled."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import keyring
import pytest

from studio.core.credentials import (
    SERVICE,
    ServerCredentials,
    credential_key,
    forget_credentials,
    load_credentials,
    save_credentials,
)
from studio.core.errors import WorkspaceError
from tests.memory_keyring import MemoryKeyring

SECRET = "s3cr3t-Pa55word"
SERVER = "mlflow+http://tracking.example:5000"


def test_saved_credentials_come_back_and_go(memory_keyring: MemoryKeyring) -> None:
    save_credentials(SERVER, ServerCredentials("basic", "alice", SECRET))
    assert load_credentials(SERVER) == ServerCredentials("basic", "alice", SECRET)
    assert load_credentials("mlflow+http://other:5000") is None
    save_credentials(SERVER, ServerCredentials("token", secret="tok-123"))  # replaces: one entry per server
    assert load_credentials(SERVER) == ServerCredentials("token", "", "tok-123")
    assert len(memory_keyring.entries) == 1
    forget_credentials(SERVER)
    assert load_credentials(SERVER) is None and memory_keyring.entries == {}
    forget_credentials(SERVER)  # nothing saved: nothing to do, no error


def test_one_entry_per_server_under_the_studio_service(memory_keyring: MemoryKeyring) -> None:
    save_credentials("  mlflow+HTTP://Tracking.Example:5000/ml/ ", ServerCredentials("basic", "alice", SECRET))
    ((service, user), value) = next(iter(memory_keyring.entries.items()))
    assert (service, user) == (SERVICE, "mlflow+http://tracking.example:5000/ml") == ("studio", user)
    assert json.loads(value) == {"scheme": "basic", "username": "alice", "secret": SECRET}
    assert load_credentials("mlflow+http://tracking.example:5000/ml") == ServerCredentials("basic", "alice", SECRET)
    assert credential_key("mlflow+https://h:1/a") != credential_key("mlflow+https://h:1/b")  # prefixes differ
    assert credential_key("/home/u/ws/") == "/home/u/ws"


def test_the_secret_never_shows_in_repr_or_str() -> None:
    credentials = ServerCredentials("basic", "alice", SECRET)
    for text in (repr(credentials), str(credentials), f"{credentials}", repr([credentials]), str({"c": credentials})):
        assert SECRET not in text
        assert "alice" in text and "***" in text  # still says there is one
    assert "''" in repr(ServerCredentials("basic", "alice"))  # and when there is none
    with pytest.raises(ValueError, match="scheme"):
        ServerCredentials("digest", "alice", SECRET)  # type: ignore[arg-type]


def test_no_keyring_refuses_to_save_in_one_sentence_and_reads_as_nothing_saved() -> None:
    assert "fail" in type(keyring.get_keyring()).__module__  # tests/conftest.py: no system keyring
    with pytest.raises(WorkspaceError) as caught:
        save_credentials(SERVER, ServerCredentials("basic", "alice", SECRET))
    message = str(caught.value)
    assert message.startswith("No system keyring is available to keep the password")
    assert "install" in message and "unlock" in message and "\n" not in message and SECRET not in message
    assert load_credentials(SERVER) is None
    forget_credentials(SERVER)  # nothing to forget


def test_a_keyring_that_drops_secrets_counts_as_none() -> None:
    from keyring.backends import null

    before = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())
    try:
        with pytest.raises(WorkspaceError, match="No system keyring"):
            save_credentials(SERVER, ServerCredentials("token", secret=SECRET))
    finally:
        keyring.set_keyring(before)


def test_a_locked_keyring_never_raises_on_read_and_says_so_on_write(
    memory_keyring: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    save_credentials(SERVER, ServerCredentials("basic", "alice", SECRET))
    memory_keyring.locked = True
    caplog.set_level(logging.DEBUG)
    assert load_credentials(SERVER) is None
    with pytest.raises(WorkspaceError, match="locked: unlock it"):
        save_credentials(SERVER, ServerCredentials("basic", "alice", SECRET))
    with pytest.raises(WorkspaceError, match="locked"):
        forget_credentials(SERVER)
    assert any("tracking.example" in r.getMessage() for r in caplog.records)  # the read failure was logged
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_an_entry_studio_did_not_write_reads_as_nothing_saved(
    memory_keyring: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    key = credential_key(SERVER)
    for value in (SECRET, json.dumps([SECRET]), json.dumps({"scheme": "digest", "secret": SECRET})):
        memory_keyring.entries[(SERVICE, key)] = value
        with caplog.at_level(logging.DEBUG):
            assert load_credentials(SERVER) is None
    assert caplog.records and all(SECRET not in r.getMessage() for r in caplog.records)


def test_the_secret_goes_to_no_log_record(memory_keyring: MemoryKeyring, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = ServerCredentials("basic", "alice", SECRET)
    logging.getLogger("studio").debug("saving %s", credentials)  # a careless log line still hides it
    save_credentials(SERVER, credentials)
    load_credentials(SERVER)
    forget_credentials(SERVER)
    texts = [r.getMessage() for r in caplog.records] + [caplog.text]
    assert texts and all(SECRET not in text for text in texts)


def test_keyring_is_imported_only_when_a_secret_is_asked_for() -> None:
    """Finding the system's keyring may start D-Bus: the window's start-up never imports it."""
    code = "import sys, studio.core.credentials, studio.ui.shell.main_window; print('keyring' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"
