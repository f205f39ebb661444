"""Scripts that crash, get killed or just exit: nothing flushed is lost, the database stays sound.

docs/ARCHITECTURE.md, "Performance and reliability": kill -9 of a script leaves a consistent database
(``PRAGMA integrity_check``) and loses nothing that was logged and flushed; writers flush
at a bounded interval; a run whose process died does not stay Running forever. Every test
here runs real Python processes (``sys.executable``) against a real workspace.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from studio.core.status import RunStatus
from studio.workspaces.local import metric_writer
from studio.workspaces.local.backend import LocalBackend
from studio.workspaces.local.workspace import LocalWorkspace
from tests.proc_helpers import (
    ChildPool,
    WriteLockProbe,
    assert_clean_stderr,
    integrity_check,
    raw_run_row,
    write_script,
)
from tests.waiting import wait_until


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    LocalWorkspace(path).close()
    return path


@pytest.fixture
def pool(tmp_path: Path, ws_path: Path) -> Iterator[ChildPool]:
    pool = ChildPool(tmp_path, ws_path)
    yield pool
    pool.cleanup()


@pytest.fixture
def backend(ws_path: Path) -> Iterator[LocalBackend]:
    backend = LocalBackend(ws_path)
    yield backend
    backend.close()


def _db(ws_path: Path) -> Path:
    return ws_path / "workspace.db"


# -- 1. SIGKILL after an explicit flush ---------------------------------------------------------

FLUSH_THEN_BLOCK = """
import os
import sys

from studio.sdk import Experiment, Workspace

n = int(sys.argv[1])
run = Experiment(Workspace(), "crash").start_logging()  # the workspace comes from $STUDIO_WORKSPACE
for i in range(n):
    run.log("loss", i * 0.5 - 7)
    run.log("scaled", i / 3.0, step=10 * i)
    if i % 100 == 0:
        run.log_row("rows", i=i, third=i / 3.0)
run.log("note", "before the kill")
run.flush()
print("flushed", run.id, os.getpid(), flush=True)
sys.stdin.readline()  # blocks until killed
print("still alive", flush=True)
"""


@pytest.mark.timeout(120)
def test_sigkill_after_flush_loses_nothing_and_the_run_is_reaped_failed(
    tmp_path: Path, ws_path: Path, pool: ChildPool
) -> None:
    n = 50_000
    child = pool.start(write_script(tmp_path, "flush_then_block.py", FLUSH_THEN_BLOCK), str(n))
    _, run_id, pid = child.expect("flushed", timeout=60).split()
    assert raw_run_row(_db(ws_path), run_id) == ("Running", int(pid))

    assert child.kill() == -signal.SIGKILL
    assert "still alive" not in child.stdout_lines
    assert child.stderr == ""

    assert integrity_check(_db(ws_path)) == "ok"
    # Nothing reaps the run by itself: it is still Running in the database ...
    assert raw_run_row(_db(ws_path), run_id)[0] == "Running"
    backend = LocalBackend(ws_path)
    try:
        # ... until a reader looks at it.
        info = backend.get_run(run_id)
        assert info.status == RunStatus.FAILED
        assert "process" in info.status_reason and pid in info.status_reason, info.status_reason
        assert info.error is not None and info.error.get("code") == "ProcessDied"
        assert info.ended_at is not None
        assert [c.status for c in backend.status_history(run_id)] == [RunStatus.RUNNING, RunStatus.FAILED]

        i = np.arange(n)
        loss = backend.get_series(run_id, "loss")
        np.testing.assert_array_equal(loss.steps, i)
        np.testing.assert_array_equal(loss.values, i * 0.5 - 7)
        scaled = backend.get_series(run_id, "scaled")
        np.testing.assert_array_equal(scaled.steps, 10 * i)
        np.testing.assert_array_equal(scaled.values, i / 3.0)
        rows = backend.get_metric_records(run_id, "rows")
        assert [r.value for r in rows] == [{"i": k, "third": k / 3.0} for k in range(0, n, 100)]
        assert [r.value for r in backend.get_metric_records(run_id, "note")] == ["before the kill"]
    finally:
        backend.close()
    assert raw_run_row(_db(ws_path), run_id)[0] == "Failed"  # the reaping was written, not only reported


# -- 2. The flush interval is bounded -----------------------------------------------------------

LOG_WITHOUT_FLUSH = """
import sys

from studio.sdk import Experiment, Workspace

batch = int(sys.argv[1])
run = Experiment(Workspace(), "interval").start_logging()
logged = 0
while True:
    for i in range(logged, logged + batch):
        run.log("x", i / 7.0)
    run.log_row("marks", upto=logged + batch)
    logged += batch
    # No flush(), complete() or get_metrics(): only the background flush may write these.
    print("logged", run.id, logged, run._writer.interval, flush=True)
    if sys.stdin.readline().strip() != "more":
        break
"""


@pytest.mark.timeout(120)
def test_points_are_written_within_the_flush_interval_without_flush(
    tmp_path: Path, ws_path: Path, pool: ChildPool, backend: LocalBackend
) -> None:
    assert metric_writer.FLUSH_INTERVAL_S <= 1.0  # the documented bound on unflushed data
    batch = 1_000
    child = pool.start(write_script(tmp_path, "log_without_flush.py", LOG_WITHOUT_FLUSH), str(batch))
    for expected in (batch, 2 * batch, 3 * batch):
        _, run_id, logged, interval = child.expect("logged", timeout=60).split()
        assert int(logged) == expected
        assert float(interval) <= 1.0  # the interval this process really uses

        def visible(run_id: str = run_id, expected: int = expected) -> bool:
            metrics = {m.name: m.count for m in backend.list_metrics(run_id)}
            return metrics.get("x") == expected and metrics.get("marks") == expected // batch

        # Visible from another connection while the writer is blocked and never called flush().
        wait_until(visible, timeout=5.0, interval=0.01, what=f"{expected} points visible without flush()")
        series = backend.get_series(run_id, "x")
        np.testing.assert_array_equal(series.steps, np.arange(expected))
        np.testing.assert_array_equal(series.values, np.arange(expected) / 7.0)
        # The writer is alive: reaping must not touch its run.
        assert backend.get_run(run_id).status == RunStatus.RUNNING
        child.send("more")  # after the third check the child logs a fourth batch, then stdin closes
    child.close_stdin()
    assert child.wait() == 0, child.stderr
    assert_clean_stderr("writer", child.stderr)
    info = backend.get_run(run_id)
    assert info.status == RunStatus.COMPLETED
    assert backend.get_series(run_id, "x").values.size == 4 * batch


# -- 3. How a script ends decides how its run ends ------------------------------------------------

LIFECYCLE_PRELUDE = """
import os
import sys

from studio.sdk import Experiment, Workspace

exp = Experiment(Workspace(), "lifecycle")


def log_points(run, n=20_000):
    for i in range(n):
        run.log("x", i * 0.25)
    run.log_row("summary", n=n)

"""

LIFECYCLE_SCRIPTS = {
    "exit_without_complete": """
run = exp.start_logging()
print("run", run.id, flush=True)
log_points(run)
""",
    "uncaught_exception": """
run = exp.start_logging()
print("run", run.id, flush=True)
log_points(run)
raise RuntimeError("the unicorn disk 4711 is full")
""",
    "with_block_raises": """
try:
    with exp.start_logging() as run:
        print("run", run.id, flush=True)
        log_points(run)
        raise ValueError("bad batch 4711 inside the with block")
except ValueError:
    print("caught", run.get_status(), flush=True)
""",
    "with_block_interrupted": """
try:
    with exp.start_logging() as run:
        print("run", run.id, flush=True)
        log_points(run)
        raise KeyboardInterrupt
except KeyboardInterrupt:
    print("caught", run.get_status(), flush=True)
""",
    "keyboard_interrupt_at_top_level": """
run = exp.start_logging()
print("run", run.id, flush=True)
log_points(run)
raise KeyboardInterrupt
""",
    "ctrl_c_while_waiting": """
import signal
# A shell starts background jobs with SIGINT ignored, and Python then installs no KeyboardInterrupt handler;
# a user's terminal delivers Ctrl+C to a foreground script, which is what this case stands for.
signal.signal(signal.SIGINT, signal.default_int_handler)
run = exp.start_logging()
print("run", run.id, flush=True)
log_points(run)
print("waiting", flush=True)
sys.stdin.readline()
""",
}

# script -> (exit code, final status, text the error must contain, status printed by the script)
LIFECYCLE_EXPECTED = {
    "exit_without_complete": (0, RunStatus.COMPLETED, None, None),
    "uncaught_exception": (1, RunStatus.FAILED, "the unicorn disk 4711 is full", None),
    "with_block_raises": (0, RunStatus.FAILED, "bad batch 4711 inside the with block", "Failed"),
    "with_block_interrupted": (0, RunStatus.CANCELED, None, "Canceled"),
    "keyboard_interrupt_at_top_level": (-signal.SIGINT, RunStatus.CANCELED, None, None),
    "ctrl_c_while_waiting": (-signal.SIGINT, RunStatus.CANCELED, None, None),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", list(LIFECYCLE_SCRIPTS))
def test_how_the_script_ends_decides_the_run_status(
    case: str, tmp_path: Path, ws_path: Path, pool: ChildPool, backend: LocalBackend
) -> None:
    code, status, error_text, printed = LIFECYCLE_EXPECTED[case]
    script = write_script(tmp_path, f"{case}.py", LIFECYCLE_PRELUDE + LIFECYCLE_SCRIPTS[case])
    child = pool.start(script)
    run_id = child.expect("run ").split()[1]
    if case == "ctrl_c_while_waiting":
        child.expect("waiting")
        child.proc.send_signal(signal.SIGINT)
    assert child.wait() == code, child.stderr
    if printed is not None:
        assert child.stdout_lines[-1] == f"caught {printed}"
    if code == 0:
        assert_clean_stderr(case, child.stderr)
    elif error_text is not None:
        assert error_text in child.stderr  # the script's own traceback is still printed
    assert "could not" not in child.stderr  # no "studio: could not finish run/write metrics"

    assert integrity_check(_db(ws_path)) == "ok"
    assert raw_run_row(_db(ws_path), run_id)[0] == status.value  # set by the script, not by reaping
    info = backend.get_run(run_id)
    assert info.status == status
    assert info.ended_at is not None
    assert [c.status for c in backend.status_history(run_id)] == [RunStatus.RUNNING, status]
    if status == RunStatus.FAILED:
        assert info.error is not None
        assert error_text in info.error["message"], info.error
        assert error_text in info.status_reason
        assert info.error.get("code") in ("RuntimeError", "ValueError")
        assert error_text in info.error.get("traceback", "")
    else:
        assert info.error is None
    series = backend.get_series(run_id, "x")
    np.testing.assert_array_equal(series.steps, np.arange(20_000))
    np.testing.assert_array_equal(series.values, np.arange(20_000) * 0.25)
    assert [r.value for r in backend.get_metric_records(run_id, "summary")] == [{"n": 20_000}]


# -- 4. SIGKILL in the middle of heavy logging ----------------------------------------------------

HEAVY_LOGGER = """
from studio.sdk import Experiment, Workspace

run = Experiment(Workspace(), "heavy").start_logging()
print("run", run.id, flush=True)
i = 0
while True:  # no flush(): the background flush thread writes while this loop keeps logging
    run.log("x", float(i))
    if i % 10 == 0:
        run.log("tenth", i * 0.1, step=i)
    i += 1
    if i == 200_000:
        print("logged", i, flush=True)
"""

AFTER_CRASH = """
import sys

from studio.sdk import Experiment, Workspace

ws = Workspace(sys.argv[1], create=False)
run = Experiment(ws, "heavy").start_logging(display_name="after the crash")
for i in range(5_000):
    run.log("y", i / 9.0)
run.complete()
print("done", run.id, flush=True)
"""


def _check_prefix(backend: LocalBackend, run_id: str, at_least: int) -> int:
    """The run's series are exact prefixes of what the logger logged; returns the length of x."""
    counts = {m.name: m.count for m in backend.list_metrics(run_id)}
    x = backend.get_series(run_id, "x")
    n = len(x.values)
    assert n >= at_least
    assert counts["x"] == n  # the metric row and its chunks were written in the same transaction
    np.testing.assert_array_equal(x.steps, np.arange(n))
    np.testing.assert_array_equal(x.values, np.arange(n, dtype=np.float64))
    tenth = backend.get_series(run_id, "tenth")
    m = len(tenth.values)
    assert counts["tenth"] == m
    assert m <= n // 10 + 1
    np.testing.assert_array_equal(tenth.steps, np.arange(m) * 10)
    np.testing.assert_array_equal(tenth.values, np.arange(m) * 10 * 0.1)
    return n


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_sigkill_during_heavy_logging_keeps_the_workspace_usable(
    tmp_path: Path, ws_path: Path, pool: ChildPool
) -> None:
    logger = write_script(tmp_path, "heavy_logger.py", HEAVY_LOGGER)
    after = write_script(tmp_path, "after_crash.py", AFTER_CRASH)
    crashed: dict[str, int] = {}  # run id -> points visible right after its kill
    for _round in range(3):
        child = pool.start(logger)
        run_id = child.expect("run ").split()[1]
        child.expect("logged", timeout=60)
        reader = LocalBackend(ws_path)
        probe = WriteLockProbe(_db(ws_path))
        try:
            # Some time passes: at least 200,000 points reach the database by the background flush ...
            wait_until(
                lambda reader=reader, run_id=run_id: any(
                    m.name == "x" and m.count >= 200_000 for m in reader.list_metrics(run_id)
                ),
                timeout=30,
                what="200,000 points flushed in the background",
            )
            # ... then kill -9 while the logger is (a moment ago was) inside a write transaction.
            wait_until(probe.held, timeout=30, interval=0.002, what="the logger holding the write lock")
            child.proc.kill()
        finally:
            probe.close()
            reader.close()
        assert child.kill() == -signal.SIGKILL
        assert child.stderr == ""

        assert integrity_check(_db(ws_path)) == "ok"
        backend = LocalBackend(ws_path)
        try:
            crashed[run_id] = _check_prefix(backend, run_id, 200_000)
        finally:
            backend.close()

    # The workspace still opens and takes new runs from a new process.
    child = pool.start(after, str(ws_path))
    assert child.wait() == 0, child.stderr
    assert_clean_stderr("after_crash", child.stderr)
    new_id = child.stdout_lines[-1].split()[1]

    assert integrity_check(_db(ws_path)) == "ok"
    backend = LocalBackend(ws_path)
    try:
        new = backend.get_run(new_id)
        assert new.status == RunStatus.COMPLETED
        np.testing.assert_array_equal(backend.get_series(new_id, "y").values, np.arange(5_000) / 9.0)
        for run_id, n in crashed.items():
            info = backend.get_run(run_id)
            assert info.status == RunStatus.FAILED, (info.status, info.status_reason)
            assert "process" in info.status_reason
            assert _check_prefix(backend, run_id, n) == n  # nothing changed after the kill
        runs = backend.list_runs("heavy", page_size=100).runs
        assert {r.id for r in runs} == {*crashed, new_id}
    finally:
        backend.close()
