"""The kinds registry: which kind owns a location, one-line errors for the rest, plug-ins by entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.errors import UnknownLocationError, WorkspaceError
from studio.core.opener import WorkspaceOpener
from studio.workspaces import kinds, open_workspace, opener_for
from studio.workspaces.azure.opener import parse_location as parse_azure
from studio.workspaces.mlflow.opener import parse_location as parse_mlflow
from tests.plugin_kind import install_demo_kind

AZURE = "azureml://subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg-ml/workspaces/my-ws"


def test_every_built_in_kind_is_an_opener_with_a_label() -> None:
    found = {o.kind: o for o in kinds()}
    assert set(found) >= {"local", "mlflow", "azure"}
    for opener in found.values():
        assert isinstance(opener, WorkspaceOpener)
        assert opener.label and opener.location_form


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        ("/home/me/ws", "local"),
        ("relative/folder", "local"),
        ("~/ws", "local"),
        ("C:\\Users\\me\\ws", "local"),
        ("mlflow+http://127.0.0.1:5000", "mlflow"),
        ("MLFLOW+HTTPS://tracking.example/prefix/", "mlflow"),
        (AZURE, "azure"),
    ],
)
def test_each_location_form_is_owned_by_its_kind(location: str, kind: str) -> None:
    assert opener_for(location).kind == kind
    assert sum(o.owns(location) for o in kinds()) == 1


@pytest.mark.parametrize("location", ["s3://bucket/x", "file:///tmp/ws", "http://127.0.0.1:5000", "", "   "])
def test_an_unknown_scheme_is_one_line_naming_the_accepted_forms(location: str) -> None:
    with pytest.raises(UnknownLocationError) as err:
        open_workspace(location)
    message = str(err.value)
    assert "\n" not in message
    assert "a folder path" in message and "mlflow+http(s)://" in message and "azureml://subscriptions/" in message
    assert isinstance(err.value, ValueError)


def test_a_local_location_opens_and_creates(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="There is no folder"):
        open_workspace(str(tmp_path / "nothing"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(WorkspaceError, match="not a Studio workspace"):
        open_workspace(str(tmp_path / "plain"))
    backend = open_workspace(str(tmp_path / "new"), create=True)
    try:
        assert backend.info().kind == "local"
        local = opener_for(str(tmp_path / "new"))
        assert local.is_workspace(str(tmp_path / "new")) and not local.is_missing(str(tmp_path / "new"))
        assert local.is_missing(str(tmp_path / "gone"))
        assert local.display_name(str(tmp_path / "new")) == "new"
    finally:
        backend.close()


def test_the_local_opener_names_the_database_as_the_workspace_does() -> None:
    from studio.workspaces.local import opener, workspace

    assert opener.DB_NAME == workspace.DB_NAME


def test_mlflow_locations_are_parsed_and_checked() -> None:
    parsed = parse_mlflow("mlflow+https://host.example:8443/mlflow/")
    assert parsed.base_url == "https://host.example:8443/mlflow" and parsed.port == 8443
    assert parse_mlflow("mlflow+http://[::1]:5000").base_url == "http://[::1]:5000"
    for bad, why in [
        ("mlflow+http://host:99999", "port"),
        ("mlflow+http://", "names no server"),
        ("mlflow+http://user:secret@host", "keyring"),
        ("mlflow+http://host/?x=1", "query"),
    ]:
        with pytest.raises(UnknownLocationError, match=why) as err:
            parse_mlflow(bad)
        assert "secret" not in str(err.value)


def test_azure_locations_are_parsed_and_checked() -> None:
    parsed = parse_azure(AZURE)
    assert (parsed.subscription_id, parsed.resource_group, parsed.workspace_name) == (
        "0b1f6471-1bf0-4dda-aec3-111122223333",
        "rg-ml",
        "my-ws",
    )
    assert str(parsed).startswith("azureml://subscriptions/0b1f6471")
    for bad in [
        "azureml://subscriptions/not-a-guid/resourcegroups/rg/workspaces/ws",
        "azureml://subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourcegroups/rg",
        "azureml://subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourcegroups/r g/workspaces/ws",
    ]:
        with pytest.raises(UnknownLocationError):
            parse_azure(bad)


def test_an_azure_workspace_without_any_sign_in_says_how_to_sign_in_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no saved account
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no az
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(WorkspaceError, match="sign in") as err:
        open_workspace(AZURE)
    assert "\n" not in str(err.value)


def test_an_mlflow_server_that_is_not_running_is_one_line_naming_it() -> None:
    with pytest.raises(WorkspaceError, match=r"Could not reach the MLflow server at http://127\.0\.0\.1:9\b") as err:
        open_workspace("mlflow+http://127.0.0.1:9")
    assert "\n" not in str(err.value)


def test_a_plug_in_kind_is_found_through_its_entry_point_and_asked_first(tmp_path: Path) -> None:
    env = {**os.environ, **install_demo_kind(tmp_path)}
    code = (
        "import sys\n"
        "from studio.workspaces import kinds, open_workspace\n"
        "print([k.kind for k in kinds()])\n"
        "print(open_workspace('demo://demo-ws').info().kind)\n"
        "print('studio.workspaces.local.backend' in sys.modules, any(m.startswith('azure') for m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.splitlines()
    assert out[0] == "['demo', 'mlflow', 'azure', 'local']"
    assert out[1] == "demo"
    assert out[2] == "False False"  # listing kinds opened no local database code and no azure


def test_a_broken_plug_in_is_skipped_with_a_warning_and_the_built_ins_still_work(tmp_path: Path) -> None:
    env = {**os.environ, **install_demo_kind(tmp_path)}
    broken = tmp_path / "broken_kind-2.0.dist-info"
    broken.mkdir()
    (broken / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-kind\nVersion: 2.0\n")
    (broken / "entry_points.txt").write_text(
        "[console_scripts]\nx = y:z\n\n[studio.workspace_kinds]\nbroken = no_such_module:Opener\n"
    )
    code = "from studio.workspaces import kinds\nprint([k.kind for k in kinds()])\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert proc.stdout.strip() == "['demo', 'mlflow', 'azure', 'local']"
    assert "workspace kind 'broken' could not be loaded" in proc.stderr
