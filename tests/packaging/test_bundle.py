"""The desktop bundle, built with PyInstaller and run as a user runs it: its version, its diagnostics, its window
opened, handed over to and closed, the sample experiment run as a local job through its own compute daemon with a
Python interpreter that knows nothing of the studio, and its desktop entry.

Marked ``bundle`` (it builds the bundle once, about two minutes): ``pytest -m "not bundle"`` leaves it out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from studio import __version__
from studio.sdk import Experiment, Workspace
from tests.azure_fixtures import AzureService
from tests.compute_helpers import python_with_numpy_only
from tests.waiting import wait_until

pytestmark = [pytest.mark.bundle, pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``dist/studio/studio`` of a bundle built from this checkout."""
    folder = tmp_path_factory.mktemp("bundle")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "packaging" / "build.py"),
            "--dist",
            str(folder / "dist"),
            "--work",
            str(folder / "work"),
            "--no-archive",
            "--quiet",
        ],
        check=True,
        timeout=BUILD_TIMEOUT_S,
        cwd=ROOT,
    )
    program = folder / "dist" / "studio" / "studio"
    assert program.is_file() and os.access(program, os.X_OK)
    return program


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a user of the bundle: their own folders, no Python of the studio on PATH, offscreen."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / name.lower())
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["STUDIO_CANCEL_GRACE_S"] = "1"
    return env


def run(bundle: Path, env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The bundle's program with ``args``, from a folder away from the checkout."""
    return subprocess.run(
        [str(bundle), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(env["XDG_DATA_HOME"]).parent,
    )


def test_version_and_diagnostics_come_from_the_frozen_program(bundle: Path, user_env: dict[str, str]) -> None:
    version = run(bundle, user_env, "--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"studio {__version__}")
    diagnostics = run(bundle, user_env, "--diagnostics", "--output", "json")
    assert diagnostics.returncode == 0, diagnostics.stderr
    report = json.loads(diagnostics.stdout)
    assert report["studio"]["frozen"].startswith("yes")
    assert report["studio"]["executable"] == str(bundle)
    libraries = report["libraries"]
    for name in ("qt", "pyside6", "pyqtgraph", "numpy", "azure-ai-ml", "azure-identity", "keyring"):
        assert libraries[name][0].isdigit(), (name, libraries[name])  # a version, read inside the bundle
    assert report["display"]["platform_plugin"] == "offscreen"  # Qt started from the bundle's own plugins
    assert report["paths"]["log_folder"].startswith(user_env["XDG_STATE_HOME"])


def test_the_window_opens_a_run_link_loads_its_charts_takes_a_hand_over_and_closes(
    bundle: Path, user_env: dict[str, str], tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    sdk_workspace = Workspace(workspace)
    run_ = Experiment(sdk_workspace, "logged").start_logging(display_name="curve")
    for step in range(50):
        run_.log("loss", 1.0 / (step + 1))
    run_.complete()
    link = run_.get_portal_url()
    sdk_workspace.close()
    log = Path(user_env["XDG_STATE_HOME"]) / "studio" / "log" / "studio.log"

    def said(text: str) -> bool:
        return log.is_file() and text in log.read_text()

    window = subprocess.Popen(
        [str(bundle), link], env=user_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        wait_until(lambda: said("Chart library loaded") or said(" ERROR "), "the charts or an error", timeout=90)
        assert not said(" ERROR "), log.read_text()  # e.g. a Qt module the analysis missed
        assert said(f"Opened the workspace {workspace}") and said("Window painted")
        second = run(bundle, user_env, "--workspace", str(workspace), timeout=60)  # hands over to the first, exits
        assert second.returncode == 0, second.stderr
        assert window.poll() is None
        window.send_signal(signal.SIGTERM)  # as a log-out does: the window closes as its button would
        _out, err = window.communicate(timeout=60)
    finally:
        if window.poll() is None:
            window.kill()
            window.wait()
    assert window.returncode == 0, err
    assert said("Studio window closed (exit code 0)")
    assert "Traceback" not in err
    assert " ERROR " not in log.read_text() and " WARNING " not in log.read_text(), log.read_text()


@pytest.fixture
def stopped_compute(bundle: Path, user_env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    """A workspace whose compute instances are stopped again at the end."""
    workspace = tmp_path / "ws"
    yield workspace
    run(bundle, user_env, "--workspace", str(workspace), "compute", "stop", "local")


def test_the_sample_experiment_runs_through_the_bundles_daemon_with_a_python_of_the_users(
    bundle: Path, user_env: dict[str, str], tmp_path: Path, stopped_compute: Path
) -> None:
    workspace = stopped_compute
    env = dict(user_env, STUDIO_JOB_PYTHON=str(python_with_numpy_only(tmp_path)))
    sample = bundle.parent / "_internal" / "studio" / "resources" / "sample"
    assert (sample / "train.py").is_file()
    submitted = run(
        bundle, env, "--workspace", str(workspace), "--output", "json", "job", "submit", "--experiment", "sample",
        str(sample), "train.py", timeout=120,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    run_id = json.loads(submitted.stdout)["id"]

    def status() -> str:
        shown = run(bundle, env, "--workspace", str(workspace), "--output", "json", "job", "show", run_id)
        value = str(json.loads(shown.stdout)["status"]) if shown.returncode == 0 else ""
        return value if value in ("Completed", "Failed", "Canceled") else ""

    assert wait_until(status, "the sample job ended", timeout=180, interval=0.5) == "Completed", run(
        bundle, env, "--workspace", str(workspace), "job", "logs", run_id
    ).stdout
    shown = json.loads(
        run(bundle, env, "--workspace", str(workspace), "--output", "json", "job", "show", run_id).stdout
    )
    assert {"loss", "accuracy", "val_loss"} <= set(shown["metrics"])
    logs = run(bundle, env, "--workspace", str(workspace), "job", "logs", run_id).stdout
    assert "epoch 12" in logs
    downloaded = run(
        bundle, env, "--workspace", str(workspace), "job", "download", run_id, "--output-dir", str(tmp_path / "got")
    )
    assert downloaded.returncode == 0, downloaded.stderr
    assert (tmp_path / "got" / "user_logs" / "std_log.txt").read_text().count("epoch ") == 12
    assert (tmp_path / "got" / "outputs" / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    # The daemon that ran it is the bundle's own program in its daemon role.
    daemons = [
        p.info["cmdline"]
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and str(workspace) in p.info["cmdline"]
    ]
    assert [str(bundle), "--run-module", "studio.workspaces.local.compute.daemon", str(workspace), "local"] in daemons


def test_install_desktop_from_the_bundle_starts_the_bundle(bundle: Path, user_env: dict[str, str]) -> None:
    installed = run(bundle, user_env, "install-desktop")
    assert installed.returncode == 0, installed.stderr
    entry = Path(user_env["XDG_DATA_HOME"]) / "applications" / "studio.desktop"
    assert f"Exec={bundle} %U" in entry.read_text().splitlines()
    icon = Path(user_env["XDG_DATA_HOME"]) / "icons" / "hicolor" / "256x256" / "apps" / "studio.png"
    assert icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_an_azure_workspace_from_the_bundle_lists_compute_and_submits_a_job(
    bundle: Path, azure_env: AzureService, tmp_path: Path
) -> None:
    """azure-ai-ml, azure-identity and azure-storage-blob frozen: signed in by the (fake) Azure CLI, the compute
    listed, a script submitted through the SDK (its schemas, the code upload to blob storage) and its log streamed."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}  # the emulator's proxy, CA and `az`, as the fixture set
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / name.lower())
    ws = ("--workspace", azure_env.location)
    listed = subprocess.run(
        [str(bundle), *ws, "--output", "json", "compute", "list"], env=env, capture_output=True, text=True, timeout=180
    )
    assert listed.returncode == 0, listed.stderr
    assert {"ci1", "cpu-cluster"} <= {row["name"] for row in json.loads(listed.stdout)}
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("print('trained in the cloud', flush=True)\n")
    submitted = subprocess.run(
        [str(bundle), *ws, "job", "submit", "--compute", "cpu-cluster", "--experiment", "from-bundle", "--stream",
         str(source), "train.py"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    assert "trained in the cloud" in submitted.stdout.splitlines()
    assert [job.experiment for job in azure_env.submissions.jobs.values()] == ["from-bundle"]
