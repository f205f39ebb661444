"""The interpreter that runs local jobs: named with --python or STUDIO_JOB_PYTHON, checked in one sentence, and
given the studio's own ``studio`` package (only it) when it is not the studio's interpreter."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from studio.cli import main
from studio.core.errors import StudioError
from studio.sdk import Experiment, ScriptRunConfig, Workspace
from studio.sdk.compute import ComputeInstance
from studio.workspaces.local.compute import interpreter
from studio.workspaces.local.compute.interpreter import InterpreterError, check_python, job_python_path
from tests.compute_helpers import python_with_numpy_only, write_script


def fake_python(folder: Path, version: tuple[int, int, int], problem: str = "") -> Path:
    """A script that answers the probe as a Python of ``version`` would (no such Python is on this machine)."""
    answer = json.dumps({"version": list(version), "executable": "x", "prefix": "/p", "sites": [], "problem": problem})
    path = folder / f"python{version[0]}.{version[1]}"
    path.write_text(f"#!/bin/sh\necho '{answer}'\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def plain_python(tmp_path: Path) -> Path:
    """A Python with NumPy and nothing of the studio."""
    return python_with_numpy_only(tmp_path)


def test_the_default_is_the_studios_own_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(interpreter.ENV_VAR, raising=False)
    assert job_python_path() == sys.executable
    found = check_python(sys.executable)
    assert found.is_own and found.version == tuple(sys.version_info[:3])


def test_a_bundle_defaults_to_python3_on_path_and_says_when_there_is_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(interpreter.ENV_VAR, raising=False)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InterpreterError, match=r"python3 is not on PATH.*studio --python"):
        job_python_path()
    (tmp_path / "python3").symlink_to(sys.executable)
    assert job_python_path() == str(tmp_path / "python3")


def test_missing_old_and_broken_interpreters_are_each_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(InterpreterError, match=r"/nowhere/python3, does not exist\. Install it"):
        check_python("/nowhere/python3")
    with pytest.raises(InterpreterError, match=r"is Python 3\.9\.18; local jobs need Python 3\.11 or newer"):
        check_python(str(fake_python(tmp_path, (3, 9, 18))))
    with pytest.raises(InterpreterError, match=r"cannot import studio\.sdk \(ModuleNotFoundError: No module named "):
        check_python(str(fake_python(tmp_path, (3, 12, 1), "ModuleNotFoundError: No module named 'numpy'")))
    not_python = tmp_path / "tool"
    not_python.write_text("#!/bin/sh\necho 'tool: unknown option -c' >&2\nexit 2\n")
    not_python.chmod(0o755)
    with pytest.raises(InterpreterError, match=r"is not a Python interpreter that runs: tool: unknown option -c"):
        check_python(str(not_python))


def test_python_option_checks_remembers_and_forgets(
    tmp_path: Path, plain_python: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(interpreter.ENV_VAR, raising=False)
    ws = tmp_path / "ws"
    Workspace(ws).close()
    assert main(["--python", str(tmp_path / "none"), "--workspace", str(ws), "info"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert job_python_path() == sys.executable  # the refused one was not kept
    assert main(["--python", str(plain_python), "--workspace", str(ws), "info"]) == 0
    said = capsys.readouterr().err
    assert f"local jobs run with {plain_python} (Python {sys.version_info.major}.{sys.version_info.minor}" in said
    assert job_python_path() == str(plain_python)  # remembered for later starts (the setting file)
    monkeypatch.setenv(interpreter.ENV_VAR, sys.executable)
    assert job_python_path() == sys.executable  # the environment wins over the setting
    monkeypatch.delenv(interpreter.ENV_VAR)
    assert main(["--python", "default", "--workspace", str(ws), "info"]) == 0
    assert "default interpreter" in capsys.readouterr().err
    assert job_python_path() == sys.executable


def test_a_job_runs_with_the_named_interpreter_and_the_studios_sdk(
    cws: Any, tmp_path: Path, plain_python: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(interpreter.ENV_VAR, str(plain_python))  # the daemon started below inherits it
    script = "import sys, studio\nfrom studio.sdk import Run\nRun.get_context().log('loss', 0.5)\n"
    script += "print('python', sys.executable)\nprint('studio', studio.__file__)\n"
    source = write_script(tmp_path / "src", "train.py", script).parent
    run = Experiment(workspace=cws, name="interp").submit(ScriptRunConfig(source_directory=source, script="train.py"))
    details = run.wait_for_completion(timeout=120, raise_on_error=False)
    log = run.get_details_with_logs()["logFiles"]
    text = cws.backend.read_file_range(run.id, "user_logs/std_log.txt", 0, 100_000).decode()
    assert details["status"] == "Completed", (log, text)
    assert f"python {plain_python}" in text
    assert f"studio {interpreter.sdk_path() / 'studio' / '__init__.py'}" in text  # only the package, by PYTHONPATH
    assert run.get_metrics()["loss"] == 0.5


def test_an_instance_does_not_start_with_an_interpreter_that_cannot_run_jobs(
    cws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(interpreter.ENV_VAR, str(fake_python(tmp_path, (3, 8, 10))))
    local = ComputeInstance(cws, "local")
    with pytest.raises(StudioError, match=r"is Python 3\.8\.10; local jobs need Python 3\.11"):
        local.start()
    assert local.get_status().state == "Stopped"  # nothing was started, nothing is left half-started


def test_a_job_is_not_queued_for_an_interpreter_that_cannot_run_it(
    cws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(interpreter.ENV_VAR, str(fake_python(tmp_path, (3, 12, 1), "ModuleNotFoundError: numpy")))
    source = write_script(tmp_path / "src", "train.py", "print('never')\n").parent
    with pytest.raises(StudioError, match=r"cannot import studio\.sdk \(ModuleNotFoundError: numpy\)"):
        Experiment(workspace=cws, name="never").submit(ScriptRunConfig(source_directory=source, script="train.py"))
    assert [e.run_count for e in cws.backend.list_experiments()] == [0]  # no run waits for it
