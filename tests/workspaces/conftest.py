"""One populated workspace per kind, for the contract suite.

Each kind gives one module-scoped fixture named ``<kind>_workspace`` that builds
tests/workspace_content.CONTENT and yields a ``Populated``; ``populated`` is parametrized over
KINDS and picks it (a "-" in a kind's name is "_" in its fixture's). A new kind is one more
fixture, one more entry in KINDS and its ``KindTraits`` (what of CONTENT its runs can hold).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from studio.core.backend import WorkspaceBackend
from studio.core.types import MetricKind
from tests.fake_backend import FakeComputeBackend
from tests.workspace_content import CONTENT, TRAITS, KindTraits, RunSpec, WorkspaceContent, build_fake, build_local

KINDS = ["local", "fake", "fake-compute", "mlflow", "azure"]


@dataclass(frozen=True)
class Populated:
    """A backend holding CONTENT, with the ids its kind gave the runs (by display name)."""

    kind: str
    backend: WorkspaceBackend
    ids: dict[str, str]
    traits: KindTraits  # what of the content the kind's runs hold
    content: WorkspaceContent = CONTENT

    def id(self, name: str) -> str:
        """The id of the run with display name ``name``."""
        return self.ids[name]

    @property
    def writes_params(self) -> bool:
        """Whether the kind's runs hold RunSpec.params."""
        return self.traits.writes_params

    @property
    def has_properties(self) -> bool:
        """Whether the kind's runs hold RunSpec.properties (without them, a properties comparison matches nothing)."""
        return self.traits.has_properties

    @property
    def records_errors(self) -> bool:
        """Whether a Failed run of the kind keeps its error message."""
        return self.traits.records_errors

    def properties(self, spec: RunSpec) -> dict[str, str]:
        """The properties the kind's run of ``spec`` has."""
        return dict(spec.properties) if self.has_properties else {}

    def metric_kinds(self, spec: RunSpec) -> dict[str, MetricKind]:
        """The metrics of ``spec`` the kind's run has, with their kinds."""
        return self.traits.metric_kinds_of(spec)

    def holds(self, kind: MetricKind) -> bool:
        """Whether the kind's runs can hold metrics of ``kind``."""
        return kind in self.traits.metric_kinds


@pytest.fixture(scope="module")
def local_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    """CONTENT logged through the SDK into a new local workspace, read through LocalBackend."""
    backend, ids, sdk_workspace = build_local(tmp_path_factory.mktemp("contract") / "ws")
    yield Populated("local", backend, ids, TRAITS["local"])
    _finish_running_runs(sdk_workspace, ids)
    backend.close()
    sdk_workspace.close()


@pytest.fixture(scope="module")
def fake_workspace() -> Iterator[Populated]:
    """CONTENT in a FakeBackend."""
    backend, ids = build_fake()
    yield Populated("fake", backend, ids, TRAITS["fake"])
    backend.close()


@pytest.fixture(scope="module")
def fake_compute_workspace() -> Iterator[Populated]:
    """CONTENT in a FakeComputeBackend (the fake with in-memory compute instances)."""
    backend, ids = build_fake(fake=FakeComputeBackend())
    yield Populated("fake-compute", backend, ids, TRAITS["fake"])
    backend.close()


@pytest.fixture(scope="module")
def mlflow_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    """CONTENT logged with MlflowClient into a fresh ``mlflow server`` of this module's own, opened by location.

    Its own server, so the contract's write tests disturb no other MLflow test. Skipped without mlflow (a test
    extra). The setup time is printed (``-s``).
    """
    pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e '.[test]'")
    from tests.mlflow_server import launch_mlflow_server, quiet_mlflow_environment, wait_until_healthy, warm_workers
    from tests.workspaces.mlflow_content import MlflowBuildTimes, build_mlflow

    quiet_mlflow_environment()
    started = time.monotonic()
    server = launch_mlflow_server(tmp_path_factory.mktemp("mlflow-contract"), workers=2)
    backend = None
    try:
        import mlflow  # noqa: F401  (imported while the server starts: ~2 s of the client's own)
        import pandas  # noqa: F401  (log_table's)

        wait_until_healthy(server)
        warm_workers(server.url)
        times = MlflowBuildTimes()
        backend, ids = build_mlflow(server.url, times=times)
        print(
            f"\nmlflow contract fixture: {time.monotonic() - started:.1f} s (server up in {server.started_in_s:.1f} s, "
            f"content {times.total_s:.1f} s: {times.points} points in {times.batches} batches {times.metrics_s:.1f} s, "
            f"artifacts {times.artifacts_s:.1f} s)"
        )
        yield Populated("mlflow", backend, ids, TRAITS["mlflow"])
    finally:
        if backend is not None:
            backend.close()
        server.stop()


@pytest.fixture(scope="module")
def azure_workspace(azure_service: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    """CONTENT in an Azure ML workspace on an emulator of this module's own (real azure-ai-ml over HTTPS, proxy mode).

    Logged with MlflowClient into a private mlflow server that the private emulator fronts, the files in Azurite
    (``tests/workspaces/azure_content.py``). The environment points at the private emulator's proxy while the
    module runs. Skipped where the session's Azure service is (no mlflow, azure-ai-ml or Azurite).
    """
    from tests.workspaces.azure_content import AZURE_TRAITS, azure_environment, build_azure, private_azure

    started = time.monotonic()
    with (
        private_azure(azure_service, tmp_path_factory.mktemp("azure-contract")) as private,
        pytest.MonkeyPatch.context() as env,
    ):
        azure_environment(private.proxy_url, private.ca_path, env)
        backend, ids, content_s = build_azure(azure_service, private.mlflow_url)
        print(f"\nazure contract fixture: {time.monotonic() - started:.1f} s (content {content_s:.1f} s)")
        try:
            yield Populated("azure", backend, ids, AZURE_TRAITS)
        finally:
            backend.close()


@pytest.fixture(scope="module", params=KINDS)
def populated(request: pytest.FixtureRequest) -> Populated:
    """The populated workspace of each kind in turn."""
    return request.getfixturevalue(f"{request.param.replace('-', '_')}_workspace")  # type: ignore[no-any-return]


def _finish_running_runs(sdk_workspace: Any, ids: dict[str, str]) -> None:
    """End the runs the SDK started and left Running, so the process exit has nothing to finish."""
    from studio.sdk import Experiment, Run

    for spec in CONTENT.runs:
        run = Run(Experiment(sdk_workspace, spec.experiment, _create=False), ids[spec.name])
        if run.get_status() not in ("Completed", "Failed", "Canceled"):
            run.complete()
