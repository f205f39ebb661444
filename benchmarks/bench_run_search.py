"""Run search speed (issue 10): filters and orders in MLflow's grammar on a 100,000-run local experiment,
and side by side with MLflow's SQLite store on the same 5,000 runs.

Part 1 uses ``benchmarks/.data/runs100k`` (git-ignored; generated if missing, ~1-2 min): experiment "big"
of ``generate_workspace.py`` with 100,000 top-level runs, each with ten one-point numeric metrics
``m0``..``m9`` (``--metric-columns 10``) and, on half the runs, tags ``model`` and ``lr``. Each case runs on a
new ``LocalBackend`` (a new SQLite connection): its first call, then the median of ``--repeat`` calls.

Part 2 uses ``benchmarks/.data/search5k``: the same generator with 5,000 runs, copied run by run into an
MLflow ``sqlite:///`` tracking store with ``MlflowClient`` (``create_run`` with the tags, ``log_batch`` with
the metrics and params, then the status). Local runs have properties where MLflow runs have params, so the
local properties become MLflow params. Filling the MLflow store takes a few minutes; it is kept once complete.

Every answer is checked, so a backend that ignores the query cannot look fast: the studio's pages, counts
and keys must equal ``studio.core.search.apply_query`` / ``run_keys_of`` over every run of the experiment
(read once, untimed), and MLflow's page must hold the same metric values in the same order.

    python benchmarks/bench_run_search.py [--repeat 10] [--mlflow-repeat 5] [--skip-local] [--skip-mlflow]
        [--regenerate] [--data DIR]

mlflow is imported only by part 2 (it is in the project's ``test`` extra). Exit code 1 if an answer is wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_common import Row, print_table, timed
from generate_workspace import EXPERIMENT, generate

from studio.core.search.query import apply_query, run_keys_of
from studio.core.status import RunStatus
from studio.core.types import RunInfo, RunQuery
from studio.workspaces.local.backend import LocalBackend
from studio.workspaces.local.workspace import DB_NAME

DATA = Path(__file__).resolve().parent / ".data"
PAGE = 100
ORDER_MS, FILTER_MS, COUNT_MS, KEYS_MS = 50.0, 100.0, 100.0, 50.0  #: issue 10's budgets on 100,000 runs
ORDER_X, FILTER_X = 20.0, 5.0  #: issue 10: at least this many times faster than MLflow's SQLite store
BY_M0 = "metrics.m0 DESC"
FILTERS = (  # (filter, why it is here)
    ("metrics.m1 > 0.5 AND tags.model = 'resnet50'", "a metric and a tag"),
    ("metrics.m1 > 0.5 AND metrics.m2 < 0.1", "two metrics"),
    ("metrics.m1 > 0.999 AND metrics.m2 > 0.5", "two metrics, ~50 runs: a walk of the order finds few"),
)
MLFLOW_FILTER = "metrics.m1 > 0.5 and tags.model = 'resnet50'"  # lower-case "and", as MLflow's docs write it


@dataclass
class Checks:
    """Wrong answers found so far (the benchmark's exit code is 1 if there is any)."""

    wrong: list[str] = field(default_factory=list)

    def expect(self, ok: bool, what: str) -> bool:
        """Record ``what`` as wrong unless ``ok``; returns ``ok``."""
        if not ok:
            self.wrong.append(what)
            print(f"WRONG ANSWER: {what}", flush=True)
        return ok


def ensure_workspace(path: Path, runs: int, regenerate: bool) -> None:
    """Generate experiment "big" of ``runs`` runs with metrics m0..m9 at ``path`` unless it is there."""
    if regenerate and path.exists():
        shutil.rmtree(path)
    if not (path / DB_NAME).exists():
        print(f"generating {path} ({runs:,} runs x 10 metrics) ...", flush=True)
        g = generate(path, runs=runs, points=1, experiments=1, files_runs=0, metric_columns=10)
        print(f"generated {g.top_level_runs:,} runs, {g.points:,} points in {g.seconds:.1f} s", flush=True)


def all_runs(backend: LocalBackend) -> list[RunInfo]:
    """Every top-level run of "big", oldest first (what ``apply_query`` expects)."""
    runs: list[RunInfo] = []
    token = None
    while True:
        page = backend.list_runs(EXPERIMENT, RunQuery(), token, page_size=1000)
        runs += page.runs
        token = page.next_token
        if token is None:
            return runs[::-1]


def ids(runs: list[RunInfo]) -> list[str]:
    """Run ids, in order."""
    return [r.id for r in runs]


@contextlib.contextmanager
def fresh_backend(path: Path) -> Iterator[LocalBackend]:
    """A new backend (a new SQLite connection: SQLite's own cache is empty; the file cache is warm)."""
    backend = LocalBackend(path)
    try:
        yield backend
    finally:
        backend.close()


def first_and_median(path: Path, call: Callable[[LocalBackend], Any], repeat: int) -> tuple[float, float, Any]:
    """(first call ms on a new connection, median ms of ``repeat`` more, the first answer)."""
    with fresh_backend(path) as backend:
        first_s, answer = timed(lambda: call(backend))
        times = [timed(lambda: call(backend))[0] for _ in range(repeat)]
    return first_s * 1000, statistics.median(times) * 1000, answer


def local_rows(path: Path, repeat: int, checks: Checks) -> list[Row]:
    """Part 1: order, filter + order, count, keys on the 100,000-run experiment; every answer checked."""
    with fresh_backend(path) as backend:
        start = time.perf_counter()
        reference = all_runs(backend)
        print(f"reference: {len(reference):,} runs read in {time.perf_counter() - start:.1f} s (untimed)", flush=True)
    n = len(reference)
    rows: list[Row] = []

    def case(label: str, call: Callable[[LocalBackend], Any], budget: float | None, ok: Callable[[Any], bool]) -> None:
        first, median, answer = first_and_median(path, call, repeat)
        good = checks.expect(ok(answer), label)
        tag = "" if good else " (WRONG ANSWER)"
        rows.append(Row(f"{label}, first call{tag}", first, None))
        rows.append(Row(f"{label}, median of {repeat}{tag}", median, budget if good else None))

    plain = RunQuery()
    case(
        f"list_runs, no query, first page of {PAGE}",
        lambda b: b.list_runs(EXPERIMENT, plain, page_size=PAGE),
        None,
        lambda page: ids(page.runs) == ids(reference[::-1][:PAGE]),
    )
    for order in (BY_M0, "metrics.m3 ASC"):
        query = RunQuery(order_by=(order,))
        expected = apply_query(query, reference)
        case(
            f"order by {order}, first page of {PAGE}",
            lambda b, q=query: b.list_runs(EXPERIMENT, q, page_size=PAGE),
            ORDER_MS,
            lambda page, e=expected: ids(page.runs) == ids(e[:PAGE]),
        )
    query = RunQuery(order_by=(BY_M0,))
    expected = apply_query(query, reference)
    with fresh_backend(path) as backend:
        token = backend.list_runs(EXPERIMENT, query, page_size=PAGE).next_token
    case(
        f"order by {BY_M0}, second page (token)",
        lambda b: b.list_runs(EXPERIMENT, query, token, page_size=PAGE),
        None,
        lambda page: ids(page.runs) == ids(expected[PAGE : 2 * PAGE]),
    )
    for text, why in FILTERS:
        query = RunQuery(filter=text, order_by=(BY_M0,))
        expected = apply_query(query, reference)
        print(f"filter {text!r} ({why}): {len(expected):,} of {n:,} runs match", flush=True)
        case(
            f"filter `{text}` + order, first page",
            lambda b, q=query: b.list_runs(EXPERIMENT, q, page_size=PAGE),
            FILTER_MS,
            lambda page, e=expected: ids(page.runs) == ids(e[:PAGE]),
        )
        case(
            f"count_runs `{text}` ({len(expected):,})",
            lambda b, q=query: b.count_runs(EXPERIMENT, q),
            COUNT_MS,
            lambda count, e=expected: count == len(e),
        )
    keys = run_keys_of(reference)
    case("list_run_keys", lambda b: b.list_run_keys(EXPERIMENT), KEYS_MS, lambda answer: answer == keys)
    return rows


# --- Part 2: MLflow's SQLite store on the same 5,000 runs -----------------------------------------------------

MLFLOW_STATUS = {
    RunStatus.COMPLETED: "FINISHED",
    RunStatus.FAILED: "FAILED",
    RunStatus.CANCELED: "KILLED",
    RunStatus.RUNNING: "RUNNING",
    RunStatus.QUEUED: "SCHEDULED",
}


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def fill_mlflow(uri: str, artifacts: Path, runs: list[RunInfo]) -> float:
    """Create ``runs`` in MLflow experiment "big" at ``uri``; returns the seconds it took."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    start = time.perf_counter()
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.create_experiment(EXPERIMENT, artifact_location=artifacts.as_uri())
    for k, run in enumerate(runs):
        created = _ms(run.started_at or run.created_at)
        made = client.create_run(exp_id, start_time=created, tags=dict(run.tags), run_name=run.display_name)
        run_id = made.info.run_id
        metrics = [Metric(name, value, created or 0, 0) for name, value in sorted(run.metrics.items())]
        params = [Param(key, value) for key, value in sorted(run.properties.items())]
        client.log_batch(run_id, metrics=metrics, params=params)
        status = MLFLOW_STATUS.get(run.status, "FINISHED")
        if status in ("FINISHED", "FAILED", "KILLED"):
            client.set_terminated(run_id, status, end_time=_ms(run.ended_at))
        elif status != "RUNNING":
            client.update_run(run_id, status=status)
        if (k + 1) % 500 == 0:
            print(f"  mlflow: {k + 1:,} runs, {time.perf_counter() - start:.0f} s", flush=True)
    return time.perf_counter() - start


def ensure_mlflow(root: Path, runs: int, regenerate: bool) -> tuple[Path, str]:
    """(local workspace, MLflow URI) of the same ``runs`` runs under ``root``, made unless complete."""
    done = root / "complete"
    if regenerate or not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        ensure_workspace(root / "ws", runs, False)
        with fresh_backend(root / "ws") as backend:
            local = all_runs(backend)
        print(f"filling MLflow's SQLite store with {len(local):,} runs (a few minutes) ...", flush=True)
        seconds = fill_mlflow(f"sqlite:///{root / 'mlflow.db'}", root / "artifacts", local)
        done.write_text(f"{len(local)} runs in {seconds:.0f} s\n")
        print(f"filled in {seconds:.0f} s", flush=True)
    return root / "ws", f"sqlite:///{root / 'mlflow.db'}"


@dataclass(frozen=True)
class Side:
    """One question asked of both stores."""

    what: str
    mlflow_ms: float
    mlflow_first_ms: float
    studio_ms: float
    studio_first_ms: float
    target: float
    same: bool

    @property
    def speedup(self) -> float:
        """How many times faster the studio is (medians)."""
        return self.mlflow_ms / self.studio_ms


def _median_ms(call: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    first_s, answer = timed(call)
    return first_s * 1000, statistics.median(timed(call)[0] for _ in range(repeat)) * 1000, answer


def mlflow_rows(root: Path, runs: int, repeat: int, mlflow_repeat: int, regenerate: bool, checks: Checks) -> list[Side]:
    """Part 2: MlflowClient.search_runs against LocalBackend.list_runs on the same runs, in this process."""
    ws, uri = ensure_mlflow(root, runs, regenerate)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    exp_ids = [experiment.experiment_id]
    with fresh_backend(ws) as backend:
        reference = all_runs(backend)
    cases = (
        ("order by a metric: first 100 by metrics.m0 DESC", "", ORDER_X),
        (f"filter + order: `{MLFLOW_FILTER}`, by metrics.m0 DESC", MLFLOW_FILTER, FILTER_X),
    )
    sides = []
    for what, text, target in cases:

        def search(text: str = text) -> Any:
            return client.search_runs(exp_ids, filter_string=text, order_by=["metrics.m0 DESC"], max_results=PAGE)

        query = RunQuery(filter=text, order_by=(BY_M0,))
        m_first, m_median, m_page = _median_ms(search, mlflow_repeat)
        with fresh_backend(ws) as backend:
            s_first, s_median, s_page = _median_ms(
                lambda q=query: backend.list_runs(EXPERIMENT, q, page_size=PAGE), repeat
            )
        expected = apply_query(query, reference)[:PAGE]
        studio_ok = checks.expect(ids(s_page.runs) == ids(expected), f"studio: {what}")
        # MLflow's run ids differ; the ordered metric values must not (random floats: no ties).
        want = [(r.metrics["m0"], r.metrics["m1"], r.tags.get("model")) for r in expected]
        got = [(r.data.metrics["m0"], r.data.metrics["m1"], r.data.tags.get("model")) for r in m_page]
        mlflow_ok = checks.expect(got == want, f"mlflow: {what}")
        sides.append(Side(what, m_median, m_first, s_median, s_first, target, studio_ok and mlflow_ok))
    return sides


def print_sides(sides: list[Side], runs: int, repeat: int, mlflow_repeat: int) -> None:
    """The comparison table (Markdown)."""
    import mlflow

    print(f"\nMLflow {mlflow.__version__} SQLite store vs studio LocalBackend, same {runs:,} runs")
    print(f"(medians: MLflow of {mlflow_repeat}, studio of {repeat}; first calls in brackets)\n")
    print("| question | MLflow `search_runs` | studio `list_runs` | speed-up | target | verdict |")
    print("|---|---:|---:|---:|---:|---|")
    for s in sides:
        verdict = "WRONG ANSWER" if not s.same else ("OK" if s.speedup >= s.target else "UNDER")
        print(
            f"| {s.what} | {s.mlflow_ms:,.1f} ms ({s.mlflow_first_ms:,.0f}) | {s.studio_ms:.2f} ms "
            f"({s.studio_first_ms:.1f}) | {s.speedup:,.0f}x | >= {s.target:.0f}x | {verdict} |"
        )


def main(argv: list[str] | None = None) -> int:
    """Run both parts; print the tables; exit code 1 if any answer was wrong."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=100_000, help="runs of part 1's experiment")
    p.add_argument("--mlflow-runs", type=int, default=5_000, help="runs of part 2 (both stores)")
    p.add_argument("--repeat", type=int, default=10, help="studio calls per case after the first")
    p.add_argument("--mlflow-repeat", type=int, default=5, help="MLflow calls per case after the first")
    p.add_argument("--skip-local", action="store_true", help="skip part 1")
    p.add_argument("--skip-mlflow", action="store_true", help="skip part 2")
    p.add_argument("--regenerate", action="store_true", help="rebuild the cached data")
    p.add_argument("--data", type=Path, default=DATA, help="folder of the cached data (default benchmarks/.data)")
    args = p.parse_args(argv)
    checks = Checks()
    if not args.skip_local:
        suffix = "" if args.runs == 100_000 else f"-{args.runs}"
        path = args.data / f"runs100k{suffix}"
        ensure_workspace(path, args.runs, args.regenerate)
        rows = local_rows(path, args.repeat, checks)
        print_table(f"run search on {args.runs:,} runs x 10 metrics (LocalBackend)", rows)
    if not args.skip_mlflow:
        root = args.data / ("search5k" if args.mlflow_runs == 5_000 else f"search{args.mlflow_runs}")
        sides = mlflow_rows(root, args.mlflow_runs, args.repeat, args.mlflow_repeat, args.regenerate, checks)
        print_sides(sides, args.mlflow_runs, args.repeat, args.mlflow_repeat)
    if checks.wrong:
        print(f"\n{len(checks.wrong)} wrong answer(s): " + "; ".join(checks.wrong))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
