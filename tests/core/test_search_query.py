"""A whole RunQuery in plain Python: the box's two languages, quick words with a filter, order, run keys."""

from __future__ import annotations

import math

import pytest

from studio.core.errors import QueryError
from studio.core.search import apply_query, compile_query, query_from_box, query_matches, run_keys_of
from studio.core.status import RunStatus
from studio.core.types import RunInfo, RunQuery


def run(
    run_id: str,
    created: float,
    *,
    name: str = "",
    status: RunStatus = RunStatus.COMPLETED,
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> RunInfo:
    return RunInfo(
        id=run_id,
        experiment="exp",
        number=int(created),
        display_name=name or run_id,
        status=status,
        created_at=created,
        metrics=metrics or {},
        tags=tags or {},
        params=params or {},
    )


RUNS = [
    run("a", 1, name="resnet small", metrics={"acc": 0.5, "loss": 2.0}, tags={"model": "resnet"}),
    run("b", 2, name="resnet big", metrics={"acc": 0.9}, tags={"model": "resnet"}, status=RunStatus.FAILED),
    run("c", 3, name="vit", metrics={"acc": math.nan}, params={"lr": "0.01"}),
    run("d", 4, name="mlp"),
]


def ids(query: RunQuery) -> list[str]:
    return [r.id for r in apply_query(query, RUNS)]


def test_without_an_order_runs_come_newest_first_or_oldest_first() -> None:
    assert ids(RunQuery()) == ["d", "c", "b", "a"]
    assert ids(RunQuery(newest_first=False)) == ["a", "b", "c", "d"]


def test_quick_words_and_the_filter_apply_together() -> None:
    assert ids(RunQuery(text="resnet", filter="metrics.acc > 0.6")) == ["b"]
    assert ids(RunQuery(status=RunStatus.COMPLETED, filter="tags.model = 'resnet'")) == ["a"]
    assert ids(RunQuery(filter="params.lr = '0.01'")) == ["c"]


def test_an_order_puts_nan_then_missing_last_in_both_directions() -> None:
    assert ids(RunQuery(order_by=("metrics.acc DESC",))) == ["b", "a", "c", "d"]
    assert ids(RunQuery(order_by=("metrics.acc",))) == ["a", "b", "c", "d"]


def test_ties_break_newest_first() -> None:
    assert ids(RunQuery(order_by=("tags.model ASC",))) == ["b", "a", "d", "c"]


def test_a_bad_order_item_is_named_in_the_error() -> None:
    with pytest.raises(QueryError, match=r"In the order 'metrics\.acc UP'"):
        compile_query(RunQuery(order_by=("metrics.acc UP",)))


def test_query_matches_agrees_with_apply_query() -> None:
    query = RunQuery(text="resnet", filter="metrics.acc >= 0.5")
    assert [r.id for r in RUNS if query_matches(query, r)] == sorted(ids(query))


def test_the_box_reads_quick_words_then_the_filter() -> None:
    query = query_from_box("resnet status:failed tag:model=res metrics.acc > 0.6")
    assert query == RunQuery(text="resnet", status=RunStatus.FAILED, tag="model=res", filter="metrics.acc > 0.6")
    assert ids(query) == ["b"]


def test_a_box_error_points_at_the_column_of_the_whole_box() -> None:
    text = "resnet metrics.acc > 'high'"
    with pytest.raises(QueryError) as caught:
        query_from_box(text)
    assert caught.value.position == text.index("'high'")
    assert f"column {text.index(chr(39)) + 1}" in str(caught.value)


def test_an_unknown_status_word_says_which_are_known() -> None:
    with pytest.raises(QueryError, match=r"Unknown status 'finished'.*Completed"):
        query_from_box("status:finished")


def test_run_keys_count_runs_per_name() -> None:
    keys = run_keys_of(RUNS)
    assert keys.metrics == {"acc": 3, "loss": 1}
    assert keys.tags == {"model": 2}
    assert keys.params == {"lr": 1}
    assert keys.properties == {}


def test_keys_split_on_commas_outside_quotes() -> None:
    from studio.core.search import Key, parse_keys

    assert parse_keys('metrics.acc, tags.`a, b`,properties."x,y",') == (
        Key("metrics", "acc"),
        Key("tags", "a, b"),
        Key("properties", "x,y"),
    )
    assert parse_keys("") == ()


def test_a_bad_key_is_named_with_its_position_in_the_whole_text() -> None:
    from studio.core.search import parse_keys

    text = "metrics.acc,metrics.a b"
    with pytest.raises(QueryError, match=r"In the key 'metrics\.a b'") as caught:
        parse_keys(text)
    assert caught.value.position == text.index(" b") + 1
