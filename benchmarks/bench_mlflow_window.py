"""Issue 11: the window on a 10,000-run MLflow server: the runs table's first page, and opening a run through latency.

    python benchmarks/bench_mlflow_window.py [--repeat 3] [--opens 3] [--latency-ms 50] [--page-size N] [--rebuild]

The store is ``benchmarks/.data/mlflow10k`` (``mlflow_fill.py``: experiment ``big``, 10,000 top-level runs of
4 params, 4 tags and 3 metrics of 100 points; runs 0-999 also have a logged model's artifacts and an image; made
and checked through the server the first time, ~3 min). One ``mlflow server`` (2 workers, SQLite) serves it; the
file cache and both workers are warmed first (a cold worker's first requests take seconds of lazy imports).
Uses ``QT_QPA_PLATFORM`` if set, else ``offscreen``. About 80 s once the store exists.

(a) Runs table: a new ``RunsTableTab`` on ``big``, each on a new MLflow backend straight to the server (cold
    caches, experiments listed first as the window does), shown at 1200 x 800, ``--repeat`` times. "First page
    painted" runs from just before the tab is made (it asks for its first page as it is made) to the first paint
    of the table's viewport after the model took the page (as in ``bench_runs_table.py``). Then its run charts
    panel and its count (every run read: MLflow has no count) come in; the longest GUI stall of each of the three
    phases is measured (``bench_meter.PhaseMeter``, a 5 ms timer). The backend's REST calls are timed too.
    ``--page-size`` makes the table ask for pages of that size (to see what a smaller first page would give).
(b) Opening a run: the whole window (``MainWindow``) on ``mlflow+<proxy>``, where ``tests/fault_proxy.py`` (in a
    process of its own) sits between the backend and the server and delays every request. ``window.open_run(id)``
    and, in the same turn, its Metrics tab shown; "first chart" is the end of the first paint of a metric chart's
    plot with its points (``bench_metrics_tab.PaintClock``). Each open is a run not opened before, alternately
    through 0 ms and ``--latency-ms``, for runs with metrics only and runs with a logged model. The proxy's log
    gives each request's arrival and answer: "round trips in a row" is the longest chain of requests each sent
    after the one before it was answered (a URL asked twice counts once); time / latency and the latency's share
    ((median with latency - median without) / latency) are given beside it.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from math import inf
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_common import Row, print_table
from mlflow_fill import EXPERIMENT, Store, ensure_store, run_name

from tests.fault_proxy import FaultProxy
from tests.mlflow_server import MlflowServer, launch_mlflow_server, quiet_mlflow_environment, wait_until_healthy

FIRST_PAGE_MS, STALL_MS, ROUND_TRIPS = 300.0, 50.0, 3.0
TABLE_SIZE = (1200, 800)
WINDOW_SIZE = (1280, 800)


class TimedProxy(FaultProxy):
    """The fault proxy, also noting when each request arrived and when its answer was sent (``perf_counter``)."""

    def __init__(self, upstream: str) -> None:
        self.log: list[list[Any]] = []  # [arrived, answered (None until then), path]; appended by handler threads
        super().__init__(upstream)

    def _handler_class(self) -> Any:
        base = super()._handler_class()
        log = self.log

        class Timed(base):  # type: ignore[valid-type,misc]
            def _handle(self) -> None:
                entry = [time.perf_counter(), None, self.path]
                log.append(entry)
                try:
                    super()._handle()
                finally:
                    entry[1] = time.perf_counter()

        return Timed


def _serve_proxy(upstream: str, commands: Connection) -> None:
    """The proxy process: a TimedProxy, told its latency, asked for its log and stopped through ``commands``."""
    proxy = TimedProxy(upstream)
    commands.send(proxy.url)
    while True:
        command, value = commands.recv()
        if command == "latency":
            proxy.latency_s = value
            commands.send(None)
        elif command == "log":
            commands.send([tuple(entry) for entry in list(proxy.log)])
        else:
            proxy.stop()
            commands.send(None)
            return


class ProxyProcess:
    """A TimedProxy in a process of its own: in this one its threads would take the GIL from the GUI thread.

    ``perf_counter`` is the system's monotonic clock, so its times compare with this process's.
    """

    def __init__(self, upstream: str) -> None:
        context = multiprocessing.get_context("spawn")  # not a fork of a process that runs Qt
        self._commands, theirs = context.Pipe()
        self.process = context.Process(target=_serve_proxy, args=(upstream, theirs), name="fault-proxy", daemon=True)
        self.process.start()
        self.url: str = self._commands.recv()
        self.latency_s = 0.0

    def set_latency(self, seconds: float) -> None:
        """Delay every request from now on by ``seconds``."""
        self._commands.send(("latency", seconds))
        self._commands.recv()
        self.latency_s = seconds

    def between(self, t0: float, t1: float) -> list[tuple[float, float, str]]:
        """(arrived, answered, path) of the requests that arrived between t0 and t1 (answered: inf if not yet)."""
        self._commands.send(("log", None))
        log = self._commands.recv()
        return [(a, inf if b is None else b, p) for a, b, p in log if t0 <= a <= t1]

    def stop(self) -> None:
        """Stop the proxy and wait for its process to end."""
        if self.process.is_alive():
            self._commands.send(("stop", None))
            self._commands.recv()
        self.process.join(timeout=10)


def chain(requests: list[tuple[float, float, str]]) -> int:
    """The longest sequence of these requests each sent after the one before was answered: round trips in a row.

    A URL asked again (the Overview and the Metrics tab each list the run's metrics at once) counts once, at its
    first asking: the repeat runs beside the first and adds no wait of its own to the chart.
    """
    firsts: dict[str, tuple[float, float, str]] = {}
    for request in sorted(requests):
        firsts.setdefault(request[2], request)
    depth: list[int] = []
    done = sorted(firsts.values())
    for arrived, _answered, _path in done:
        before = [d for (_a, answered, _p), d in zip(done, depth, strict=False) if answered <= arrived]
        depth.append(1 + max(before, default=0))
    return max(depth, default=0)


def _short(path: str) -> str:
    """``/api/2.0/mlflow/runs/get?run_id=...`` -> ``runs/get``; artifact paths keep their last folder."""
    path = path.split("?", 1)[0]
    for prefix in ("/api/2.0/mlflow-artifacts/", "/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


class CallLog:
    """Times each REST call of a backend's client (request, answer and JSON decoding): (start, end, what)."""

    def __init__(self, transport: Any) -> None:
        self.calls: list[tuple[float, float, str]] = []
        for name in ("get_json", "post_json"):
            setattr(transport, name, self._timed(getattr(transport, name)))

    def _timed(self, send: Callable[..., Any]) -> Callable[..., Any]:
        def timed(path: str, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return send(path, *args, **kwargs)
            finally:
                self.calls.append((start, time.perf_counter(), _what(path, args[0] if args else None)))

        return timed

    def between(self, t0: float, t1: float) -> str:
        """The calls that started between t0 and t1: "what start+duration ms", in order."""
        return ", ".join(
            f"{what} @{(a - t0) * 1000:.0f}+{(b - a) * 1000:.0f}" for a, b, what in sorted(self.calls) if t0 <= a <= t1
        )


def _what(path: str, body: Any) -> str:
    what = _short(path)
    if what == "runs/search" and isinstance(body, dict):
        children = "LIKE '%'" in str(body.get("filter", ""))
        what += f" {body.get('max_results')}" + (" (child counts)" if children else "")
    return what


def warm_up(server: MlflowServer, store: Store) -> float:
    """Warm the file cache and both server workers with the requests the benchmark makes; seconds taken.

    A cold worker's first requests take seconds (lazy imports), and a store not read since it was made answers its
    first searches from disk: a first count of the 10,000 runs took 48 s against 12 s warm.
    """
    from studio.core.types import RunQuery
    from studio.workspaces import open_workspace

    started = time.perf_counter()
    with open(store.db, "rb") as db:
        while db.read(1 << 24):
            pass
    backend = open_workspace(f"mlflow+{server.url}")
    try:
        backend.count_runs(EXPERIMENT)  # reads every run once
        runs = backend.list_runs(EXPERIMENT, RunQuery(), None, 200).runs

        def one(i: int) -> None:  # 4 at a time: each worker sees each kind of request
            backend.list_runs(EXPERIMENT, RunQuery(), None, 200)
            backend.list_metrics(runs[i].id)  # runs/get, the histories, artifacts/list

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(8)))
    finally:
        backend.close()
    return time.perf_counter() - started


def run_id_of(backend: Any, index: int) -> str:
    """The id of run ``index`` (0 is the newest), found by name through the backend (untimed)."""
    from studio.core.types import RunQuery

    page = backend.list_runs(EXPERIMENT, RunQuery(filter=f"attributes.run_name = '{run_name(index)}'"), None, 10)
    (run,) = page.runs
    return str(run.id)


# -- (a) the runs table ------------------------------------------------------------------------


@dataclass(frozen=True)
class TableOpen:
    """One runs table opened on a new backend."""

    first_ms: float
    count_ms: float
    stalls: dict[str, Row]
    """The longest stall of each phase (TABLE_PHASES)."""
    note: str


TABLE_PHASES = ("first page", "chart panel", "count")


def bench_table(server: MlflowServer, repeat: int, page_size: int | None) -> list[Row]:
    """Open the runs table of ``big`` ``repeat`` times, each a new tab on a new backend (cold caches); table rows.

    ``page_size``: make the table ask for pages of this many runs instead of its own ``PAGE_SIZE``.
    """
    from bench_meter import PhaseMeter

    from studio.core.types import RunQuery
    from studio.ui.background.tasks import TaskRunner
    from studio.ui.runs_table import runs_model
    from studio.ui.runs_table.runs_tab import RunsTableTab
    from studio.ui.runs_table.table_state import TableMemory
    from studio.ui.shell.settings import WindowSettings
    from studio.workspaces import open_workspace

    if page_size is not None:
        runs_model.PAGE_SIZE = page_size  # read by the model's page fetch at each call
    size = runs_model.PAGE_SIZE
    location = f"mlflow+{server.url}"
    tmp = tempfile.TemporaryDirectory(prefix="studio-bench-mlflow-table-")
    memory = TableMemory(WindowSettings(str(Path(tmp.name) / "settings.ini")), location)
    runner = TaskRunner()
    meter = PhaseMeter()
    rows: list[Row] = []
    opened: list[TableOpen] = []
    try:
        # The backend alone, for reference: the page the table asks for, and a smaller one.
        backend = open_workspace(location)
        for n in dict.fromkeys((size, 50)):
            page_ms = []
            for _ in range(3):
                t0 = time.perf_counter()
                page = backend.list_runs(EXPERIMENT, RunQuery(), None, n)
                page_ms.append((time.perf_counter() - t0) * 1000)
            rows.append(
                Row(
                    f"backend.list_runs: first page of {n}, no window (median of 3, child counts cached after the first)",
                    statistics.median(page_ms),
                    None,
                    note=f"{len(page.runs)} runs; min {min(page_ms):.0f}, max {max(page_ms):.0f} ms",
                )
            )
        backend.close()
        for _ in range(repeat):
            backend = open_workspace(location)  # cold caches: the child counts and the count are asked again
            try:
                backend.list_experiments()  # as the window does before any table opens (untimed)
                log = CallLog(backend.client.transport)
                opened.append(_open_table(partial(RunsTableTab, backend, runner, EXPERIMENT, memory), log, meter))
                meter.wait(lambda: not runner.running())
            finally:
                backend.close()
    finally:
        meter.close()
        runner.shutdown()
        tmp.cleanup()
    firsts = [o.first_ms for o in opened]
    pages = f"pages of {size}" + (" (--page-size)" if page_size is not None else " (the table's own)")
    rows.append(
        Row(
            f"runs table, {pages}: tab made -> first page painted, median of {repeat}",
            statistics.median(firsts),
            FIRST_PAGE_MS,
            note=f"min {min(firsts):.0f}, max {max(firsts):.0f} ms",
        )
    )
    for phase in TABLE_PHASES:
        stalls = [o.stalls[phase] for o in opened]
        worst = max(stalls, key=lambda r: r.measured)
        rows.append(
            Row(
                f"runs table: longest GUI stall, {phase}, worst of {repeat}",
                worst.measured,
                STALL_MS,
                note=f"median {statistics.median(r.measured for r in stalls):.0f} ms; {worst.note}",
            )
        )
    for i, o in enumerate(opened):
        rows.append(Row(f"  open {i + 1}: first page painted", o.first_ms, None, note=o.note))
    return rows


def _open_table(make: Callable[[], Any], log: CallLog, meter: Any) -> TableOpen:
    """Make and show one runs table; wait for its first page painted, its count, and its chart panel."""
    from bench_meter import PaintStamp

    gc.collect()
    meter.idle(0.2)
    meter.reset()
    start = time.perf_counter()
    tab = make()
    painted = PaintStamp()
    tab.view.viewport().installEventFilter(painted)
    tab.resize(*TABLE_SIZE)
    tab.show()
    model = tab.model
    reset = [0.0]
    model.modelReset.connect(lambda: reset.__setitem__(0, time.perf_counter()))
    meter.wait(lambda: model.loaded_once and painted.at > reset[0] > start)
    first = (painted.at - start) * 1000
    stalls = {"first page": meter.phase("first page")}
    to_first = log.between(start, painted.at)
    meter.wait(lambda: tab.chart_panel is not None)  # made once the first rows are painted
    meter.idle(0.5)  # and drawn in the next turn
    stalls["chart panel"] = meter.phase("chart panel")
    meter.wait(lambda: bool(tab.count_label.text()))  # asked once the first page is in
    counted = (time.perf_counter() - start) * 1000
    meter.idle(0.2)
    stalls["count"] = meter.phase("count")
    note = (
        f"requests to the first paint: {to_first}; {len(log.calls)} in all; count "
        f"{tab.count_label.text()!r} after {counted:,.0f} ms; stalls "
        + " / ".join(f"{stalls[p].measured:.0f}" for p in TABLE_PHASES)
        + " ms"
    )
    tab.close()
    tab.deleteLater()
    meter.idle(0.2)
    return TableOpen(first, counted, stalls, note)


# -- (b) opening a run through latency ---------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """One run opened in the window."""

    latency_ms: float
    first_chart_ms: float
    to_chart: list[tuple[float, float, str]]
    """(arrived, answered, path) of the requests that arrived before the first chart was painted, from the click."""
    in_all: int
    stall_to_chart: Row
    stall_after: Row

    @property
    def round_trips(self) -> int:
        """Requests in a row before the first chart (each sent after the one before it was answered)."""
        return chain([r for r in self.to_chart if r[1] <= self.first_chart_ms])


RUN_KINDS = {
    "metrics only": 5000,  # runs from here on have no artifacts: 3 metrics of 100 points
    "a logged model": 100,  # runs 0-999 also have model/, model/data/ and images/ (mlflow_fill.artifact_files)
}
"""The runs opened: (kind, first run index); each open takes the next run of its kind, 37 runs apart."""


def bench_open(server: MlflowServer, opens: int, latency_ms: float) -> list[Row]:
    """Open a run in the window once to warm it, then, for each kind of run, ``opens`` runs through ``latency_ms``
    and as many through none, alternately; rows for the table."""
    from bench_meter import PhaseMeter
    from bench_metrics_tab import PaintClock

    from studio.ui.shell.main_window import MainWindow
    from studio.ui.shell.settings import WindowSettings
    from studio.workspaces import kinds

    PaintClock.install()
    proxy = ProxyProcess(server.url)
    tmp = tempfile.TemporaryDirectory(prefix="studio-bench-mlflow-open-")
    meter = PhaseMeter()
    window = MainWindow(kinds(), WindowSettings(str(Path(tmp.name) / "settings.ini")))
    results: dict[str, list[Opened]] = {kind: [] for kind in RUN_KINDS}
    try:
        window.resize(*WINDOW_SIZE)
        window.show()
        window.open_workspace(f"mlflow+{proxy.url}")
        meter.wait(lambda: window.backend is not None and window.experiment_pane.model.rowCount() > 0, 60)
        meter.wait(lambda: not window.runner.running(), 60)
        ids = {
            kind: [run_id_of(window.backend, first + 37 * k) for k in range(2 * opens + 1)]  # none opened before
            for kind, first in RUN_KINDS.items()
        }
        meter.idle(1.0)
        meter.phase("window open")
        cold = _open_one(window, meter, proxy, ids["metrics only"].pop(), PaintClock())
        for kind, runs in ids.items():
            for k, run_id in enumerate(runs[: 2 * opens]):
                proxy.set_latency(latency_ms / 1000 if k % 2 == 0 else 0.0)
                results[kind].append(_open_one(window, meter, proxy, run_id, PaintClock()))
    finally:
        meter.close()
        window.close()
        window.deleteLater()
        proxy.stop()
        tmp.cleanup()
    rows = _open_rows("first open in the window (metrics only)", [cold], None)
    for kind, opened in results.items():
        rows += _open_rows(kind, opened, latency_ms)
    return rows


def _open_one(window: Any, meter: Any, proxy: ProxyProcess, run_id: str, clock: Any) -> Opened:
    """Open a run and its Metrics tab in one turn; wait for the first chart, then for everything to settle; close it.

    Each open starts with no run tab open, as the first did: open tabs (their charts) make full collections longer.
    """
    gc.collect()
    meter.idle(0.3)
    meter.phase("between opens")
    t0 = time.perf_counter()
    window.open_run(run_id)
    page = window.run_detail.tabs.currentWidget()
    page.show_tab("Metrics")
    clock.watch_tab(page.tab("Metrics"))
    meter.wait(lambda: bool(clock.painted), 60)
    first = min(clock.painted.values())
    to_chart_stall = meter.phase("to the first chart")
    meter.wait(lambda: page.overview.run is not None and not window.runner.running(), 60)
    meter.idle(0.3)
    after = meter.phase("after the first chart")
    to_chart = [((a - t0) * 1000, (b - t0) * 1000, p) for a, b, p in proxy.between(t0, first)]
    in_all = len(proxy.between(t0, inf))
    window.run_detail.close_tab(window.run_detail.tabs.indexOf(page))
    return Opened(proxy.latency_s * 1000, (first - t0) * 1000, to_chart, in_all, to_chart_stall, after)


def _open_rows(kind: str, results: list[Opened], latency_ms: float | None) -> list[Row]:
    """Summary rows of the opens of one kind of run (just the one open's row without ``latency_ms``)."""
    rows: list[Row] = []
    if latency_ms is not None:
        slow = [r for r in results if r.latency_ms > 0]
        fast = [r for r in results if r.latency_ms == 0]
        slow_ms = statistics.median(r.first_chart_ms for r in slow)
        fast_ms = statistics.median(r.first_chart_ms for r in fast)
        rows += [
            Row(
                f"run with {kind}: first chart painted, +{latency_ms:.0f} ms a request, median of {len(slow)}",
                slow_ms,
                None,
                note=f"max {max(r.first_chart_ms for r in slow):.0f} ms; time / latency {slow_ms / latency_ms:.1f}; "
                f"requests before it {'/'.join(str(len(r.to_chart)) for r in slow)}, "
                f"in all {'/'.join(str(r.in_all) for r in slow)}",
            ),
            Row(
                f"run with {kind}: first chart painted, +0 ms, median of {len(fast)}",
                fast_ms,
                None,
                note=f"max {max(r.first_chart_ms for r in fast):.0f} ms",
            ),
            Row(
                f"run with {kind}: round trips in a row before the first chart, +{latency_ms:.0f} ms (worst)",
                max(r.round_trips for r in slow),
                ROUND_TRIPS,
                unit="RT",
                note=f"latency's share: (median +{latency_ms:.0f} - median +0) / {latency_ms:.0f} = "
                f"{(slow_ms - fast_ms) / latency_ms:.1f} RT",
            ),
        ]
        for what, stall_of in (
            ("click -> first chart", lambda r: r.stall_to_chart),
            ("first chart -> all loaded", lambda r: r.stall_after),
        ):
            worst = max(results, key=lambda r: stall_of(r).measured)
            rows.append(
                Row(
                    f"run with {kind}: longest GUI stall, {what} (worst)",
                    stall_of(worst).measured,
                    STALL_MS,
                    note=f"+{worst.latency_ms:.0f} ms open; {stall_of(worst).note}",
                )
            )
    for r in results:
        label = kind if latency_ms is None else f"+{r.latency_ms:.0f} ms"
        timeline = ", ".join(f"{_short(path)} @{a:.0f}-{b:.0f}" for a, b, path in r.to_chart)
        rows.append(
            Row(
                f"  {label}: first chart",
                r.first_chart_ms,
                None,
                note=f"{r.round_trips} RT in a row; {len(r.to_chart)} requests before it ({timeline}); "
                f"{r.in_all} in all; stalls {r.stall_to_chart.measured:.0f} / {r.stall_after.measured:.0f} ms",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> list[Row]:
    """Make or reuse the store, start the server, run both parts and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3, help="runs tables opened (each counts 10,000 runs: ~15 s)")
    p.add_argument("--page-size", type=int, default=None, help="the table's page size (default: its own, 200)")
    p.add_argument("--opens", type=int, default=3, help="runs opened through the latency (and as many without)")
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--rebuild", action="store_true", help="make the store again")
    p.add_argument("--skip-table", action="store_true")
    p.add_argument("--skip-open", action="store_true")
    args = p.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    quiet_mlflow_environment()
    store = ensure_store(rebuild=args.rebuild)
    server = launch_mlflow_server(store.root, workers=2)
    try:
        from studio.ui.background.gc_policy import freeze_start_up_objects
        from studio.ui.shell.app import create_app
        from studio.ui.shell.main_window import WARM_UP_MODULE

        app = create_app([sys.argv[0]])  # made while the server starts
        wait_until_healthy(server)
        print(f"mlflow server answered /health after {server.started_in_s:.1f} s", flush=True)
        print(f"warm-up: {warm_up(server, store):.1f} s", flush=True)
        importlib.import_module(WARM_UP_MODULE)  # the window imports its charts once it shows, then freezes
        freeze_start_up_objects(0)
        rows: list[Row] = []
        if not args.skip_table:
            rows += bench_table(server, args.repeat, args.page_size)
        if not args.skip_open:
            rows += bench_open(server, args.opens, args.latency_ms)
        del app
    finally:
        server.stop()
    print_table(f"the window on {store.runs:,} MLflow runs (experiment {EXPERIMENT!r}, {store.root})", rows)
    return rows


if __name__ == "__main__":
    main()
