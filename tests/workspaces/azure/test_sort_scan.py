"""Azure ML cannot order by metrics: the backend sorts a copy of the runs read in the background (``run_scan``).

Through the emulator (real Azure ML URL layout, Azure's refusal of ``order_by`` on metrics), with latency and pages
of two runs, so that the read takes a while: the first answer comes at once, marked partial, then the exact order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from studio.core.partial_pages import partial_pages
from studio.core.status import RunStatus
from studio.core.types import RunPage, RunQuery
from studio.workspaces.mlflow import run_scan
from tests.workspaces.azure_content import SMALL_ACC, SmallContent, build_small

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

BY_ACC = RunQuery(order_by=("metrics.acc DESC",))
EXPECTED = [*sorted(SMALL_ACC, key=lambda n: -SMALL_ACC[n]), "live", "sweep"]  # no acc: last, newest first


@pytest.fixture(scope="module")
def small(azure_service: Any) -> SmallContent:
    """This module's experiment in the shared workspace."""
    return build_small(azure_service.mlflow_url)


@pytest.fixture
def backend(azure_env: Any, small: SmallContent, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A backend reading two runs a page, at 150 ms a request."""
    from studio.workspaces.azure.backend import AzureBackend
    from studio.workspaces.azure.cloud import load_cloud

    monkeypatch.setattr(run_scan, "FIRST_SCAN_PAGE", 2)
    monkeypatch.setattr(run_scan, "SCAN_PAGE", 2)
    opened = AzureBackend(
        azure_env.credential(),
        azure_env.subscription_id,
        azure_env.resource_group,
        azure_env.workspace_name,
        load_cloud("AzureCloud"),
        location=azure_env.location,
    )
    opened.list_experiments()
    azure_env.latency_s = 0.15
    azure_env.clear_log()
    yield opened
    opened.close()


def partial_page(backend: Any, experiment: str, query: RunQuery) -> RunPage:
    with partial_pages():
        page: RunPage = backend.list_runs(experiment, query, page_size=10)
        return page


def until_complete(backend: Any, experiment: str, query: RunQuery, timeout: float = 30.0) -> RunPage:
    deadline = time.monotonic() + timeout
    while True:
        page = partial_page(backend, experiment, query)
        if page.complete:
            return page
        assert "so far…" in page.note
        assert time.monotonic() < deadline, page.note
        time.sleep(0.05)


def test_a_sort_by_a_metric_answers_at_once_marked_partial_then_exactly(
    azure_env: Any, backend: Any, small: SmallContent
) -> None:
    first = partial_page(backend, small.experiment, BY_ACC)
    assert not first.complete
    assert "Sorted by acc over 2 runs so far…" in first.note and "metrics.acc" in first.note
    assert [r.display_name for r in first.runs] == ["live", "sweep"]  # the newest two, all read so far
    final = until_complete(backend, small.experiment, BY_ACC)
    assert [r.display_name for r in final.runs] == EXPECTED
    assert final.note.endswith(f"Sorted over {len(EXPECTED)} runs.")
    assert [r for r in azure_env.requests() if r.status == 400] == []  # nothing Azure cannot answer was asked


def test_a_sort_with_a_status_filter_reads_exact_statuses_in_the_background(
    azure_env: Any, backend: Any, small: SmallContent
) -> None:
    azure_env.set_job_status(small.id("live"), "Queued")  # MLflow says RUNNING: only Azure knows it is queued
    query = RunQuery(status=RunStatus.QUEUED, order_by=("metrics.acc DESC",))
    final = until_complete(backend, small.experiment, query)
    assert [(r.display_name, r.status) for r in final.runs] == [("live", RunStatus.QUEUED)]
    running = until_complete(backend, small.experiment, RunQuery(status=RunStatus.RUNNING, order_by=BY_ACC.order_by))
    assert running.runs == []
