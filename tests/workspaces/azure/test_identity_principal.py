"""Service principals (secret in the keyring only, or a certificate file) and the Azure CLI (the fake ``az``)
against the emulator: sign in, use, sign out; no secret or token in azure.json, logs, reprs or messages."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from studio.core.errors import AuthenticationError, WorkspaceError
from studio.workspaces.azure import identity
from studio.workspaces.azure.directory import AzureAccountDirectory
from studio.workspaces.azure.opener import parse_location
from studio.workspaces.azure.settings_store import load_settings, settings_path
from tests.azure_emulator.aad import DEFAULT_SP_CLIENT, DEFAULT_SP_SECRET
from tests.azure_fixtures import AzureService
from tests.workspaces.azure.identity_fixtures import signin_env

__all__ = ["signin_env"]

SCOPE = "https://management.azure.com/.default"


def _no_secret_anywhere(secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text
        assert "studio-test-sp-" not in text and "studio-test-az-" not in text


def test_service_principal_secret_lives_in_the_keyring_only(
    signin_env: AzureService, memory_keyring: object, caplog: pytest.LogCaptureFixture
) -> None:
    directory = AzureAccountDirectory()
    tenant = signin_env.tenant_id
    with caplog.at_level(logging.DEBUG, logger="studio"):
        info = directory.sign_in(
            "service_principal", {"tenant": tenant, "client_id": DEFAULT_SP_CLIENT, "secret": DEFAULT_SP_SECRET}
        )
        checked = AzureAccountDirectory().check_account(info.account_id)  # a new start: secret from the keyring

    assert (info.state, info.method_id) == ("signed-in", "service_principal")
    assert info.account_id == f"service_principal:{tenant}:{DEFAULT_SP_CLIENT}"
    assert checked.state == "signed-in"
    assert memory_keyring.entries == {("studio-azure", f"{tenant}/{DEFAULT_SP_CLIENT}"): DEFAULT_SP_SECRET}  # type: ignore[attr-defined]
    assert "client_credentials" in signin_env.emulator.aad.grants  # type: ignore[attr-defined]
    credential = directory.credential(info.account_id)
    _no_secret_anywhere(
        DEFAULT_SP_SECRET,
        settings_path().read_text(),
        repr(info),
        repr(credential),
        repr(load_settings()),
        *(r.getMessage() for r in caplog.records),
    )

    directory.sign_out(info.account_id)
    assert memory_keyring.entries == {}  # type: ignore[attr-defined]
    assert directory.accounts() == []


def test_a_wrong_secret_is_refused_in_a_sentence_without_it(signin_env: AzureService, memory_keyring: object) -> None:
    wrong = "studio-secret-WRONG~value-42"
    with pytest.raises(AuthenticationError) as caught:
        AzureAccountDirectory().sign_in(
            "service_principal", {"tenant": signin_env.tenant_id, "client_id": DEFAULT_SP_CLIENT, "secret": wrong}
        )
    message = str(caught.value)
    assert message.startswith("Azure refused the sign-in of service principal")
    assert "Invalid client secret" in message
    assert wrong not in message and "\n" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert memory_keyring.entries == {}  # type: ignore[attr-defined]
    assert load_settings().accounts == []


def test_no_keyring_means_no_saved_service_principal(signin_env: AzureService) -> None:
    """tests/conftest.py installs keyring's fail backend: there is nowhere safe to keep the secret."""
    with pytest.raises(WorkspaceError, match="No system keyring"):
        AzureAccountDirectory().sign_in(
            "service_principal",
            {"tenant": signin_env.tenant_id, "client_id": DEFAULT_SP_CLIENT, "secret": DEFAULT_SP_SECRET},
        )
    assert load_settings().accounts == []


def test_service_principal_fields_are_checked_before_any_request(
    signin_env: AzureService, memory_keyring: object
) -> None:
    directory = AzureAccountDirectory()
    with pytest.raises(AuthenticationError, match="tenant and its client"):
        directory.sign_in("service_principal", {"client_id": DEFAULT_SP_CLIENT, "secret": "x"})
    with pytest.raises(AuthenticationError, match="secret or a certificate"):
        directory.sign_in("service_principal", {"tenant": signin_env.tenant_id, "client_id": DEFAULT_SP_CLIENT})
    assert [r for r in signin_env.requests() if r.host.startswith("login.")] == []


def test_service_principal_with_a_certificate(signin_env: AzureService, memory_keyring: object, tmp_path: Path) -> None:
    import trustme

    client_id = "2e0c0000-0000-4000-8000-0000000052c2"
    signin_env.emulator.aad.add_service_principal(client_id, None)  # type: ignore[attr-defined]
    pem = tmp_path / "sp.pem"
    trustme.CA().issue_cert(
        "studio-sp.example", key_type=trustme.KeyType.RSA
    ).private_key_and_cert_chain_pem.write_to_path(str(pem))
    directory = AzureAccountDirectory()
    info = directory.sign_in(
        "service_principal", {"tenant": signin_env.tenant_id, "client_id": client_id, "certificate": str(pem)}
    )
    assert info.state == "signed-in"
    record = load_settings().account(info.account_id)
    assert record is not None and record.certificate_path == str(pem)
    assert memory_keyring.entries == {}  # type: ignore[attr-defined]  # no password
    assert AzureAccountDirectory().check_account(info.account_id).state == "signed-in"

    ec_key = tmp_path / "ec.pem"
    trustme.CA().issue_cert("studio-sp.example").private_key_and_cert_chain_pem.write_to_path(str(ec_key))
    with pytest.raises(AuthenticationError, match="must have an RSA private key"):
        directory.sign_in(
            "service_principal", {"tenant": signin_env.tenant_id, "client_id": client_id, "certificate": str(ec_key)}
        )
    not_a_cert = tmp_path / "nothing.pem"
    not_a_cert.write_text("hello")
    with pytest.raises(AuthenticationError, match="could not be loaded"):
        directory.sign_in(
            "service_principal",
            {"tenant": signin_env.tenant_id, "client_id": client_id, "certificate": str(not_a_cert)},
        )


def test_environment_service_principal_gets_tokens(signin_env: AzureService, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.workspaces.azure.cloud import load_cloud

    monkeypatch.setenv("AZURE_TENANT_ID", signin_env.tenant_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", DEFAULT_SP_CLIENT)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", DEFAULT_SP_SECRET)
    credential = identity.credential_for_location(parse_location(signin_env.location), load_cloud())
    assert credential.method_id == "environment"
    assert credential.get_token(SCOPE).token.startswith("studio-test-sp-")
    assert signin_env.fake_az.calls() == []  # the CLI was not asked


def test_azure_cli_sign_in_uses_az_and_is_labelled_with_its_user(signin_env: AzureService) -> None:
    directory = AzureAccountDirectory()
    methods = {m.method_id: m for m in directory.sign_in_methods()}
    assert methods["cli"].available and "az login" in methods["cli"].note
    info = directory.sign_in("cli", {})
    assert (info.account_id, info.label, info.state) == ("cli", "Azure CLI (ada@studio-test.example)", "signed-in")
    assert signin_env.fake_az.resources() == ["https://management.azure.com"]
    assert AzureAccountDirectory().check_account("cli").state == "signed-in"
    _no_secret_anywhere("studio-test-az-", settings_path().read_text(), repr(info))

    signin_env.fake_az.sign_out()
    checked = AzureAccountDirectory().check_account("cli")
    assert checked.state == "expired"
    assert "az login" in checked.detail
    with pytest.raises(AuthenticationError, match="az login"):
        directory.sign_in("cli", {"tenant": signin_env.tenant_id})

    directory.sign_out("cli")
    assert directory.accounts() == []


def test_azure_cli_unavailable_without_az_on_path(
    signin_env: AzureService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    directory = AzureAccountDirectory()
    cli = next(m for m in directory.sign_in_methods() if m.method_id == "cli")
    assert not cli.available
    assert cli.note == "The Azure CLI (az) is not on PATH: install it and run `az login`."
    with pytest.raises(AuthenticationError, match=r"\(az\) is not on PATH"):
        directory.sign_in("cli", {})
    assert os.environ["PATH"] == str(empty)
