"""The local workspace's SQL answers every filter and order exactly as the Python reference (apply_query).

Hypothesis draws runs (metrics with NaN or missing, tags, properties, statuses, times with ties) logged into a
real local workspace, and filters and orders from the grammar; every page of the local backend, followed by its
tokens, must equal ``apply_query`` over the same runs read back with ``get_run``.
"""

from __future__ import annotations

import itertools
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core.search import (
    ATTRIBUTES,
    Comparison,
    Filter,
    Key,
    OrderKey,
    apply_query,
    order_text,
    run_keys_of,
    to_text,
)
from studio.core.search.syntax import NUMBER_OPS, TEXT_OPS
from studio.core.types import RunQuery

METRICS = ["acc", "val loss", "a.b"]
TAGS = ["t", "my.tag"]
PROPERTIES = ["p"]
NUMBERS = [0.0, 0.5, 1.0, -1.0, math.inf, -math.inf]
TEXTS = ["", "a", "A", "ab", "aB", "a%b", "a_b", "axb", "\u00e9", "\u00c9", "x*y", "[z]", "a\nb"]
PATTERNS = ["%", "a%", "A%", "%b", "_", "a_b", "%\u00e9%", "x*y", "[z]", "a%b", "A_", "%*%", "a\nb"]
TIMES = [None, 100.0, 200.0, 300.0]
STATUSES = ["complete", "fail", "cancel", "running"]

keys = st.one_of(
    st.sampled_from([Key("metrics", m) for m in [*METRICS, "never"]]),
    st.sampled_from([Key("tags", t) for t in [*TAGS, "never"]]),
    st.sampled_from([Key("properties", p) for p in PROPERTIES]),
    st.just(Key("params", "lr")),
    st.sampled_from([Key("attributes", a) for a in sorted(ATTRIBUTES)]),
)


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    key = draw(keys)
    if key.numeric:
        op = draw(st.sampled_from(NUMBER_OPS))
        pool = [*NUMBERS, *TIMES[1:], 150.0] if key.kind == "attributes" else NUMBERS
        return Comparison(key, op, draw(st.sampled_from(pool)))
    op = draw(st.sampled_from(TEXT_OPS))
    texts = ["Completed", "Failed", "Running", "completed", *TEXTS] if key.name == "status" else TEXTS
    if op in ("IN", "NOT IN"):
        return Comparison(key, op, tuple(draw(st.lists(st.sampled_from(texts), min_size=1, max_size=3))))
    if op in ("LIKE", "ILIKE"):
        return Comparison(key, op, draw(st.sampled_from([*PATTERNS, *texts])))
    return Comparison(key, op, draw(st.sampled_from(texts)))


run_specs = st.fixed_dictionaries(
    {
        "metrics": st.dictionaries(st.sampled_from(METRICS), st.sampled_from([*NUMBERS, math.nan]), max_size=3),
        "tags": st.dictionaries(st.sampled_from(TAGS), st.sampled_from(TEXTS), max_size=2),
        "properties": st.dictionaries(st.sampled_from(PROPERTIES), st.sampled_from(TEXTS), max_size=1),
        "status": st.sampled_from(STATUSES),
        "created": st.sampled_from([1.0, 2.0, 3.0]),  # few values: ties are common
        "started": st.sampled_from(TIMES),
        "ended": st.sampled_from(TIMES),
    }
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from studio.sdk import Workspace

    ws = Workspace(tmp_path_factory.mktemp("property") / "ws")
    yield ws
    ws.close()


_experiments = itertools.count()


def _log(ws: Any, specs: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """Log the runs into a new experiment; set their times through SQL to force ties. Returns the SDK runs."""
    from studio.sdk import Experiment

    experiment = Experiment(ws, f"e{next(_experiments)}")
    runs = []
    for spec in specs:
        run = experiment.start_logging()
        for name, value in spec["metrics"].items():
            run.log(name, value)
        if spec["tags"]:
            run.set_tags(spec["tags"])
        if spec["properties"]:
            run.add_properties(spec["properties"])
        {"complete": run.complete, "fail": run.fail, "cancel": run.cancel, "running": run.flush}[spec["status"]]()
        runs.append(run)
    db = sqlite3.connect(Path(ws.backend.info().location) / "workspace.db", isolation_level=None)
    try:
        db.executemany(
            "UPDATE runs SET created_at = ?, started_at = ?, ended_at = ? WHERE id = ?",
            [(s["created"], s["started"], s["ended"], r.id) for s, r in zip(specs, runs, strict=True)],
        )
    finally:
        db.close()
    return experiment.name, runs


def _pages(backend: Any, experiment: str, query: RunQuery, size: int) -> list[str]:
    ids: list[str] = []
    token = None
    for _ in range(200):
        page = backend.list_runs(experiment, query, page_token=token, page_size=size)
        assert len(page.runs) <= size
        ids += [r.id for r in page.runs]
        token = page.next_token
        if token is None:
            return ids
    raise AssertionError("paging never ended")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    specs=st.lists(run_specs, min_size=1, max_size=7),
    queries=st.lists(
        st.tuples(
            st.lists(comparisons(), max_size=3),
            st.lists(st.tuples(keys, st.booleans()), max_size=2),
            st.booleans(),
            st.integers(1, 4),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_local_pages_equal_the_python_reference(workspace: Any, specs: list[dict[str, Any]], queries: Any) -> None:
    backend = workspace.backend
    experiment, sdk_runs = _log(workspace, specs)
    runs = [backend.get_run(run.id) for run in sdk_runs]
    try:
        assert backend.list_run_keys(experiment) == run_keys_of(runs)
        for comps, order, newest_first, size in queries:
            query = RunQuery(
                filter=to_text(Filter(tuple(comps))),
                order_by=tuple(order_text(OrderKey(k, d)) for k, d in order),
                newest_first=newest_first,
            )
            expected = [r.id for r in apply_query(query, runs)]
            assert _pages(backend, experiment, query, size) == expected, query
            assert backend.count_runs(experiment, query) == len(expected), query
    finally:
        for run in sdk_runs:
            run.complete()  # a no-op for ended runs; no run is left for the process exit to finish
