"""Job environments: a pip requirement installed into a cached virtual environment."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from studio.sdk import Environment, Experiment, ScriptRunConfig, Workspace
from studio.sdk.conda_dependencies import CondaDependencies
from tests.compute_helpers import stop_everything, write_script

SCRIPT = """
import tinypkg_studio_test, studio.sdk, sys
print("tinypkg says", tinypkg_studio_test.GREETING, flush=True)
print("python", sys.executable, flush=True)
"""


def build_wheel(folder: Path, name: str = "tinypkg_studio_test", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel, built by hand so the test needs no network or build backend."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"GREETING = 'hello from a wheel'\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: studio-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


@pytest.fixture
def exp(tmp_path: Path) -> Iterator[Any]:
    ws = Workspace(tmp_path / "ws")
    try:
        yield Experiment(workspace=ws, name="envs")
    finally:
        stop_everything(tmp_path / "ws")
        ws.backend.workspace.close()


def _log(run: Any, name: str) -> str:
    return run.get_details_with_logs()["logFiles"][name]


def test_pip_requirement_is_installed_cached_and_reused(exp: Any, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "wheels")
    src = write_script(tmp_path / "src", "use.py", SCRIPT).parent
    env = Environment("tiny")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=[str(wheel)])
    first = exp.submit(ScriptRunConfig(src, "use.py", environment=env))
    first.wait_for_completion(timeout=180)
    assert "tinypkg says hello from a wheel" in _log(first, "user_logs/std_log.txt")
    build = _log(first, "system_logs/environment_build.log")
    assert "Building environment 'tiny'" in build and "Environment ready" in build
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"# the same package, from a requirements file\n{wheel}\n")
    second = exp.submit(
        ScriptRunConfig(src, "use.py", environment=Environment.from_pip_requirements("again", requirements))
    )
    second.wait_for_completion(timeout=120)
    assert "Reusing the cached environment" in _log(second, "system_logs/environment_build.log")
    assert "tinypkg says hello from a wheel" in _log(second, "user_logs/std_log.txt")
    envs = [p for p in (exp.workspace.path / "envs").iterdir() if p.is_dir()]
    assert len(envs) == 1


def test_conda_packages_fall_back_to_pip_and_say_so(exp: Any, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "wheels")
    src = write_script(tmp_path / "src", "use.py", SCRIPT).parent
    env = Environment("conda-style")
    env.python.conda_dependencies = CondaDependencies.create(conda_packages=[str(wheel)])
    run = exp.submit(ScriptRunConfig(src, "use.py", environment=env))
    run.wait_for_completion(timeout=180)
    assert "installing the conda packages" in _log(run, "system_logs/environment_build.log")
    assert "with pip instead" in _log(run, "system_logs/environment_build.log")


def test_a_failed_build_fails_the_run_with_its_log(exp: Any, tmp_path: Path) -> None:
    src = write_script(tmp_path / "src", "use.py", SCRIPT).parent
    env = Environment("broken")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=[str(tmp_path / "no-such-package.whl")])
    run = exp.submit(ScriptRunConfig(src, "use.py", environment=env))
    details = run.wait_for_completion(timeout=120, raise_on_error=False)
    assert details["status"] == "Failed"
    assert "Building the job environment failed" in details["error"]["error"]["message"]
    assert "no-such-package" in _log(run, "system_logs/environment_build.log")
    assert "user_logs/std_log.txt" not in run.get_file_names()  # the script never ran


def test_environment_specs_validate_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Environment("")
    with pytest.raises(FileNotFoundError):
        Environment.from_pip_requirements("x", tmp_path / "missing.txt")
    with pytest.raises(ValueError):
        CondaDependencies.create(pip_packages=["ok", "two\nlines"])
    deps = CondaDependencies.create(conda_packages=["numpy"], pip_packages=["requests==2.0"])
    assert "  - numpy" in deps.serialize_to_string() and "    - requests==2.0" in deps.serialize_to_string()
