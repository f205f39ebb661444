"""The Outputs + logs tab on big files: first screen of a 1 GB log and a 1 GB CSV, memory while
scrolling through them, and downloading 1,000 files / 1 GB compared with ``cp -r``.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_files_tab.py [--gb 1] [--keep]

The files are written into a temporary local workspace (a repeated block, so it is quick)
and deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from bench_common import Row, print_table, timed

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QApplication

from studio.local.backend import LocalBackend
from studio.sdk import Experiment, Workspace
from studio.ui.run_tabs.files_tab import OutputsTab
from studio.ui.tasks import TaskRunner

FIRST_SCREEN_MS = 200.0
DOWNLOAD_TIME_VS_CP = 1 / 0.70  # throughput >= 70 % of cp -r
MB = 1 << 20


def write_repeated(path: Path, header: bytes, block: bytes, size: int) -> None:
    """A file of about ``size`` bytes: ``header`` then ``block`` again and again (whole lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    big = block * max(1, (8 * MB) // len(block))
    with path.open("wb") as f:
        f.write(header)
        written = len(header)
        while written < size:
            f.write(big)
            written += len(big)


def pump(app: QApplication, done: Callable[[], bool], timeout: float = 60.0) -> None:
    """Process events until ``done()`` (or fail after ``timeout`` seconds)."""
    deadline = time.perf_counter() + timeout
    while not done():
        app.processEvents()
        if time.perf_counter() > deadline:
            raise TimeoutError("gave up waiting")


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


def open_file(app: QApplication, tab: OutputsTab, path: str) -> tuple[float, object]:
    """Select a file; ms until its first screen is painted."""
    start = time.perf_counter()
    tab.select(path)
    pump(app, lambda: tab.preview.preview is not None and tab.preview.preview.loaded)  # type: ignore[attr-defined]
    tab.preview.preview.repaint()  # type: ignore[union-attr]
    return (time.perf_counter() - start) * 1000, tab.preview.preview


def bench_log(app: QApplication, tab: OutputsTab, size: int) -> list[Row]:
    base = rss()
    ms, preview = open_file(app, tab, "logs/big.log")
    first = peak = rss()
    steps = 200
    for i in range(steps + 1):  # drag the file-position bar from top to bottom
        preview.position.setValue(preview.position.maximum() * i // steps)  # type: ignore[attr-defined]
        pump(app, lambda: not preview._busy)  # type: ignore[attr-defined]
        peak = max(peak, rss())
    bar = preview.editor.verticalScrollBar()  # type: ignore[attr-defined]
    wheel_start = time.perf_counter()
    preview.position.setValue(0)  # type: ignore[attr-defined]
    pump(app, lambda: not preview._busy)  # type: ignore[attr-defined]
    for _ in range(2000):  # then scroll line by line through ~4 windows
        bar.setValue(bar.value() + 20)
        pump(app, lambda: not preview._busy)  # type: ignore[attr-defined]
        peak = max(peak, rss())
    wheel_s = time.perf_counter() - wheel_start
    return [
        Row(f"log {size / MB:,.0f} MB: first screen", ms, FIRST_SCREEN_MS),
        Row("log: RSS growth at first screen", (first - base) / MB, None, "MB"),
        Row("log: peak RSS growth, 200 jumps + 40,000 lines scrolled", (peak - base) / MB, None, "MB"),
        Row("log: 2,000 scroll steps of 20 lines", wheel_s * 1000, None, note="includes window loads"),
    ]


def bench_csv(app: QApplication, tab: OutputsTab, size: int, chunks: int) -> list[Row]:
    base = rss()
    ms, preview = open_file(app, tab, "outputs/big.csv")
    model = preview.model  # type: ignore[attr-defined]
    first = peak = rss()
    after_fetch = first
    start = time.perf_counter()
    for _ in range(chunks):  # what scrolling to the bottom again and again does
        model.fetchMore(QModelIndex())
        pump(app, lambda: not model.fetching())
        preview.table.scrollToBottom()  # type: ignore[attr-defined]
        peak = max(peak, rss())
    fetch_s = time.perf_counter() - start
    after_fetch = rss()
    for row in range(0, model.rowCount(), max(1, model.rowCount() // 50)):  # jump back: evicted chunks re-read
        preview.table.scrollTo(model.index(row, 0))  # type: ignore[attr-defined]
        model.data(model.index(row, 0))
        pump(app, lambda: not model._rereading)
        peak = max(peak, rss())
    rows = model.rowCount()
    return [
        Row(f"CSV {size / MB:,.0f} MB: first screen", ms, FIRST_SCREEN_MS),
        Row(f"CSV: fetchMore x {chunks} ({rows:,} rows)", fetch_s * 1000, None, note=f"{rows / fetch_s:,.0f} rows/s"),
        Row("CSV: RSS growth at first screen", (first - base) / MB, None, "MB"),
        Row(f"CSV: RSS growth after {chunks} fetches", (after_fetch - base) / MB, None, "MB"),
        Row("CSV: peak RSS growth (fetch + 50 jumps back)", (peak - base) / MB, None, "MB"),
    ]


def bench_download(backend: LocalBackend, run_id: str, run_dir: Path, work: Path, n: int, total: int) -> list[Row]:
    per_file = total // n
    block = os.urandom(per_file)
    paths = []
    for i in range(n):
        rel = f"outputs/many/d{i // 100:02d}/f{i:04d}.bin"
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / rel).write_bytes(block)
        paths.append(rel)
    results: dict[str, list[float]] = {"cp": [], "studio": []}
    for attempt in range(3):
        for name in ("cp", "studio"):
            dest = work / f"{name}{attempt}"
            if name == "cp":
                seconds, _ = timed(
                    lambda d=dest: subprocess.run(["cp", "-r", str(run_dir / "outputs/many"), str(d)], check=True)
                )
            else:
                seconds, _ = timed(lambda d=dest: backend.download_files(run_id, paths, d))
            results[name].append(seconds)
            shutil.rmtree(dest)
    cp_s, studio_s = min(results["cp"]), min(results["studio"])
    return [
        Row(
            f"cp -r of {n:,} files / {n * per_file / MB:,.0f} MB (best of 3)",
            cp_s * 1000,
            None,
            note=f"{n * per_file / MB / cp_s:,.0f} MB/s",
        ),
        Row(
            "backend.download_files, same files (best of 3)",
            studio_s * 1000,
            None,
            note=f"{n * per_file / MB / studio_s:,.0f} MB/s",
        ),
        Row(
            "download time / cp -r time",
            studio_s / cp_s,
            DOWNLOAD_TIME_VS_CP,
            "x",
            note=f"throughput {100 * cp_s / studio_s:.0f} % of cp -r (budget >= 70 %)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, default=1.0, help="size of the big log and CSV")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--csv-chunks", type=int, default=400, help="fetchMore calls (256 KiB each)")
    args = parser.parse_args()
    size = int(args.gb * 1024 * MB)
    app = QApplication([])
    work = Path(tempfile.mkdtemp(prefix="bench-files-"))
    try:
        ws = Workspace(work / "ws")
        run = Experiment(ws, "files").start_logging()
        run_dir = ws._local.run_dir(run.id)
        line = b"2024-01-01 12:00:00 INFO step 123456 loss 0.012345 lr 0.001 epoch 3 batch 17/500\n"
        write_repeated(run_dir / "logs/big.log", b"first line\n", line * 1000, size)
        row = b'123456,"name, with comma",0.123456,"say ""hi""",2024-01-01T12:00:00\n'
        write_repeated(run_dir / "outputs/big.csv", b"id,name,value,quote,time\n", row * 1000, size)
        backend = LocalBackend(ws.path)
        runner = TaskRunner()
        tab = OutputsTab(backend, runner, run.id)
        tab.resize(1200, 800)
        tab.show()
        tab.ensure_loaded()
        pump(app, lambda: bool(tab.model.files))
        rows = bench_log(app, tab, size) + bench_csv(app, tab, size, args.csv_chunks)
        runner.shutdown()
        tab.deleteLater()
        (run_dir / "logs/big.log").unlink()
        (run_dir / "outputs/big.csv").unlink()
        rows += bench_download(backend, run.id, run_dir, work, args.files, 1024 * MB)
        print_table("Outputs + logs tab: previews of big files and downloads", rows)
        run.complete()
        backend.close()
        ws._local.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
