"""An order Azure ML cannot give (by a metric) on 10,000 runs, at 50 ms a request: the first partial page of what is
sorted so far, the asks of the runs table until the answer is complete, and a caller that waits for all of it.

    python benchmarks/bench_sort_scan.py

Uses ``bench_azure_service`` (the tests' emulator in a process of its own, over ``benchmarks/.data/azure10k``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_azure_service import AzureServiceProcess, ensure_azure_store

from studio.core.partial_pages import partial_pages
from studio.core.types import RunQuery

ASK_EVERY_S = 0.7  # the runs table's AGAIN_MS
LATENCY_S = 0.05


def main() -> None:
    """Print the times (see the module docstring)."""
    store = ensure_azure_store()
    service = AzureServiceProcess(store.root)
    try:
        service.environ()
        from studio.workspaces.azure import opener as azure_opener

        query = RunQuery(order_by=("metrics.loss ASC",))
        backend = azure_opener.AzureWorkspaceOpener().open_uncached(service.location)
        backend.list_experiments()
        service.set_latency(LATENCY_S)
        started = time.perf_counter()
        with partial_pages():
            first = backend.list_runs(store.big, query, None, 200)
        print(f"first page: {(time.perf_counter() - started) * 1000:.0f} ms, partial: {first.note}")
        asks: list[float] = []
        while True:
            time.sleep(ASK_EVERY_S)
            at = time.perf_counter()
            with partial_pages():
                page = backend.list_runs(store.big, query, None, 200)
            asks.append((time.perf_counter() - at) * 1000)
            if page.complete:
                break
        print(
            f"complete after {time.perf_counter() - started:.1f} s ({len(asks)} asks, median "
            f"{sorted(asks)[len(asks) // 2]:.0f} ms, slowest {max(asks):.0f} ms): {page.note}"
        )
        at = time.perf_counter()
        with partial_pages():
            other = backend.list_runs(store.big, RunQuery(order_by=("metrics.accuracy DESC",)), None, 200)
        print(f"another order of the same runs: {(time.perf_counter() - at) * 1000:.0f} ms, complete={other.complete}")
        service.set_latency(0.0)
        backend.close()
        backend = azure_opener.AzureWorkspaceOpener().open_uncached(service.location)
        backend.list_experiments()
        service.set_latency(LATENCY_S)
        at = time.perf_counter()
        backend.list_runs(store.big, query, None, 200)
        print(f"a caller waiting for the whole read (the command line, the SDK): {time.perf_counter() - at:.1f} s")
        backend.close()
    finally:
        service.stop()


if __name__ == "__main__":
    main()
