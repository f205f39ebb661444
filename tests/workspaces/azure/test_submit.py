"""Submitting scripts to Azure ML through the backend, against the emulator (real azure-ai-ml uploading the code to
Azurite, ``PUT jobs/{name}``, a runner that really runs the command). What a user relies on: the job runs on the
instance or cluster named, with its arguments, environment, display name and tags, and is then an ordinary run of
the workspace (status to Completed, its log readable); what the service would refuse is refused before anything
is uploaded.
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from studio.core.errors import NotFoundError, RunStateError, StudioError
from studio.core.status import RunStatus
from tests.waiting import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

TRAIN = """
    import sys
    print("args:", " ".join(sys.argv[1:]), flush=True)
    print("training done", flush=True)
"""


@pytest.fixture
def backend(azure_env: Any) -> Iterator[Any]:
    from studio.workspaces.azure.backend import AzureBackend
    from studio.workspaces.azure.cloud import load_cloud

    opened = AzureBackend(
        azure_env.credential(),
        azure_env.subscription_id,
        azure_env.resource_group,
        azure_env.workspace_name,
        load_cloud("AzureCloud"),
        location=azure_env.location,
    )
    azure_env.clear_log()
    yield opened
    opened.close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A source folder with the script, a data file left out by .amlignore, and a helper module."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "train.py").write_text(textwrap.dedent(TRAIN), encoding="utf-8")
    (folder / "helper.py").write_text("VALUE = 1\n", encoding="utf-8")
    (folder / "data.bin").write_bytes(b"x" * 1000)
    (folder / ".amlignore").write_text("data.bin\n", encoding="utf-8")
    return folder


def experiment() -> str:
    return f"submit-{uuid.uuid4().hex[:8]}"


def finished(backend: Any, run_id: str) -> Any:
    """The run once the backend reports it ended (as the window follows it)."""
    return wait_until(
        lambda: info if (info := backend.get_run(run_id)).status.is_terminal else None,
        f"run {run_id} ends",
        timeout=60,
        interval=0.2,
    )


def log_of(backend: Any, run_id: str) -> str:
    return bytes(backend.read_file_range(run_id, "user_logs/std_log.txt", 0, 1 << 20)).decode()


def uploads_started(azure_env: Any) -> list[Any]:
    return [r for r in azure_env.requests() if r.path.endswith("/startPendingUpload") or "/jobs/" in r.path]


def test_submit_to_a_cluster_runs_to_completed_with_its_log(backend: Any, azure_env: Any, source: Path) -> None:
    name = experiment()
    run_id = backend.submit_script(
        name,
        str(source),
        "train.py",
        ["--lr", 0.5, "two words"],
        "cpu-cluster",
        display_name="first try",
        tags={"team": "vision"},
    )
    submitted = azure_env.submissions.jobs[run_id]
    assert submitted.compute == "cpu-cluster" and submitted.experiment == name
    properties = submitted.body["properties"]
    assert properties["displayName"] == "first try" and properties["tags"]["team"] == "vision"
    assert properties["environmentId"].startswith("azureml:AzureML-sklearn-1.5")
    assert properties["command"] == "python train.py --lr 0.5 'two words'"
    uploaded = [blob for blobs in azure_env.submissions.uploads.values() for blob in blobs]
    assert any(b.endswith("train.py") for b in uploaded) and not any(b.endswith("data.bin") for b in uploaded)
    info = finished(backend, run_id)
    assert info.status is RunStatus.COMPLETED and info.experiment == name and info.display_name == "first try"
    log = log_of(backend, run_id)
    assert "args: --lr 0.5 two words" in log and "training done" in log
    assert backend.get_run_details(run_id)["target"] == "cpu-cluster"


def test_submit_to_a_running_instance_with_a_conda_file(
    backend: Any, azure_env: Any, source: Path, tmp_path: Path
) -> None:
    conda = tmp_path / "env.yml"
    conda.write_text("name: train\ndependencies:\n  - python=3.10\n  - pip\n  - pip:\n    - numpy\n", encoding="utf-8")
    run_id = backend.submit_script(
        experiment(), str(source), "train.py", [], "ci-running", environment={"conda_file": str(conda)}
    )
    assert azure_env.submissions.jobs[run_id].compute == "ci-running"
    assert [r for r in azure_env.requests() if r.method == "PUT" and "/environments/" in r.path]
    assert finished(backend, run_id).status is RunStatus.COMPLETED
    assert "training done" in log_of(backend, run_id)


def test_refusals_come_before_any_upload(backend: Any, azure_env: Any, source: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.py"
    outside.write_text("print(1)\n", encoding="utf-8")
    name = experiment()
    cases: list[tuple[type[BaseException], str, dict[str, Any]]] = [
        (NotFoundError, "does not exist", {"source_directory": str(tmp_path / "nowhere")}),
        (NotFoundError, "missing.py is not in", {"script": "missing.py"}),
        (ValueError, "", {"script": "../elsewhere.py"}),
        (ValueError, "", {"experiment": "exp/5"}),
        (NotFoundError, "no compute named gpu-nope", {"compute": "gpu-nope"}),
        (ValueError, "azureml:<name>@latest", {"environment": {"name": "AzureML-sklearn-1.5"}}),
        (NotFoundError, "conda file", {"environment": {"conda_file": str(tmp_path / "missing.yml")}}),
        (TypeError, "text value", {"tags": {"epochs": 3}}),
        (TypeError, "script arguments", {"arguments": [object()]}),
    ]
    for error, words, change in cases:
        call: dict[str, Any] = {
            "experiment": name,
            "source_directory": str(source),
            "script": "train.py",
            "arguments": [],
            "compute": "cpu-cluster",
            **change,
        }
        with pytest.raises(error) as refused:
            backend.submit_script(
                call.pop("experiment"),
                call.pop("source_directory"),
                call.pop("script"),
                call.pop("arguments"),
                call.pop("compute"),
                **call,
            )
        assert words in str(refused.value), (change, str(refused.value))
    assert uploads_started(azure_env) == [] and azure_env.submissions.jobs == {}


def test_a_compute_being_deleted_or_failed_is_refused(backend: Any, azure_env: Any, source: Path) -> None:
    azure_env.compute.set_state("ci1", "CreateFailed")
    with pytest.raises(RunStateError, match="ci1 is Create failed"):
        backend.submit_script(experiment(), str(source), "train.py", [], "ci1")
    assert uploads_started(azure_env) == []


def test_a_job_for_a_stopped_instance_waits_for_it(backend: Any, azure_env: Any, source: Path) -> None:
    run_id = backend.submit_script(experiment(), str(source), "train.py", [], "ci1")
    queued = backend.get_run(run_id)
    assert not queued.status.is_terminal
    backend.start_compute("ci1", wait=True)
    assert finished(backend, run_id).status is RunStatus.COMPLETED


def test_the_service_refusing_says_so(backend: Any, azure_env: Any, source: Path) -> None:
    azure_env.fail(r"/jobs/", 400, message="The job's compute quota is used up.")
    with pytest.raises(StudioError, match="quota"):
        backend.submit_script(experiment(), str(source), "train.py", [], "cpu-cluster")
