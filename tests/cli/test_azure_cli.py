"""The ``studio`` command on an Azure ML workspace, on the emulator (real azure-ai-ml over HTTPS through the loopback
proxy, Azurite for files): signed in headlessly by the fake ``az`` on PATH (no saved account, no service principal
in the environment). ``info``, ``job list/show/logs/download`` and ``$STUDIO_WORKSPACE`` run in real processes as a
user runs them; the service's failures (401, 403, 404, 429, 5xx, a hang) run ``studio.cli.main`` in this process,
with short timeouts, and each must end in one sentence on stderr, a non-zero exit code and no traceback.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from studio.cli import main
from studio.commands.run_location import split_run_location
from tests.azure_fixtures import AzureService

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

LOG = b"".join(f"epoch {e}: loss {1.0 / (1 + e):.4f}\n".encode() for e in range(30))
MODEL = bytes(range(256)) * 64


@dataclass
class Jobs:
    """This module's experiment: a finished job with a log and outputs, a running one, an older one."""

    experiment: str
    finished: str
    running: str
    older: str


@pytest.fixture(scope="module")
def jobs(azure_service: AzureService) -> Jobs:
    from mlflow import MlflowClient

    client = MlflowClient(azure_service.mlflow_url)
    experiment = f"cli-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(experiment)
    older = client.create_run(experiment_id, run_name="baseline").info.run_id
    client.set_terminated(older, "FAILED")
    finished = client.create_run(experiment_id, run_name="train-cnn").info.run_id
    client.log_param(finished, "lr", "0.01")
    client.log_metric(finished, "loss", 0.0323)
    client.set_terminated(finished, "FINISHED")
    running = client.create_run(experiment_id, run_name="train-live").info.run_id
    container = azure_service.container()
    container.upload_blob(f"ExperimentRun/dcid.{finished}/user_logs/std_log.txt", LOG, overwrite=True)
    container.upload_blob(f"ExperimentRun/dcid.{finished}/outputs/model.bin", MODEL, overwrite=True)
    container.upload_blob(f"ExperimentRun/dcid.{finished}/outputs/eval/report.json", b'{"acc": 0.9}', overwrite=True)
    container.upload_blob(f"ExperimentRun/dcid.{finished}/system_logs/lifecycler.txt", b"ready\n", overwrite=True)
    container.get_blob_client(f"ExperimentRun/dcid.{running}/user_logs/std_log.txt").create_append_blob()
    return Jobs(experiment, finished, running, older)


def studio(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``studio ARGS`` in a process of its own, with this test's environment (the emulator's, decision 1)."""
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=180,
    )


def one_line(stderr: str) -> str:
    """The error a command printed: one line, no traceback, no token."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("studio: error: ") and "Traceback" not in stderr and "studio-test-" not in stderr
    return lines[0]


def test_info_list_show_logs_and_download_sign_in_with_the_azure_cli(
    azure_env: AzureService, jobs: Jobs, tmp_path: Path
) -> None:
    ws = ("--workspace", azure_env.location)
    info = studio(*ws, "info")
    assert info.returncode == 0, info.stderr
    assert info.stdout.splitlines()[0].endswith(f"azure workspace 'studio-ws' at {azure_env.location}")
    assert any(line.split() == [jobs.experiment, "3", "runs"] for line in info.stdout.splitlines()), info.stdout
    assert any(call[:2] == ["account", "get-access-token"] for call in azure_env.fake_az.calls())  # the CLI signed in
    # job list: newest first, Azure's statuses.
    azure_env.set_job_status(jobs.running, "Preparing")
    listed = studio("job", "list", *ws, "--experiment", jobs.experiment, "--output", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["display_name"], r["status"]) for r in rows] == [
        ("train-live", "Preparing"),
        ("train-cnn", "Completed"),
        ("baseline", "Failed"),
    ]
    assert rows[1]["metrics"] == {"loss": 0.0323} and rows[1]["params"] == {"lr": "0.01"}
    # job show: the run, what Azure says of the job, its files.
    shown = studio("job", "show", jobs.finished, *ws)
    assert shown.returncode == 0, shown.stderr
    fields = dict(line.split(None, 1) for line in shown.stdout.splitlines() if len(line.split(None, 1)) == 2)
    assert fields["status"] == "Completed" and fields["type"] == "command" and fields["compute"] == "cpu-cluster"
    assert fields["command"] == "python train.py --lr 0.01"
    assert fields["studio_url"].startswith(f"https://ml.azure.com/runs/{jobs.finished}?wsid=/subscriptions/")
    assert json.loads(fields["files"]) == [
        "outputs/eval/report.json",
        "outputs/model.bin",
        "system_logs/lifecycler.txt",
        "user_logs/std_log.txt",
    ]
    # job logs: the job's std_log.txt, byte for byte.
    logs = subprocess.run(
        [sys.executable, "-m", "studio", "job", "logs", jobs.finished, *ws], capture_output=True, timeout=180
    )
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == LOG
    # job download --prefix outputs: only the outputs, bytes equal.
    out = tmp_path / "out"
    downloaded = studio("job", "download", jobs.finished, *ws, "--prefix", "outputs", "--output-dir", str(out))
    assert downloaded.returncode == 0, downloaded.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "outputs/eval/report.json",
        "outputs/model.bin",
    ]
    assert (out / "outputs" / "model.bin").read_bytes() == MODEL
    # $STUDIO_WORKSPACE names the workspace as --workspace does.
    by_env = studio("info", "--output", "json", env={"STUDIO_WORKSPACE": azure_env.location})
    assert by_env.returncode == 0, by_env.stderr
    data = json.loads(by_env.stdout)
    assert data["location"] == azure_env.location and jobs.experiment in {e["name"] for e in data["experiments"]}


def test_job_logs_follow_prints_a_running_jobs_log_as_it_grows_until_the_job_ends(
    azure_env: AzureService, jobs: Jobs
) -> None:
    from mlflow import MlflowClient

    azure_env.set_job_status(jobs.running, "Running")
    log = azure_env.container().get_blob_client(f"ExperimentRun/dcid.{jobs.running}/user_logs/std_log.txt")
    log.append_block(b"starting\n")
    follower = subprocess.Popen(
        [sys.executable, "-m", "studio", "job", "logs", jobs.running, "-f", "--workspace", azure_env.location],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    lines: queue.Queue[bytes] = queue.Queue()
    assert follower.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        assert lines.get(timeout=60) == b"starting\n"  # printed while the job runs
        log.append_block(b"epoch 0: loss 1.0\n")
        assert lines.get(timeout=30) == b"epoch 0: loss 1.0\n"  # read from where the log ended
        assert follower.poll() is None  # still following
        log.append_block(b"done\n")
        MlflowClient(azure_env.mlflow_url).set_terminated(jobs.running, "FINISHED")
        azure_env.set_job_status(jobs.running, "Completed")
        assert follower.wait(timeout=60) == 0  # the job ended: the command prints the rest and exits
        reader.join(timeout=10)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert lines.get_nowait() == b"done\n" and lines.empty()


def test_with_no_way_to_sign_in_the_command_says_how_in_one_line(azure_env: AzureService, tmp_path: Path) -> None:
    no_az = tmp_path / "bin"
    no_az.mkdir()
    bare = studio("--workspace", azure_env.location, "info", env={"PATH": str(no_az)})
    assert bare.returncode != 0 and bare.stdout == ""
    line = one_line(bare.stderr)
    assert "az login" in line and "AZURE_CLIENT_ID" in line and "Sign in" in line
    assert azure_env.requests() == []  # nothing was asked of the service without a sign-in
    azure_env.fake_az.sign_out()  # az on PATH but signed out: says to sign in, too
    signed_out = studio("job", "list", "--workspace", azure_env.location)
    assert signed_out.returncode != 0
    assert "az login" in one_line(signed_out.stderr)


@pytest.fixture
def quick(azure_env: AzureService, monkeypatch: pytest.MonkeyPatch) -> AzureService:
    """``main`` in this process, with short timeouts and few retries (a hang or a refusal ends in seconds)."""
    from studio.workspaces.azure import connection
    from studio.workspaces.azure.arm_client import ArmTimeouts
    from studio.workspaces.mlflow.rest import transport
    from studio.workspaces.mlflow.rest.retry import RetryPolicy

    short = ArmTimeouts(connect_s=2.0, read_s=1.0, retry_total=1, backoff_s=0.05, backoff_max_s=0.1)
    monkeypatch.setattr(connection, "ArmTimeouts", lambda: short)
    monkeypatch.setattr(
        transport, "RetryPolicy", lambda: RetryPolicy(attempts=2, backoff_s=0.02, backoff_max_s=0.05, deadline_s=8)
    )
    return azure_env


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``studio ARGS`` in this process: (exit code, the one error line)."""
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    if code == 0:
        return code, ""
    return code, one_line(captured.err)


def test_the_services_failures_are_one_sentence_each(
    quick: AzureService, jobs: Jobs, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = ("--workspace", quick.location)
    assert run_main(capsys, *ws, "info") == (0, "")
    quick.revoke_tokens()  # 401 in Azure's shape
    code, line = run_main(capsys, *ws, "info")
    assert code == 1 and "HTTP 401" in line and "sign in again" in line
    quick.restore_tokens()
    quick.fail(r"/experiments/search", 403, times=10)
    code, line = run_main(capsys, *ws, "info")
    assert code == 1 and "HTTP 403" in line and "role" in line
    quick.clear_faults()
    code, line = run_main(capsys, "job", "show", "no-such-job-1", *ws)  # 404
    assert code == 1 and "no-such-job-1" in line
    quick.fail(r"/experiments/search", 429, times=10, retry_after=0.05)
    code, line = run_main(capsys, *ws, "info")
    assert code == 1 and ("429" in line or "too many" in line.lower())
    quick.clear_faults()
    quick.fail(r"/runs/search", 503, times=10, message="the tracking store is down")
    code, line = run_main(capsys, "job", "list", *ws, "--experiment", jobs.experiment)
    assert code == 1 and "HTTP 503" in line and "the tracking store is down" in line
    quick.clear_faults()
    quick.hang(r"/runs/search", times=10)
    started = time.monotonic()
    code, line = run_main(capsys, "job", "list", *ws, "--experiment", jobs.experiment)
    assert code == 1 and "did not answer" in line and time.monotonic() - started < 30
    quick.clear_faults()
    assert run_main(capsys, "job", "list", *ws, "--experiment", jobs.experiment) == (0, "")  # fine again
    code, line = run_main(capsys, "job", "cancel", jobs.finished, *ws)  # a job that ended (409-like)
    assert code == 1 and "Completed" in line and "can be canceled" in line


def test_job_cancel_answers_cancel_requested_at_once(
    azure_env: AzureService, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(azure_env.mlflow_url)
    experiment_id = client.create_experiment(f"cancel-{uuid.uuid4().hex[:8]}")  # the module's counts stay
    job = client.create_run(experiment_id, run_name="to-cancel").info.run_id
    azure_env.set_job_status(job, "Running")
    assert main(["job", "cancel", job, "--workspace", azure_env.location, "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"id": job, "status": "CancelRequested"}
    assert [r for r in azure_env.requests() if r.method == "POST" and r.path.endswith(f"/jobs/{job}/cancel")]


def test_open_run_takes_a_run_id_a_jobs_location_or_its_azure_ml_studio_address() -> None:
    ws = "azureml://subscriptions/5f2c9a41-0000-4000-8000-00000000a0b1/resourcegroups/studio-rg/workspaces/studio-ws"
    assert split_run_location("f712b12f5a93") == (None, "f712b12f5a93")
    assert split_run_location(f"{ws}/jobs/careful_tomato_1x2") == (ws, "careful_tomato_1x2")
    assert split_run_location(f"{ws}/runs/careful_tomato_1x2/") == (ws, "careful_tomato_1x2")
    wsid = (
        "/subscriptions/5f2c9a41-0000-4000-8000-00000000a0b1/resourceGroups/studio-rg/providers/"
        "Microsoft.MachineLearningServices/workspaces/studio-ws"
    )
    address = f"https://ml.azure.com/runs/careful_tomato_1x2?wsid={wsid}&tid=72f988bf-0000-4000-8000-0000000057d1"
    assert split_run_location(address) == (ws, "careful_tomato_1x2")
    for wrong in ("https://ml.azure.com/runs/x", f"{ws}/experiments/x", "https://ml.azure.com/?wsid=" + wsid):
        with pytest.raises(ValueError, match="not"):
            split_run_location(wrong)


def test_open_run_refuses_a_job_of_another_workspace_than_workspace_names_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = (
        "azureml://subscriptions/5f2c9a41-0000-4000-8000-00000000a0b1/resourcegroups/studio-rg/workspaces/"
        "studio-ws/jobs/careful_tomato_1x2"
    )
    code = main(["--workspace", str(tmp_path / "local"), "--open-run", job])
    err = capsys.readouterr().err
    assert code == 1 and "--open-run names a run of azureml://" in one_line(err)
    code = main(["--open-run", "https://ml.azure.com/runs/x"])
    assert code == 1 and "Azure ML studio" in one_line(capsys.readouterr().err)
