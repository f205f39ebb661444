"""Compute instances as real daemon processes: create, start, stop, restart, delete, crash, idle."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from studio.core.errors import NotFoundError, RunStateError
from studio.sdk import Experiment, ScriptRunConfig
from studio.sdk.compute import ComputeInstance, ComputeTarget
from studio.workspaces.local.backend import LocalBackend
from studio.workspaces.local.compute import instances_store as compute_store
from tests.compute_helpers import write_script
from tests.waiting import wait_until


def _daemon_pid(ws: Any, name: str) -> int:
    pid, *_ = compute_store.daemon_of(ws.backend.workspace.connection(), name)
    assert pid
    return int(pid)


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_every_workspace_has_a_stopped_local_instance(cws: Any) -> None:
    assert list(cws.compute_targets) == ["local"]
    assert ComputeInstance(workspace=cws, name="local").get_status().state == "Stopped"
    with pytest.raises(NotFoundError, match="no compute instance named 'nope'"):
        ComputeInstance(workspace=cws, name="nope")


def test_create_start_stop_are_real_and_idempotent(cws: Any) -> None:
    ci = ComputeTarget.create(cws, "ci1", ComputeInstance.provisioning_configuration(max_concurrent_jobs=2))
    assert ci.get_status().state == "Running"
    pid = _daemon_pid(cws, "ci1")
    assert _alive(pid)
    ci.start()  # already running: nothing changes
    assert _daemon_pid(cws, "ci1") == pid
    ci.stop()
    assert ci.get_status().state == "Stopped"
    wait_until(lambda: not _alive(pid), what="the daemon to exit")
    ci.stop()  # already stopped: fine
    ci.start()
    assert ci.get_status().state == "Running" and _daemon_pid(cws, "ci1") != pid
    assert set(cws.compute_targets) == {"local", "ci1"}
    with pytest.raises(ValueError, match="already exists"):
        ComputeTarget.create(cws, "ci1", ComputeInstance.provisioning_configuration())
    for bad in ("1abc", "a", "has space", "x" * 30):
        with pytest.raises(ValueError, match="invalid compute name"):
            ComputeTarget.create(cws, bad, ComputeInstance.provisioning_configuration())


def test_the_daemon_outlives_the_process_that_started_it(cws: Any, tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom studio.sdk import Workspace\nfrom studio.sdk.compute import ComputeInstance\n"
        "ComputeInstance(Workspace(sys.argv[1]), 'local').start()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(cws.path)], check=True, timeout=60)
    backend = LocalBackend(cws.path)
    assert backend.get_compute("local").state.value == "Running"
    assert _alive(_daemon_pid(cws, "local"))
    backend.close()


def test_refused_transition_says_why(cws: Any, tmp_path: Path) -> None:
    src = write_script(
        tmp_path / "src",
        "stubborn.py",
        """
        import signal, time, pathlib
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pathlib.Path("outputs").mkdir(exist_ok=True)
        pathlib.Path("outputs/started").write_text("yes")
        while True:
            time.sleep(0.05)
        """,
    ).parent
    exp = Experiment(cws, "e")
    ci = ComputeTarget.create(cws, "ci1", ComputeInstance.provisioning_configuration())
    run = exp.submit(ScriptRunConfig(src, "stubborn.py", compute_target="ci1"))
    wait_until(lambda: "outputs/started" in run.get_file_names(), what="the job to start")
    ci.stop(wait_for_completion=False)
    assert ci.get_status().state == "Stopping"
    with pytest.raises(RunStateError, match="ci1 is Stopping; start it when it is Stopped"):
        ci.start()
    wait_until(lambda: ci.get_status().state == "Stopped", what="the stop to finish")
    assert run.get_status() == "Canceled"  # SIGTERM ignored, SIGKILL after the grace period


def test_restart_cancels_running_jobs_and_serves_the_queue(cws: Any, tmp_path: Path) -> None:
    src = write_script(
        tmp_path / "src",
        "wait.py",
        """
        import pathlib, sys, time
        pathlib.Path("outputs").mkdir(exist_ok=True)
        pathlib.Path("outputs/started").write_text("x")
        while not pathlib.Path(sys.argv[1]).exists():
            time.sleep(0.02)
        """,
    ).parent
    gate = tmp_path / "gate"
    exp = Experiment(cws, "e")
    ci = ComputeTarget.create(cws, "ci1", ComputeInstance.provisioning_configuration())
    first = exp.submit(ScriptRunConfig(src, "wait.py", arguments=[str(gate)], compute_target="ci1"))
    second = exp.submit(ScriptRunConfig(src, "wait.py", arguments=[str(gate)], compute_target="ci1"))
    wait_until(lambda: first.get_status() == "Running", what="the first job to run")
    assert second.get_status() == "Queued"
    old = _daemon_pid(cws, "ci1")
    ci.restart()
    assert ci.get_status().state in ("Running", "JobRunning") and _daemon_pid(cws, "ci1") != old
    assert first.get_status() == "Canceled"
    gate.write_text("go")
    second.wait_for_completion(timeout=30)
    assert second.get_status() == "Completed"


def test_delete_cancels_queued_runs_and_local_cannot_go(cws: Any, tmp_path: Path) -> None:
    src = write_script(tmp_path / "src", "ok.py", "print('ok')\n").parent
    exp = Experiment(cws, "e")
    ci = ComputeTarget.create(cws, "ci2", ComputeInstance.provisioning_configuration())
    ci.stop()
    queued = exp.submit(ScriptRunConfig(src, "ok.py", compute_target="ci2"))
    assert queued.get_status() == "Queued"
    ci.delete()
    assert "ci2" not in cws.compute_targets
    assert queued.get_status() == "Canceled"
    with pytest.raises(RunStateError, match="cannot be deleted"):
        ComputeInstance(cws, "local").delete()


def test_killed_daemon_makes_the_instance_unusable_and_fails_its_job(cws: Any, tmp_path: Path) -> None:
    src = write_script(
        tmp_path / "src",
        "long.py",
        """
        import pathlib, time
        pathlib.Path("outputs").mkdir(exist_ok=True)
        pathlib.Path("outputs/started").write_text("x")
        time.sleep(120)
        """,
    ).parent
    exp = Experiment(cws, "e")
    ci = ComputeTarget.create(cws, "ci1", ComputeInstance.provisioning_configuration())
    run = exp.submit(ScriptRunConfig(src, "long.py", compute_target="ci1"))
    wait_until(lambda: "outputs/started" in run.get_file_names(), what="the job to start")
    job_pid = (
        cws.backend.workspace.connection().execute("SELECT job_pid FROM runs WHERE id = ?", (run.id,)).fetchone()[0]
    )
    os.kill(_daemon_pid(cws, "ci1"), signal.SIGKILL)
    status = wait_until(
        lambda: ci.get_status() if ci.get_status().state == "Unusable" else None, timeout=10, what="Unusable"
    )
    assert "ended unexpectedly" in status.reason
    assert run.get_status() == "Failed"
    assert "stopped unexpectedly" in run.get_details()["error"]["error"]["message"]
    wait_until(lambda: not _alive(job_pid), what="the orphaned job to be killed")
    ci.start()  # an unusable instance can be started again
    assert ci.get_status().state == "Running"


def test_idle_shutdown_stops_an_idle_instance(cws: Any, tmp_path: Path) -> None:
    src = write_script(tmp_path / "src", "ok.py", "print('ok')\n").parent
    ci = ComputeTarget.create(cws, "idler", ComputeInstance.provisioning_configuration(idle_shutdown_minutes=0.02))
    run = Experiment(cws, "e").submit(ScriptRunConfig(src, "ok.py", compute_target="idler"))
    run.wait_for_completion(timeout=30)
    status = wait_until(
        lambda: ci.get_status() if ci.get_status().state == "Stopped" else None, timeout=20, what="idle shutdown"
    )
    assert "idle" in status.reason


def test_backend_compute_calls_for_the_gui(cws: Any) -> None:
    backend = LocalBackend(cws.path)
    created = backend.create_compute("gui1", max_concurrent_jobs=3, idle_shutdown_minutes=30)
    assert created.state.value in ("Starting", "Running") and created.max_concurrent_jobs == 3
    assert backend.start_compute("gui1", wait=True).state.value == "Running"
    listed = {c.name: c for c in backend.list_compute()}
    assert listed["gui1"].idle_shutdown_minutes == 30 and listed["local"].can_start
    assert listed["gui1"].can_stop and not listed["gui1"].can_start
    assert backend.stop_compute("gui1", wait=True).state.value == "Stopped"
    backend.delete_compute("gui1")
    assert [c.name for c in backend.list_compute()] == ["local"]
    backend.close()
