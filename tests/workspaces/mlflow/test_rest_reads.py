"""The REST client against a real ``mlflow server``: experiments, runs, paging, filters, histories, artifacts."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.errors import NotFoundError
from studio.workspaces.mlflow.rest import MlflowNotFoundError, MlflowRequestError, MlflowRestClient
from tests.fault_proxy import FaultProxy
from tests.mlflow_fixtures import MlflowFixture
from tests.workspaces.mlflow.content import BIG_POINTS, PAGING_RUNS, SMALL_METRICS, SMALL_POINTS, Filled


@pytest.fixture
def client(proxy: FaultProxy) -> MlflowRestClient:
    with MlflowRestClient(proxy.url) as rest:
        yield rest


def test_experiments_are_listed_across_pages_following_tokens(client: MlflowRestClient, proxy: FaultProxy) -> None:
    experiments = client.all_experiments(page_size=1)
    names = {e.name for e in experiments}
    assert {"main", "paging", "Default"} <= names
    assert proxy.count == len(experiments)  # one page per experiment, the last without a token
    assert client.get_experiment_by_name("paging").experiment_id == next(
        e.experiment_id for e in experiments if e.name == "paging"
    )


def test_paging_250_runs_with_a_filter_and_an_order_passed_to_the_server(
    client: MlflowRestClient, filled: Filled, proxy: FaultProxy
) -> None:
    seen, token = [], None
    while True:
        page = client.search_runs(
            [filled.paging_experiment_id],
            filter="tags.parity = 'even'",
            order_by=["metrics.score DESC"],
            max_results=40,
            page_token=token,
        )
        seen.extend(page.items)
        token = page.next_page_token
        if token is None:
            break
    scores = [r.metrics["score"].value for r in seen]
    assert scores == [float(i) for i in range(PAGING_RUNS - 2, -1, -2)]
    assert proxy.count == -(-len(scores) // 40)
    assert all(r.params["i"] == str(int(r.metrics["score"].value)) for r in seen)


def test_all_250_runs_come_back_once_in_pages_of_100(client: MlflowRestClient, filled: Filled) -> None:
    ids, token = [], None
    while True:
        page = client.search_runs(
            [filled.paging_experiment_id], max_results=100, page_token=token, order_by=["attributes.start_time ASC"]
        )
        ids.extend(r.run_id for r in page.items)
        token = page.next_page_token
        if not token:
            break
    assert len(ids) == len(set(ids)) == PAGING_RUNS


def test_a_run_has_its_name_status_params_tags_parent_and_note(client: MlflowRestClient, filled: Filled) -> None:
    parent = client.get_run(filled.run_ids["parent"])
    assert (parent.run_name, parent.status) == ("parent", "FINISHED")
    assert parent.params == {"lr": "0.01", "batch": "32"}
    assert parent.tags["team"] == "vision" and parent.description == "A note"
    assert parent.metrics["acc"].step == 99 and parent.parent_run_id is None
    child = client.get_run(filled.run_ids["child-a"])
    assert child.parent_run_id == parent.run_id
    assert client.get_run(filled.run_ids["failed"]).status == "FAILED"
    assert client.get_run(filled.run_ids["killed"]).status == "KILLED"
    children = client.search_runs([filled.main_experiment_id], filter=f"tags.mlflow.parentRunId = '{parent.run_id}'")
    assert sorted(r.run_name for r in children.items) == ["child-a", "child-b"]


def test_the_100000_point_metric_equals_what_was_logged(mlflow_server: MlflowFixture, proxy: FaultProxy) -> None:
    filled = mlflow_server.filled
    with MlflowRestClient(proxy.url) as client:
        history = client.get_history(filled.run_ids["parent"], "big")
    steps, values, times = filled.big_values()
    assert len(history) == BIG_POINTS
    assert history.steps.dtype == np.int64 and history.values.dtype == np.float64
    np.testing.assert_array_equal(history.steps, steps)
    np.testing.assert_array_equal(history.values, values)
    np.testing.assert_array_equal(history.timestamps_ms, times)
    # 4 pages of 25,000: the first, then speculative ones, of which at most the window runs past the end.
    assert 4 <= proxy.count <= 4 + 4


def test_paging_one_after_another_gives_the_same_points(filled: Filled, proxy: FaultProxy) -> None:
    with MlflowRestClient(proxy.url, history_page_size=70) as client:
        history = client.get_history(filled.run_ids["parent"], "loss", speculate=False)
    assert proxy.count == 2  # 100 points in pages of 70
    np.testing.assert_allclose(history.values, [1 / (s + 1) for s in range(100)])


def test_twenty_histories_are_twenty_requests(filled: Filled, proxy: FaultProxy) -> None:
    names = [f"m{k:02d}" for k in range(SMALL_METRICS)]
    with MlflowRestClient(proxy.url, concurrency=8) as client:
        histories = client.get_histories(filled.run_ids["many-metrics"], names)
    assert proxy.count == SMALL_METRICS
    assert sorted(histories) == names
    for k, name in enumerate(names):
        np.testing.assert_allclose(histories[name].values, k + np.arange(SMALL_POINTS) / 1000)


def test_a_metric_never_logged_is_an_empty_history(client: MlflowRestClient, filled: Filled) -> None:
    assert len(client.get_history(filled.run_ids["parent"], "nothing")) == 0


def test_a_missing_run_is_not_found(client: MlflowRestClient) -> None:
    with pytest.raises(MlflowNotFoundError) as caught:
        client.get_run("0" * 32)
    assert isinstance(caught.value, NotFoundError)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(NotFoundError):
        client.get_experiment_by_name("no such experiment")


def test_a_bad_filter_is_a_request_error_with_the_servers_message(client: MlflowRestClient, filled: Filled) -> None:
    with pytest.raises(MlflowRequestError) as caught:
        client.search_runs([filled.paging_experiment_id], filter="metrics.score >>> 1")
    assert caught.value.status == 400 and "INVALID_PARAMETER_VALUE" in str(caught.value)
