"""Local compute latency: instance start and stop, and submit to the script's first line.

    python benchmarks/bench_compute.py [--repeat N]

Budgets (issue 3): start <= 1 s, stop <= 1 s, submit -> first script line running on a
started instance <= 0.5 s with the default environment.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_common import Row, print_table

from studio.workspaces.local.compute import control
from studio.workspaces.local.compute.submit import submit
from studio.workspaces.local.workspace import LocalWorkspace

FIRST_LINE = "import time, pathlib, sys\npathlib.Path(sys.argv[1]).write_text(repr(time.time()))\n"


def _wait_file(path: Path, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.001)
    return float(path.read_text())


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="studio-bench-compute-") as tmp:
        root = Path(tmp)
        ws = LocalWorkspace(root / "ws")
        src = root / "src"
        src.mkdir()
        (src / "first.py").write_text(FIRST_LINE)
        control.create(ws, "bench", start_now=False)
        starts, stops, submits = [], [], []
        try:
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                control.start(ws, "bench", wait=True)
                starts.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                control.stop(ws, "bench", wait=True)
                stops.append(time.perf_counter() - t0)
            control.start(ws, "bench", wait=True)
            for i in range(args.repeat * 2):
                marker = root / f"line-{i}"
                t0 = time.time()
                submit(ws, "bench", source_directory=src, script="first.py", arguments=[str(marker)], compute="bench")
                submits.append(_wait_file(marker) - t0)
                time.sleep(0.3)  # let the job finish so the next one finds a free slot
        finally:
            control.stop(ws, "bench", wait=True)
            ws.close()
    rows = [
        Row("instance start, until Running (median)", statistics.median(starts), 1.0, "s", f"min {min(starts):.2f} s"),
        Row("instance stop, until Stopped (median)", statistics.median(stops), 1.0, "s", f"min {min(stops):.2f} s"),
        Row(
            "submit -> first script line running (median)",
            statistics.median(submits),
            0.5,
            "s",
            f"max {max(submits):.2f} s over {len(submits)}",
        ),
    ]
    print_table(f"local compute (repeat {args.repeat})", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
