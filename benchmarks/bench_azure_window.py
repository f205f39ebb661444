"""Issue 12: an Azure ML workspace of 10,000 jobs through 50 ms a request: the window, the offline cache, requests.

    python benchmarks/bench_azure_window.py [--latency-ms 50] [--opens 3] [--skip-actions] [--skip-window]

The service is the tests' Azure emulator (``tests/azure_fixtures``: HTTPS emulator, CONNECT proxy, Azurite, fake
``az``) in a process of its own (``bench_azure_service``), fronting a copy of the MLflow 10k store with two more
experiments: ``big`` (10,000 finished jobs, 3 metrics of 100 points), ``small`` (100 such jobs) and ``long`` (one job
whose ``loss`` has 100,000 points). The emulator adds ``--latency-ms`` to every answer; Azurite (run files) adds none
and is not in the request log. This process signs in through the fake ``az`` (``AzureCliCredential``) as a user
without saved accounts would. ``XDG_CONFIG_HOME`` and ``XDG_CACHE_HOME`` are temporary folders. Uses
``QT_QPA_PLATFORM`` if set, else ``offscreen``. About 3 minutes once the store exists (~1 min to make it).

The offline cache (``studio/workspaces/azure/offline_cache.py``) is used the way the opener is to use it:
``open_cached(location, <the opener's open>)``; if the opener does not do that yet, the benchmark wraps it and says so.

(a) Requests per user action, ``small`` beside ``big``, on the Azure backend alone (no window, no cache): opening the
    workspace, listing experiments, a first page of runs and the next one, the count, opening a finished job
    (Overview, Metrics tab with every chart, Files tab), a live-refresh poll; then the 100,000-point metric fetched
    (requests, ms) and fetched again through the cache (requests: 0).
(b) The window (``MainWindow``), cold cache: the workspace opened (experiments painted), ``big``'s runs table opened
    (first page painted: ms from the call, round trips in a row, longest GUI stall), three finished jobs opened
    (Overview + first chart painted: round trips in a row before it, requests in all).
(c) The window closed and a new one opened on the same workspace (a restart): experiments painted, ``big``'s runs
    table painted, and a job opened before painted with its first chart, each timed from ``open_workspace`` and set
    against the first answer the service sent after it (painted before any network answer = from the cache).

Round trips in a row: the longest chain of requests each sent after the one before it was answered
(``bench_azure_service.chain``), from the emulator's log (arrival and answer of each request).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_azure_service import AzureServiceProcess, AzureStore, Request, chain, ensure_azure_store
from bench_common import Row, print_table

FIRST_PAGE_SLACK_MS, STALL_MS, OPEN_RT, REOPEN_MS = 100.0, 50.0, 3.0, 300.0
WINDOW_SIZE = (1280, 800)


_UNCACHED: list[Callable[..., Any]] = []  # the opener's own open, when this benchmark wraps it


def wire_cache() -> str:
    """Make the Azure opener answer through the offline cache (``open_cached``) unless it already does; how."""
    from studio.workspaces.azure import opener as azure_opener
    from studio.workspaces.azure.offline_cache import open_cached

    if "open_cached" in inspect.getsource(azure_opener):
        return "the opener's own wiring"
    original = azure_opener.AzureWorkspaceOpener.open
    _UNCACHED.append(original)

    def open_through_cache(self: Any, location: str, create: bool = False) -> Any:
        canonical = str(azure_opener.parse_location(location))
        return open_cached(canonical, lambda: original(self, location, create))

    azure_opener.AzureWorkspaceOpener.open = open_through_cache  # type: ignore[method-assign]
    return "wired by this benchmark (open_cached around the opener's open)"


def inner_open(location: str) -> Any:
    """The Azure backend without the cache: the opener's ``open_uncached`` if it wires the cache itself."""
    from studio.workspaces.azure import opener as azure_opener

    opener = azure_opener.AzureWorkspaceOpener()
    if _UNCACHED:
        return _UNCACHED[0](opener, location)
    uncached = getattr(opener, "open_uncached", None)
    if uncached is None:
        raise RuntimeError("the opener wires the cache but has no open_uncached for the benchmark")
    return uncached(location)


class Timer:
    """One action: wall time (``time.time()``, the emulator log's clock) and perf_counter at its start."""

    def __init__(self, service: AzureServiceProcess) -> None:
        self.service = service
        self.wall, self.perf = time.time(), time.perf_counter()

    def requests(self, until_perf: float | None = None) -> list[Request]:
        """The requests that arrived since the start (and before ``until_perf``, a perf_counter time)."""
        log = self.service.log(self.wall)
        if until_perf is None:
            return log
        limit = self.wall + (until_perf - self.perf)
        return [r for r in log if r.arrived <= limit]

    def ms(self, at_perf: float | None = None) -> float:
        return ((at_perf if at_perf is not None else time.perf_counter()) - self.perf) * 1000


def _names(requests: list[Request]) -> str:
    counts: dict[str, int] = {}
    for r in requests:
        counts[r.short] = counts.get(r.short, 0) + 1
    return ", ".join(f"{k} x{v}" if v > 1 else k for k, v in counts.items())


# -- (a) requests per action ------------------------------------------------------------------------------


def bench_actions(service: AzureServiceProcess, store: AzureStore) -> list[Row]:
    """Requests (and ms) of each user action on ``small`` and ``big``, then the 100,000-point metric."""
    from studio.core.types import RunQuery
    from studio.workspaces.azure.offline_cache import CachedBackend

    rows: list[Row] = []
    for experiment in (store.small, store.big):
        timer = Timer(service)
        backend = inner_open(service.location)
        results: list[tuple[str, float, list[Request]]] = [("open the workspace", timer.ms(), timer.requests())]
        try:
            timer = Timer(service)
            backend.list_experiments()
            results.append(("list experiments", timer.ms(), timer.requests()))
            timer = Timer(service)
            page = backend.list_runs(experiment, None, None, 200)
            results.append((f"first page of runs (200 asked, {len(page.runs)} came)", timer.ms(), timer.requests()))
            if page.next_token is not None:
                timer = Timer(service)
                backend.list_runs(experiment, None, page.next_token, 200)
                results.append(("next page (scrolling)", timer.ms(), timer.requests()))
            timer = Timer(service)
            count = backend.count_runs(experiment, RunQuery())
            results.append((f"count the runs ({count:,})", timer.ms(), timer.requests()))
            run = page.runs[7]
            timer = Timer(service)
            backend.get_run(run.id)
            backend.get_run_details(run.id)
            metrics = backend.list_metrics(run.id)
            for metric in metrics:
                backend.get_series(run.id, metric.name)
            backend.list_files(run.id, "")
            results.append(
                (f"open a finished job: Overview, {len(metrics)} charts, Files", timer.ms(), timer.requests())
            )
            token = backend.change_token()
            timer = Timer(service)
            time.sleep(3.1)  # the poller polls at most once per 3 s
            backend.change_token()
            backend.list_changed_runs(token)
            results.append(("live-refresh poll", timer.ms() - 3100, timer.requests()))
        finally:
            backend.close()
        for what, ms, requests in results:
            rows.append(
                Row(
                    f"{experiment} ({'10,000' if experiment == store.big else '100'} jobs): {what}",
                    len(requests),
                    None,
                    unit="req",
                    note=f"{chain(requests)} RT in a row, {ms:,.0f} ms; {_names(requests)}",
                )
            )
    # The 100,000-point metric: through a cache (first time: every page; second: none).
    cache_root = Path(tempfile.mkdtemp(prefix="studio-bench-azure-long-"))
    backend = CachedBackend(inner_open(service.location), service.location, root=cache_root)
    try:
        (run,) = backend.list_runs(store.long).runs
        backend.get_run(run.id)  # the window opens a job with its Overview: the job is known finished
        for attempt in ("first time", "again (cached)"):
            timer = Timer(service)
            series = backend.get_series(run.id, "loss")
            requests = timer.requests()
            history = [r for r in requests if r.short == "metrics/get-history"]
            rows.append(
                Row(
                    f"100,000-point metric, {attempt}",
                    len(requests),
                    None,
                    unit="req",
                    note=f"{len(series):,} points in {timer.ms():,.0f} ms; {len(history)} get-history pages; "
                    f"{_names(requests)}",
                )
            )
    finally:
        backend.close()
    return rows


# -- (b), (c) the window ---------------------------------------------------------------------------------


@dataclass
class Painted:
    """When something was painted (ms from the action) and the requests before it."""

    ms: float
    requests: list[Request]
    first_answer_ms: float | None
    stall: Row


def bench_window(service: AzureServiceProcess, store: AzureStore, opens: int) -> list[Row]:
    """(b) a cold window, then (c) a new window on the same workspace, painted from the cache."""
    from bench_meter import PhaseMeter
    from bench_metrics_tab import PaintClock

    PaintClock.install()
    settings_path = str(Path(tempfile.mkdtemp(prefix="studio-bench-azure-window-")) / "settings.ini")
    meter = PhaseMeter()
    rows: list[Row] = []
    try:
        jobs = _session("cold", service, store, meter, settings_path, rows, opens, [])
        _session("reopened", service, store, meter, settings_path, rows, opens, jobs[:1])
    finally:
        meter.close()
    return rows


def _session(
    session: str,
    service: AzureServiceProcess,
    store: AzureStore,
    meter: Any,
    settings_path: str,
    rows: list[Row],
    opens: int,
    jobs: list[str],
) -> list[str]:
    """One window from the start: the workspace, big's runs table, finished jobs (``jobs``, else ``opens`` of big's
    first page, returned)."""
    from bench_meter import PaintStamp

    from studio.cli import window_kinds
    from studio.ui.shell.main_window import MainWindow
    from studio.ui.shell.settings import WindowSettings
    from studio.workspaces import kinds

    window = MainWindow(window_kinds(kinds()), WindowSettings(settings_path))  # as `studio` does: paints from the cache
    try:
        window.resize(*WINDOW_SIZE)
        window.show()
        meter.idle(0.5)
        meter.phase("window shown")
        tree_paint = PaintStamp()
        window.experiment_pane.view.viewport().installEventFilter(tree_paint)
        listed = [0.0]
        window.experiment_pane.model.sig_loaded.connect(lambda: listed.__setitem__(0, listed[0] or time.perf_counter()))
        timer = Timer(service)
        window.open_workspace(service.location)
        meter.wait(lambda: window.experiment_pane.model.rowCount() > 0 and tree_paint.at > listed[0] > 0, 120)
        rows.append(_row(session, "workspace opened: experiments painted", timer, tree_paint.at, meter))
        tab, painted = _table_painted(window, meter, timer, store.big)
        budget = None if session == "cold" else REOPEN_MS
        rows.append(_row(session, "big's runs table: first page painted", timer, painted, meter, budget))
        if session == "cold":
            window.run_detail.close_tab(window.run_detail.tabs.indexOf(tab))
            meter.idle(0.3)
            meter.phase("between")
            timer = Timer(service)
            tab, painted = _table_painted(window, meter, timer, store.big)
            row = _row(session, "big's runs table opened again: first page painted", timer, painted, meter)
            budget = service.latency_s * 1000 + FIRST_PAGE_SLACK_MS  # 1 round trip + 100 ms
            rows.append(Row(row.what, row.measured, budget, row.unit, row.note))
            jobs = [i for i in (tab.model.run_id(r) for r in range(10, 10 + opens)) if i is not None]
        meter.wait(lambda: not window.runner.running(), 120)
        meter.idle(0.5)
        meter.phase("settled")
        for run_id in jobs:
            rows.append(_open_job(window, meter, service, run_id, session))
    finally:
        window.close()
        window.deleteLater()
        meter.idle(1.0)
        meter.phase("closed")
    return jobs


def _table_painted(window: Any, meter: Any, timer: Timer, experiment: str) -> tuple[Any, float]:
    """Open the experiment's runs table; (the tab, when its first page was painted: perf_counter)."""
    from bench_meter import PaintStamp

    tab = window.run_detail.open_runs_table(experiment)
    assert tab is not None
    painted = PaintStamp()
    tab.view.viewport().installEventFilter(painted)
    reset = [0.0]
    tab.model.modelReset.connect(lambda: reset.__setitem__(0, time.perf_counter()))
    meter.wait(lambda: tab.model.loaded_once and painted.at > reset[0] > timer.perf, 60)
    return tab, painted.at


def _row(session: str, what: str, timer: Timer, painted_at: float, meter: Any, budget: float | None = None) -> Row:
    ms = timer.ms(painted_at)
    requests = timer.requests()
    before = [r for r in requests if r.answered <= timer.wall + ms / 1000]
    answers = [r.answered for r in requests]
    first_answer = (min(answers) - timer.wall) * 1000 if answers else None
    stall = meter.phase(what)
    answer_note = "no answer yet" if first_answer is None else f"first network answer at {first_answer:,.0f} ms"
    return Row(
        f"{session}: {what}",
        ms,
        budget,
        note=f"{answer_note}; {len(before)} answers before the paint ({chain(before)} RT in a row: {_names(before)}"
        f"{_service_note(before, timer.service.latency_s)}); longest GUI stall {_stall_note(stall)}",
    )


def _service_note(requests: list[Request], latency_s: float) -> str:
    """The slowest request's own time in the service (its time there less the latency added)."""
    if not requests:
        return ""
    slowest = max(requests, key=lambda r: r.answered - r.arrived)
    return f"; slowest {slowest.short}: {(slowest.answered - slowest.arrived - latency_s) * 1000:.0f} ms in the service"


def _stall_note(stall: Row) -> str:
    return f"{stall.measured:.0f} ms" + (f" ({stall.note})" if stall.note else "")


def _open_job(window: Any, meter: Any, service: AzureServiceProcess, run_id: str, session: str) -> Row:
    """Open a job and its Metrics tab in one turn; the first chart painted, round trips before it."""
    from bench_metrics_tab import PaintClock

    gc.collect()
    meter.idle(0.3)
    meter.phase("between opens")
    clock = PaintClock()
    timer = Timer(service)
    window.open_run(run_id)
    page = window.run_detail.tabs.currentWidget()
    page.show_tab("Metrics")
    clock.watch_tab(page.tab("Metrics"))
    meter.wait(lambda: bool(clock.painted), 60)
    first = min(clock.painted.values())
    stall = meter.phase("to the first chart")
    meter.wait(lambda: page.overview.run is not None and not window.runner.running(), 60)
    meter.idle(0.3)
    before = [r for r in timer.requests(first) if r.answered <= timer.wall + timer.ms(first) / 1000]
    in_all = timer.requests()
    window.run_detail.close_tab(window.run_detail.tabs.indexOf(page))
    return Row(
        f"{session}: finished job opened: Overview + first chart, round trips in a row",
        chain(before),
        OPEN_RT,
        unit="RT",
        note=f"first chart at {timer.ms(first):,.0f} ms; {len(before)} requests before it ({_names(before)}); "
        f"{len(in_all)} in all; longest GUI stall {_stall_note(stall)}",
    )


# -- main ----------------------------------------------------------------------------------------------------


def warm_up(service: AzureServiceProcess, store: AzureStore) -> float:
    """Import the SDK, sign in once, and warm the mlflow server's workers and file cache (no latency, no cache)."""
    started = time.perf_counter()
    with open(store.root / "mlflow.db", "rb") as db:
        while db.read(1 << 24):
            pass
    backend = inner_open(service.location)
    try:
        backend.list_experiments()
        for experiment in (store.big, store.small):
            page = backend.list_runs(experiment)
            backend.count_runs(experiment)
            for run in page.runs[:4]:
                backend.list_metrics(run.id)
    finally:
        backend.close()
    return time.perf_counter() - started


def machine() -> str:
    """CPU, cores and the load while the benchmark ran."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GB, Python {platform.python_version()}, load average {load}"
    )


def main(argv: list[str] | None = None) -> list[Row]:
    """Start the service, run the parts, print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--opens", type=int, default=3, help="finished jobs opened in the cold window")
    p.add_argument("--rebuild", action="store_true", help="make the store again")
    p.add_argument("--skip-actions", action="store_true")
    p.add_argument("--skip-window", action="store_true")
    args = p.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    store = ensure_azure_store(rebuild=args.rebuild)
    home = Path(tempfile.mkdtemp(prefix="studio-bench-azure-home-"))
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["XDG_CACHE_HOME"] = str(home / "warm-up-cache")
    service = AzureServiceProcess(store.root)
    print(f"Azure service (emulator, proxy, Azurite, mlflow server) up after {service.started_in_s:.1f} s", flush=True)
    rows: list[Row] = []
    try:
        service.environ()
        wiring = wire_cache()
        print(f"offline cache: {wiring}", flush=True)
        from studio.ui.background.gc_policy import freeze_start_up_objects
        from studio.ui.shell.app import create_app
        from studio.ui.shell.main_window import WARM_UP_MODULE

        app = create_app([sys.argv[0]])
        print(f"warm-up: {warm_up(service, store):.1f} s", flush=True)
        importlib.import_module(WARM_UP_MODULE)
        freeze_start_up_objects(0)
        os.environ["XDG_CACHE_HOME"] = str(home / "cache")  # the window starts with no cache
        service.set_latency(args.latency_ms / 1000)
        if not args.skip_actions:
            rows += bench_actions(service, store)
        if not args.skip_window:
            rows += bench_window(service, store, args.opens)
        del app
    finally:
        service.stop()
    print_table(
        f"Azure ML workspace on the emulator, +{args.latency_ms:.0f} ms a request ({machine()}; cache: {wiring})",
        rows,
    )
    return rows


if __name__ == "__main__":
    main()
