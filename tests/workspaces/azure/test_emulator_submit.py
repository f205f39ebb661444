"""Job submission against the emulator with the REAL azure-ai-ml SDK: the code goes to Azurite, the job is created,
shows in ARM, MLflow and run history, really runs, and ends Completed / Failed / Canceled with its log."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.azure_fixtures import AzureService
from tests.waiting import wait_until

COMMAND = "python train.py --epochs 3"
ENVIRONMENT = "azureml:AzureML-sklearn-1.5@latest"
TRAIN = """\
import sys
print("training with", sys.argv[1:])
print("epoch 3 done", file=sys.stderr)
"""


def _client(env: AzureService) -> Any:
    from azure.ai.ml import MLClient

    return MLClient(env.credential(), env.subscription_id, env.resource_group, env.workspace_name, cloud="AzureCloud")


def _source(tmp_path: Path, script: str = TRAIN, name: str = "src") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "train.py").write_text(textwrap.dedent(script))
    return folder


def _submit(env: AzureService, source: Path, compute: str = "cpu-cluster", **kwargs: Any) -> Any:
    from azure.ai.ml import command

    options: dict[str, Any] = {
        "command": COMMAND,
        "environment": ENVIRONMENT,
        "experiment_name": "exp",
        "display_name": "my run",
        "tags": {"k": "v"},
    }
    options.update(kwargs)
    job = command(code=str(source), compute=compute, **options)
    return _client(env).jobs.create_or_update(job)


def _log(env: AzureService, name: str) -> str:
    blob = env.container().get_blob_client(f"ExperimentRun/dcid.{name}/user_logs/std_log.txt")
    try:
        return bytes(blob.download_blob().readall()).decode()
    except Exception:  # not written yet
        return ""


def _mlflow(env: AzureService, op: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
    """Azure's MLflow endpoint (through the proxy, with a token), as the MLflow client calls it."""
    url = f"{env.azure_mlflow_url}/api/2.0/mlflow/{op}"
    headers = {"Authorization": "Bearer studio-test-mlflow"}
    answer = (
        requests.post(url, json=body, headers=headers, timeout=30)
        if body is not None
        else requests.get(url, params=params, headers=headers, timeout=30)
    )
    answer.raise_for_status()
    return answer.json()


def _status(env: AzureService, name: str) -> str:
    status = _client(env).jobs.get(name).status
    return str(getattr(status, "value", status))


def test_submit_to_a_cluster_runs_the_script_and_the_job_shows_everywhere(
    azure_env: AzureService, tmp_path: Path
) -> None:
    created = _submit(azure_env, _source(tmp_path))
    assert created.name and created.status == "Starting"  # what the service answers the PUT
    assert azure_env.submissions.jobs[created.name].body["properties"]["jobType"] == "Command"

    assert azure_env.submissions.wait_done(created.name, 60) == "Completed"
    job = _client(azure_env).jobs.get(created.name)
    assert job.status == "Completed"
    assert job.command == COMMAND
    assert job.compute == "cpu-cluster"
    assert job.environment == ENVIRONMENT
    assert "/codes/" in job.code
    assert job.display_name == "my run"
    assert job.experiment_name == "exp"
    assert job.tags == {"k": "v"}

    log = _log(azure_env, created.name)
    assert "training with ['--epochs', '3']" in log
    assert "epoch 3 done" in log

    run = _mlflow(azure_env, "runs/get", params={"run_id": created.name})["run"]
    assert run["info"]["run_id"] == created.name
    assert run["info"]["status"] == "FINISHED"
    assert run["info"]["run_name"] == "my run"
    assert int(run["info"]["end_time"]) >= int(run["info"]["start_time"]) > 0
    assert {"key": "k", "value": "v"} in run["data"]["tags"]
    experiment = _mlflow(azure_env, "experiments/get-by-name", params={"experiment_name": "exp"})["experiment"]
    found = _mlflow(azure_env, "runs/search", body={"experiment_ids": [experiment["experiment_id"]]})["runs"]
    assert created.name in [r["info"]["run_id"] for r in found]

    listed = requests.get(
        f"https://management.azure.com{azure_env.workspace_arm_id}/jobs",
        params={"api-version": "2025-01-01-preview"},
        headers={"Authorization": "Bearer studio-test-list"},
        timeout=30,
    ).json()["value"]
    assert any(j["name"] == created.name and j["properties"]["command"] == COMMAND for j in listed)

    history = requests.get(
        f"https://eastus.api.azureml.ms/history/v1.0{azure_env.workspace_arm_id}/runs/{created.name}",
        headers={"Authorization": "Bearer studio-test-history"},
        timeout=30,
    ).json()
    assert history["status"] == "Completed" and history["displayName"] == "my run"

    uploaded = [blobs for blobs in azure_env.submissions.uploads.values() if "src/train.py" in blobs]
    assert uploaded and uploaded[0]["src/train.py"] == TRAIN.encode()
    assert azure_env.emulator.unknown == []


def test_submit_to_a_running_instance_waits_while_held(azure_env: AzureService, tmp_path: Path) -> None:
    azure_env.submissions.hold(True)
    created = _submit(azure_env, _source(tmp_path), compute="ci-running")
    wait_until(lambda: _status(azure_env, created.name) == "Queued", "the held job reads Queued")
    assert not azure_env.submissions.jobs[created.name].done.is_set()
    azure_env.submissions.hold(False)
    assert azure_env.submissions.wait_done(created.name, 60) == "Completed"
    statuses = azure_env.submissions.jobs[created.name].statuses
    assert statuses == ["Starting", "Preparing", "Queued", "Running", "Finalizing", "Completed"]
    assert _client(azure_env).jobs.get(created.name).compute == "ci-running"
    assert "training with" in _log(azure_env, created.name)
    assert azure_env.emulator.unknown == []


def test_failing_script_fails_the_job_with_its_traceback(azure_env: AzureService, tmp_path: Path) -> None:
    created = _submit(azure_env, _source(tmp_path, "print('about to fail')\nraise SystemExit('bad data')\n"))
    assert azure_env.submissions.wait_done(created.name, 60) == "Failed"
    assert _status(azure_env, created.name) == "Failed"
    log = _log(azure_env, created.name)
    assert "about to fail" in log and "bad data" in log
    run = _mlflow(azure_env, "runs/get", params={"run_id": created.name})["run"]
    assert run["info"]["status"] == "FAILED"
    assert azure_env.emulator.unknown == []


def test_cancel_kills_the_process_and_the_job_ends_canceled(azure_env: AzureService, tmp_path: Path) -> None:
    script = """\
    import time
    print("started", flush=True)
    while True:
        time.sleep(0.05)
    """
    created = _submit(azure_env, _source(tmp_path, script))
    wait_until(lambda: "started" in _log(azure_env, created.name), "the script's first line in std_log.txt")
    assert _status(azure_env, created.name) == "Running"
    _client(azure_env).jobs.begin_cancel(created.name).result()
    assert azure_env.submissions.wait_done(created.name, 30) == "Canceled"
    assert azure_env.submissions.jobs[created.name].process.poll() is not None
    wait_until(lambda: _status(azure_env, created.name) == "Canceled", "the job reads Canceled")
    wait_until(
        lambda: _mlflow(azure_env, "runs/get", params={"run_id": created.name})["run"]["info"]["status"] == "KILLED",
        "the MLflow run is KILLED",
    )
    assert azure_env.emulator.unknown == []


def test_log_grows_while_the_job_runs(azure_env: AzureService, tmp_path: Path) -> None:
    script = """\
    import os
    import time
    print("first", flush=True)
    while not os.path.exists("go"):
        time.sleep(0.02)
    print("second", flush=True)
    """
    created = _submit(azure_env, _source(tmp_path, script))
    wait_until(lambda: "first" in _log(azure_env, created.name), "the first line while the job runs")
    assert "second" not in _log(azure_env, created.name)
    assert _status(azure_env, created.name) == "Running"
    workdir = Path(azure_env.submissions.jobs[created.name].workdir)
    (workdir / "go").write_text("")
    assert azure_env.submissions.wait_done(created.name, 60) == "Completed"
    assert "first\nsecond" in _log(azure_env, created.name)


def test_unknown_compute_is_refused_with_the_service_message(azure_env: AzureService, tmp_path: Path) -> None:
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as raised:
        _submit(azure_env, _source(tmp_path), compute="no-such-cluster")
    assert raised.value.status_code == 400
    assert "Compute 'no-such-cluster' was not found" in str(raised.value)
    with pytest.raises(HttpResponseError) as raised:
        _submit(azure_env, _source(tmp_path, name="again"), environment="azureml:AzureML-sklearn-1.5:999")
    assert raised.value.status_code == 400
    assert "Environment azureml:AzureML-sklearn-1.5:999 was not found" in str(raised.value)
    assert azure_env.submissions.jobs == {}
    assert azure_env.emulator.unknown == []


def test_conda_file_environment_and_environment_list(azure_env: AzureService, tmp_path: Path) -> None:
    from azure.ai.ml.entities import Environment

    conda = tmp_path / "env.yml"
    conda.write_text("name: train\ndependencies:\n  - python=3.11\n  - pip:\n    - scikit-learn\n")
    environment = Environment(conda_file=str(conda), image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04")
    created = _submit(azure_env, _source(tmp_path), environment=environment)
    assert azure_env.submissions.wait_done(created.name, 60) == "Completed"
    job = _client(azure_env).jobs.get(created.name)
    assert "CliV2AnonymousEnvironment" in str(job.environment)

    azure_env.submissions.add_environment("team-env", "2")
    azure_env.submissions.add_environment("team-env", "3", description="The team's environment")
    client = _client(azure_env)
    names = {e.name for e in client.environments.list()}
    assert names == {"studio-train-env", "team-env"}  # registered ones: not curated, not anonymous
    assert client.environments.get("AzureML-sklearn-1.5", label="latest").version == "19"
    assert client.environments.get("team-env", label="latest").version == "3"
    assert client.environments.get("team-env", version="2").version == "2"
    assert [e.version for e in client.environments.list(name="team-env")] == ["3", "2"]
    assert azure_env.emulator.unknown == []


def test_the_same_snapshot_is_uploaded_once(azure_env: AzureService, tmp_path: Path) -> None:
    source = _source(tmp_path)
    first = _submit(azure_env, source)
    second = _submit(azure_env, source)
    assert first.name != second.name
    jobs = azure_env.submissions.jobs
    assert jobs[first.name].code_id == jobs[second.name].code_id
    assert len(azure_env.submissions.uploads) == 1
    for name in (first.name, second.name):
        assert azure_env.submissions.wait_done(name, 60) == "Completed"
    assert azure_env.emulator.unknown == []


def test_a_stopped_instance_keeps_the_job_queued_until_it_runs(azure_env: AzureService, tmp_path: Path) -> None:
    created = _submit(azure_env, _source(tmp_path), compute="ci1")
    submission = azure_env.submissions.jobs[created.name]
    wait_until(lambda: "Waiting for compute instance ci1" in (submission.status_message or ""), "the job waits for ci1")
    assert _status(azure_env, created.name) == "Queued"
    assert not submission.done.is_set()
    _client(azure_env).compute.begin_start("ci1").result()
    assert azure_env.submissions.wait_done(created.name, 60) == "Completed"
    assert "training with" in _log(azure_env, created.name)
    assert azure_env.emulator.unknown == []


def test_a_queued_job_on_a_stopped_instance_can_be_canceled(azure_env: AzureService, tmp_path: Path) -> None:
    created = _submit(azure_env, _source(tmp_path), compute="ci1")
    submission = azure_env.submissions.jobs[created.name]
    wait_until(lambda: "Waiting for compute instance ci1" in (submission.status_message or ""), "the job waits for ci1")
    _client(azure_env).jobs.begin_cancel(created.name).result()
    assert azure_env.submissions.wait_done(created.name, 30) == "Canceled"
    assert submission.process is None
    assert azure_env.emulator.unknown == []


def test_an_instance_reads_job_running_while_the_job_runs(azure_env: AzureService, tmp_path: Path) -> None:
    script = """\
    import os
    import time
    print("first", flush=True)
    while not os.path.exists("go"):
        time.sleep(0.02)
    """
    created = _submit(azure_env, _source(tmp_path, script), compute="ci-running")
    wait_until(lambda: "first" in _log(azure_env, created.name), "the job runs on ci-running")
    assert azure_env.compute.state_of("ci-running") == "JobRunning"
    assert _client(azure_env).compute.get("ci-running").state == "JobRunning"
    (Path(azure_env.submissions.jobs[created.name].workdir) / "go").write_text("")
    assert azure_env.submissions.wait_done(created.name, 60) == "Completed"
    assert azure_env.compute.state_of("ci-running") == "Running"


def test_failed_job_details_carry_the_exit_code(azure_env: AzureService, tmp_path: Path) -> None:
    created = _submit(azure_env, _source(tmp_path, "raise SystemExit(3)\n"))
    assert azure_env.submissions.wait_done(created.name, 60) == "Failed"
    details = requests.get(
        f"https://eastus.api.azureml.ms/history/v1.0{azure_env.workspace_arm_id}/runs/{created.name}/details",
        headers={"Authorization": "Bearer studio-test-history"},
        timeout=30,
    ).json()
    assert details["status"] == "Failed"
    assert details["error"]["error"]["message"] == "Execution failed. User process 'python' exited with status code 3."
    assert details["target"] == "cpu-cluster"


def test_answers_fit_the_sdk_models(azure_env: AzureService, tmp_path: Path) -> None:
    from azure.ai.ml._restclient.arm_ml_service import models as arm

    from tests.azure_emulator.shapes import unknown_fields

    created = _submit(azure_env, _source(tmp_path))
    job = azure_env.submissions.jobs[created.name]
    code_id = str(job.code_id)
    ws = azure_env.workspace_arm_id
    headers = {"Authorization": "Bearer studio-test-shapes"}

    def get(path: str, **params: str) -> Any:
        answer = requests.get(
            f"https://management.azure.com{path}",
            params={"api-version": "2023-04-01", **params},
            headers=headers,
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    code = azure_env.submissions.codes[tuple(code_id.split("/codes/")[1].split("/versions/"))]  # type: ignore[index]
    answers: list[tuple[Any, str, Any]] = [
        (arm.CodeVersion, "code version", get(code_id)),
        (arm.JobBase, "job", get(f"{ws}/jobs/{created.name}", **{"api-version": "2025-01-01-preview"})),
    ]
    answers += [
        (arm.CodeVersion, "hash lookup", c) for c in get(f"{ws}/codes/x/versions", hash=code.content_hash)["value"]
    ]
    answers += [(arm.EnvironmentContainer, "environment", e) for e in get(f"{ws}/environments")["value"]]
    answers += [
        (arm.EnvironmentVersion, "environment version", e)
        for e in get(f"{ws}/environments/AzureML-sklearn-1.5/versions", **{"$top": "1"})["value"]
    ]
    pending = requests.post(
        f"https://management.azure.com{ws}/codes/{uuid.uuid4()}/versions/1/startPendingUpload",
        params={"api-version": "2023-04-01"},
        json={"pendingUploadType": "TemporaryBlobReference"},
        headers=headers,
        timeout=30,
    )
    answers.append((arm.PendingUploadResponseDto, "startPendingUpload", pending.json()))
    problems = {what: unknown_fields(model, body) for model, what, body in answers}
    bad = {what: found for what, found in problems.items() if found}
    assert not bad, "\n".join(f"{w}: {p}" for w, ps in bad.items() for p in ps)
    assert len(get(f"{ws}/codes/x/versions", hash=code.content_hash)["value"]) == 1
    azure_env.submissions.wait_done(created.name, 60)
