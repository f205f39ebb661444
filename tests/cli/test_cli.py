"""The `studio` command as a user runs it, in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import studio


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
    assert data["location"] == str(tmp_path / "ws") and data["experiments"] == [{"name": "mnist", "runs": 1}]
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
