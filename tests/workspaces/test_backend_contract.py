"""The contract every workspace kind passes: each WorkspaceBackend method on the same content.

The content is tests/workspace_content.CONTENT; tests/workspaces/conftest.py builds it once per
kind. Tests that write (metadata, cancel) use the runs of the "scratch" experiment only, so the
others can check the content as it was logged, in any order.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from studio.core.backend import ComputeBackend, WorkspaceBackend
from studio.core.compute import ComputeInfo
from studio.core.errors import CancelledError, NotFoundError, QueryError, RunStateError, UnsupportedOperation
from studio.core.status import RunStatus
from studio.core.tasks import CancelToken
from studio.core.types import (
    ExperimentInfo,
    FileInfo,
    MetricInfo,
    MetricKind,
    MetricRecord,
    MetricSeries,
    RunInfo,
    RunKeys,
    RunPage,
    RunQuery,
    StatusChange,
    WorkspaceInfo,
)
from tests.workspace_content import BIG_FILE_SIZE, LONG_SERIES_POINTS
from tests.workspaces.conftest import Populated

UNKNOWN_RUN = "no-such-run-0000"
UNSAFE_NAMES = ["../x", "outputs/../../x", "/etc/passwd", "C:\\Windows\\x"]


def all_runs(backend: WorkspaceBackend, experiment: str, query: RunQuery | None = None, size: int = 2) -> list[RunInfo]:
    """Every page of a listing, following the tokens."""
    runs: list[RunInfo] = []
    token: str | None = None
    for _ in range(100):
        page = backend.list_runs(experiment, query, page_token=token, page_size=size)
        assert isinstance(page, RunPage) and len(page.runs) <= size
        runs += page.runs
        token = page.next_token
        if token is None:
            return runs
        assert page.runs, "a page with a next token must not be empty"
    raise AssertionError("paging never ended")


def names(runs: list[RunInfo]) -> list[str]:
    return [r.display_name for r in runs]


def files_of(populated: Populated, name: str) -> dict[str, bytes]:
    """The files of run ``name`` that the kind holds (paths a kind refuses were not written)."""
    return populated.traits.files_of(populated.content.run(name))


# -- workspace and experiments ---------------------------------------------------------------------


def test_is_a_workspace_backend_with_info(populated: Populated) -> None:
    backend = populated.backend
    assert isinstance(backend, WorkspaceBackend)
    info = backend.info()
    assert isinstance(info, WorkspaceInfo)
    assert info.kind == populated.kind and info.name and info.location
    assert isinstance(info.read_only, bool) and isinstance(info.can_cancel, bool)


def test_list_experiments_by_name_with_run_counts(populated: Populated) -> None:
    experiments = populated.backend.list_experiments()
    assert all(isinstance(e, ExperimentInfo) for e in experiments)
    assert [e.name for e in experiments] == populated.content.experiments
    by_name = {e.name: e for e in experiments}
    for name in populated.content.experiments:
        top = populated.content.top_level(name)
        assert by_name[name].run_count == len(top), name  # top-level runs only
        assert by_name[name].run_count_exact, name  # a few runs: every kind counts them all
        assert isinstance(by_name[name].created_at, float)
    assert by_name["empty"].last_run_at is None
    newest = populated.backend.get_run(populated.id("live"))
    assert by_name["mnist"].last_run_at == pytest.approx(newest.created_at)


# -- runs: listing, paging, filters, counts ----------------------------------------------------


def test_runs_are_listed_newest_first_across_pages(populated: Populated) -> None:
    expected = [r.name for r in reversed(populated.content.top_level("mnist"))]
    for size in (1, 2, 4, 100):
        assert names(all_runs(populated.backend, "mnist", size=size)) == expected, size
    first = populated.backend.list_runs("mnist", page_size=2)
    assert names(first.runs) == expected[:2] and first.next_token is not None
    second = populated.backend.list_runs("mnist", page_token=first.next_token, page_size=2)
    assert names(second.runs) == expected[2:4]
    whole = populated.backend.list_runs("mnist", page_size=100)
    assert whole.next_token is None and len(whole.runs) == len(expected)
    assert populated.backend.list_runs("empty") == RunPage(runs=[], next_token=None)


@pytest.mark.parametrize("token", ["garbage", "", "1.5", "§"])
def test_a_page_token_the_backend_never_gave_is_refused(populated: Populated, token: str) -> None:
    with pytest.raises(NotFoundError, match="page token"):
        populated.backend.list_runs("mnist", page_token=token, page_size=2)


def test_oldest_first_when_asked(populated: Populated) -> None:
    query = RunQuery(newest_first=False)
    expected = [r.name for r in populated.content.top_level("mnist")]
    assert names(all_runs(populated.backend, "mnist", query, size=4)) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (RunQuery(text="trial"), ["trial-4", "trial-3"]),
        (RunQuery(text="TRIAL-3"), ["trial-3"]),  # case-insensitive
        (RunQuery(status=RunStatus.FAILED), ["diverged"]),
        (RunQuery(status=RunStatus.RUNNING), ["live"]),
        (RunQuery(status=RunStatus.CANCELED), ["stopped"]),
        (RunQuery(tag="lr=0.01"), ["trial-4", "trial-3"]),
        (RunQuery(tag="MODEL=cnn"), ["baseline"]),
        (RunQuery(tag="best"), ["trial-4"]),  # a key alone matches
        (RunQuery(text="trial", tag="best", status=RunStatus.COMPLETED), ["trial-4"]),
        (RunQuery(text="nothing matches this"), []),
        (RunQuery(tag="lr", newest_first=False), ["baseline", "diverged", "stopped", "trial-3", "trial-4"]),
    ],
)
def test_filters_and_counts_agree_with_the_listing(populated: Populated, query: RunQuery, expected: list[str]) -> None:
    assert names(all_runs(populated.backend, "mnist", query, size=2)) == expected
    assert populated.backend.count_runs("mnist", query) == len(expected)


def test_text_matches_the_run_id_too(populated: Populated) -> None:
    run_id = populated.id("stopped")
    assert names(all_runs(populated.backend, "mnist", RunQuery(text=run_id))) == ["stopped"]


def test_counts_of_whole_experiments(populated: Populated) -> None:
    for experiment in populated.content.experiments:
        expected = len(populated.content.top_level(experiment))
        assert populated.backend.count_runs(experiment) == expected
        assert len(all_runs(populated.backend, experiment, size=3)) == expected


def test_children_by_query_and_by_list_children(populated: Populated) -> None:
    backend, sweep = populated.backend, populated.id("sweep")
    assert names(all_runs(backend, "cifar", RunQuery(parent_id=sweep), size=1)) == ["child-b", "child-a"]
    assert backend.count_runs("cifar", RunQuery(parent_id=sweep)) == 2
    assert backend.count_runs("cifar", RunQuery(parent_id=sweep, status=RunStatus.FAILED)) == 1
    assert names(all_runs(backend, "cifar")) == ["sweep"]  # top-level only
    children = backend.list_children(sweep)
    assert names(children) == ["child-a", "child-b"]  # oldest first
    assert all(c.parent_id == sweep and c.experiment == "cifar" for c in children)
    assert names(backend.list_children(populated.id("child-a"))) == ["grandchild"]
    assert backend.list_children(populated.id("grandchild")) == []
    assert backend.get_run(populated.id("grandchild")).parent_id == populated.id("child-a")


def test_run_info_fields(populated: Populated) -> None:
    backend = populated.backend
    for spec in populated.content.runs:
        if spec.experiment == "scratch":
            continue  # the write tests change these
        run = backend.get_run(populated.id(spec.name))
        assert isinstance(run, RunInfo)
        assert run.id == populated.id(spec.name) and run.display_name == spec.name
        assert run.experiment == spec.experiment and isinstance(run.number, int)
        assert run.status == spec.status and isinstance(run.status, RunStatus)
        assert run.parent_id == (populated.id(spec.parent) if spec.parent else None)
        assert run.child_count == len(populated.content.children(spec.name))
        assert run.tags == spec.tags and run.properties == populated.properties(spec)
        assert run.description == spec.description
        assert isinstance(run.created_at, float) and run.started_at is not None
        if spec.status.is_terminal:
            assert run.ended_at is not None and run.duration is not None and run.duration >= 0
        else:
            assert run.ended_at is None and run.duration is None
        if spec.error and populated.records_errors:
            assert run.error is not None and run.error["message"] == spec.error
        else:
            assert run.error is None
    listed = {r.id: r for r in all_runs(backend, "mnist", size=100)}
    for run_id, run in listed.items():
        assert run == backend.get_run(run_id)  # a listing shows the same record as get_run


def test_run_details_have_a_run_type(populated: Populated) -> None:
    details = populated.backend.get_run_details(populated.id("baseline"))
    assert isinstance(details, dict) and isinstance(details["runType"], str)


def test_status_history_oldest_first_ending_in_the_status(populated: Populated) -> None:
    for spec in populated.content.runs:
        if spec.experiment == "scratch":
            continue
        history = populated.backend.status_history(populated.id(spec.name))
        assert history and all(isinstance(h, StatusChange) for h in history)
        assert history[-1].status == spec.status
        assert [h.at for h in history] == sorted(h.at for h in history)
        if spec.status.is_terminal:
            assert len(history) >= 2 and RunStatus.RUNNING in [h.status for h in history]


# -- run search: MLflow filter, order, run keys --------------------------------------------------------

# The "search" experiment (tests/workspace_content.SEARCH_RUNS), oldest first.
SEARCH = ["s-first", "s-tie-old", "s-nan", "s-tie-new", "s-none", "s-inf", "s-neg"]


def newest_first(wanted: set[str]) -> list[str]:
    """The runs of ``wanted`` in the default listing order."""
    return [n for n in reversed(SEARCH) if n in wanted]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc > 0.5", {"s-first", "s-tie-old", "s-tie-new", "s-inf"}),
        ("metrics.acc >= 0.7", {"s-first", "s-tie-old", "s-tie-new", "s-inf"}),
        ("metrics.acc < 0.7", {"s-neg"}),  # the last value is the highest step's, not the last logged
        ("metrics.acc <= 0.7", {"s-tie-old", "s-tie-new", "s-neg"}),
        ("metrics.acc = 0.7", {"s-tie-old", "s-tie-new"}),
        ("metrics.acc != 0.7", {"s-first", "s-nan", "s-inf", "s-neg"}),  # NaN != 0.7; a missing metric never
        ("metrics.acc = 1e999", {"s-inf"}),
        ("metrics.acc > -1e999", {"s-first", "s-tie-old", "s-tie-new", "s-inf", "s-neg"}),  # NaN is not > -inf
        ("metrics.`val loss` < 0.2", {"s-tie-new"}),
        ("metrics.`val loss` != 0.3", {"s-tie-old", "s-tie-new"}),
        ("metrics.a.b < 0", {"s-tie-new"}),
        ("metrics.`a.b` = 1", {"s-first"}),
        ("tags.model = 'cnn'", {"s-first", "s-inf"}),
        ("tags.model != 'cnn'", {"s-tie-old", "s-nan", "s-tie-new", "s-neg"}),  # s-none lacks the tag
        ("tags.model LIKE 'cnn%'", {"s-first", "s-inf"}),  # LIKE is case-sensitive
        ("tags.model ILIKE 'cnn%'", {"s-first", "s-tie-old", "s-inf"}),
        ("tags.model LIKE 'rnn_50%'", {"s-nan", "s-tie-new"}),  # _ and % are wildcards
        ("tags.model LIKE 'rnn\\_50%'", set()),  # a backslash is a plain character
        ("tags.model LIKE '%'", {"s-first", "s-tie-old", "s-nan", "s-tie-new", "s-inf", "s-neg"}),
        ("tags.model IN ('cnn', 'mlp')", {"s-first", "s-inf", "s-neg"}),
        ("tags.model NOT IN ('cnn', 'mlp')", {"s-tie-old", "s-nan", "s-tie-new"}),
        ("tags.note = '\u00ffes'", {"s-tie-new"}),
        ("tags.note ILIKE '\u00ffES'", {"s-tie-old", "s-tie-new"}),  # non-ASCII letters fold too
        ("tags.note LIKE '_es'", {"s-tie-old", "s-tie-new"}),  # _ is one character, not one byte
        ("tags.`mlflow.note` = 'first'", {"s-first"}),
        ("tags.mlflow.note = 'first'", {"s-first"}),
        ("properties.dataset = 'v1'", {"s-first", "s-tie-new"}),
        ("properties.dataset ILIKE 'V1'", {"s-first", "s-tie-new", "s-none"}),
        ("properties.dataset != 'v1'", {"s-tie-old", "s-none"}),
        ("attributes.status = 'Failed'", {"s-tie-old"}),
        ("status IN ('Canceled', 'Running')", {"s-nan", "s-none"}),
        ("attributes.run_name LIKE 's-tie%'", {"s-tie-old", "s-tie-new"}),
        ("run_name ILIKE 'S-N%'", {"s-nan", "s-none", "s-neg"}),
        ("attributes.`run name` = 's-inf'", {"s-inf"}),
        ("attributes.start_time > 0", set(SEARCH)),
        ("attributes.end_time > 0", set(SEARCH) - {"s-none"}),  # a running run has no end yet
        ("attributes.duration >= 0", set(SEARCH) - {"s-none"}),
        ("attributes.created < 1", set()),
        ("metrics.acc > 0.5 and TAGS.model = 'cnn' AND attributes.created > 0", {"s-first", "s-inf"}),
        ("metrics.nothing != 1", set()),
        ("tags.nothing != 'x'", set()),
        ("tags.nothing NOT IN ('x')", set()),
        ("properties.nothing != 'x'", set()),
    ],
)
def test_filters_on_metrics_tags_properties_and_attributes(populated: Populated, text: str, expected: set[str]) -> None:
    query = RunQuery(filter=text)
    if text.startswith("properties.") and not populated.has_properties:
        expected = set()  # runs without properties: every properties comparison, even !=, matches none of them
    assert names(all_runs(populated.backend, "search", query, size=2)) == newest_first(expected)
    assert populated.backend.count_runs("search", query) == len(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.lr = '0.1'", {"s-first", "s-inf"}),
        ("params.lr != '0.1'", {"s-tie-old"}),
        ("params.opt IN ('adam', 'sgd')", {"s-first", "s-nan"}),
        ("params.lr LIKE '0.0%'", {"s-tie-old"}),
        ("params.nothing != 'x'", set()),
    ],
)
def test_filters_on_params(populated: Populated, text: str, expected: set[str]) -> None:
    query = RunQuery(filter=text)
    if not populated.writes_params:
        # Runs without params: every params comparison, even !=, matches none of them.
        assert all_runs(populated.backend, "search", query) == []
        assert populated.backend.count_runs("search", query) == 0
        pytest.skip(f"the {populated.kind} kind's runs have no params")
    assert names(all_runs(populated.backend, "search", query, size=2)) == newest_first(expected)
    assert populated.backend.count_runs("search", query) == len(expected)


def test_a_run_id_filter(populated: Populated) -> None:
    run_id = populated.id("s-nan")
    query = RunQuery(filter=f"attributes.run_id = '{run_id}'")
    assert names(all_runs(populated.backend, "search", query)) == ["s-nan"]
    query = RunQuery(filter=f"attributes.run_id != '{run_id}'")
    assert populated.backend.count_runs("search", query) == len(SEARCH) - 1


ORDERS = [
    (("metrics.acc",), ["s-neg", "s-tie-new", "s-tie-old", "s-first", "s-inf", "s-nan", "s-none"]),
    (("metrics.acc DESC",), ["s-inf", "s-first", "s-tie-new", "s-tie-old", "s-neg", "s-nan", "s-none"]),
    (("metrics.`val loss` DESC",), ["s-first", "s-tie-new", "s-tie-old", "s-neg", "s-inf", "s-none", "s-nan"]),
    (("tags.model",), ["s-tie-old", "s-inf", "s-first", "s-neg", "s-tie-new", "s-nan", "s-none"]),
    (("tags.model DESC",), ["s-nan", "s-tie-new", "s-neg", "s-inf", "s-first", "s-tie-old", "s-none"]),
    (
        ("properties.dataset", "metrics.acc DESC"),
        ["s-none", "s-first", "s-tie-new", "s-tie-old", "s-inf", "s-neg", "s-nan"],
    ),
    (
        ("attributes.status", "attributes.run_name DESC"),
        ["s-nan", "s-tie-new", "s-neg", "s-inf", "s-first", "s-tie-old", "s-none"],
    ),
    (("attributes.end_time DESC",), ["s-first", "s-tie-old", "s-nan", "s-tie-new", "s-inf", "s-neg", "s-none"]),
    (("attributes.end_time ASC",), ["s-neg", "s-inf", "s-tie-new", "s-nan", "s-tie-old", "s-first", "s-none"]),
    (("created",), ["s-first", "s-tie-old", "s-nan", "s-tie-new", "s-none", "s-inf", "s-neg"]),
    (("metrics.nothing",), list(reversed(SEARCH))),  # every run lacks it: ties, newest first
    (("tags.nothing DESC", "metrics.a.b"), ["s-tie-new", "s-first", "s-neg", "s-inf", "s-none", "s-nan", "s-tie-old"]),
]


@pytest.mark.parametrize(("order", "expected"), ORDERS, ids=[" ".join(o) for o, _ in ORDERS])
def test_orders_put_missing_last_and_break_ties_newest_first(
    populated: Populated, order: tuple[str, ...], expected: list[str]
) -> None:
    query = RunQuery(order_by=order)
    if not populated.has_properties and any(item.startswith("properties.") for item in order):
        # Runs without properties all lack the key: one tie, so the order is that of the other items alone.
        expected = dict(ORDERS)[tuple(item for item in order if not item.startswith("properties."))]
    for size in (1, 2, 3, 100):  # paging across the order: no run twice, none left out
        assert names(all_runs(populated.backend, "search", query, size=size)) == expected, size
    assert populated.backend.count_runs("search", query) == len(expected)
    # An order does not change which runs match, nor does newest_first matter once there is one.
    assert names(all_runs(populated.backend, "search", RunQuery(order_by=order, newest_first=False))) == expected


def test_params_orders(populated: Populated) -> None:
    query = RunQuery(order_by=("params.lr DESC",))
    got = names(all_runs(populated.backend, "search", query, size=2))
    if populated.writes_params:
        assert got == ["s-inf", "s-first", "s-tie-old", "s-neg", "s-none", "s-tie-new", "s-nan"]
    else:
        assert got == list(reversed(SEARCH))  # no run has it: all in the "missing" group, newest first


def test_a_filter_with_an_order_across_pages(populated: Populated) -> None:
    query = RunQuery(filter="metrics.acc >= 0 AND tags.model != 'mlp'", order_by=("metrics.acc DESC",))
    expected = ["s-inf", "s-first", "s-tie-new", "s-tie-old"]
    for size in (1, 3):
        assert names(all_runs(populated.backend, "search", query, size=size)) == expected
    assert populated.backend.count_runs("search", query) == 4
    combined = RunQuery(text="tie", status=RunStatus.COMPLETED, filter="metrics.acc > 0", order_by=("created",))
    assert names(all_runs(populated.backend, "search", combined)) == ["s-tie-new"]


def test_a_parents_children_filtered_and_ordered(populated: Populated) -> None:
    sweep = populated.id("sweep")
    query = RunQuery(parent_id=sweep, order_by=("metrics.loss DESC",))
    assert names(all_runs(populated.backend, "cifar", query, size=1)) == ["child-a", "child-b"]
    query = RunQuery(parent_id=sweep, filter="metrics.loss < 1")
    assert names(all_runs(populated.backend, "cifar", query)) == ["child-a"]
    assert populated.backend.count_runs("cifar", query) == 1
    assert populated.backend.count_runs("cifar", RunQuery(filter="metrics.loss < 1")) == 0  # top-level only


def test_a_page_token_can_be_used_again(populated: Populated) -> None:
    backend, query = populated.backend, RunQuery(order_by=("metrics.acc DESC",))
    first = backend.list_runs("search", query, page_size=2)
    assert names(first.runs) == ["s-inf", "s-first"] and first.next_token is not None
    for _ in range(2):
        again = backend.list_runs("search", query, page_token=first.next_token, page_size=2)
        assert names(again.runs) == ["s-tie-new", "s-tie-old"]


def test_listed_runs_carry_their_last_metric_values(populated: Populated) -> None:
    listed = {r.display_name: r for r in all_runs(populated.backend, "search", RunQuery(order_by=("metrics.acc",)))}
    assert listed["s-first"].metrics == {"acc": 0.9, "val loss": 0.3, "a.b": 1.0}
    assert listed["s-neg"].metrics == {"acc": -1.5}
    assert math.isnan(listed["s-nan"].metrics["acc"]) and math.isnan(listed["s-tie-old"].metrics["val loss"])
    assert listed["s-inf"].metrics == {"acc": math.inf} and listed["s-none"].metrics == {}
    for name, run in listed.items():
        assert run.tags == populated.content.run(name).tags
        assert run.params == (populated.content.run(name).params if populated.writes_params else {})


MALFORMED_FILTERS = [
    "metrics.acc >",
    "metrics.acc > 'high'",
    "tags.model = cnn",
    "tags.model < 'cnn'",
    "nothing.acc > 1",
    "metrics.acc > 1 OR metrics.acc < 0",
    "metrics.acc > 1 AND",
    "tags.model IN ('cnn'",
    "metrics.`val loss > 1",
]


@pytest.mark.parametrize("text", MALFORMED_FILTERS)
def test_malformed_filters_raise_query_errors(populated: Populated, text: str) -> None:
    with pytest.raises(QueryError) as caught:
        populated.backend.list_runs("search", RunQuery(filter=text))
    assert isinstance(caught.value, ValueError) and "column" in str(caught.value)
    with pytest.raises(QueryError):
        populated.backend.count_runs("search", RunQuery(filter=text))
    with pytest.raises(QueryError):
        populated.backend.list_runs("search", RunQuery(filter=text, order_by=("metrics.acc",)))


@pytest.mark.parametrize("order", [("metrics.acc SIDEWAYS",), ("nothing.acc",), ("",), ("metrics.acc", "tags.")])
def test_malformed_order_items_raise_query_errors(populated: Populated, order: tuple[str, ...]) -> None:
    with pytest.raises(QueryError):
        populated.backend.list_runs("search", RunQuery(order_by=order))
    with pytest.raises(QueryError):
        populated.backend.count_runs("search", RunQuery(order_by=order))


@pytest.mark.parametrize("token", ["garbage", "", "-"])
def test_a_sorted_listing_refuses_tokens_it_never_gave(populated: Populated, token: str) -> None:
    with pytest.raises(NotFoundError, match="page token"):
        populated.backend.list_runs("search", RunQuery(order_by=("metrics.acc",)), page_token=token, page_size=2)


def test_run_keys_count_the_top_level_runs_using_each_name(populated: Populated) -> None:
    keys = populated.backend.list_run_keys("search")
    assert isinstance(keys, RunKeys)
    assert keys.metrics == {"a.b": 2, "acc": 6, "val loss": 3}
    assert keys.tags == {"mlflow.note": 1, "model": 6, "note": 2}
    assert keys.properties == ({"dataset": 4} if populated.has_properties else {})
    assert keys.params == ({"lr": 3, "opt": 2} if populated.writes_params else {})
    mnist = populated.backend.list_run_keys("mnist")  # numeric metrics only
    assert mnist.metrics == {"epoch": 1, "loss": 5, "lr": 1}
    assert mnist.tags == {"best": 1, "lr": 5, "model": 1}
    assert mnist.properties == ({"dataset": 1} if populated.has_properties else {})
    cifar = populated.backend.list_run_keys("cifar")  # the children's metrics are not the table's
    assert cifar.metrics == {} and cifar.tags == {"kind": 1}
    assert populated.backend.list_run_keys("empty") == RunKeys()
    with pytest.raises(NotFoundError):
        populated.backend.list_run_keys("no-such-experiment")


# -- metrics ---------------------------------------------------------------------------------------


def test_list_metrics_kinds_counts_and_last_values(populated: Populated) -> None:
    spec = populated.content.run("baseline")
    metrics = {m.name: m for m in populated.backend.list_metrics(populated.id("baseline"))}
    assert all(isinstance(m, MetricInfo) for m in metrics.values())
    assert {name: m.kind for name, m in metrics.items()} == populated.metric_kinds(spec)
    assert metrics["loss"].count == LONG_SERIES_POINTS and metrics["loss"].value_type == "float"
    assert metrics["loss"].last_value == pytest.approx(1 / LONG_SERIES_POINTS)
    assert metrics["epoch"].value_type == "int" and metrics["epoch"].last_value == 3
    assert metrics["epoch"].count == 3
    assert metrics["lr"].count == 3
    if populated.holds(MetricKind.STRING):
        assert metrics["phase"].count == 3 and metrics["phase"].last_value == "eval"
    if populated.holds(MetricKind.ROW):
        assert metrics["eval"].count == 2
    if populated.holds(MetricKind.LIST):
        assert metrics["layer sizes"].count == 1
    assert metrics["confusion"].count == 1 and metrics["samples"].count == 1
    assert populated.backend.list_metrics(populated.id("sweep")) == []


def test_a_long_series_whole_and_from_an_index(populated: Populated) -> None:
    backend, run_id = populated.backend, populated.id("baseline")
    expected = np.asarray(populated.content.run("baseline").series["loss"], dtype=np.float64)
    whole = backend.get_series(run_id, "loss")
    assert isinstance(whole, MetricSeries) and whole.name == "loss" and whole.start == 0
    assert whole.steps.dtype == np.int64 and whole.values.dtype == np.float64 and whole.times.dtype == np.float64
    assert len(whole) == LONG_SERIES_POINTS == len(whole.steps) == len(whole.times)
    np.testing.assert_array_equal(whole.values, expected)
    np.testing.assert_array_equal(whole.steps, np.arange(LONG_SERIES_POINTS))
    assert np.all(np.diff(whole.times) >= 0)
    for start in (1, 32_767, 32_768, 40_000, LONG_SERIES_POINTS - 1):  # inside and across chunk borders
        tail = backend.get_series(run_id, "loss", start=start)
        assert tail.start == start and tail.next_start == LONG_SERIES_POINTS
        np.testing.assert_array_equal(tail.values, expected[start:])
        np.testing.assert_array_equal(tail.steps, np.arange(start, LONG_SERIES_POINTS))
    for start in (LONG_SERIES_POINTS, LONG_SERIES_POINTS + 5):
        empty = backend.get_series(run_id, "loss", start=start)
        assert len(empty) == 0 and empty.next_start == start


def test_explicit_steps_and_special_values(populated: Populated) -> None:
    lr = populated.backend.get_series(populated.id("baseline"), "lr")
    assert lr.steps.tolist() == [0, 10, 20] and lr.values.tolist() == [0.1, 0.05, 0.025]
    epoch = populated.backend.get_series(populated.id("baseline"), "epoch")
    assert epoch.values.tolist() == [1.0, 2.0, 3.0]
    diverged = populated.backend.get_series(populated.id("diverged"), "loss").values
    assert diverged[:2].tolist() == [0.5, 3.0] and math.isinf(diverged[2])


def test_records_of_every_non_numeric_kind(populated: Populated) -> None:
    backend, run_id = populated.backend, populated.id("baseline")
    spec = populated.content.run("baseline")

    def values(name: str, start: int = 0) -> list[object]:
        records = backend.get_metric_records(run_id, name, start)
        assert all(isinstance(r, MetricRecord) and isinstance(r.time, float) for r in records)
        return [r.value for r in records]

    if populated.holds(MetricKind.STRING):  # the kinds a kind lacks were not logged (KindTraits.metric_kinds)
        phase = backend.get_metric_records(run_id, "phase")
        assert [r.value for r in phase] == spec.strings["phase"] and [r.step for r in phase] == [0, 1, 2]
        assert values("phase", start=1) == spec.strings["phase"][1:]
        assert values("phase", start=3) == []
    if populated.holds(MetricKind.LIST):
        assert values("layer sizes") == [spec.lists["layer sizes"]]
    if populated.holds(MetricKind.ROW):
        assert values("eval") == spec.rows["eval"]
    assert values("confusion") == [spec.tables["confusion"]]
    assert values("confusion", start=1) == []
    (image,) = values("samples")
    assert isinstance(image, str)
    assert image in [f.path for f in backend.list_files(run_id)]
    assert backend.read_file_range(run_id, image, 0, 1 << 20) == spec.images["samples"]


def test_metrics_of_the_wrong_kind_are_refused(populated: Populated) -> None:
    backend, run_id = populated.backend, populated.id("baseline")
    for name, kind in populated.metric_kinds(populated.content.run("baseline")).items():
        with pytest.raises(ValueError):
            if kind == MetricKind.SCALAR:
                backend.get_metric_records(run_id, name)
            else:
                backend.get_series(run_id, name)


# -- files -----------------------------------------------------------------------------------------


def test_list_files_sorted_with_sizes_and_prefixes(populated: Populated) -> None:
    backend, run_id = populated.backend, populated.id("baseline")
    expected = files_of(populated, "baseline")
    listed = backend.list_files(run_id)
    assert all(isinstance(f, FileInfo) and isinstance(f.modified_at, float) for f in listed)
    assert [f.path for f in listed] == sorted(f.path for f in listed)
    sizes = {f.path: f.size for f in listed}
    assert {p: sizes.get(p) for p in expected} == {p: len(d) for p, d in expected.items()}
    extra = set(sizes) - set(expected)  # the logged image's file (and the table's, where a table is a file)
    assert sorted(path.split("/")[0] + "/" for path in extra) == sorted(populated.traits.metric_file_folders)
    assert sizes["outputs/model.bin"] == BIG_FILE_SIZE and sizes["empty.txt"] == 0
    outputs = [f.path for f in backend.list_files(run_id, "outputs/")]
    assert outputs == sorted(p for p in expected if p.startswith("outputs/"))
    assert [f.path for f in backend.list_files(run_id, "outputs/nested/")] == ["outputs/nested/deep/notes.txt"]
    assert [f.path for f in backend.list_files(run_id, "outputs/r\u00e9s")] == ["outputs/r\u00e9sum\u00e9 \u2713.txt"]
    assert backend.list_files(run_id, "no-such-folder/") == []
    assert backend.list_files(populated.id("grandchild")) == []


def test_read_file_range_at_the_start_middle_end_and_past_it(populated: Populated) -> None:
    backend, run_id = populated.backend, populated.id("baseline")
    data = files_of(populated, "baseline")["outputs/model.bin"]
    read = backend.read_file_range
    assert read(run_id, "outputs/model.bin", 0, 100) == data[:100]
    assert read(run_id, "outputs/model.bin", 1 << 20, 4096) == data[1 << 20 : (1 << 20) + 4096]
    assert read(run_id, "outputs/model.bin", len(data) - 10, 100) == data[-10:]  # fewer at the end
    assert read(run_id, "outputs/model.bin", len(data), 100) == b""
    assert read(run_id, "outputs/model.bin", len(data) + 1000, 100) == b""
    assert read(run_id, "outputs/model.bin", 5, 0) == b""
    assert read(run_id, "outputs/model.bin", 0, len(data) * 2) == data
    assert read(run_id, "empty.txt", 0, 10) == b""
    files = files_of(populated, "baseline")
    odd = "outputs/r\u00e9sum\u00e9 \u2713.txt"
    assert read(run_id, odd, 0, 100) == files[odd]
    if "outputs/100% done #1.txt" in files:  # MLflow refuses "#" in a path
        assert read(run_id, "outputs/100% done #1.txt", 8, 100) == b"and hash"
    assert read(run_id, "outputs/50% off.txt", 2, 100) == b"percent sign alone"
    with pytest.raises(ValueError):
        read(run_id, "outputs/model.bin", -1, 10)


# -- downloads -------------------------------------------------------------------------------------


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden temporary ones included) with its bytes."""
    if not folder.exists():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_download_keeps_paths_minus_the_prefix_and_reports_progress(populated: Populated, tmp_path: Path) -> None:
    backend, run_id = populated.backend, populated.id("baseline")
    files = files_of(populated, "baseline")
    wanted = ["outputs/metrics.json", "outputs/nested/deep/notes.txt", "outputs/r\u00e9sum\u00e9 \u2713.txt"]
    wanted += ["outputs/model.bin", "empty.txt"]
    calls: list[tuple[int, int]] = []
    dest = tmp_path / "new folder"
    written = backend.download_files(
        run_id, wanted, dest, strip_prefix="outputs/", progress=lambda d, t: calls.append((d, t))
    )
    expected = {name.removeprefix("outputs/"): files[name] for name in wanted}
    assert listing(dest) == expected  # right bytes, nothing else (no temporary files)
    assert sorted(written) == sorted(dest / name for name in expected)
    total = sum(len(files[n]) for n in wanted)
    assert calls and calls[-1] == (total, total) and {t for _, t in calls} == {total}
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_download_refuses_existing_files_unless_overwrite(populated: Populated, tmp_path: Path) -> None:
    backend, run_id = populated.backend, populated.id("baseline")
    files = files_of(populated, "baseline")
    (tmp_path / "outputs").mkdir()
    existing = tmp_path / "outputs" / "metrics.json"
    existing.write_bytes(b"keep me")
    wanted = ["outputs/with space.txt", "outputs/metrics.json"]
    with pytest.raises(FileExistsError):
        backend.download_files(run_id, wanted, tmp_path)
    assert listing(tmp_path) == {"outputs/metrics.json": b"keep me"}  # unchanged, and nothing else written
    backend.download_files(run_id, wanted, tmp_path, overwrite=True)
    assert listing(tmp_path) == {name: files[name] for name in wanted}


def test_a_cancelled_download_leaves_no_file_that_looks_complete(populated: Populated, tmp_path: Path) -> None:
    backend, run_id = populated.backend, populated.id("baseline")
    files = files_of(populated, "baseline")
    token = CancelToken()

    def cancel_after_first_bytes(done: int, total: int) -> None:
        if done > 0:
            token.cancel()

    wanted = ["outputs/model.bin", "outputs/metrics.json"]
    with pytest.raises(CancelledError):
        backend.download_files(run_id, wanted, tmp_path / "a", progress=cancel_after_first_bytes, cancel=token)
    got = listing(tmp_path / "a")
    assert "outputs/model.bin" not in got  # the file being copied when cancelled
    assert all(name in files and data == files[name] for name, data in got.items()), sorted(got)

    cancelled = CancelToken()
    cancelled.cancel()
    with pytest.raises(CancelledError):
        backend.download_files(run_id, ["outputs/metrics.json"], tmp_path / "b", cancel=cancelled)
    assert listing(tmp_path / "b") == {}


def test_download_of_nothing_writes_nothing(populated: Populated, tmp_path: Path) -> None:
    assert populated.backend.download_files(populated.id("baseline"), [], tmp_path / "d") == []
    assert listing(tmp_path) == {}


def test_download_of_an_unknown_file_writes_nothing(populated: Populated, tmp_path: Path) -> None:
    backend, run_id = populated.backend, populated.id("baseline")
    with pytest.raises(NotFoundError):
        backend.download_files(run_id, ["outputs/metrics.json", "outputs/missing.txt"], tmp_path)
    with pytest.raises(NotFoundError):
        backend.download_files(run_id, ["outputs/metrics.json", "outputs/nested"], tmp_path)  # a folder
    assert listing(tmp_path) == {}


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_unsafe_file_names_are_refused_and_write_nothing(populated: Populated, tmp_path: Path, name: str) -> None:
    backend, run_id = populated.backend, populated.id("baseline")
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ValueError, match="invalid file name"):
        backend.read_file_range(run_id, name, 0, 10)
    with pytest.raises(ValueError, match="invalid file name"):
        backend.download_files(run_id, ["outputs/metrics.json", name], dest)
    assert listing(tmp_path) == {}
    assert not (tmp_path / "x").exists()


def test_a_strip_prefix_cannot_lead_outside_the_destination(populated: Populated, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    backend, run_id = populated.backend, populated.id("baseline")
    written = backend.download_files(run_id, ["outputs/metrics.json"], dest, strip_prefix="outputs/metrics.json")
    assert [p.resolve() for p in written] == [(dest / "metrics.json").resolve()]


# -- unknown ids and names ---------------------------------------------------------------------------


def test_not_found_errors_are_key_errors() -> None:
    assert issubclass(NotFoundError, KeyError)


def test_unknown_run_ids_raise_not_found(populated: Populated, tmp_path: Path) -> None:
    backend = populated.backend
    calls = {
        "get_run": lambda: backend.get_run(UNKNOWN_RUN),
        "get_run_details": lambda: backend.get_run_details(UNKNOWN_RUN),
        "list_children": lambda: backend.list_children(UNKNOWN_RUN),
        "status_history": lambda: backend.status_history(UNKNOWN_RUN),
        "list_metrics": lambda: backend.list_metrics(UNKNOWN_RUN),
        "get_series": lambda: backend.get_series(UNKNOWN_RUN, "loss"),
        "get_metric_records": lambda: backend.get_metric_records(UNKNOWN_RUN, "phase"),
        "list_files": lambda: backend.list_files(UNKNOWN_RUN),
        "read_file_range": lambda: backend.read_file_range(UNKNOWN_RUN, "empty.txt", 0, 1),
        "download_files": lambda: backend.download_files(UNKNOWN_RUN, ["empty.txt"], tmp_path / "d"),
        "set_run_metadata": lambda: backend.set_run_metadata(UNKNOWN_RUN, description="x"),
        "cancel_run": lambda: backend.cancel_run(UNKNOWN_RUN),
        "list_runs(parent_id)": lambda: backend.list_runs("mnist", RunQuery(parent_id=UNKNOWN_RUN)),
    }
    before = backend.change_token()
    for what, call in calls.items():
        with pytest.raises(NotFoundError) as caught:
            call()
        assert isinstance(caught.value, KeyError), what
        assert str(caught.value), what  # a message, not an empty KeyError
    assert backend.change_token() == before and not (tmp_path / "d").exists()


def test_unknown_experiments_metrics_and_files_raise_not_found(populated: Populated) -> None:
    backend, run_id = populated.backend, populated.id("baseline")
    with pytest.raises(NotFoundError):
        backend.list_runs("no-such-experiment")
    with pytest.raises(NotFoundError):
        backend.count_runs("no-such-experiment")
    with pytest.raises(NotFoundError, match="no-such-metric"):
        backend.get_series(run_id, "no-such-metric")
    with pytest.raises(NotFoundError, match="no-such-metric"):
        backend.get_metric_records(run_id, "no-such-metric")
    with pytest.raises(NotFoundError, match=r"missing\.txt"):
        backend.read_file_range(run_id, "outputs/missing.txt", 0, 10)
    with pytest.raises(NotFoundError):
        backend.read_file_range(run_id, "outputs", 0, 10)  # a folder is not a file
    with pytest.raises(NotFoundError):
        backend.read_file_range(run_id, "empty.txt/inside", 0, 10)  # nor is a file a folder


@pytest.mark.parametrize("run_id", ["../x", "/etc/passwd", "a/../../b"])
def test_malformed_run_ids_are_refused(populated: Populated, tmp_path: Path, run_id: str) -> None:
    backend = populated.backend
    with pytest.raises((ValueError, NotFoundError)):
        backend.get_run(run_id)
    with pytest.raises((ValueError, NotFoundError)):
        backend.list_files(run_id)
    with pytest.raises((ValueError, NotFoundError)):
        backend.download_files(run_id, ["empty.txt"], tmp_path / "d")
    with pytest.raises((ValueError, NotFoundError)):
        backend.set_run_metadata(run_id, description="x")
    assert not (tmp_path / "d").exists()


# -- writes: metadata, change tokens, cancel -----------------------------------------------------------


def test_metadata_round_trips_and_the_change_is_seen(populated: Populated) -> None:
    backend, run_id = populated.backend, populated.id("editable")
    before = backend.change_token()
    assert isinstance(before, int)
    assert backend.list_changed_runs(before)[0] == []
    updated = backend.set_run_metadata(
        run_id, display_name="edited \u2713", description="after", tags={"a": "1", "b": "two"}
    )
    assert isinstance(updated, RunInfo)
    assert (updated.display_name, updated.description, updated.tags) == (
        "edited \u2713",
        "after",
        {"a": "1", "b": "two"},
    )
    assert backend.get_run(run_id) == updated
    after = backend.change_token()
    assert after != before
    changed, token = backend.list_changed_runs(before)
    assert run_id in [r.id for r in changed]
    assert next(r for r in changed if r.id == run_id).description == "after"
    assert backend.list_changed_runs(token) == ([], token)  # nothing since
    # None leaves a field as it is; tags are replaced as a whole.
    backend.set_run_metadata(run_id, tags={"c": ""})
    again = backend.get_run(run_id)
    assert (again.display_name, again.description, again.tags) == ("edited \u2713", "after", {"c": ""})
    assert backend.list_runs("scratch", RunQuery(text="edited")).runs == [again]


def test_a_bad_tag_name_changes_nothing(populated: Populated) -> None:
    backend, run_id = populated.backend, populated.id("editable")
    before, token = backend.get_run(run_id), backend.change_token()
    with pytest.raises(ValueError):
        backend.set_run_metadata(run_id, display_name="must not stick", tags={"": "x"})
    assert backend.get_run(run_id) == before
    assert backend.list_changed_runs(token)[0] == []


def test_cancel_a_running_run(populated: Populated) -> None:
    backend, run_id = populated.backend, populated.id("to-cancel")
    if not backend.info().can_cancel:
        pytest.skip(f"the {populated.kind} kind cannot cancel runs")
    token = backend.change_token()
    status = backend.cancel_run(run_id)
    assert status in (RunStatus.CANCELED, RunStatus.CANCEL_REQUESTED)
    assert backend.get_run(run_id).status == status
    assert backend.status_history(run_id)[-1].status == status
    assert run_id in [r.id for r in backend.list_changed_runs(token)[0]]


def test_cancel_a_finished_run_is_a_run_state_error(populated: Populated) -> None:
    backend = populated.backend
    if not backend.info().can_cancel:
        pytest.skip(f"the {populated.kind} kind cannot cancel runs")
    for name in ("baseline", "diverged", "stopped"):
        run_id = populated.id(name)
        before, token = backend.get_run(run_id), backend.change_token()
        with pytest.raises(RunStateError, match=str(before.status)):
            backend.cancel_run(run_id)
        assert backend.get_run(run_id) == before
        assert backend.change_token() == token


def test_a_kind_that_cannot_cancel_refuses_and_changes_nothing(populated: Populated) -> None:
    backend = populated.backend
    if backend.info().can_cancel:
        pytest.skip(f"the {populated.kind} kind can cancel runs")
    for name in ("to-cancel", "baseline", "stopped"):  # running or not, a known run is refused the same way
        run_id = populated.id(name)
        before, history, token = backend.get_run(run_id), backend.status_history(run_id), backend.change_token()
        with pytest.raises(UnsupportedOperation) as caught:
            backend.cancel_run(run_id)
        assert str(caught.value), name  # a sentence the user can act on
        assert backend.get_run(run_id) == before and backend.status_history(run_id) == history
        assert backend.change_token() == token
    with pytest.raises(NotFoundError):
        backend.cancel_run(UNKNOWN_RUN)


# -- compute (kinds that have it) ---------------------------------------------------------------------


def test_compute_listing_for_kinds_with_compute(populated: Populated) -> None:
    backend = populated.backend
    if not isinstance(backend, ComputeBackend):
        assert not hasattr(backend, "list_compute") and not hasattr(backend, "submit_script")
        pytest.skip(f"the {populated.kind} kind has no compute")
    instances = backend.list_compute()
    assert instances and all(isinstance(i, ComputeInfo) for i in instances)
    first = backend.get_compute(instances[0].name)
    assert isinstance(first, ComputeInfo) and first.name == instances[0].name
    with pytest.raises(NotFoundError):
        backend.get_compute("no-such-compute")


def test_following_change_tokens_visits_every_run(populated: Populated) -> None:
    seen: set[str] = set()
    token = 0
    for _ in range(100):
        changed, next_token = populated.backend.list_changed_runs(token, limit=3)
        assert all(isinstance(r, RunInfo) for r in changed)
        if not changed:
            assert next_token >= token
            break
        assert next_token > token
        seen |= {r.id for r in changed}
        token = next_token
    else:
        raise AssertionError("list_changed_runs never ran out of changes")
    assert set(populated.ids.values()) <= seen


# -- threads ---------------------------------------------------------------------------------------


def test_reads_and_writes_from_several_threads(populated: Populated) -> None:
    """The GUI calls a backend from several worker threads at once."""
    backend, editable = populated.backend, populated.id("editable")
    baseline = populated.id("baseline")
    expected = [r.name for r in reversed(populated.content.top_level("mnist"))]

    def work(i: int) -> None:
        for j in range(10):
            assert names(backend.list_runs("mnist", page_size=100).runs) == expected
            assert len(backend.get_series(baseline, "loss", start=LONG_SERIES_POINTS - 100)) == 100
            assert backend.read_file_range(baseline, "outputs/with space.txt", 2, 4) == b"name"
            backend.set_run_metadata(editable, description=f"thread {i} write {j}")
            backend.change_token()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(4)))
    assert backend.get_run(editable).description.endswith("write 9")


def test_compute_names_are_checked_before_anything_is_made(populated: Populated) -> None:
    backend = populated.backend
    if not isinstance(backend, ComputeBackend):
        pytest.skip(f"the {populated.kind} kind has no compute")
    before = backend.list_compute()
    for bad in ("1starts-with-a-digit", "has space", "x", "../x"):
        with pytest.raises(ValueError):
            backend.create_compute(bad)
    with pytest.raises(ValueError, match="already exists"):
        backend.create_compute(before[0].name)
    for call in (backend.start_compute, backend.stop_compute, backend.restart_compute, backend.delete_compute):
        with pytest.raises(NotFoundError):
            call("no-such-compute")
    assert [i.name for i in backend.list_compute()] == [i.name for i in before]
