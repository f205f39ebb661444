"""Per-run metric summaries (last, min, max, count) of the local kind.

The runs table sorts and filters on them, so they must always equal a plain computation over
every point a run logged: after any sequence of flushes, after the migration that builds them
for an existing workspace, and with several processes writing at once.
"""

from __future__ import annotations

import math
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import astuple
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.core.errors import WorkspaceError
from studio.sdk import Experiment, Run, Workspace
from studio.workspaces.local import runs_store, summaries_store
from studio.workspaces.local.backend import LocalBackend
from studio.workspaces.local.metric_writer import writer_for
from studio.workspaces.local.schema import SCHEMA_VERSION
from studio.workspaces.local.summaries_store import Summary
from studio.workspaces.local.workspace import LocalWorkspace
from tests.proc_helpers import ChildPool, assert_clean_stderr, integrity_check, write_script
from tests.workspaces.local.schema_versions import downgrade

Point = tuple[int | None, float | int | bool]  # (step or None for "next index", value)


def expected_summary(points: Sequence[Point]) -> Summary:
    """The plain definition: last = value at the highest step (the later one on a tie), min/max skip NaN."""
    steps = [i if step is None else step for i, (step, _) in enumerate(points)]
    values = [float(v) for _, v in points]
    top = max(steps)
    at = max(i for i, s in enumerate(steps) if s == top)
    numbers = [v for v in values if not math.isnan(v)]
    return Summary(values[at], top, min(numbers, default=None), max(numbers, default=None), len(values))


def same(a: Summary, b: Summary) -> bool:
    """Equal, with NaN equal to NaN."""
    return all(
        x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
        for x, y in zip(astuple(a), astuple(b), strict=True)
    )


def stored(ws: LocalWorkspace, run_id: str) -> dict[str, Summary]:
    conn = ws.connection()
    return summaries_store.summary_rows(conn, runs_store.run_seq(conn, run_id))


def assert_summaries(ws: LocalWorkspace, run_id: str, logged: dict[str, list[Point]]) -> None:
    got = stored(ws, run_id)
    assert set(got) == set(logged)
    for name, points in logged.items():
        want = expected_summary(points)
        assert same(got[name], want), f"{name}: stored {got[name]}, expected {want}"


def log_points(run: Run, name: str, points: Sequence[Point]) -> None:
    for step, value in points:
        run.log(name, value, step=step)


# -- values ---------------------------------------------------------------------------------------

INTS = st.integers(-(10**12), 10**12)
# NaN often on its own, so that whole flushes of NaN meet stored minima and maxima.
FLOATS = st.one_of(st.just(math.nan), st.floats(allow_nan=True, allow_infinity=True))
VALUES = {
    "int": INTS,
    "bool": st.booleans(),
    "float": FLOATS,
    "mixed": st.one_of(INTS, st.booleans(), FLOATS),
}
STEPS = st.one_of(st.none(), st.integers(0, 60))


@pytest.fixture(scope="module")
def experiment() -> Iterator[Experiment]:
    """One workspace for all the examples of a property test; each example logs into a new run."""
    with tempfile.TemporaryDirectory(prefix="studio-summaries-") as tmp:
        ws = Workspace(tmp)
        yield Experiment(ws, "summaries")
        writer_for(ws.backend.workspace).close()  # stop the flush thread before the folder goes away
        ws.backend.workspace.close()


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_summaries_equal_a_plain_computation_after_several_flushes(experiment: Experiment, data: st.DataObject) -> None:
    run = experiment.start_logging()
    try:
        ws = experiment.workspace.backend.workspace
        logged: dict[str, list[Point]] = {}
        for value_type, values in VALUES.items():
            batches = data.draw(st.lists(st.lists(st.tuples(STEPS, values), min_size=1, max_size=12), max_size=4))
            for batch in batches:
                log_points(run, value_type, batch)
                logged.setdefault(value_type, []).extend(batch)
                run.flush()  # each batch is one more flush folded into the stored summary
        assert_summaries(ws, run.id, logged)

        # The migration's way (one pass over the stored series) gives the same answer.
        with ws.write() as conn:
            summaries_store.build_all(conn)
        assert_summaries(ws, run.id, logged)
    finally:
        run.complete()  # also when hypothesis abandons an example half-drawn


def test_special_values_are_summarised_as_documented(tmp_path: Path) -> None:
    """NaN is skipped by min/max but can be the last value; infinities are ordinary values."""
    run = Experiment(Workspace(tmp_path / "ws"), "special").start_logging()
    ws = run.experiment.workspace.backend.workspace
    log_points(run, "ends_nan", [(None, 1.0), (None, -2.0), (None, math.nan)])
    log_points(run, "all_nan", [(None, math.nan), (None, math.nan)])
    log_points(run, "inf", [(None, 3.0), (None, math.inf), (None, -math.inf), (None, 0.5)])
    log_points(run, "back_in_steps", [(5, 10.0), (9, 90.0), (2, 20.0)])  # a late point for an earlier step
    log_points(run, "same_step", [(3, 1.0), (3, 2.0)])
    run.log("bool", True)
    run.log("bool", False)
    run.log("text", "not a number")  # not numeric: no summary
    run.flush()
    # Flushes of NaN alone neither erase nor invent a minimum or maximum.
    for batch in ([(None, math.nan)], [(None, 4.0)], [(None, math.nan)], [(None, -4.0)]):
        log_points(run, "nan_flushes", batch)
        run.flush()
    got = stored(ws, run.id)
    assert math.isnan(got["ends_nan"].last) and (got["ends_nan"].min, got["ends_nan"].max) == (-2.0, 1.0)
    assert math.isnan(got["all_nan"].last) and (got["all_nan"].min, got["all_nan"].max, got["all_nan"].count) == (
        None,
        None,
        2,
    )
    assert got["inf"] == Summary(0.5, 3, -math.inf, math.inf, 4)
    assert got["back_in_steps"] == Summary(90.0, 9, 10.0, 90.0, 3)
    assert got["same_step"] == Summary(2.0, 3, 1.0, 2.0, 2)
    assert got["bool"] == Summary(0.0, 1, 0.0, 1.0, 2)
    assert got["nan_flushes"] == Summary(-4.0, 3, -4.0, 4.0, 4)
    assert "text" not in got

    conn = ws.connection()
    seq = runs_store.run_seq(conn, run.id)
    last = summaries_store.summaries(conn, [seq])[seq]
    assert set(last) == {"ends_nan", "all_nan", "inf", "back_in_steps", "same_step", "bool", "nan_flushes"}
    assert last["inf"] == 0.5 and last["bool"] == 0.0 and math.isnan(last["ends_nan"])
    run.complete()


def test_summaries_of_many_runs_are_read_in_one_call(tmp_path: Path) -> None:
    experiment = Experiment(Workspace(tmp_path / "ws"), "many")
    ws = experiment.workspace.backend.workspace
    runs = []
    for k in range(3):
        run = experiment.start_logging()
        run.log("acc", k / 10)
        run.log("acc", k / 5)
        runs.append(run)
    silent = experiment.start_logging()  # logs nothing numeric
    for run in [*runs, silent]:
        run.complete()
    conn = ws.connection()
    seqs = [runs_store.run_seq(conn, r.id) for r in [*runs, silent]]
    assert summaries_store.summaries(conn, seqs) == {seqs[k]: {"acc": k / 5} for k in range(3)}
    assert summaries_store.summaries(conn, []) == {}


# -- migration ------------------------------------------------------------------------------------


def _downgrade_to_version_2(db_path: Path) -> None:
    """Turn a workspace of this Studio into one of the Studio before summaries, and check it is one."""
    downgrade(db_path, 2)


def _log_a_workspace(ws_path: Path) -> dict[str, dict[str, list[Point]]]:
    """Runs with int, bool, float, NaN and infinite series, a text metric, and a run without metrics."""
    experiment = Experiment(Workspace(ws_path), "old")
    logged: dict[str, dict[str, list[Point]]] = {}
    for k in range(3):
        run = experiment.start_logging()
        series: dict[str, list[Point]] = {
            "epoch": [(None, i + k) for i in range(50)],
            "done": [(None, i % 3 == 0) for i in range(7)],
            "loss": [(i, 1 / (i + 1) + k) for i in range(0, 40_000, 2)],  # more than one chunk
            "odd": [(None, math.nan), (4, math.inf), (1, -1.5), (None, math.nan)],
        }
        for name, points in series.items():
            for lo in range(0, len(points), 7_000):
                log_points(run, name, points[lo : lo + 7_000])
                run.flush()
        run.log("note", "text has no summary")
        run.complete()
        logged[run.id] = series
    experiment.start_logging().complete()
    writer_for(experiment.workspace.backend.workspace).close()
    experiment.workspace.backend.workspace.close()
    return logged


def test_a_version_2_workspace_gets_summaries_of_its_stored_series(tmp_path: Path) -> None:
    ws_path = tmp_path / "ws"
    logged = _log_a_workspace(ws_path)
    _downgrade_to_version_2(ws_path / "workspace.db")

    backend = LocalBackend(ws_path)
    try:
        ws = backend.workspace
        assert ws.connection().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        for run_id, series in logged.items():
            assert_summaries(ws, run_id, series)
        assert sum(len(stored(ws, r.id)) for r in backend.list_runs("old").runs) == 4 * len(logged)
        # The migrated workspace keeps summarising what is logged next.
        run_id = next(iter(logged))
        run = Run(Experiment(Workspace(ws_path, create=False), "old"), run_id)
        run.log("epoch", -100)
        run.flush()
        extra = [*logged[run_id]["epoch"], (None, -100)]
        assert same(stored(ws, run_id)["epoch"], expected_summary(extra))
    finally:
        backend.close()


def test_a_failed_migration_leaves_the_workspace_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws_path = tmp_path / "ws"
    _log_a_workspace(ws_path)
    _downgrade_to_version_2(ws_path / "workspace.db")

    def broken(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(summaries_store, "build_all", broken)
    with pytest.raises(WorkspaceError):
        LocalWorkspace(ws_path, create=False)
    check = sqlite3.connect(ws_path / "workspace.db")
    assert check.execute("PRAGMA user_version").fetchone()[0] == 2
    assert check.execute("SELECT count(*) FROM sqlite_master WHERE name = 'metric_summaries'").fetchone()[0] == 0
    check.close()


# -- several processes ----------------------------------------------------------------------------

WRITER_SRC = """
import sys

from studio.sdk import Experiment, Workspace

k, ws_path = int(sys.argv[1]), sys.argv[2]
run = Experiment(Workspace(ws_path, create=False), "together").start_logging()
print("run", run.id, flush=True)
assert sys.stdin.readline().strip() == "go"
for i in range(3000):
    run.log("loss", k * 10_000 + (i * 7919) % 3001)  # same name in every process, values of its own
    run.log("step_back", float(k), step=3000 - i)  # highest step first: last stays the first point
    if i % 200 == 199:
        run.flush()
run.complete()
print("done", flush=True)
"""


@pytest.mark.timeout(120)
def test_concurrent_writers_of_different_runs_keep_their_own_summaries(tmp_path: Path) -> None:
    ws_path = tmp_path / "ws"
    LocalWorkspace(ws_path).close()
    pool = ChildPool(tmp_path, ws_path)
    try:
        script = write_script(tmp_path, "writer.py", WRITER_SRC)
        children = [pool.start(script, str(k), str(ws_path)) for k in range(4)]
        run_ids = [c.expect("run ").split()[1] for c in children]
        for c in children:
            c.send("go")
        for k, c in enumerate(children):
            assert c.wait(timeout=90) == 0, f"writer {k} failed:\n{c.stderr}"
            assert_clean_stderr(f"writer {k}", c.stderr)
    finally:
        pool.cleanup()
    assert integrity_check(ws_path / "workspace.db") == "ok"
    with LocalWorkspace(ws_path, create=False) as ws:
        for k, run_id in enumerate(run_ids):
            loss = [(None, k * 10_000 + (i * 7919) % 3001) for i in range(3000)]
            assert_summaries(ws, run_id, {"loss": loss, "step_back": [(3000 - i, float(k)) for i in range(3000)]})
            assert stored(ws, run_id)["loss"].min == k * 10_000
