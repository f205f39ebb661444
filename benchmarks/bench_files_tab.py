"""The Outputs + logs tab on big files: first screen of a 1 GB log and a 1 GB CSV, memory and
GUI-thread stalls while scrolling through them, and downloading 1,000 files / 1 GB (through the
tab, progress shown) compared with ``cp -r``.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_files_tab.py [--gb 1] [--files 1000]

A 5 ms ``PreciseTimer`` ("meter") runs in the GUI thread all along; the longest gap between
two of its ticks minus 5 ms is the longest stall of a phase, noted with the CPU time the GUI
thread itself used in that gap (much less than the gap: it waited for the GIL or for a core).
Every wait runs the event loop (nothing busy-waits). The files are written into a temporary local workspace (a repeated
block, so it is quick) and deleted afterwards.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_common import Row, print_table, timed
from bench_meter import PhaseMeter, rss

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QAbstractItemView, QApplication

from studio.sdk import Experiment, Workspace
from studio.ui.background.task_status import TaskStatus
from studio.ui.background.tasks import TaskRunner
from studio.ui.runs.tabs.files_tab import OutputsTab
from studio.workspaces.local.backend import LocalBackend

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


def connections(backend: LocalBackend) -> int:
    """SQLite connections the workspace has opened so far (one per worker thread is expected)."""
    return backend.workspace.open_connections


def open_file(meter: PhaseMeter, tab: OutputsTab, path: str) -> tuple[float, Any]:
    """Select a file; ms until its first screen is painted."""
    start = time.perf_counter()
    tab.select(path)
    meter.wait(lambda: tab.preview.preview is not None and tab.preview.preview.loaded)
    preview: Any = tab.preview.preview
    preview.repaint()
    return (time.perf_counter() - start) * 1000, preview


def bench_log(meter: PhaseMeter, tab: OutputsTab, backend: LocalBackend, size: int) -> list[Row]:
    gc.collect()
    meter.reset()
    base, conns, meter.peak = rss(), connections(backend), rss()
    ms, preview = open_file(meter, tab, "logs/big.log")
    first = rss()
    rows = [Row(f"log {size / MB:,.0f} MB: first screen", ms, FIRST_SCREEN_MS), meter.phase("log: open")]

    def at_end() -> bool:
        window = preview.text_window
        return window is not None and window.end >= size and not preview._reading

    start = time.perf_counter()
    preview.set_following(True)  # jumps to the end, then polls the end every second
    meter.wait(at_end)
    rows += [Row("log: follow -> last lines shown", (time.perf_counter() - start) * 1000, None)]
    meter.idle(2.5)
    preview.set_following(False)
    rows += [meter.phase("log: follow (jump to the end, 2 polls)")]
    steps = 200
    for i in range(steps + 1):  # drag the file-position bar from top to bottom
        preview.position.setValue(preview.position.maximum() * i // steps)
        meter.turn()
        meter.wait(lambda: not preview._reading)
    rows += [meter.phase(f"log: drag the position bar top -> end, {steps} steps")]
    after_jumps = rss()
    bar = preview.editor.verticalScrollBar()
    preview.position.setValue(0)
    meter.wait(lambda: not preview._reading)
    start = time.perf_counter()
    for _ in range(1000):  # then scroll line by line through ~13 windows
        bar.setValue(bar.value() + 40)
        meter.turn()
        meter.wait(lambda: not preview._reading)
    wheel_s = time.perf_counter() - start
    rows += [
        Row(
            "log: 1,000 scroll steps of 40 lines", wheel_s * 1000, None, note="a paint per step; includes window loads"
        ),
        meter.phase("log: scroll 40,000 lines"),
        Row("log: RSS growth at first screen", (first - base) / MB, None, "MB"),
        Row("log: RSS growth after follow + 200 jumps", (after_jumps - base) / MB, None, "MB"),
        Row("log: RSS growth after 40,000 more lines", (rss() - base) / MB, None, "MB"),
        Row(
            "log: peak RSS growth (follow, 200 jumps, 40,000 lines)",
            (meter.peak - base) / MB,
            None,
            "MB",
            note=f"{connections(backend) - conns} SQLite connections opened meanwhile",
        ),
    ]
    return rows


def visible_rows_shown(table: Any, model: Any) -> bool:
    """True when the first and last rows in view show their cells (not the loading placeholder)."""
    if model.rowCount() == 0:
        return False
    top = table.rowAt(0)
    bottom = table.rowAt(table.viewport().height() - 1)
    bottom = model.rowCount() - 1 if bottom < 0 else bottom
    return top >= 0 and model.row_loaded(top) and model.row_loaded(bottom)


def bench_csv(meter: PhaseMeter, tab: OutputsTab, backend: LocalBackend, size: int) -> list[Row]:
    gc.collect()
    meter.reset()
    base, conns, meter.peak = rss(), connections(backend), rss()
    ms, preview = open_file(meter, tab, "outputs/big.csv")
    table, model = preview.table, preview.model
    first = rss()
    rows = [Row(f"CSV {size / MB:,.0f} MB: first screen", ms, FIRST_SCREEN_MS), meter.phase("CSV: open")]
    index_s = meter.wait(model.fully_indexed, 600)
    count = model.rowCount()
    rows += [
        Row(
            "CSV: whole file indexed in the background",
            index_s * 1000,
            None,
            note=f"{count:,} rows, {size / MB / index_s:,.0f} MB/s, view at the top",
        ),
        meter.phase("CSV: indexing"),
    ]
    indexed = rss()

    def jump(row: int) -> float:
        start = time.perf_counter()
        table.scrollTo(model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtTop)
        meter.wait(lambda: visible_rows_shown(table, model))
        return (time.perf_counter() - start) * 1000

    rows += [
        Row("CSV: jump to the middle -> rows shown", jump(count // 2), None),
        meter.phase("CSV: jump to the middle"),
    ]
    rows += [Row("CSV: jump to the end -> rows shown", jump(count - 1), None), meter.phase("CSV: jump to the end")]
    start = time.perf_counter()
    jumps = 200
    half = 0
    for i in range(jumps + 1):  # through the whole file, a screen every 0.5 %
        jump(min(count - 1, count * i // jumps))
        if i == jumps // 2:
            half = rss()
    bar = table.verticalScrollBar()
    table.scrollToTop()
    for _ in range(500):  # and page by page through the first ~20,000 rows
        bar.setValue(bar.value() + bar.pageStep())
        meter.turn()
        meter.wait(lambda: visible_rows_shown(table, model))
    through_s = time.perf_counter() - start
    rows += [
        Row(f"CSV: {jumps} jumps through the file + 500 pages", through_s * 1000, None, note="each waits for its rows"),
        meter.phase(f"CSV: {jumps} jumps + 500 pages"),
        Row("CSV: RSS growth at first screen", (first - base) / MB, None, "MB"),
        Row("CSV: RSS growth once indexed", (indexed - base) / MB, None, "MB"),
        Row(f"CSV: RSS growth after {jumps // 2} jumps", (half - base) / MB, None, "MB"),
        Row(
            "CSV: peak RSS growth (index, jumps, pages)",
            (meter.peak - base) / MB,
            None,
            "MB",
            note=f"{connections(backend) - conns} SQLite connections opened meanwhile",
        ),
        Row(f"CSV: RSS growth after {jumps} jumps + 500 pages", (rss() - base) / MB, None, "MB"),
    ]
    return rows


def download_through_tab(meter: PhaseMeter, tab: OutputsTab, paths: list[str], dest: Path) -> tuple[float, Row]:
    """What "Download all…" does once a folder is picked: seconds until the task ends, longest stall."""
    ended: list[Any] = []
    tab.runner.sig_task_ended.connect(ended.append)  # before the task starts
    meter.reset()
    start = time.perf_counter()
    task = tab.download_to(paths, dest)
    assert task is not None
    try:
        meter.wait(lambda: task in ended, 120)
    except TimeoutError:
        print(f"stuck: {tab.runner.pool.activeThreadCount()} threads busy, {tab.runner.running()}, {tab.status.text()}")
        raise
    seconds = time.perf_counter() - start
    tab.runner.sig_task_ended.disconnect(ended.append)
    return seconds, meter.phase(f"download {len(paths):,} files through the tab, progress shown")


def bench_download(
    meter: PhaseMeter,
    tab: OutputsTab,
    backend: LocalBackend,
    run_id: str,
    run_dir: Path,
    work: Path,
    n: int,
    total: int,
) -> list[Row]:
    per_file = total // n
    block = os.urandom(per_file)
    paths = []
    for i in range(n):
        rel = f"outputs/many/d{i // 100:02d}/f{i:04d}.bin"
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / rel).write_bytes(block)
        paths.append(rel)
    meter.reset()
    tab.refresh()
    meter.wait(lambda: sum(p.startswith("outputs/many/") for p in tab.model.files) == n)
    rows = [meter.phase(f"list {n:,} new files")]
    status = TaskStatus(tab.runner)  # the status bar's progress display
    status.show()
    seconds: dict[str, list[float]] = {"cp": [], "studio": [], "tab": []}
    stalls = []
    for attempt in range(3):
        # Every copy starts with no dirty pages waiting to be written (os.sync): else whichever
        # copy runs while the kernel writes back the previous one's data is throttled.
        dest = work / f"cp{attempt}"
        cp = ["cp", "-r", str(run_dir / "outputs/many"), str(dest)]
        os.sync()
        seconds["cp"].append(timed(functools.partial(subprocess.run, cp, check=True))[0])
        shutil.rmtree(dest)  # each copy is deleted at once: 3 GB of dirty pages would slow down the last one
        dest = work / f"studio{attempt}"
        os.sync()
        seconds["studio"].append(timed(functools.partial(backend.download_files, run_id, paths, dest))[0])
        shutil.rmtree(dest)
        dest = work / f"tab{attempt}"
        os.sync()
        tab_s, stall = download_through_tab(meter, tab, paths, dest)
        seconds["tab"].append(tab_s)
        stalls.append(stall)
        shutil.rmtree(dest)
        meter.reset()
    status.deleteLater()
    cp_s, studio_s, tab_s = min(seconds["cp"]), min(seconds["studio"]), min(seconds["tab"])
    mb = n * per_file / MB
    return [
        *rows,
        Row(f"cp -r of {n:,} files / {mb:,.0f} MB (best of 3)", cp_s * 1000, None, note=f"{mb / cp_s:,.0f} MB/s"),
        Row("backend.download_files, same files (best of 3)", studio_s * 1000, None, note=f"{mb / studio_s:,.0f} MB/s"),
        Row(
            "download time / cp -r time",
            studio_s / cp_s,
            DOWNLOAD_TIME_VS_CP,
            "x",
            note=f"throughput {100 * cp_s / studio_s:.0f} % of cp -r (budget >= 70 %)",
        ),
        Row("download through the tab (best of 3)", tab_s * 1000, None, note=f"{mb / tab_s:,.0f} MB/s"),
        Row(
            "tab download time / cp -r time",
            tab_s / cp_s,
            DOWNLOAD_TIME_VS_CP,
            "x",
            note=f"throughput {100 * cp_s / tab_s:.0f} % of cp -r",
        ),
        max(stalls, key=lambda r: r.measured),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, default=1.0, help="size of the big log and CSV")
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    size = int(args.gb * 1024 * MB)
    _app = QApplication([])
    work = Path(tempfile.mkdtemp(prefix="bench-files-"))
    try:
        ws = Workspace(work / "ws")
        run = Experiment(ws, "files").start_logging()
        run_dir = ws.backend.workspace.run_dir(run.id)
        line = b"2024-01-01 12:00:00 INFO step 123456 loss 0.012345 lr 0.001 epoch 3 batch 17/500\n"
        write_repeated(run_dir / "logs/big.log", b"first line\n", line * 1000, size)
        row = b'123456,"name, with comma",0.123456,"say ""hi""",2024-01-01T12:00:00\n'
        write_repeated(run_dir / "outputs/big.csv", b"id,name,value,quote,time\n", row * 1000, size)
        (run_dir / "outputs/small.txt").write_bytes(b"small\n")
        backend = LocalBackend(ws.path)
        runner = TaskRunner()
        meter = PhaseMeter("  longest GUI stall: ")
        tab = OutputsTab(backend, runner, run.id)
        tab.resize(1200, 800)
        tab.show()
        tab.ensure_loaded()
        meter.wait(lambda: bool(tab.model.files))
        meter.phase("list files")
        rows = bench_log(meter, tab, backend, size) + bench_csv(meter, tab, backend, size)
        tab.select("outputs/small.txt")
        meter.wait(lambda: tab.preview.preview is not None and tab.preview.preview.loaded)
        (run_dir / "logs/big.log").unlink()
        (run_dir / "outputs/big.csv").unlink()
        rows += bench_download(meter, tab, backend, run.id, run_dir, work, args.files, 1024 * MB)
        runner.shutdown()
        tab.deleteLater()
        meter.close()
        print_table("Outputs + logs tab: previews of big files and downloads", rows)
        run.complete()
        backend.close()
        ws.backend.workspace.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
