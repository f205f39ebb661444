"""Read speed of a large local workspace through ``LocalBackend`` (what the GUI's workers call).

Uses the workspace in ``benchmarks/.data/big`` (git-ignored), generating it first if it is
missing: experiment "big" with 100,000 top-level runs, 10,000,000 metric points and one
1,000,000-point series named "loss".

    python benchmarks/bench_read.py [--workspace PATH] [--regenerate] [--repeat 20]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sqlite3
from pathlib import Path

from bench_common import Row, median_ms, print_table, timed
from generate_workspace import BIG_SERIES, BIG_SERIES_POINTS, EXPERIMENT, RARE_TEXT, generate

from studio.core.types import RunQuery, RunStatus
from studio.sdk import Experiment, Run, Workspace
from studio.workspaces.local.backend import LocalBackend
from studio.workspaces.local.workspace import DB_NAME

DEFAULT_WORKSPACE = Path(__file__).resolve().parent / ".data" / "big"
SERIES_MS, GET_METRICS_MS, PAGE_MS, FILTER_MS = 50.0, 300.0, 20.0, 200.0


def ensure_workspace(path: Path, regenerate: bool) -> None:
    """Generate the default-size workspace at ``path`` unless it is already there."""
    if regenerate and path.exists():
        shutil.rmtree(path)
    if not (path / DB_NAME).exists():
        print(f"generating {path} ...", flush=True)
        g = generate(path)
        print(f"generated {g.points:,} points, {g.top_level_runs:,} runs in {g.seconds:.1f} s", flush=True)


def find_big_run(path: Path) -> tuple[str, int]:
    """(run id, points) of the run whose "loss" series is the longest."""
    with contextlib.closing(sqlite3.connect(f"{(path / DB_NAME).as_uri()}?mode=ro", uri=True)) as conn:
        row = conn.execute(
            "SELECT r.id, m.count FROM metrics m JOIN runs r ON r.seq = m.run_seq "
            "WHERE m.name = ? ORDER BY m.count DESC LIMIT 1",
            (BIG_SERIES,),
        ).fetchone()
    return str(row[0]), int(row[1])


def bench_series(path: Path, run_id: str, repeat: int) -> list[Row]:
    """get_series of the big series: first call on a new connection, then warm; SDK get_metrics."""
    backend = LocalBackend(path)
    cold_s, series = timed(lambda: backend.get_series(run_id, BIG_SERIES))
    n = len(series)
    rows = [
        Row(f"get_series {n:,} points, first call (new connection)", cold_s * 1000, SERIES_MS),
        Row(
            f"get_series {n:,} points, median of {repeat}",
            median_ms(lambda: backend.get_series(run_id, BIG_SERIES), repeat),
            SERIES_MS,
        ),
        Row(
            "get_series, only the last 100 points (start=)",
            median_ms(lambda: backend.get_series(run_id, BIG_SERIES, start=n - 100), repeat),
            None,
            note="live refresh",
        ),
        Row("list_metrics of that run", median_ms(lambda: backend.list_metrics(run_id), repeat), None),
    ]
    backend.close()
    ws = Workspace(path, create=False)
    run = Run(Experiment(ws, EXPERIMENT, _create=False), run_id)
    sdk_s, metrics = timed(lambda: run.get_metrics(BIG_SERIES))
    if len(metrics[BIG_SERIES]) != n:
        raise AssertionError("get_metrics returned a different number of points")
    rows.append(Row("SDK Run.get_metrics('loss'), first call", sdk_s * 1000, GET_METRICS_MS, note="list of floats"))
    sdk_ms = median_ms(lambda: run.get_metrics(BIG_SERIES), max(3, repeat // 2))
    rows.append(Row(f"SDK Run.get_metrics('loss'), median of {max(3, repeat // 2)}", sdk_ms, GET_METRICS_MS))
    ws.backend.workspace.close()
    return rows


def bench_runs(path: Path, repeat: int) -> list[Row]:
    """Paging, filtering and counting the runs of the 100,000-run experiment."""
    backend = LocalBackend(path)
    total = backend.count_runs(EXPERIMENT)
    first_s, first = timed(lambda: backend.list_runs(EXPERIMENT))
    rows = [Row(f"list_runs first page (200 of {total:,}), first call", first_s * 1000, None, note="new connection")]

    def page(query: RunQuery | None = None, token: str | None = None) -> float:
        return median_ms(lambda: backend.list_runs(EXPERIMENT, query, token), repeat)

    rows.append(Row(f"list_runs first page (200), median of {repeat}", page(), PAGE_MS))
    rows.append(Row("list_runs next page (page token)", page(token=first.next_token), PAGE_MS))
    middle = backend.list_runs(EXPERIMENT, page_size=total // 2).next_token
    rows.append(Row(f"list_runs page after {total // 2:,} runs (token)", page(token=middle), PAGE_MS))
    r_ms = median_ms(lambda: backend.list_runs(EXPERIMENT, RunQuery(newest_first=False)), repeat)
    rows.append(Row("list_runs first page, oldest first", r_ms, PAGE_MS))
    for text in ("vit", RARE_TEXT):
        q = RunQuery(text=text)
        hits = backend.count_runs(EXPERIMENT, q)
        rows.append(Row(f"text filter {text!r} first page ({hits:,} match)", page(q), FILTER_MS))
    for q, label in (
        (RunQuery(tag="lr=0.01"), "tag filter 'lr=0.01'"),
        (RunQuery(status=RunStatus.QUEUED), "status filter Queued"),
    ):
        hits = backend.count_runs(EXPERIMENT, q)
        rows.append(Row(f"{label} first page ({hits:,} match)", page(q), None))
    rows.append(Row("count_runs (all top-level)", median_ms(lambda: backend.count_runs(EXPERIMENT), repeat), None))
    q = RunQuery(text=RARE_TEXT)
    rows.append(
        Row(f"count_runs text filter {RARE_TEXT!r}", median_ms(lambda: backend.count_runs(EXPERIMENT, q), repeat), None)
    )
    rows.append(Row("list_experiments", median_ms(backend.list_experiments, repeat), None))
    rows.append(Row("change_token", median_ms(backend.change_token, repeat), None, note="polled for live refresh"))
    parent = next(r for r in first.runs if r.child_count)
    rows.append(
        Row(f"list_children ({parent.child_count})", median_ms(lambda: backend.list_children(parent.id), repeat), None)
    )
    rows.append(Row("list_files of a run", median_ms(lambda: backend.list_files(parent.id), repeat), None))
    backend.close()
    return rows


def main(argv: list[str] | None = None) -> list[Row]:
    """Generate the workspace if needed, run every measurement and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workspace", type=Path, default=DEFAULT_WORKSPACE)
    p.add_argument("--regenerate", action="store_true", help="delete and rebuild the workspace first")
    p.add_argument("--repeat", type=int, default=20, help="calls per median")
    args = p.parse_args(argv)
    ensure_workspace(args.workspace, args.regenerate)
    run_id, points = find_big_run(args.workspace)
    if points != BIG_SERIES_POINTS:
        print(f"note: the longest series has {points:,} points, not {BIG_SERIES_POINTS:,} (use --regenerate)")
    rows = bench_series(args.workspace, run_id, min(args.repeat, 10)) + bench_runs(args.workspace, args.repeat)
    print_table(f"reads of {args.workspace}", rows)
    return rows


if __name__ == "__main__":
    main()
