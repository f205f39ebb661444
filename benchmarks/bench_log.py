"""Logging speed of ``studio.sdk``: ``run.log`` of 1,000,000 scalar points in one process.

Each case starts a run in a fresh temporary workspace, times the ``run.log`` loop plus the
final ``run.flush()`` (the budget covers both), then checks that every point was stored.

    python benchmarks/bench_log.py [--points 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench_common import Row, median_ms, print_table

from studio.sdk import Experiment, Run, Workspace
from studio.workspaces.local.backend import LocalBackend
from studio.workspaces.local.metric_writer import writer_for

BUDGET_S = 2.0  #: benchmarks/README.md budget: run.log of 1,000,000 points, one process, incl. final flush
METRICS_8 = ("loss", "accuracy", "lr", "grad_norm", "val_loss", "val_accuracy", "throughput", "epoch_frac")


@dataclass(frozen=True)
class LogTiming:
    """Seconds spent in the log loop and in the final flush."""

    loop: float
    flush: float

    @property
    def total(self) -> float:
        """Loop plus final flush."""
        return self.loop + self.flush


def time_logging(body: Callable[[Run], None], expected: dict[str, int]) -> LogTiming:
    """Run ``body(run)`` then ``run.flush()`` in a new workspace; check the stored point counts."""
    with tempfile.TemporaryDirectory(prefix="studio-bench-log-") as tmp:
        ws = Workspace(tmp)
        run = Experiment(ws, "bench").start_logging(display_name="bench")
        start = time.perf_counter()
        body(run)
        mid = time.perf_counter()
        run.flush()
        end = time.perf_counter()
        run.complete()
        writer_for(ws.backend.workspace).close()  # stop this workspace's flush thread before the folder goes away
        backend = LocalBackend(ws.backend.workspace)
        stored = {name: len(backend.get_series(run.id, name)) for name in expected}
        ws.backend.workspace.close()
    if stored != expected:
        raise AssertionError(f"points lost: stored {stored}, expected {expected}")
    return LogTiming(mid - start, end - mid)


def log_auto(values: list[float]) -> Callable[[Run], None]:
    """``run.log("loss", v)`` for every value (automatic steps: the SDK's fast path)."""

    def body(run: Run) -> None:
        for v in values:
            run.log("loss", v)

    return body


def log_steps(values: list[float]) -> Callable[[Run], None]:
    """``run.log("loss", v, step=i)``: explicit steps."""

    def body(run: Run) -> None:
        for i, v in enumerate(values):
            run.log("loss", v, step=i)

    return body


def log_interleaved(values: list[float]) -> Callable[[Run], None]:
    """Eight metrics logged in turn, ``len(values) / 8`` points each."""

    def body(run: Run) -> None:
        for i in range(0, len(values) - 7, 8):
            for k, name in enumerate(METRICS_8):
                run.log(name, values[i + k])

    return body


def bench_incremental_flush(metrics: int, fill: int, repeat: int = 10) -> float:
    """Median ms of one flush that adds 1 point to each of ``metrics`` series holding ``fill`` points.

    A flush rewrites the series' last chunk (up to CHUNK_POINTS points), so its cost grows
    with how full that chunk is: this is what a slow training loop pays every 0.5 s.
    """
    with tempfile.TemporaryDirectory(prefix="studio-bench-flush-") as tmp:
        ws = Workspace(tmp)
        run = Experiment(ws, "bench").start_logging()
        for m in range(metrics):
            for i in range(fill):
                run.log(f"m{m}", float(i))
        run.flush()

        def one_flush() -> None:
            for m in range(metrics):
                run.log(f"m{m}", 1.0)
            run.flush()

        ms = median_ms(one_flush, repeat)
        run.complete()
        writer_for(ws.backend.workspace).close()
        ws.backend.workspace.close()
    return ms


def main(argv: list[str] | None = None) -> list[Row]:
    """Run every case, print the table and return its rows."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=3, help="runs of each case; the median is reported")
    args = p.parse_args(argv)
    n = args.points - args.points % 8
    rnd = random.Random(0)
    values = [rnd.random() for _ in range(n)]
    cases = [
        ("log(name, float), auto step", log_auto(values), {"loss": n}),
        ("log(name, float, step=i)", log_steps(values), {"loss": n}),
        ("8 metrics interleaved", log_interleaved(values), dict.fromkeys(METRICS_8, n // 8)),
    ]
    rows = []
    for label, body, expected in cases:
        timings = [time_logging(body, expected) for _ in range(args.repeat)]
        total = statistics.median(t.total for t in timings)
        t = min(timings, key=lambda x: abs(x.total - total))
        note = f"{n / total:,.0f} points/s; loop {t.loop:.2f} s + final flush {t.flush:.2f} s"
        rows.append(Row(f"{label}: {n:,} points", total, BUDGET_S, "s", note))
    print_table(f"run.log, one process (median of {args.repeat})", rows)
    flush_rows = [
        Row(f"flush of 1 point x 20 metrics, last chunk holds {fill:,}", bench_incremental_flush(20, fill), None)
        for fill in (10, 16_000, 32_000)
    ]
    print_table("incremental flush (median of 10)", flush_rows)
    return rows + flush_rows


if __name__ == "__main__":
    main()
