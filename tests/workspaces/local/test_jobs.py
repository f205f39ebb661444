"""Script jobs end to end: submit, run, logs, outputs, metrics, queueing, cancel, crashes, concurrency."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from studio.core.errors import NotFoundError, StudioError
from studio.sdk import Experiment, ScriptRunConfig
from studio.sdk.compute import ComputeInstance, ComputeTarget
from studio.workspaces.local.compute.snapshot import SnapshotTooLarge
from tests.compute_helpers import write_script
from tests.waiting import wait_until

TRAIN = """
import os, sys, json
from studio.sdk import Run
run = Run.get_context()
print("args", json.dumps(sys.argv[1:]), flush=True)
print("to stderr", file=sys.stderr, flush=True)
for i in range(50):
    run.log("loss", 1.0 / (i + 1))
run.log_row("eval", epoch=1, acc=0.9)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write("weights")
with open("logs/extra.log", "w") as f:
    f.write("extra log")
print("cwd files", sorted(os.listdir(".")), flush=True)
"""


@pytest.fixture
def exp(cws: Any) -> Any:
    return Experiment(workspace=cws, name="jobs")


def test_submit_runs_the_script_with_its_context(exp: Any, tmp_path: Path) -> None:
    src = write_script(tmp_path / "src", "train.py", TRAIN).parent
    (src / "data.csv").write_text("a,b\n1,2\n")
    run = exp.submit(ScriptRunConfig(source_directory=src, script="train.py", arguments=["--lr", 0.1, 3]))
    assert run.get_status() in ("Queued", "Preparing", "Starting", "Running")
    details = run.wait_for_completion(timeout=60)
    assert details["status"] == "Completed"
    assert details["target"] == "local" and details["runDefinition"]["script"] == "train.py"
    assert details["runDefinition"]["arguments"] == ["--lr", "0.1", "3"]
    metrics = run.get_metrics()
    assert len(metrics["loss"]) == 50 and metrics["eval"] == {"epoch": [1], "acc": [0.9]}
    files = run.get_file_names()
    assert {
        "outputs/model.txt",
        "logs/extra.log",
        "user_logs/std_log.txt",
        "snapshot/train.py",
        "snapshot/data.csv",
    } <= set(files)
    logs = run.get_details_with_logs()["logFiles"]
    assert 'args ["--lr", "0.1", "3"]' in logs["user_logs/std_log.txt"]
    assert "to stderr" in logs["user_logs/std_log.txt"]
    assert logs["logs/extra.log"] == "extra log"
    statuses = [c.status.value for c in exp.workspace.backend.status_history(run.id)]
    assert statuses[:2] == ["NotStarted", "Queued"] and statuses[-2:] == ["Finalizing", "Completed"]
    assert "Running" in statuses
    got = run.get_all_logs(destination=tmp_path / "logs_out")
    assert (tmp_path / "logs_out" / "user_logs" / "std_log.txt").is_file() and len(got) >= 2


def test_logs_and_outputs_are_visible_while_the_job_runs(exp: Any, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    src = write_script(
        tmp_path / "src",
        "live.py",
        """
        import pathlib, sys, time
        print("first line", flush=True)
        pathlib.Path("outputs").mkdir(exist_ok=True)
        pathlib.Path("outputs/partial.txt").write_text("so far")
        while not pathlib.Path(sys.argv[1]).exists():
            time.sleep(0.02)
        print("last line", flush=True)
        """,
    ).parent
    run = exp.submit(ScriptRunConfig(src, "live.py", arguments=[str(gate)]))
    backend = exp.workspace.backend

    def log_text() -> str:
        try:
            return backend.read_file_range(run.id, "user_logs/std_log.txt", 0, 10_000).decode()
        except NotFoundError:
            return ""

    wait_until(lambda: "first line" in log_text(), what="the first log line")
    assert run.get_status() == "Running"
    assert "outputs/partial.txt" in run.get_file_names()
    gate.write_text("go")
    run.wait_for_completion(timeout=30)
    assert "last line" in log_text()


def test_wait_for_completion_streams_output(exp: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_script(tmp_path / "src", "hello.py", "print('hello from the job')\n").parent
    run = exp.submit(ScriptRunConfig(src, "hello.py"))
    run.wait_for_completion(show_output=True, timeout=30)
    out = capsys.readouterr().out
    assert "hello from the job" in out and "Completed" in out


def test_failure_reports_the_end_of_stderr(exp: Any, tmp_path: Path) -> None:
    src = write_script(
        tmp_path / "src",
        "bad.py",
        """
        import sys
        print("some progress")
        print("ValueError: the data file has no header", file=sys.stderr)
        sys.exit(3)
        """,
    ).parent
    run = exp.submit(ScriptRunConfig(src, "bad.py"))
    with pytest.raises(StudioError, match="exited with code 3"):
        run.wait_for_completion(timeout=30)
    details = run.wait_for_completion(timeout=30, raise_on_error=False)
    assert details["status"] == "Failed"
    assert "the data file has no header" in details["error"]["error"]["message"]


def test_script_that_calls_fail_is_failed_even_with_exit_zero(exp: Any, tmp_path: Path) -> None:
    src = write_script(
        tmp_path / "src",
        "soft.py",
        "from studio.sdk import Run\nRun.get_context().fail(error_details='validation accuracy too low')\n",
    ).parent
    run = exp.submit(ScriptRunConfig(src, "soft.py"))
    details = run.wait_for_completion(timeout=30, raise_on_error=False)
    assert details["status"] == "Failed" and "too low" in details["error"]["error"]["message"]


def test_stopped_instance_holds_queued_runs_until_started(cws: Any, exp: Any, tmp_path: Path) -> None:
    src = write_script(tmp_path / "src", "ok.py", "print('ok')\n").parent
    ci = ComputeTarget.create(cws, "ci1", ComputeInstance.provisioning_configuration())
    ci.stop()
    run = exp.submit(ScriptRunConfig(src, "ok.py", compute_target="ci1"))
    assert run.get_status() == "Queued"
    assert "waiting for compute instance ci1 to start" in cws.backend.get_run(run.id).status_reason.lower()
    assert ci.get_status().queued_jobs == 1
    ci.start()
    run.wait_for_completion(timeout=30)
    assert run.get_status() == "Completed"


def test_stop_cancels_running_jobs_and_keeps_queued_ones(cws: Any, exp: Any, tmp_path: Path) -> None:
    src = write_script(
        tmp_path / "src",
        "long.py",
        "import pathlib, time\npathlib.Path('outputs').mkdir(exist_ok=True)\n"
        "pathlib.Path('outputs/started').write_text('x')\ntime.sleep(120)\n",
    ).parent
    ci = ComputeTarget.create(cws, "ci1", ComputeInstance.provisioning_configuration())
    running = exp.submit(ScriptRunConfig(src, "long.py", compute_target="ci1"))
    queued = exp.submit(ScriptRunConfig(src, "long.py", compute_target="ci1"))
    wait_until(lambda: "outputs/started" in running.get_file_names(), what="the first job to start")
    ci.stop()
    assert running.get_status() == "Canceled"
    assert queued.get_status() == "Queued"


def test_cancel_a_running_and_a_queued_job(cws: Any, exp: Any, tmp_path: Path) -> None:
    src = write_script(
        tmp_path / "src", "long.py", "import time\nprint('started', flush=True)\ntime.sleep(120)\n"
    ).parent
    ComputeTarget.create(cws, "ci1", ComputeInstance.provisioning_configuration())
    first = exp.submit(ScriptRunConfig(src, "long.py", compute_target="ci1"))
    second = exp.submit(ScriptRunConfig(src, "long.py", compute_target="ci1"))
    wait_until(lambda: first.get_status() == "Running", what="the first job to run")
    second.cancel()
    assert second.get_status() == "Canceled"
    first.cancel()
    wait_until(lambda: first.get_status() == "Canceled", what="the running job to be canceled")


def test_killed_job_process_fails_its_run(cws: Any, exp: Any, tmp_path: Path) -> None:
    src = write_script(
        tmp_path / "src", "long.py", "import time\nprint('started', flush=True)\ntime.sleep(120)\n"
    ).parent
    run = exp.submit(ScriptRunConfig(src, "long.py"))
    wait_until(lambda: run.get_status() == "Running", what="the job to run")
    pid = wait_until(
        lambda: (
            cws.backend.workspace.connection().execute("SELECT job_pid FROM runs WHERE id = ?", (run.id,)).fetchone()[0]
        ),
        what="the job pid",
    )
    os.kill(pid, signal.SIGKILL)
    details = run.wait_for_completion(timeout=30, raise_on_error=False)
    assert details["status"] == "Failed" and "SIGKILL" in details["error"]["error"]["message"]


def test_concurrency_never_exceeds_max_concurrent_jobs(cws: Any, exp: Any, tmp_path: Path) -> None:
    src = write_script(
        tmp_path / "src",
        "slot.py",
        """
        import time
        from studio.sdk import Run
        run = Run.get_context()
        run.log("start", time.time())
        time.sleep(0.6)
        run.log("end", time.time())
        """,
    ).parent
    ComputeTarget.create(cws, "pool", ComputeInstance.provisioning_configuration(max_concurrent_jobs=2))
    runs = [exp.submit(ScriptRunConfig(src, "slot.py", compute_target="pool")) for _ in range(4)]
    for run in runs:
        run.wait_for_completion(timeout=60)
    spans = [(r.get_metrics()["start"], r.get_metrics()["end"]) for r in runs]
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    level, peak = 0, 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    assert peak == 2  # two at a time: never more, and the pool was used


def test_snapshot_honours_amlignore_and_limits(cws: Any, exp: Any, tmp_path: Path) -> None:
    src = write_script(tmp_path / "src", "ok.py", "print('ok')\n").parent
    (src / ".amlignore").write_text("data/\n*.bin\n")
    (src / ".gitignore").write_text("keep_me_out_only_by_git.txt\n")
    (src / "data").mkdir()
    (src / "data" / "big.csv").write_text("x")
    (src / "weights.bin").write_bytes(b"x")
    (src / "keep_me_out_only_by_git.txt").write_text("x")
    run = exp.submit(ScriptRunConfig(src, "ok.py"))
    run.wait_for_completion(timeout=30)
    snap = sorted(f for f in run.get_file_names() if f.startswith("snapshot/"))
    assert snap == [
        "snapshot/.amlignore",
        "snapshot/.gitignore",
        "snapshot/keep_me_out_only_by_git.txt",
        "snapshot/ok.py",
    ]
    many = tmp_path / "many"
    many.mkdir()
    (many / "ok.py").write_text("print(1)")
    for i in range(2001):
        (many / f"f{i}.txt").write_text("x")
    before = cws.backend.count_runs("jobs")
    with pytest.raises(SnapshotTooLarge, match="2,000 files"):
        exp.submit(ScriptRunConfig(many, "ok.py"))
    assert cws.backend.count_runs("jobs") == before  # no run was created


def test_submit_errors_are_clear(cws: Any, exp: Any, tmp_path: Path) -> None:
    src = write_script(tmp_path / "src", "ok.py", "print('ok')\n").parent
    with pytest.raises(NotFoundError, match="not in"):
        exp.submit(ScriptRunConfig(src, "missing.py"))
    with pytest.raises(NotFoundError, match="does not exist"):
        exp.submit(ScriptRunConfig(tmp_path / "nowhere", "ok.py"))
    with pytest.raises(NotFoundError, match="no compute instance"):
        exp.submit(ScriptRunConfig(src, "ok.py", compute_target="ghost"))
    with pytest.raises(ValueError):
        exp.submit(ScriptRunConfig(src, "../escape.py"))
    with pytest.raises(TypeError):
        exp.submit(ScriptRunConfig(src, "ok.py", arguments=[{"a": 1}]))
    assert cws.backend.count_runs("jobs") == 0
