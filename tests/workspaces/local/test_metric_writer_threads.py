"""Metrics created from many threads while the flush thread writes: every point lands, nothing is lost."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from studio.sdk import Experiment, Workspace
from studio.workspaces.local import metric_writer


def test_new_metrics_from_many_threads_during_constant_flushes_all_land(tmp_path: Path) -> None:
    # Switch threads as often as the interpreter allows, so that the flush thread's walk over the buffers and
    # another thread's new buffer overlap (before the fix this lost points or raised "dictionary changed size").
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _log_from_threads(tmp_path)
    finally:
        sys.setswitchinterval(old)


def _log_from_threads(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    run = Experiment(workspace=ws, name="threads").start_logging()
    run.log("warm-up", 0.0)
    writers = [w for key, w in metric_writer._writers.items() if key.startswith(str(tmp_path))]
    assert writers, "the run's writer is registered"
    for writer in writers:
        writer.interval = 0.0005  # flush all the time, so dict walks and inserts overlap
    threads_n, names_n = 6, 400
    start = threading.Barrier(threads_n)

    def log_many(t: int) -> None:
        start.wait()
        for i in range(names_n):
            run.log(f"t{t}/m{i}", float(i))
            run.log_list(f"t{t}/l{i}", [i, i + 1])

    threads = [threading.Thread(target=log_many, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.complete()
    metrics = run.get_metrics()
    for t in range(threads_n):
        for i in range(names_n):
            assert metrics[f"t{t}/m{i}"] == float(i)
            assert metrics[f"t{t}/l{i}"] == [i, i + 1]
    ws.close()
