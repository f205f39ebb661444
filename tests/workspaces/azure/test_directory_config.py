"""The cheap side of the Azure account directory: "Add from config.json" (the file ``Workspace.from_config``
reads, in both spellings, and every way it can be wrong), the sign-in methods and their fields, remembering an
account for a workspace, and that none of it loads azure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.accounts import SignsIn
from studio.core.errors import NotFoundError, UnknownLocationError
from studio.workspaces.azure.directory import AzureAccountDirectory
from studio.workspaces.azure.opener import AzureWorkspaceOpener
from studio.workspaces.azure.settings_store import AccountRecord, AzureSettings, load_settings, save_settings

SUB = "5f2c9a41-0000-4000-8000-00000000a0b1"
ARM_ID = f"/subscriptions/{SUB}/resourceGroups/my-rg/providers/Microsoft.MachineLearningServices/workspaces/my-ws"
LOCATION = f"azureml://subscriptions/{SUB}/resourcegroups/my-rg/workspaces/my-ws"


def _write(path: Path, content: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_config_json_with_the_three_names(tmp_path: Path) -> None:
    file = _write(
        tmp_path / "config.json",
        {"subscription_id": SUB.upper(), "resource_group": "my-rg", "workspace_name": "my-ws", "extra": 1},
    )
    info = AzureAccountDirectory().workspace_from_config(file)
    assert (info.location, info.name, info.resource_group, info.subscription_id) == (LOCATION, "my-ws", "my-rg", SUB)


def test_config_json_with_an_arm_id_scope_and_a_bom(tmp_path: Path) -> None:
    file = tmp_path / "config.json"
    file.write_bytes(b"\xef\xbb\xbf" + json.dumps({"Scope": ARM_ID}).encode())
    assert AzureAccountDirectory().workspace_from_config(file).location == LOCATION


@pytest.mark.parametrize("folder", ["", ".azureml", "aml_config"])
def test_a_folder_is_searched_where_from_config_looks(tmp_path: Path, folder: str) -> None:
    _write(tmp_path / folder / "config.json", {"Scope": ARM_ID})
    assert AzureAccountDirectory().workspace_from_config(tmp_path).name == "my-ws"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{ nope", "is not a JSON file"),
        ("[1, 2]", "does not hold a JSON object"),
        ({"subscription_id": SUB, "resource_group": "rg"}, "needs subscription_id, resource_group and workspace_name"),
        ({"subscription_id": SUB, "resource_group": "rg", "workspace_name": 3}, "needs subscription_id"),
        ({"Scope": "/subscriptions/x/resourceGroups/y"}, "Scope is not an Azure ML workspace's resource id"),
        ({"subscription_id": "not-a-guid", "resource_group": "rg", "workspace_name": "ws"}, "is not a subscription id"),
        ({"subscription_id": SUB, "resource_group": "rg", "workspace_name": "bad/name"}, "names no valid workspace"),
    ],
)
def test_malformed_config_json_is_one_sentence(tmp_path: Path, content: object, expected: str) -> None:
    file = _write(tmp_path / "config.json", content)
    with pytest.raises(ValueError, match=r"config\.json") as caught:
        AzureAccountDirectory().workspace_from_config(file)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_config_json(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Cannot read"):
        AzureAccountDirectory().workspace_from_config(tmp_path / "config.json")
    with pytest.raises(ValueError, match=r"holds no config\.json"):
        AzureAccountDirectory().workspace_from_config(tmp_path)


def test_sign_in_methods_and_their_fields() -> None:
    methods = {m.method_id: m for m in AzureAccountDirectory().sign_in_methods()}
    assert list(methods) == ["browser", "device_code", "cli", "service_principal"]
    principal = {f.name: f for f in methods["service_principal"].fields}
    assert list(principal) == ["tenant", "client_id", "secret", "certificate"]
    assert principal["secret"].secret and principal["secret"].optional
    assert principal["certificate"].kind == "file"
    assert not principal["tenant"].optional and not principal["client_id"].optional
    assert all(f.optional for f in methods["device_code"].fields)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown sign-in method"):
        AzureAccountDirectory(cloud=object()).sign_in("carrier_pigeon", {})  # type: ignore[arg-type]


def test_remember_an_account_for_a_workspace() -> None:
    save_settings(AzureSettings(accounts=[AccountRecord("cli", "cli", "Azure CLI")]))
    directory = AzureAccountDirectory()
    directory.remember_account_for(
        f"AZUREML://Subscriptions/{SUB.upper()}/ResourceGroups/my-rg/Workspaces/my-ws/", "cli"
    )
    assert load_settings().workspace_accounts == {LOCATION: "cli"}  # the canonical spelling
    with pytest.raises(NotFoundError, match="sign in first"):
        directory.remember_account_for(LOCATION, "nobody")
    with pytest.raises(UnknownLocationError):
        directory.remember_account_for("azureml://nope", "cli")


def test_accounts_come_from_settings_unchecked() -> None:
    record = AccountRecord(
        "device_code:t:u",
        "device_code",
        "u@example.com",
        authentication_record=json.dumps({"tenantId": "t-1", "username": "u@example.com"}),
    )
    save_settings(AzureSettings(accounts=[record]))
    [info] = AzureAccountDirectory().accounts()
    assert (info.account_id, info.label, info.state, info.tenant_id) == (
        "device_code:t:u",
        "u@example.com",
        "unknown",
        "t-1",
    )


def test_the_opener_signs_in_and_listing_accounts_loads_no_azure(tmp_path: Path) -> None:
    assert isinstance(AzureWorkspaceOpener(), SignsIn)
    code = (
        "import sys\n"
        "from studio.workspaces import kinds\n"
        "opener = next(o for o in kinds() if o.kind == 'azure')\n"
        "directory = opener.account_directory()\n"
        "directory.accounts(); directory.sign_in_methods(); directory.unencrypted_cache_allowed()\n"
        f"directory.workspace_from_config({str(_write(tmp_path / 'config.json', {'Scope': ARM_ID}))!r})\n"
        "print(sorted(m for m in sys.modules if m == 'azure' or m.startswith('azure.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
