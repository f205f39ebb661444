"""One populated workspace per kind, for the contract suite.

Each kind gives one module-scoped fixture named ``<kind>_workspace`` that builds
tests/workspace_content.CONTENT and yields a ``Populated``; ``populated`` is parametrized over
KINDS and picks it (a "-" in a kind's name is "_" in its fixture's). A new kind (say "mlflow") is one more
fixture and one more entry in KINDS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from studio.core.backend import WorkspaceBackend
from tests.fake_backend import FakeComputeBackend
from tests.workspace_content import CONTENT, WRITES_PARAMS, WorkspaceContent, build_fake, build_local

KINDS = ["local", "fake", "fake-compute"]


@dataclass(frozen=True)
class Populated:
    """A backend holding CONTENT, with the ids its kind gave the runs (by display name)."""

    kind: str
    backend: WorkspaceBackend
    ids: dict[str, str]
    writes_params: bool  # whether the kind's runs hold RunSpec.params (WRITES_PARAMS)
    content: WorkspaceContent = CONTENT

    def id(self, name: str) -> str:
        """The id of the run with display name ``name``."""
        return self.ids[name]


@pytest.fixture(scope="module")
def local_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    """CONTENT logged through the SDK into a new local workspace, read through LocalBackend."""
    backend, ids, sdk_workspace = build_local(tmp_path_factory.mktemp("contract") / "ws")
    yield Populated("local", backend, ids, WRITES_PARAMS["local"])
    _finish_running_runs(sdk_workspace, ids)
    backend.close()
    sdk_workspace.close()


@pytest.fixture(scope="module")
def fake_workspace() -> Iterator[Populated]:
    """CONTENT in a FakeBackend."""
    backend, ids = build_fake()
    yield Populated("fake", backend, ids, WRITES_PARAMS["fake"])
    backend.close()


@pytest.fixture(scope="module")
def fake_compute_workspace() -> Iterator[Populated]:
    """CONTENT in a FakeComputeBackend (the fake with in-memory compute instances)."""
    backend, ids = build_fake(fake=FakeComputeBackend())
    yield Populated("fake-compute", backend, ids, WRITES_PARAMS["fake"])
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
