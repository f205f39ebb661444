"""tests/workspace_content.CONTENT in an Azure ML workspace on the emulator, for the contract suite.

The content is logged with MLflow's own client into a private ``mlflow server`` (``mlflow_content.build_mlflow``,
as the MLflow kind's fixture does), which a private emulator of its own fronts (the session's emulator shares
one mlflow server with every other Azure test, and the contract needs a workspace holding the content alone).
Each run's files go to Azurite's artifact container under ``ExperimentRun/dcid.<run id>/``, where Azure keeps a
job's outputs: the content's files as they are, and the tables and images MLflow's client wrote as artifacts.
The backend is an ``AzureBackend`` for the emulator's workspace, reached through the private emulator's proxy.

``SmallContent`` is the backend tests' own experiment in the session's shared workspace.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from studio.core.types import MetricKind
from tests.workspace_content import CONTENT, KindTraits, WorkspaceContent

#: Azure holds what MLflow holds (metrics are numbers; tables and images are files), and files with any name
#: (blob storage takes "#"); runs have no properties (job properties are Azure's own, shown in the details) and
#: the content records no error message (Azure's error is the service's, not the script's).
AZURE_TRAITS = KindTraits(
    has_properties=False,
    records_errors=False,
    metric_kinds=frozenset({MetricKind.SCALAR, MetricKind.TABLE, MetricKind.IMAGE}),
    metric_file_folders=("images/", "tables/"),
)
METRIC_FOLDERS = ("tables", "images")


@dataclass
class PrivateAzure:
    """A private emulator, proxy and mlflow server, sharing the session's certificates and Azurite."""

    proxy_url: str
    mlflow_url: str
    ca_path: Path
    env: dict[str, str] = field(default_factory=dict)


@contextmanager
def private_azure(azure_service: Any, root: Path) -> Iterator[PrivateAzure]:
    """Start an emulator (same routes, same identifiers as the session's) in front of a new mlflow server."""
    from tests.azure_emulator.proxy import ConnectProxy, blob_or_emulator
    from tests.azure_emulator.server import Emulator
    from tests.azure_emulator.state import EmulatorState
    from tests.azure_emulator.upstream import MlflowUpstream
    from tests.azure_fixtures import OPTIONAL_ROUTE_MODULES, ROUTE_MODULES
    from tests.mlflow_server import launch_mlflow_server, wait_until_healthy, warm_workers

    server = launch_mlflow_server(root / "mlflow", workers=2)
    emulator = proxy = None
    try:
        wait_until_healthy(server)
        warm_workers(server.url)
        state = EmulatorState(
            azure_service.tenant_id,
            azure_service.subscription_id,
            azure_service.resource_group,
            azure_service.workspace_name,
        )
        emulator = Emulator(azure_service.certs.emulator)
        emulator.state = state  # type: ignore[attr-defined]  # the route modules read it
        url = server.url
        emulator.upstream = MlflowUpstream(lambda: url)  # type: ignore[attr-defined]
        for module in ROUTE_MODULES + OPTIONAL_ROUTE_MODULES:
            emulator.mount(module)
        proxy = ConnectProxy(blob_or_emulator(emulator.port, azure_service.azurite.port))
        yield PrivateAzure(proxy.url, server.url, azure_service.ca_path)
    finally:
        if proxy is not None:
            proxy.stop()
        if emulator is not None:
            emulator.stop()
        server.stop()


def azure_environment(proxy_url: str, ca_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decision 1's environment pointed at ``proxy_url`` (as ``azure_env`` does for the session's emulator)."""
    import os

    from tests.azure_fixtures import CLEARED_ENV, CLEARED_ENV_PREFIXES

    for name in list(os.environ):
        if name.startswith(CLEARED_ENV_PREFIXES) or name in CLEARED_ENV:
            monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, proxy_url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(ca_path))
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD")  # restored (removed) at the end: MLClient writes it


def build_azure(
    azure_service: Any, mlflow_url: str, content: WorkspaceContent = CONTENT
) -> tuple[Any, dict[str, str], float]:
    """Log ``content`` (mlflow server at ``mlflow_url``), copy each run's files to Azurite; the backend and ids.

    Returns (AzureBackend, ids by display name, seconds the content took). The environment must already point at
    the emulator fronting ``mlflow_url``.
    """
    from mlflow import MlflowClient

    from studio.workspaces.azure.backend import AzureBackend
    from studio.workspaces.azure.cloud import load_cloud
    from tests.workspaces.mlflow_content import build_mlflow

    started = time.monotonic()
    mlflow_backend, ids = build_mlflow(mlflow_url, content)
    mlflow_backend.close()
    client = MlflowClient(mlflow_url)
    container = azure_service.container()
    with tempfile.TemporaryDirectory(prefix="azure-content-") as scratch:
        for spec in content.runs:
            run_id = ids[spec.name]
            root = f"ExperimentRun/dcid.{run_id}/"
            for path, data in AZURE_TRAITS.files_of(spec).items():
                container.upload_blob(root + path, data, overwrite=True)
            if spec.tables or spec.images:
                local = Path(scratch) / run_id
                local.mkdir()
                for folder in METRIC_FOLDERS:
                    try:
                        downloaded = Path(client.download_artifacts(run_id, folder, str(local)))
                    except Exception:  # the run has no such folder
                        continue
                    for file in sorted(p for p in downloaded.rglob("*") if p.is_file()):
                        name = f"{folder}/{file.relative_to(downloaded).as_posix()}"
                        container.upload_blob(root + name, file.read_bytes(), overwrite=True)
    backend = AzureBackend(
        azure_service.credential(),
        azure_service.subscription_id,
        azure_service.resource_group,
        azure_service.workspace_name,
        load_cloud("AzureCloud"),
        location=azure_service.location,
    )
    return backend, ids, time.monotonic() - started


@dataclass
class SmallContent:
    """The backend tests' experiment in the shared workspace: run ids by name."""

    experiment: str
    ids: dict[str, str]
    sweep_children: list[str]
    """The sweep's children's names, oldest first."""
    long_points: int

    def id(self, name: str) -> str:
        """The run id of ``name``."""
        return self.ids[name]


SMALL_TOP = ["first", "second", "third", "fourth", "fifth", "sweep", "live"]
SMALL_ACC = {"first": 0.5, "second": 0.9, "third": 0.1, "fourth": 0.7, "fifth": 0.3}
CHILDREN = 25
LONG_POINTS = 2_500


def build_small(mlflow_url: str) -> SmallContent:
    """A new experiment: five finished runs with ``acc`` (one with a 2,500-point ``long`` series), a sweep with 25
    children, and a running run; runs start a second apart, oldest first."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(mlflow_url)
    name = f"backend-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(name)
    base = int(time.time() * 1000) - 600_000
    ids: dict[str, str] = {}
    for index, run_name in enumerate(SMALL_TOP):
        run = client.create_run(experiment_id, run_name=run_name, start_time=base + index * 1000)
        ids[run_name] = run.info.run_id
        if run_name in SMALL_ACC:
            client.log_metric(run.info.run_id, "acc", SMALL_ACC[run_name], timestamp=base + index * 1000, step=0)
    first = ids["first"]
    points = [Metric("long", float(i), base + i, i) for i in range(LONG_POINTS)]
    for at in range(0, LONG_POINTS, 1000):
        client.log_batch(first, metrics=points[at : at + 1000])
    children = [f"trial-{i:02d}" for i in range(CHILDREN)]
    for index, child in enumerate(children):
        run = client.create_run(
            experiment_id,
            run_name=child,
            start_time=base + 10_000 + index * 100,
            tags={"mlflow.parentRunId": ids["sweep"]},
        )
        ids[child] = run.info.run_id
        client.set_terminated(run.info.run_id, end_time=base + 20_000 + index)
    for index, run_name in enumerate(SMALL_TOP):
        if run_name != "live":
            client.set_terminated(ids[run_name], end_time=base + 30_000 + index)
    return SmallContent(name, ids, children, LONG_POINTS)
