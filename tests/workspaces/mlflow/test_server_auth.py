"""Signing in to a real MLflow server: the fault proxy in front of the shared server asks for HTTP basic auth (or a
bearer token), as a server behind a reverse proxy or MLflow's basic-auth app does.

``open_workspace`` (what the CLI uses) finds the password saved through ``studio.core.credentials`` in the test
keyring, else MLflow's environment variables; a refused password is one sentence naming the server, an
``AuthenticationError`` the window can offer "Sign in…" for; the secret shows in no message, repr, traceback,
log record or CLI output.
"""

from __future__ import annotations

import base64
import logging
import traceback
from pathlib import Path

import pytest

from studio.cli import main
from studio.core.credentials import ServerCredentials, save_credentials
from studio.core.errors import AuthenticationError
from studio.workspaces import open_workspace
from studio.workspaces.mlflow.rest.errors import MlflowAuthError
from tests.fault_proxy import FaultProxy
from tests.memory_keyring import MemoryKeyring

USER, PASSWORD, WRONG = "alice", "pa55-W0rd-of-alice", "wrong-pa55-of-bob"
TOKEN, WRONG_TOKEN = "tok-3f9a-secret-bearer", "tok-stale-0000"
SECRETS = (PASSWORD, WRONG, TOKEN, WRONG_TOKEN)


def basic(user: str, password: str) -> str:
    """The Authorization header of HTTP basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def hidden_everywhere(text: str) -> bool:
    """No secret, nor the base64 of a user:password pair, in ``text``."""
    encoded = [basic(USER, p).split()[1] for p in (PASSWORD, WRONG)]
    return not any(secret in text for secret in (*SECRETS, *encoded))


@pytest.fixture(autouse=True)
def no_mlflow_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither this machine's MLflow variables nor its ~/.mlflow/credentials take part."""
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def location(proxy: FaultProxy) -> str:
    """The server, behind a proxy that wants alice's password."""
    proxy.require_header("Authorization", basic(USER, PASSWORD))
    return "mlflow+" + proxy.url


def experiment_names(location: str) -> list[str]:
    backend = open_workspace(location)
    try:
        return [e.name for e in backend.list_experiments()]
    finally:
        backend.close()


def test_the_password_saved_in_the_keyring_opens_the_server(
    location: str, proxy: FaultProxy, memory_keyring: MemoryKeyring
) -> None:
    save_credentials(location, ServerCredentials("basic", USER, PASSWORD))
    assert "main" in experiment_names(location)
    assert {h.get("authorization") for h in proxy.headers_seen} == {basic(USER, PASSWORD)}


def test_the_saved_password_wins_over_the_environment(
    location: str, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", USER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", WRONG)
    save_credentials(location, ServerCredentials("basic", USER, PASSWORD))
    assert "main" in experiment_names(location)


def test_mlflows_variables_sign_in_when_nothing_is_saved(
    location: str, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", USER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    assert "main" in experiment_names(location)  # the keyring is empty
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)  # a user name alone is not basic auth: the token is sent
    with pytest.raises(AuthenticationError):
        experiment_names(location)


def test_without_a_keyring_the_variables_still_work(location: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", USER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    assert "main" in experiment_names(location)  # tests/conftest.py: no system keyring at all


def test_a_token_saved_or_in_the_environment_is_sent_as_a_bearer_header(
    proxy: FaultProxy, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = "mlflow+" + proxy.url
    proxy.require_header("Authorization", f"Bearer {TOKEN}")
    save_credentials(location, ServerCredentials("token", "", TOKEN))
    assert "main" in experiment_names(location)
    memory_keyring.entries.clear()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    assert "main" in experiment_names(location)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", WRONG_TOKEN)
    with pytest.raises(AuthenticationError) as caught:
        experiment_names(location)
    assert "refused the credentials (HTTP 401)" in str(caught.value)
    assert hidden_everywhere(str(caught.value)) and hidden_everywhere(repr(caught.value))


def test_a_refused_password_is_one_sentence_naming_the_server_and_no_secret_anywhere(
    location: str, proxy: FaultProxy, memory_keyring: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    save_credentials(location, ServerCredentials("basic", USER, WRONG))
    with pytest.raises(AuthenticationError) as caught:
        open_workspace(location)
    error = caught.value
    assert isinstance(error, MlflowAuthError) and error.status == 401
    message = str(error)
    assert message.startswith(f"The MLflow server at {proxy.url} refused the credentials (HTTP 401)")
    assert "\n" not in message
    chain = [error, error.__cause__, error.__context__]
    texts = [message, repr(error), *map(repr, error.args), *map(repr, chain), *traceback.format_exception(error)]
    assert all(hidden_everywhere(text) for text in texts)
    assert all(hidden_everywhere(record.getMessage()) for record in caplog.records)
    assert proxy.headers_seen[0]["authorization"] == basic(USER, WRONG)  # it was sent, and refused


def test_the_cli_signs_in_and_says_a_refusal_in_one_line(
    location: str, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    save_credentials(location, ServerCredentials("basic", USER, PASSWORD))
    assert main(["--workspace", location, "info"]) == 0
    out = capsys.readouterr().out
    assert "mlflow workspace" in out and "main" in out and hidden_everywhere(out)
    save_credentials(location, ServerCredentials("basic", USER, WRONG))
    assert main(["--workspace", location, "info"]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "refused the credentials (HTTP 401)" in captured.err
    assert hidden_everywhere(captured.out + captured.err)
    assert all(hidden_everywhere(record.getMessage()) for record in caplog.records)
