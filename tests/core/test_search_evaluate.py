"""The plain Python evaluation of filters and orders: MLflow's semantics, the reference for every backend."""

from __future__ import annotations

import math
from typing import Any

import pytest

from studio.core.search import RunValues, matches, parse_filter, parse_order_by, sort_key


def run(run_id: str = "r", created: float | None = 0.0, **kinds: dict[str, Any]) -> RunValues:
    attributes = {"run_id": run_id, "created": created, **kinds.pop("attributes", {})}
    return RunValues(attributes=attributes, **kinds)


RUN = run(
    metrics={"acc": 0.9, "val loss": 0.25},
    params={"lr": "0.01", "model": "ResNet-50"},
    tags={"mlflow.runName": "brave_fox"},
    properties={"gpu": "A100"},
    attributes={"status": "FINISHED", "run_name": "brave_fox", "start_time": 100.0, "end_time": None},
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc = 0.9", True),
        ("metrics.acc != 0.9", False),
        ("metrics.acc < 0.95", True),
        ("metrics.acc <= 0.9", True),
        ("metrics.acc > 0.9", False),
        ("metrics.acc >= 0.9", True),
        ("metrics.`val loss` < 0.3", True),
        ("params.lr = '0.01'", True),
        ("params.lr != '0.01'", False),
        ("params.lr = '0.010'", False),  # text, not numbers
        ("params.model LIKE 'Res%'", True),
        ("params.model LIKE 'res%'", False),  # LIKE is case-sensitive
        ("params.model ILIKE 'res%'", True),
        ("params.model LIKE 'ResNet-5_'", True),
        ("params.model LIKE 'ResNet-_'", False),  # _ is exactly one character
        ("params.model LIKE 'ResNet.50'", False),  # regex characters are literal
        ("params.model LIKE '%Net%'", True),
        ("params.model LIKE 'Net'", False),  # the whole value, not a substring
        ("tags.mlflow.runName IN ('a', 'brave_fox')", True),
        ("tags.mlflow.runName NOT IN ('a', 'brave_fox')", False),
        ("tags.mlflow.runName NOT IN ('a')", True),
        ("properties.gpu = 'A100'", True),
        ("attributes.status = 'FINISHED'", True),
        ("attributes.run_name ILIKE 'BRAVE%'", True),
        ("attributes.start_time > 50", True),
        ("metrics.acc > 0.5 AND params.lr = '0.01' AND attributes.status != 'FAILED'", True),
        ("metrics.acc > 0.5 AND params.lr = '0.1'", False),
        ("", True),
    ],
)
def test_each_comparator_matches_as_mlflow_does(text: str, expected: bool) -> None:
    assert matches(parse_filter(text), RUN) is expected


@pytest.mark.parametrize(
    "text",
    [
        "metrics.missing != 1",
        "metrics.missing < 1e999",
        "params.missing != 'x'",
        "params.missing NOT IN ('x')",
        "tags.missing LIKE '%'",
        "properties.missing ILIKE '%'",
        "attributes.end_time > 0",  # a running run has no end time yet
        "attributes.end_time != 0",
    ],
)
def test_a_run_lacking_the_key_never_matches(text: str) -> None:
    assert not matches(parse_filter(text), RUN)


def order(runs: list[RunValues], *keys: str) -> list[str]:
    key = sort_key([parse_order_by(k) for k in keys])
    return [r.attributes["run_id"] for r in sorted(runs, key=key)]


RUNS = [
    run("a", created=1, metrics={"acc": 0.5}),
    run("b", created=2, metrics={"acc": 0.9}),
    run("c", created=3),
    run("d", created=4, metrics={"acc": 0.7}),
    run("e", created=5, metrics={"acc": math.nan}),
]


def test_missing_keys_sort_last_in_both_directions() -> None:
    assert order(RUNS, "metrics.acc ASC") == ["a", "d", "b", "e", "c"]
    assert order(RUNS, "metrics.acc DESC") == ["b", "d", "a", "e", "c"]


def test_ties_break_newest_first_then_by_id() -> None:
    runs = [
        run("x", created=1, params={"m": "p"}),
        run("y", created=3, params={"m": "p"}),
        run("z", created=2, params={"m": "p"}),
        run("w", created=2, params={"m": "p"}),
        run("v", created=None, params={"m": "p"}),
    ]
    assert order(runs, "params.m") == ["y", "w", "z", "x", "v"]
    assert order(runs, "params.m DESC") == ["y", "w", "z", "x", "v"]
    assert order(runs) == ["y", "w", "z", "x", "v"]


def test_later_keys_break_ties_of_earlier_ones() -> None:
    runs = [
        run("a", created=1, params={"m": "x"}, metrics={"acc": 1}),
        run("b", created=2, params={"m": "x"}, metrics={"acc": 2}),
        run("c", created=3, params={"m": "w"}, metrics={"acc": 0}),
        run("d", created=4, params={"m": "x"}),
    ]
    assert order(runs, "params.m DESC", "metrics.acc ASC") == ["a", "b", "d", "c"]
    assert order(runs, "params.m ASC", "metrics.acc DESC") == ["c", "b", "a", "d"]


def test_text_sorts_as_text_and_numbers_before_text() -> None:
    runs = [
        run("a", properties={"p": "10"}),
        run("b", properties={"p": "9"}),
        run("c", properties={"p": 3}),  # type: ignore[dict-item]
    ]
    assert order(runs, "properties.p") == ["c", "a", "b"]
    assert order(runs, "properties.p DESC") == ["b", "a", "c"]


def test_a_run_info_is_evaluated_through_its_fields() -> None:
    from studio.core.search import run_values
    from studio.core.status import RunStatus
    from studio.core.types import RunInfo

    info = RunInfo(
        id="abc",
        experiment="e",
        number=1,
        display_name="brave_fox",
        status=RunStatus.FAILED,
        created_at=10.0,
        started_at=11.0,
        ended_at=71.0,
        tags={"model": "resnet"},
        properties={"gpu": "A100"},
    )
    query = parse_filter(
        "attributes.status = 'Failed' AND attributes.run_name LIKE 'brave%' AND attributes.duration = 60"
        " AND attributes.run_id IN ('abc') AND tags.model = 'resnet' AND properties.gpu = 'A100'"
        " AND attributes.created < 11 AND attributes.start_time = 11 AND attributes.end_time > 70"
    )
    assert matches(query, run_values(info))
