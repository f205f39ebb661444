"""One real ``mlflow server`` for the MLflow tests (session scope), filled by MLflow's own client.

A pytest plugin (tests/conftest.py lists it), so the REST tests, the backend's and the window's share one
server; it starts only when a test asks for it, and such a test is skipped where mlflow is not installed.

Setup: schema in-process (~1.5 s), then the server starts while the store is filled in-process (the two run
side by side on the two cores), then artifacts are logged through the server and its two workers are warmed.
The times are printed with ``-s`` and kept in ``MlflowFixture`` for the report.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fault_proxy import FaultProxy
from tests.mlflow_server import (
    MlflowServer,
    launch_mlflow_server,
    quiet_mlflow_environment,
    wait_until_healthy,
    warm_workers,
)
from tests.workspaces.mlflow.content import Filled, fill_store, log_artifacts


@dataclass
class MlflowFixture:
    """The running server, what was logged, and how long setting it up took."""

    server: MlflowServer
    filled: Filled
    setup_s: float

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self.server.url


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowFixture]:
    """A filled ``mlflow server`` on 127.0.0.1 for the whole session, stopped (process group) at the end."""
    pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e '.[test]'")
    quiet_mlflow_environment()
    from mlflow import MlflowClient

    started = time.monotonic()
    root = tmp_path_factory.mktemp("mlflow")
    store = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")  # creates the schema before the server sees the file
    filled = Filled()
    server = launch_mlflow_server(root, workers=2)
    try:
        fill_store(store, filled)
        wait_until_healthy(server)
        log_artifacts(MlflowClient(server.url), filled, root / "scratch")
        warm_workers(server.url)
        fixture = MlflowFixture(server, filled, time.monotonic() - started)
        print(
            f"\nmlflow fixture: {fixture.setup_s:.1f} s (store filled in {filled.fill_s:.1f} s, "
            f"artifacts {filled.artifacts_s:.1f} s)"
        )
        yield fixture
    finally:
        server.stop()


@pytest.fixture
def proxy(mlflow_server: MlflowFixture) -> Iterator[FaultProxy]:
    """A fault proxy in front of the server, new for each test."""
    with FaultProxy(mlflow_server.url) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def filled(mlflow_server: MlflowFixture) -> Filled:
    """What the fixture logged."""
    return mlflow_server.filled
