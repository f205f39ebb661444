"""The runs table on the 100,000-run experiment: sort or filter change -> first rows painted, and GUI stalls.

    python benchmarks/bench_runs_table.py [--workspace PATH] [--repeat 6] [--regenerate]

A RunsTableTab on experiment "big" of the generated workspace (``generate_workspace.py``, made if
missing) runs in this process, shown at 1200 x 800 with two metric and one tag column, with its
run charts panel (which the tab makes once the first rows are in) drawing the loaded runs. Each
change is what a user does: a header click (``_header_clicked``, which sends ``order_by`` to the
backend) or Enter in the filter box with a new filter. "First rows painted" runs from just before
the change to the end of the first paint of the table's viewport after the model took the new
first page. A 5 ms timer on the GUI thread gives the longest stall of each phase (bench_meter).
Uses ``QT_QPA_PLATFORM`` if set, else ``offscreen``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_common import Row, print_table
from bench_read import DEFAULT_WORKSPACE, ensure_workspace
from generate_workspace import EXPERIMENT

FIRST_ROWS_MS, STALL_MS = 150.0, 50.0
METRIC_SORTS = (4, 4, 4, 4, 4, 4)  # final_accuracy DESC, ASC, newest first, and again
ATTRIBUTE_SORTS = (0, 0, 0, 3, 3, 3)  # Name ASC, DESC, newest first; Duration DESC, ASC, newest first
FILTERS = (
    "metrics.final_accuracy > 0.9",
    "metrics.final_accuracy > 0.8 and tags.model = 'resnet50'",
    "status:failed tags.lr = '0.01'",
    "",
)


def bench(workspace: Path, repeat: int) -> list[Row]:
    """Drive one runs table through sorts, filters and scrolling; rows for the result table."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from bench_meter import PaintStamp, PhaseMeter

    from studio.core.search import Key
    from studio.ui.background.gc_policy import freeze_start_up_objects
    from studio.ui.background.tasks import TaskRunner
    from studio.ui.runs_table.runs_tab import RunsTableTab
    from studio.ui.runs_table.table_state import TableMemory
    from studio.ui.shell.app import create_app
    from studio.ui.shell.settings import WindowSettings
    from studio.workspaces.local.backend import LocalBackend

    app = create_app([sys.argv[0]])
    freeze_start_up_objects(0)  # as the window does once it has started
    tmp = tempfile.TemporaryDirectory(prefix="studio-bench-table-")
    backend = LocalBackend(workspace)
    runner = TaskRunner()
    meter = PhaseMeter()
    rows: list[Row] = []
    try:
        memory = TableMemory(WindowSettings(str(Path(tmp.name) / "settings.ini")), str(workspace))
        meter.reset()
        start = time.perf_counter()
        tab = RunsTableTab(backend, runner, EXPERIMENT, memory)  # type: ignore[arg-type]
        painted = PaintStamp()
        tab.view.viewport().installEventFilter(painted)
        tab.resize(1200, 800)
        tab.show()
        made = (time.perf_counter() - start) * 1000
        model = tab.model
        reset = [0.0]
        model.modelReset.connect(lambda: reset.__setitem__(0, time.perf_counter()))

        def first_rows(action: object) -> float:
            """Milliseconds from the change to the first paint after the new first page."""
            t0 = time.perf_counter()
            action()  # type: ignore[operator]
            meter.wait(lambda: not model.loading and reset[0] > t0 and painted.at > reset[0])
            return (painted.at - t0) * 1000

        meter.wait(lambda: model.loaded_once and painted.at > reset[0] > start)
        opened = (painted.at - start) * 1000
        meter.wait(lambda: bool(tab.count_label.text()))
        rows.append(Row("open: tab made and shown (GUI thread)", made, STALL_MS))
        rows.append(Row("open: tab made -> first rows painted", opened, None, note=tab.count_label.text()))
        rows.append(meter.phase("open"))
        for key in (Key("metrics", "final_accuracy"), Key("metrics", "loss"), Key("tags", "model")):
            model.add_column(key)
        meter.wait(lambda: tab.chart_panel is not None)
        meter.idle(0.5)
        rows.append(meter.phase("chart panel made and drawn (pyqtgraph imported on a worker)"))

        for what, columns in (("by a metric", METRIC_SORTS), ("by name or duration", ATTRIBUTE_SORTS)):
            clicks = (columns * repeat)[: max(repeat, 6)]
            sorts = [first_rows(lambda c=c: tab._header_clicked(c)) for c in clicks]
            rows.append(_summary(f"sort change {what} -> first rows painted", sorts))
        rows.append(meter.phase("sorting"))

        def set_filter(text: str) -> None:
            tab.filter_box.setText(text)
            tab._filter_entered()

        def filter_changes(order: str) -> Row:
            times = [first_rows(lambda f=f: set_filter(f)) for f in (FILTERS * repeat)[: max(repeat, 4)]]
            return _summary(f"filter change (Enter), {order} -> first rows painted", times)

        tab._sort_default()
        meter.wait(lambda: not model.loading)
        rows.append(meter.phase("back to newest first"))
        rows.append(filter_changes("newest first"))
        meter.wait(lambda: not tab._counting.busy)
        rows.append(meter.phase("filtering (with counts)"))
        first_rows(lambda: tab._header_clicked(4))  # final_accuracy, highest first
        rows.append(filter_changes("by a metric"))
        meter.wait(lambda: not tab._counting.busy)
        rows.append(meter.phase("filtering by a metric"))

        first_rows(lambda: set_filter(""))
        first_rows(tab._sort_default)
        rows.append(meter.phase("filter cleared, newest first"))
        bar = tab.view.verticalScrollBar()
        t0, cpu0 = time.perf_counter(), time.thread_time()
        while model.rowCount() < 5_000 and model.has_more:
            bar.setValue(bar.maximum())
            meter.turn()
        cpu = (time.thread_time() - cpu0) * 1000
        scrolled = (time.perf_counter() - t0) * 1000
        note = f"GUI thread CPU {cpu:.0f} ms in all; {model.rowCount():,} rows"
        rows.append(Row("scroll to 5,000 loaded rows (25 pages), newest first", scrolled, None, note=note))
        rows.append(meter.phase("scrolling"))
        rows.append(Row(f"worst stall ({meter.worst[0]})", meter.worst[1], STALL_MS))
    finally:
        meter.close()
        runner.shutdown()
        backend.close()
        tmp.cleanup()
        del app
    return rows


def _summary(what: str, samples: list[float]) -> Row:
    note = f"{len(samples)} changes: min {min(samples):.0f}, max {max(samples):.0f} ms"
    return Row(f"{what}, median", statistics.median(samples), FIRST_ROWS_MS, note=note)


def main(argv: list[str] | None = None) -> list[Row]:
    """Generate the workspace if needed, run the benchmark and print its table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workspace", type=Path, default=DEFAULT_WORKSPACE)
    p.add_argument("--regenerate", action="store_true", help="delete and rebuild the workspace first")
    p.add_argument("--repeat", type=int, default=6, help="sort and filter changes each")
    args = p.parse_args(argv)
    ensure_workspace(args.workspace, args.regenerate)
    rows = bench(args.workspace, args.repeat)
    print_table(f"runs table on {args.workspace} (experiment {EXPERIMENT!r})", rows)
    return rows


if __name__ == "__main__":
    main()
