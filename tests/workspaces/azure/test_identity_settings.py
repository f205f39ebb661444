"""azure.json: the Azure kind's settings survive a restart, are written atomically, survive a corrupt file, and
never hold a secret; the headless credential order (remembered account, saved account, environment, az, a
one-line error). No network: credentials are only built here, never asked for a token."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest

from studio.core.errors import AuthenticationError
from studio.workspaces.azure import identity
from studio.workspaces.azure.opener import parse_location
from studio.workspaces.azure.settings_store import (
    AccountRecord,
    AzureSettings,
    load_settings,
    save_settings,
    settings_path,
    update_settings,
)

SUB = "5f2c9a41-0000-4000-8000-00000000a0b1"
LOCATION = f"azureml://subscriptions/{SUB}/resourcegroups/rg/workspaces/ws"
TENANT = "72f988bf-0000-4000-8000-0000000057d1"


def _record(account_id: str = "cli", method_id: str = "cli", **kw: str) -> AccountRecord:
    return AccountRecord(account_id=account_id, method_id=method_id, label=kw.pop("label", account_id), **kw)


def test_settings_round_trip_in_the_user_config_folder(tmp_path: Path) -> None:
    settings = AzureSettings(
        accounts=[_record(), _record("service_principal:t:c", "service_principal", tenant_id="t", client_id="c")],
        cloud="AzureChinaCloud",
        allow_unencrypted_cache=True,
        workspace_accounts={LOCATION: "cli"},
    )
    save_settings(settings)
    assert settings_path() == Path(os.environ["XDG_CONFIG_HOME"]) / "studio" / "azure.json"
    assert load_settings() == settings
    assert stat.S_IMODE(settings_path().stat().st_mode) == 0o600
    assert [p.name for p in settings_path().parent.iterdir()] == ["azure.json"]  # no temporary file left


def test_missing_file_gives_empty_settings() -> None:
    settings = load_settings()
    assert settings == AzureSettings()
    assert settings.allow_unencrypted_cache is None


def test_corrupt_file_is_kept_aside_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ not json")
    with caplog.at_level(logging.WARNING):
        assert load_settings() == AzureSettings()
        assert load_settings() == AzureSettings()  # the second read finds no file: no second warning
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "azure.json.corrupt" in warnings[0].getMessage()
    assert path.with_name("azure.json.corrupt").read_text() == "{ not json"
    assert not path.exists()


def test_bad_entries_are_dropped_one_by_one() -> None:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "accounts": [{"account_id": "cli", "method_id": "cli", "future_key": 1}, {"label": "no id"}, 7],
                "cloud": 3,
                "allow_unencrypted_cache": "yes",
                "workspace_accounts": {LOCATION: "cli", "x": 5},
            }
        )
    )
    settings = load_settings()
    assert [a.account_id for a in settings.accounts] == ["cli"]
    assert settings.cloud is None and settings.allow_unencrypted_cache is None
    assert settings.workspace_accounts == {LOCATION: "cli"}


def test_update_replaces_an_account_in_place_and_sign_out_forgets_its_workspaces() -> None:
    update_settings(lambda s: s.put_account(_record("a", label="first")))
    update_settings(lambda s: s.put_account(_record("b")))
    update_settings(lambda s: s.put_account(_record("a", label="again")))
    update_settings(lambda s: s.workspace_accounts.update({LOCATION: "a"}))
    settings = load_settings()
    assert [(a.account_id, a.label) for a in settings.accounts] == [("a", "again"), ("b", "b")]
    removed = settings.remove_account("a")
    assert removed is not None and removed.label == "again"
    assert settings.workspace_accounts == {}


# --- headless order ---------------------------------------------------------------------------------------


@pytest.fixture
def cloud() -> object:
    from studio.workspaces.azure.cloud import load_cloud

    return load_cloud("AzureCloud")


@pytest.fixture
def no_az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH without ``az``, and no AZURE_* variables."""
    for name in list(os.environ):
        if name.startswith("AZURE_"):
            monkeypatch.delenv(name)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def _fake_az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "az-bin"
    folder.mkdir()
    script = folder / "az"
    script.write_text("#!/bin/sh\nexit 1\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_nothing_to_sign_in_with_is_one_line_saying_how(cloud: object, no_az: None) -> None:
    with pytest.raises(AuthenticationError) as caught:
        identity.credential_for_location(parse_location(LOCATION), cloud)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    assert "az login" in message and "AZURE_CLIENT_SECRET" in message and "Sign in" in message


def test_az_on_path_is_the_last_resort(
    cloud: object, no_az: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_az(tmp_path, monkeypatch)
    credential = identity.credential_for_location(parse_location(LOCATION), cloud)  # type: ignore[arg-type]
    assert credential.method_id == "cli"
    assert type(credential._inner).__name__ == "AzureCliCredential"


def test_environment_service_principal_before_az(
    cloud: object, no_az: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_az(tmp_path, monkeypatch)
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", "client-1")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "env-secret-value-123")
    credential = identity.credential_for_location(parse_location(LOCATION), cloud)  # type: ignore[arg-type]
    assert credential.method_id == "environment"
    assert type(credential._inner).__name__ == "ClientSecretCredential"
    assert "env-secret-value-123" not in repr(credential)


def test_a_saved_account_before_the_environment_and_the_remembered_one_first(
    cloud: object, no_az: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_az(tmp_path, monkeypatch)
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", "client-1")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "env-secret")
    settings = AzureSettings(accounts=[_record("cli"), _record("cli:other", tenant_id=TENANT, label="second")])
    save_settings(settings)
    location = parse_location(LOCATION)
    assert identity.credential_for_location(location, cloud).account_id == "cli"  # type: ignore[arg-type]
    update_settings(lambda s: s.workspace_accounts.update({str(location): "cli:other"}))
    assert identity.credential_for_location(location, cloud).account_id == "cli:other"  # type: ignore[arg-type]


def test_a_saved_service_principal_without_its_keyring_secret_says_sign_in_again(cloud: object) -> None:
    record = _record("service_principal:t:c", "service_principal", tenant_id=TENANT, client_id="c", label="sp c")
    with pytest.raises(AuthenticationError, match="not in the system keyring any more: sign in again"):
        identity.credential_for_account(record, cloud, settings=AzureSettings())  # type: ignore[arg-type]


def test_a_cli_account_without_az_says_so(cloud: object, no_az: None) -> None:
    with pytest.raises(AuthenticationError, match=r"Azure CLI \(az\) is not on PATH"):
        identity.credential_for_account(_record(), cloud, settings=AzureSettings())  # type: ignore[arg-type]


def test_a_user_account_needs_consent_for_a_plain_cache(cloud: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.core.accounts import ConsentRequired

    monkeypatch.setattr(identity, "_encryption_available", False)
    record = _record(
        "device_code:t:u",
        "device_code",
        authentication_record=json.dumps(
            {
                "authority": "login.microsoftonline.com",
                "clientId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
                "homeAccountId": "u.t",
                "tenantId": TENANT,
                "username": "u@example.com",
                "version": "1.0",
            }
        ),
    )
    with pytest.raises(ConsentRequired):
        identity.credential_for_account(record, cloud, settings=AzureSettings())  # type: ignore[arg-type]
    refused = identity.credential_for_account(record, cloud, settings=AzureSettings(allow_unencrypted_cache=False))  # type: ignore[arg-type]
    assert refused._inner._cache_options is None  # memory only
    allowed = identity.credential_for_account(record, cloud, settings=AzureSettings(allow_unencrypted_cache=True))  # type: ignore[arg-type]
    assert allowed._inner._cache_options.allow_unencrypted_storage is True
    assert allowed._inner._disable_automatic_authentication is True


def test_probe_says_the_encrypted_store_is_missing_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """On this Linux machine (no libsecret) azure-identity refuses an encrypted cache: the probe sees it."""
    pytest.importorskip("azure.identity")
    try:
        import gi  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("libsecret bindings present: the cache may be encrypted here")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(identity, "_encryption_available", None)
    assert identity.encrypted_cache_available() is False
    options = identity.cache_options(True)
    assert options is not None and options.allow_unencrypted_storage is True
    assert identity.cache_options(False) is None
