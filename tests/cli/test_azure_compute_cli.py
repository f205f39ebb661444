"""``studio compute …`` and ``studio job submit`` on an Azure ML workspace, on the emulator, in real processes as a
user runs them (signed in headlessly by the fake ``az``): the list with kinds, states, sizes and nodes; start, stop,
create and delete with their states; refusals as one line and a non-zero exit; a script submitted to a cluster and
its log streamed until it ends.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.azure_fixtures import AzureService
from tests.cli.test_azure_cli import one_line, studio

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")


def test_compute_list_start_stop_create_delete(azure_env: AzureService) -> None:
    ws = ("--workspace", azure_env.location)
    listed = studio("compute", "list", *ws, "--output", "json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["ci1"]["kind"] == "instance" and rows["ci1"]["state"] == "Stopped"
    assert rows["ci1"]["actions"] == ["delete", "start"] and rows["ci1"]["idle_shutdown_minutes"] == 60
    assert rows["cpu-cluster"]["kind"] == "cluster" and rows["cpu-cluster"]["nodes"]["max_nodes"] == 4
    assert rows["cpu-cluster"]["nodes_text"] == "2 of 0-4 (1 idle, 1 running)"
    assert rows["ci-running"]["schedules"] and rows["ci-running"]["running_for"]

    table = studio("compute", "list", *ws)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:5] == ["NAME", "KIND", "STATE", "VM_SIZE", "NODES"]
    cluster = next(line for line in lines if line.startswith("cpu-cluster"))
    assert "cluster" in cluster and "2 of 0-4 (1 idle, 1 running)" in cluster and "Steady" in cluster

    started = studio("compute", "start", "ci1", *ws, "--output", "json")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["state"] == "Running" and azure_env.compute.state_of("ci1") == "Running"

    refused = studio("compute", "start", "ci1", *ws)
    assert refused.returncode == 1 and refused.stdout == ""
    assert one_line(refused.stderr) == "studio: error: ci1 is already running."

    azure_env.compute.operation_s = 60
    stopping = studio("compute", "stop", "ci1", "--no-wait", *ws, "--output", "json")
    assert stopping.returncode == 0, stopping.stderr
    assert json.loads(stopping.stdout)["state"] == "Stopping"
    busy = studio("compute", "restart", "ci1", *ws)
    assert busy.returncode == 1 and "ci1 is Stopping; restart it when it is Running." in one_line(busy.stderr)
    azure_env.compute.finish_operations()
    azure_env.compute.operation_s = 0.3

    bad = studio("compute", "create", "x_bad", *ws)
    assert bad.returncode == 1 and "cannot name an Azure ML compute instance" in one_line(bad.stderr)
    created = studio(
        "compute", "create", "ci-cli", "--vm-size", "Standard_DS2_v2", "--idle-shutdown-minutes", "30", *ws
    )
    assert created.returncode == 0, created.stderr
    fields = dict(line.split(None, 1) for line in created.stdout.splitlines() if len(line.split(None, 1)) == 2)
    assert fields["state"] == "Running" and fields["idle_shutdown_minutes"] == "30"
    deleted = studio("compute", "delete", "ci-cli", *ws, "--output", "json")
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(deleted.stdout) == {"name": "ci-cli", "deleted": True}
    assert azure_env.compute.state_of("ci-cli") is None
    assert [op for _, op in azure_env.compute.operations] == ["start", "stop", "create", "delete"]


def test_job_submit_to_a_cluster_and_stream_its_log(azure_env: AzureService, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(
        textwrap.dedent(
            """
            import sys
            print("args:", " ".join(sys.argv[1:]), flush=True)
            print("training done", flush=True)
            """
        ),
        encoding="utf-8",
    )
    experiment = f"cli-submit-{uuid.uuid4().hex[:6]}"
    ws = ("--workspace", azure_env.location)
    submitted = studio(
        "job", "submit", *ws, "--compute", "cpu-cluster", "--experiment", experiment, "--name", "from the cli",
        "--tag", "team=vision", "--stream", str(source), "train.py", "--lr", "0.1",
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    first, *log = submitted.stdout.splitlines()
    assert first.startswith("Submitted ")
    run_id = first.split()[1]
    assert "args: --lr 0.1" in log and "training done" in log
    job = azure_env.submissions.jobs[run_id]
    assert job.compute == "cpu-cluster" and job.experiment == experiment
    assert job.body["properties"]["displayName"] == "from the cli"
    assert job.body["properties"]["tags"]["team"] == "vision"
    shown = studio("job", "show", run_id, *ws, "--output", "json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["status"] == "Completed"

    refused = studio("job", "submit", *ws, "--compute", "gpu-nope", "--experiment", experiment, str(source), "train.py")
    assert refused.returncode == 1 and "no compute named gpu-nope" in one_line(refused.stderr)
    environment = studio(
        "job", "submit", *ws, "--compute", "cpu-cluster", "--experiment", experiment,
        "--environment", "sklearn", str(source), "train.py",
    )  # fmt: skip
    assert environment.returncode == 1 and "azureml:<name>@latest" in one_line(environment.stderr)
    assert list(azure_env.submissions.jobs) == [run_id]  # nothing else was submitted
