"""The local backend answers any filter and order as ``studio.core.search.apply_query`` does (the reference).

Random runs (metrics with NaN, infinities and missing values, tags, properties, statuses, names whose case
folds in Unicode but not in ASCII) are logged through the SDK into one real workspace, a new experiment per
example; then random queries drawn from the grammar (rendered with ``to_text``, so every comparator, key
kind and backticked name comes up) are paged through in small pages and compared with ``apply_query`` over
the same runs as ``get_run`` returns them.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from studio.core.search import (
    ATTRIBUTES,
    NUMERIC_ATTRIBUTES,
    Comparison,
    Filter,
    Key,
    OrderKey,
    apply_query,
    order_text,
    to_text,
)
from studio.core.search.syntax import NUMBER_OPS, TEXT_OPS
from studio.core.status import RunStatus
from studio.core.types import RunInfo, RunQuery
from studio.sdk import Experiment, Run, Workspace
from studio.workspaces.local import query_sql
from studio.workspaces.local.metric_writer import writer_for

METRIC_NAMES = ["acc", "val loss", "x.y"]
PAIR_KEYS = ["k", "K", "a.b"]
# Letters whose case folds outside ASCII (the Kelvin sign is K's, the dotted capital I lowers to "i" plus a
# dot), LIKE's wildcards as text, and text equal but for case.
CHARS = ["a", "A", "k", "K", "\u212a", "i", "\u0130", "\u00ff", "\u0178", "_", "%", "-", " ", "\\"]
TEXTS = st.text(alphabet=st.sampled_from(CHARS), max_size=4)
NUMBERS = st.sampled_from([0.0, -1.0, 0.5, 1.0, 2.5, math.inf, -math.inf])
LAST_VALUES = st.one_of(NUMBERS, st.just(math.nan), st.floats(-3, 3, allow_nan=False))
STATUSES = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED, RunStatus.RUNNING]

RUN = st.fixed_dictionaries(
    {
        "name": TEXTS,
        "status": st.sampled_from(STATUSES),
        "metrics": st.dictionaries(st.sampled_from(METRIC_NAMES), st.lists(LAST_VALUES, min_size=1, max_size=2)),
        "tags": st.dictionaries(st.sampled_from(PAIR_KEYS), TEXTS, max_size=3),
        "properties": st.dictionaries(st.sampled_from(PAIR_KEYS), TEXTS, max_size=2),
    }
)
_experiments = itertools.count()
_running: list[Run] = []  # completed at the end, so that the process exit has nothing to finish


@pytest.fixture(scope="module")
def workspace() -> Iterator[Workspace]:
    """One workspace for every example; each example logs into an experiment of its own."""
    with tempfile.TemporaryDirectory(prefix="studio-search-") as tmp:
        ws = Workspace(tmp)
        yield ws
        for run in _running:
            run.complete()
        writer_for(ws.backend.workspace).close()  # stop the flush thread before the folder goes away
        ws.close()


def log_runs(workspace: Workspace, specs: list[dict]) -> tuple[str, list[RunInfo]]:  # type: ignore[type-arg]
    """Log the runs into a new experiment; returns its name and the runs as get_run reads them, oldest first."""
    experiment = Experiment(workspace, f"search-{next(_experiments)}")
    ids = []
    for spec in specs:
        run = experiment.start_logging(display_name=spec["name"] or "-")
        for name, values in spec["metrics"].items():
            for value in values:
                run.log(name, value)
        if spec["tags"]:
            run.set_tags(spec["tags"])
        if spec["properties"]:
            run.add_properties(spec["properties"])
        run.flush()
        if spec["status"] == RunStatus.COMPLETED:
            run.complete()
        elif spec["status"] == RunStatus.FAILED:
            run.fail()
        elif spec["status"] == RunStatus.CANCELED:
            run.cancel()
        else:
            _running.append(run)
        ids.append(run.id)
    return experiment.name, [workspace.backend.get_run(run_id) for run_id in ids]


def keys(runs: list[RunInfo]) -> st.SearchStrategy[Key]:
    """Keys the runs have, and some they lack (params: local runs have none)."""
    return st.one_of(
        st.builds(Key, st.just("metrics"), st.sampled_from([*METRIC_NAMES, "never"])),
        st.builds(Key, st.sampled_from(["tags", "properties"]), st.sampled_from([*PAIR_KEYS, "never"])),
        st.builds(Key, st.just("params"), st.sampled_from(["lr"])),
        st.builds(Key, st.just("attributes"), st.sampled_from(sorted(ATTRIBUTES))),
    )


def values_for(key: Key, op: str, runs: list[RunInfo]) -> st.SearchStrategy[object]:
    """A value to compare ``key`` with: numbers for numeric keys (the runs' own times for time attributes)."""
    if op in ("IN", "NOT IN"):
        return st.lists(TEXTS, min_size=1, max_size=3).map(tuple)
    if key.kind == "metrics":
        return NUMBERS
    if key.kind == "attributes" and key.name in NUMERIC_ATTRIBUTES:
        times = [t for r in runs for t in (r.created_at, r.started_at, r.ended_at, r.duration) if t is not None]
        return st.sampled_from([*times, 0.0])
    if key.kind == "attributes" and key.name == "status":
        return st.sampled_from([s.value for s in STATUSES] + ["completed"])
    if key.kind == "attributes" and key.name == "run_id":
        return st.sampled_from([r.id for r in runs] + [runs[0].id.upper()])
    # Mostly a value some run has, changed the ways that tell the comparators apart (case, wildcards).
    if key.kind == "attributes":  # run_name: the other text attributes are above
        have = [r.display_name for r in runs]
    else:
        have = [v for r in runs for v in (getattr(r, key.kind).get(key.name),) if v is not None]
    if not have:
        return TEXTS
    return st.one_of(TEXTS, st.builds(_variant, st.sampled_from(have), st.integers(0, 5)))


def _variant(text: str, how: int) -> str:
    if how == 1:
        return text.upper()
    if how == 2:
        return text.swapcase()
    if how == 3:
        return text[:1] + "%"
    if how == 4:
        return "_" + text[1:]
    if how == 5:
        return "%" + text[-1:].lower()
    return text


@st.composite
def comparisons(draw: st.DrawFn, runs: list[RunInfo]) -> Comparison:
    key = draw(keys(runs))
    op = draw(st.sampled_from(NUMBER_OPS if key.numeric else TEXT_OPS))
    return Comparison(key, op, draw(values_for(key, op, runs)))  # type: ignore[arg-type]


@st.composite
def queries(draw: st.DrawFn, runs: list[RunInfo]) -> RunQuery:
    flt = Filter(tuple(draw(st.lists(comparisons(runs), max_size=3))))
    order = draw(st.lists(st.builds(OrderKey, keys(runs), st.booleans()), max_size=3))
    return RunQuery(
        text=draw(st.one_of(st.just(""), TEXTS)),
        status=draw(st.one_of(st.none(), st.sampled_from(STATUSES))),
        tag=draw(st.one_of(st.just(""), TEXTS)),
        newest_first=draw(st.booleans()),
        filter=to_text(flt),
        order_by=tuple(order_text(o) for o in order),
    )


def paged(workspace: Workspace, experiment: str, query: RunQuery, size: int) -> list[str]:
    """Every run id of a listing, page after page."""
    ids: list[str] = []
    token = None
    while True:
        page = workspace.backend.list_runs(experiment, query, page_token=token, page_size=size)
        ids += [r.id for r in page.runs]
        token = page.next_token
        if token is None:
            return ids
        assert page.runs and len(ids) < 1000


@pytest.fixture(params=["from-few-runs", "walking-the-order"])
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the local kind finds a page: from the runs of a small index range, or walking the order."""
    if request.param == "walking-the-order":
        monkeypatch.setattr(query_sql, "FEW", -1)  # no index range is ever that small
    return str(request.param)


# No shrinking: each example logs runs through the SDK, and shrinking one ran into the 300 s timeout; the
# assertion names the failing query, and the runs are in the example hypothesis prints.
@settings(
    max_examples=15,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), specs=st.lists(RUN, min_size=1, max_size=8))
def test_local_pages_equal_the_python_reference(
    workspace: Workspace,
    plan: str,
    data: st.DataObject,
    specs: list[dict],  # type: ignore[type-arg]
) -> None:
    experiment, runs = log_runs(workspace, specs)
    for _ in range(8):
        query = data.draw(queries(runs))
        expected = [r.id for r in apply_query(query, runs)]
        size = data.draw(st.integers(1, 4))
        assert paged(workspace, experiment, query, size) == expected, query
        assert workspace.backend.count_runs(experiment, query) == len(expected), query
