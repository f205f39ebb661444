"""Issue 13: the Compute pane of an Azure ML workspace with 50 instances and 10 clusters, through 50 ms a request.

    python benchmarks/bench_azure_compute.py [--latency-ms 50] [--idle-s 60] [--operation-s 4]

The service is the tests' Azure emulator in a process of its own (``bench_azure_service``), its compute controls
(``tests/azure_emulator/compute.py``) filled with 50 compute instances and 10 clusters. The window is the real
``MainWindow`` (offscreen unless ``QT_QPA_PLATFORM`` says otherwise), signed in through the fake ``az``.

(a) Opening: from ``open_workspace`` to the Compute pane painted with its 60 rows: ms, and the round trips in a
    row among the compute requests (budget: 2), with every request counted.
(b) A start click on a Stopped instance: ms until its row reads "Starting…", and the round trips in a row from the
    click to then (budget: 1).
(c) The operation followed to Running (the emulator keeps it InProgress ``--operation-s``): the longest GUI stall
    while the pane polls the operation and the list (budget: 50 ms), and the requests it took.
(d) Idle with the pane open for ``--idle-s`` seconds: requests per minute, compute and others apart (bounded:
    the pane lists every ``compute_refresh().idle_s``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_azure_service import AzureServiceProcess, Request, chain, ensure_azure_store
from bench_azure_window import Timer, machine
from bench_common import Row, print_table

INSTANCES, CLUSTERS = 50, 10
OPEN_RT, START_RT, STALL_MS = 2.0, 1.0, 50.0
WINDOW_SIZE = (1280, 800)


def _compute(requests: list[Request]) -> list[Request]:
    return [r for r in requests if "/computes" in r.path or "computeOperationsStatus" in r.path]


def _names(requests: list[Request]) -> str:
    counts: dict[str, int] = {}
    for r in requests:
        path = r.path.split("?", 1)[0]
        key = f"{r.method} " + (
            "computeOperationsStatus" if "computeOperationsStatus" in path else path.rsplit("/workspaces/", 1)[-1][-48:]
        )
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} x{v}" if v > 1 else k for k, v in counts.items())


def bench(service: AzureServiceProcess, idle_s: float, operation_s: float) -> list[Row]:
    """(a) to (d) in one window."""
    from bench_meter import PaintStamp, PhaseMeter

    from studio.cli import window_kinds
    from studio.core.compute import ComputeState
    from studio.ui.shell.main_window import MainWindow
    from studio.ui.shell.settings import WindowSettings
    from studio.workspaces import kinds

    settings_path = str(Path(tempfile.mkdtemp(prefix="studio-bench-compute-")) / "settings.ini")
    meter = PhaseMeter()
    window = MainWindow(window_kinds(kinds()), WindowSettings(settings_path))
    rows: list[Row] = []
    pane = window.compute_pane
    try:
        window.resize(*WINDOW_SIZE)
        window.show()
        pane.show()
        meter.idle(0.5)
        meter.phase("window shown")
        painted = PaintStamp()
        pane.table.viewport().installEventFilter(painted)
        filled = [0.0]

        def rows_now() -> int:
            count = pane.model.rowCount()
            if count >= INSTANCES + CLUSTERS and not filled[0]:
                filled[0] = time.perf_counter()
            return count

        timer = Timer(service)
        window.open_workspace(service.location)
        meter.wait(lambda: rows_now() >= INSTANCES + CLUSTERS and painted.at > filled[0] > 0, 120)
        stall = meter.phase("open")
        before = [r for r in timer.requests() if r.answered <= timer.wall + timer.ms(painted.at) / 1000]
        compute = _compute(before)
        rows.append(
            Row(
                f"(a) workspace opened → Compute pane painted ({INSTANCES} instances, {CLUSTERS} clusters): "
                "compute round trips in a row",
                chain(compute),
                OPEN_RT,
                unit="RT",
                note=f"painted at {timer.ms(painted.at):,.0f} ms; compute requests: {_names(compute)}; "
                f"{len(before)} requests in all before the paint; longest GUI stall {stall.measured:.0f} ms",
            )
        )
        meter.wait(lambda: not window.runner.running(), 60)
        meter.idle(1.0)
        meter.phase("settled")

        # (b) start click → "Starting…"
        name = next(i.name for i in pane.model.instances() if i.state == ComputeState.STOPPED and i.kind == "instance")
        pane.table.selectRow(pane.model.row_of(name))
        meter.idle(0.2)
        meter.phase("selected")
        row = pane.model.row_of(name)
        timer = Timer(service)
        pane.start_action.trigger()
        meter.wait(lambda: pane.model.info(pane.model.row_of(name)).state != ComputeState.STOPPED, 60)
        shown = time.perf_counter()
        stall = meter.phase("start click")
        before = [r for r in timer.requests() if r.answered <= timer.wall + timer.ms(shown) / 1000]
        text = pane.model.index(row, pane.model.column("state")).data()
        rows.append(
            Row(
                "(b) start click → row shows Starting…: round trips in a row",
                chain(before),
                START_RT,
                unit="RT",
                note=f"shown at {timer.ms(shown):,.0f} ms as {text!r}; {_names(before)}; "
                f"longest GUI stall {stall.measured:.0f} ms",
            )
        )

        # (c) the operation followed to Running
        timer = Timer(service)
        meter.wait(lambda: pane.model.info(pane.model.row_of(name)).state == ComputeState.RUNNING, 120)
        ran = time.perf_counter()
        stall = meter.phase("operation")
        during = timer.requests()
        rows.append(
            Row(
                f"(c) the start followed to Running ({operation_s:g} s in the service): longest GUI stall",
                stall.measured,
                STALL_MS,
                note=f"Running shown {timer.ms(ran):,.0f} ms after Starting…; {len(during)} requests: {_names(during)}",
            )
        )

        # (d) idle
        meter.idle(2.0)
        meter.phase("settle")
        timer = Timer(service)
        meter.idle(idle_s)
        stall = meter.phase("idle")
        idle = timer.requests()
        compute = _compute(idle)
        per_minute = 60.0 * len(idle) / idle_s
        refresh = window.backend.compute_refresh() if window.backend is not None else None  # type: ignore[union-attr]
        rows.append(
            Row(
                f"(d) idle {idle_s:g} s with the Compute pane open: requests per minute",
                per_minute,
                None,
                unit="req/min",
                note=f"{len(compute)} compute ({_names(compute)}), {len(idle) - len(compute)} others "
                f"({_names([r for r in idle if r not in compute])}); pane lists every "
                f"{getattr(refresh, 'idle_s', '?')} s; longest GUI stall {stall.measured:.0f} ms",
            )
        )
    finally:
        from studio.ui.compute.close_prompt import CloseAnswer

        pane.ask_close = lambda parent, names: (CloseAnswer.LEAVE, False)  # type: ignore[method-assign]
        window.close()
        window.deleteLater()
        meter.idle(1.0)
        meter.close()
    return rows


def main(argv: list[str] | None = None) -> list[Row]:
    """Start the service, fill its compute, run the window, print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--idle-s", type=float, default=60.0)
    p.add_argument("--operation-s", type=float, default=4.0)
    args = p.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    store = ensure_azure_store()
    home = Path(tempfile.mkdtemp(prefix="studio-bench-compute-home-"))
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["XDG_CACHE_HOME"] = str(home / "cache")
    service = AzureServiceProcess(store.root)
    print(f"Azure service up after {service.started_in_s:.1f} s", flush=True)
    rows: list[Row] = []
    try:
        service.environ()
        service.compute("populate", INSTANCES, CLUSTERS)
        service.set_compute("operation_s", args.operation_s)
        # The emulator pages lists by 2 to exercise paging; Azure's page of computes holds far more.
        service.set_compute("page_size", 100)
        from studio.ui.shell.app import create_app
        from studio.workspaces.azure.opener import AzureWorkspaceOpener

        app = create_app([sys.argv[0]])
        started = time.perf_counter()
        warm = AzureWorkspaceOpener().open_uncached(service.location)  # sign-in and SDK imports, not measured
        warm.list_compute()
        warm.close()
        print(f"warm-up: {time.perf_counter() - started:.1f} s", flush=True)
        service.set_latency(args.latency_ms / 1000)
        rows = bench(service, args.idle_s, args.operation_s)
        del app
    finally:
        service.stop()
    print_table(f"Azure compute pane on the emulator, +{args.latency_ms:.0f} ms a request ({machine()})", rows)
    return rows


if __name__ == "__main__":
    main()
