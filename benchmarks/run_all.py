"""Run every local-workspace benchmark, each in a fresh Python process, and print the results.

    python benchmarks/run_all.py [--skip-generate] [--regenerate]

Steps: time ``generate_workspace.py`` with its default sizes (into a temporary folder that
is deleted afterwards), then ``bench_log.py``, then ``bench_read.py`` (which reuses or
creates ``benchmarks/.data/big``), then ``bench_compute.py``, then ``bench_gui.py`` (the desktop window
on ``.data/big``, offscreen unless there is a display; about 3 minutes).
``bench_run_search.py`` (issue 10, before ``bench_gui.py``) makes its data under ``benchmarks/.data`` the first
time: about 4 minutes for 100,000 runs and 10-15 minutes to fill MLflow's store; then it takes about a minute.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def machine() -> str:
    """One line about the machine and the software versions the numbers come from."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{datetime.date.today()}, {os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, numpy {np.__version__}"
    )


def run_step(script: str, *args: str) -> int:
    """Run one benchmark script with this interpreter; its output goes straight to ours."""
    print(f"\n=== {script} {' '.join(args)}".rstrip(), flush=True)
    start = time.perf_counter()
    code = subprocess.call([sys.executable, str(HERE / script), *args], cwd=HERE.parent)
    print(f"=== {script}: exit code {code}, {time.perf_counter() - start:.1f} s wall", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the steps; the exit code is non-zero if any step failed."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skip-generate", action="store_true", help="do not time the generator")
    p.add_argument("--regenerate", action="store_true", help="rebuild benchmarks/.data/big before reading it")
    args = p.parse_args(argv)
    print(f"machine: {machine()}")
    codes = []
    if not args.skip_generate:
        with tempfile.TemporaryDirectory(prefix="studio-bench-gen-") as tmp:
            codes.append(run_step("generate_workspace.py", str(Path(tmp) / "ws")))
    codes.append(run_step("bench_log.py"))
    codes.append(run_step("bench_read.py", *(["--regenerate"] if args.regenerate else [])))
    codes.append(run_step("bench_compute.py"))
    codes.append(run_step("bench_metrics_tab.py"))
    codes.append(run_step("bench_files_tab.py"))
    codes.append(run_step("bench_compare.py"))
    codes.append(run_step("bench_run_search.py"))
    codes.append(run_step("bench_gui.py"))
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
