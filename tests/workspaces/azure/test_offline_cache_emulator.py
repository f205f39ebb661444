"""The offline cache in front of the real Azure backend, on the emulator: reopening paints with no request answered,
and with the network gone (the proxy refuses) what was cached is still browsable and the rest says why."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from studio.core.errors import StudioError
from studio.core.status import RunStatus
from studio.workspaces.azure.offline_cache import open_cached
from tests.waiting import wait_until


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def job(azure_env: Any) -> tuple[str, str]:
    """A finished job with a 20-point metric, in an experiment of its own: (experiment, job name)."""
    from mlflow import MlflowClient

    client = MlflowClient(azure_env.mlflow_url)
    experiment = f"cache-{uuid.uuid4().hex[:8]}"
    run = client.create_run(client.create_experiment(experiment), run_name="done").info.run_id
    for step in range(20):
        client.log_metric(run, "loss", 1 / (1 + step), step=step)
    client.set_terminated(run)
    return experiment, run


def test_an_azure_workspace_reopens_from_its_cache(azure_env: Any, job: tuple[str, str], tmp_path: Path) -> None:
    from studio.workspaces.azure.opener import AzureWorkspaceOpener

    experiment, run_id = job
    location = azure_env.location

    def open_inner() -> Any:
        return AzureWorkspaceOpener().open_uncached(location)

    first = open_cached(location, open_inner, root=tmp_path)
    try:
        assert experiment in [e.name for e in first.list_experiments()]
        assert [r.id for r in first.list_runs(experiment).runs] == [run_id]
        assert first.get_run(run_id).status == RunStatus.COMPLETED
        assert first.get_run_details(run_id)
        assert len(first.get_series(run_id, "loss")) == 20
    finally:
        first.close()

    azure_env.hang(".", times=1000)  # nothing answers until the faults are cleared
    started = time.time()
    again = open_cached(location, open_inner, root=tmp_path)
    try:
        assert experiment in [e.name for e in again.list_experiments()]
        page = again.list_runs(experiment)
        assert [r.id for r in page.runs] == [run_id] and page.note.startswith("Cached ")
        assert again.get_run(run_id).status == RunStatus.COMPLETED
        assert len(again.get_series(run_id, "loss")) == 20
        assert again.info().note.startswith("Cached ")
        assert [r for r in azure_env.requests() if r.at >= started] == []  # painted before any answer
        azure_env.emulator.faults.clear()  # the network answers again: the refresh behind the paint completes
        wait_until(lambda: again.info().note == "", "the refresh after the cached paint", timeout=60)
        assert any(r.path.endswith("/runs/search") for r in azure_env.requests())
    finally:
        azure_env.emulator.faults.clear()
        again.close()


def test_an_azure_workspace_without_a_network_shows_its_cache(
    azure_env: Any, job: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.workspaces.azure.opener import AzureWorkspaceOpener

    experiment, run_id = job
    location = azure_env.location

    def open_inner() -> Any:
        return AzureWorkspaceOpener().open_uncached(location)

    first = open_cached(location, open_inner, root=tmp_path)
    try:
        first.list_experiments()
        first.list_runs(experiment)
        first.get_run(run_id)
        first.get_series(run_id, "loss")
    finally:
        first.close()

    for name in ("HTTPS_PROXY", "https_proxy"):  # the proxy is the only way out: the network is gone
        monkeypatch.setenv(name, f"http://127.0.0.1:{_closed_port()}")
    offline = open_cached(location, open_inner, root=tmp_path)
    try:
        assert [r.id for r in offline.list_runs(experiment).runs] == [run_id]
        assert len(offline.get_series(run_id, "loss")) == 20
        wait_until(lambda: offline.info().offline, "the offline state", timeout=120)
        assert offline.info().note.startswith("Offline: showing the cache of ")
        with pytest.raises(StudioError, match=r"^Cannot reach Azure \(") as caught:
            offline.list_runs(f"{experiment}-never-listed")
        assert "Traceback" not in str(caught.value) and "\n" not in str(caught.value)
    finally:
        offline.close()
