"""What the MLflow backend does beyond the contract: round trips it saves, live changes it sees, notes it gives.

Against the shared real server (tests/mlflow_fixtures.py), through the fault proxy, which counts requests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from studio.core.status import RunStatus
from studio.core.types import RunQuery
from studio.workspaces import open_workspace
from studio.workspaces.mlflow.backend import MlflowBackend
from studio.workspaces.mlflow.rest import MlflowRestClient
from tests.fault_proxy import FaultProxy
from tests.mlflow_fixtures import MlflowFixture
from tests.workspaces.mlflow.content import PAGING_RUNS, Filled


@pytest.fixture
def backend(proxy: FaultProxy) -> Iterator[MlflowBackend]:
    opened = open_workspace("mlflow+" + proxy.url)
    assert isinstance(opened, MlflowBackend)
    yield opened
    opened.close()


def test_a_first_page_in_the_default_order_is_one_search_plus_the_child_counts(
    backend: MlflowBackend, proxy: FaultProxy
) -> None:
    before = proxy.count
    page = backend.list_runs("paging", page_size=50)
    assert [r.display_name for r in page.runs] == [f"p{i:03d}" for i in range(PAGING_RUNS - 1, PAGING_RUNS - 51, -1)]
    assert page.note == "" and page.next_token is not None
    assert proxy.count - before <= 3  # the experiment list (first use), the page, the child counts
    before = proxy.count
    backend.list_runs("paging", page_token=page.next_token, page_size=50)
    assert proxy.count - before == 1  # child counts are kept


def test_what_the_server_cannot_answer_is_done_here_and_said(backend: MlflowBackend) -> None:
    query = RunQuery(filter="tags.parity IN ('even') AND params.i IN ('3', '4', '6')", order_by=("attributes.status",))
    page = backend.list_runs("paging", query)
    assert sorted(r.display_name for r in page.runs) == ["p004", "p006"]
    assert "order by attributes.status" in page.note and "Studio" in page.note
    assert backend.count_runs("paging", query) == 2


def test_reading_a_file_twice_asks_the_server_once(backend: MlflowBackend, filled: Filled, proxy: FaultProxy) -> None:
    run_id = filled.run_ids["parent"]
    first = backend.read_file_range(run_id, "logs/train.log", 1000, 5000)
    before = proxy.count
    again = backend.read_file_range(run_id, "logs/train.log", 1000, 5000)
    assert again == first == filled.log_text[1000:6000]
    assert proxy.count == before  # the block and the folder listing are both kept for a finished run
    assert backend.read_file_range(run_id, "logs/train.log", len(filled.log_text) - 3, 100) == filled.log_text[-3:]


def test_metrics_are_listed_with_counts_and_their_histories_kept_for_the_charts(
    backend: MlflowBackend, filled: Filled, proxy: FaultProxy
) -> None:
    run_id = filled.run_ids["many-metrics"]
    infos = backend.list_metrics(run_id)
    assert len(infos) == 20 and all(i.count == 300 for i in infos)
    before = proxy.count
    series = backend.get_series(run_id, "m07", start=100)
    assert len(series) == 200 and series.start == 100 and series.values[0] == pytest.approx(7.1)
    assert proxy.count == before  # a running run's histories are kept for a second: the chart asks right after


def test_a_run_changed_by_another_client_is_seen_by_the_next_poll(
    backend: MlflowBackend, mlflow_server: MlflowFixture
) -> None:
    from mlflow import MlflowClient

    client: Any = MlflowClient(mlflow_server.url)
    experiment = client.create_experiment("live-poll")
    run_id = client.create_run(experiment, run_name="live").info.run_id
    backend.poller.interval = 0.0  # poll at every call instead of every 3 s
    token = backend.change_token()
    assert backend.list_changed_runs(token) == ([], token)
    client.log_metric(run_id, "loss", 0.5, step=1)
    token2 = backend.change_token()
    changed, _ = backend.list_changed_runs(token)
    assert token2 > token and [r.id for r in changed] == [run_id] and changed[0].metrics == {"loss": 0.5}
    client.set_terminated(run_id, "KILLED")
    token3 = backend.change_token()
    changed, _ = backend.list_changed_runs(token2)
    assert token3 > token2 and changed[-1].status is RunStatus.CANCELED
    client.delete_experiment(experiment)


def test_many_callers_opening_one_run_at_once_share_each_request(
    proxy: FaultProxy, filled: Filled, mlflow_server: MlflowFixture
) -> None:
    run_id = filled.run_ids["parent"]  # 100,000 points and artifacts in several folders
    alone = open_workspace("mlflow+" + proxy.url)
    before = proxy.count
    expected = alone.list_metrics(run_id)
    one_caller = proxy.count - before
    alone.close()
    crowd = open_workspace("mlflow+" + proxy.url)
    before = proxy.count
    with ThreadPoolExecutor(12) as pool:  # more callers than the backend's pools have threads
        answers = list(pool.map(lambda _: crowd.list_metrics(run_id), range(12), timeout=60))
    assert all(a == expected for a in answers)
    assert proxy.count - before == one_caller  # the Overview and the Metrics tab ask once between them
    crowd.close()


def test_a_running_runs_new_points_are_asked_for_alone(
    proxy: FaultProxy, mlflow_server: MlflowFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    from studio.workspaces.mlflow import backend as backend_module
    from studio.workspaces.mlflow import run_metrics

    client: Any = MlflowClient(mlflow_server.url)
    experiment = client.create_experiment("live-tail")
    run_id = client.create_run(experiment, run_name="tail").info.run_id
    now = int(time.time() * 1000)

    def log(steps: range) -> None:
        client.log_batch(run_id, metrics=[Metric("loss", 1 / (s + 1), now + s, s) for s in steps])

    log(range(25))
    monkeypatch.setattr(run_metrics, "LIVE_HISTORY_S", 0.0)  # every read of the running run is a live update
    monkeypatch.setattr(backend_module, "RUN_TTL_S", 0.0)
    rest = MlflowRestClient(proxy.url, history_page_size=10)  # a whole history of 30 points is 3 pages or more
    live = MlflowBackend(rest, "mlflow+" + proxy.url, "tail")
    assert len(live.get_series(run_id, "loss")) == 25
    log(range(25, 30))
    before = proxy.count
    tail = live.get_series(run_id, "loss", start=25)
    assert proxy.count - before == 2  # runs/get, and one page holding only the 5 new points
    assert tail.start == 25 and tail.steps.tolist() == list(range(25, 30))
    assert tail.values.tolist() == [1 / (s + 1) for s in range(25, 30)]
    whole = live.get_series(run_id, "loss")
    assert whole.steps.tolist() == list(range(30)) and len(live.list_metrics(run_id)) == 1
    assert live.list_metrics(run_id)[0].count == 30
    live.close()
    client.delete_experiment(experiment)
