"""The `studio` command as a user runs it, in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import studio
from tests.plugin_kind import install_demo_kind


def _studio(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


def test_version_and_help() -> None:
    version = _studio("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"studio {studio.__version__}"
    help_ = _studio("--help")
    assert help_.returncode == 0 and "--workspace" in help_.stdout and "experiments" in help_.stdout


def test_info_on_a_workspace_with_runs(tmp_path: Path) -> None:
    from studio.sdk import Experiment, Workspace

    ws = Workspace(tmp_path / "ws")
    Experiment(workspace=ws, name="mnist").start_logging().complete()
    out = _studio("--workspace", str(tmp_path / "ws"), "--output", "json", "info")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["location"] == str(tmp_path / "ws") and data["experiments"] == [
        {"name": "mnist", "runs": 1, "runs_exact": True}
    ]
    env_out = _studio("info", env={"STUDIO_WORKSPACE": str(tmp_path / "ws")})
    assert "mnist" in env_out.stdout


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "workspace.db").write_bytes(b"garbage" * 10)
    out = _studio("--workspace", str(bad), "info")
    assert out.returncode != 0
    assert out.stderr.startswith("studio: error:") and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_unknown_and_not_yet_supported_locations_are_one_line_errors() -> None:
    unknown = _studio("--workspace", "s3://bucket/ws", "info")
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert "a folder path" in unknown.stderr and "mlflow+http(s)://" in unknown.stderr
    down = _studio("job", "list", "--workspace", "mlflow+http://127.0.0.1:9")
    assert down.returncode == 1 and len(down.stderr.strip().splitlines()) == 1
    assert "Could not reach the MLflow server at http://127.0.0.1:9" in down.stderr
    no_sign_in = {"PATH": os.path.dirname(sys.executable), "AZURE_CLIENT_ID": "", "AZURE_TENANT_ID": ""}  # no az
    azure = _studio(
        "job",
        "list",
        "--workspace",
        "azureml://subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourcegroups/rg/workspaces/ws",
        env=no_sign_in,
    )
    assert azure.returncode == 1 and len(azure.stderr.strip().splitlines()) == 1
    assert "No Azure account is signed in" in azure.stderr and "az login" in azure.stderr


def test_commands_work_on_any_kind_and_compute_says_when_a_kind_has_none(tmp_path: Path) -> None:
    env = install_demo_kind(tmp_path)
    info = _studio("--workspace", "demo://demo-ws", "info", env=env)
    assert info.returncode == 0, info.stderr
    assert "demo workspace 'demo-ws'" in info.stdout and "No experiments yet" in info.stdout
    compute = _studio("compute", "list", "--workspace", "demo://demo-ws", env=env)
    assert compute.returncode == 1 and len(compute.stderr.strip().splitlines()) == 1
    assert "demo-ws (Demo servers) has no compute instances" in compute.stderr
    submit = _studio("job", "submit", "--experiment", "e", "--workspace", "demo://demo-ws", "train.py", env=env)
    assert submit.returncode == 1 and "has no compute instances" in submit.stderr


def test_reading_commands_never_create_a_workspace_at_a_mistyped_path(tmp_path: Path) -> None:
    typo = tmp_path / "wrok"
    for args in (("info",), ("job", "list"), ("job", "show", "run1")):
        out = _studio(*args, "--workspace", str(typo))
        assert out.returncode == 1 and f"There is no folder {typo}" in out.stderr, args
    assert not typo.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    out = _studio("job", "list", "--workspace", str(empty))
    assert out.returncode == 1 and "is not a Studio workspace (it holds no workspace.db)" in out.stderr
    assert list(empty.iterdir()) == []


def test_a_reader_that_leaves_early_gets_no_error_text(tmp_path: Path) -> None:
    """`studio … | head`: the pipe closes before the command writes; it ends quietly with 141, as tools do."""
    process = subprocess.Popen(
        [sys.executable, "-m", "studio", "--workspace", str(tmp_path / "ws"), "--output", "json", "compute", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # long before the command has imported what it needs and written
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert err == ""
