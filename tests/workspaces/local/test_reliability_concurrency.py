"""Many real writer processes and a reader process share one local workspace.

The local kind's promise (docs/ARCHITECTURE.md, "Performance and reliability"): many writer
processes and the GUI work at once without "database is locked" errors and without losing points. These tests start real Python
processes (``sys.executable``) that log through ``studio.sdk`` and read through
``LocalBackend``, then check every point, record and file exactly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.core.status import RunStatus
from studio.workspaces.local.backend import LocalBackend
from studio.workspaces.local.workspace import LocalWorkspace
from tests.proc_helpers import ChildPool, assert_clean_stderr, integrity_check, write_script

WRITERS = 8
POINTS_PER_METRIC = 10_000  # x 3 metrics = 30,000 numeric points per writer
FLUSH_EVERY = 50  # explicit flush() every this many iterations (200 per writer)
ROW_EVERY = 500
TEXT_EVERY = 2_000
EXPERIMENT = "concurrency"

# Shared by the writer and reader scripts (written next to them) and by the test itself:
# the one definition of what writer k logs.
EXPECTED_SRC = f'''
import hashlib

import numpy as np

N = {POINTS_PER_METRIC}
FLUSH_EVERY = {FLUSH_EVERY}
ROW_EVERY = {ROW_EVERY}
TEXT_EVERY = {TEXT_EVERY}
FILE_SIZES = {{"outputs/stream_0.bin": 70_001, "outputs/path_1.bin": 123_457, "outputs/big_2.bin": 2_000_003}}


def loss(k, i):
    return k * 1000 + i / 3.0


def acc_step(k, i):
    return 3 * i + k


def acc(k, i):
    return (i % 97) / 7.0


def count(k, i):
    return i * (k + 1) - 5000


def row(k, i):
    return {{"i": i, "k": k, "loss": loss(k, i)}}


def text(k, i):
    return f"phase-{{k}}-{{i}}"


def file_content(k, name):
    seed = hashlib.sha256(f"{{k}}:{{name}}".encode()).digest()
    size = FILE_SIZES[name]
    return (seed * (size // len(seed) + 1))[:size]


def expected_series(k, name):
    """(steps, values) as numpy arrays for numeric metric ``name`` of writer ``k``."""
    i = np.arange(N, dtype=np.int64)
    if name == "loss":
        return i, k * 1000 + i / 3.0
    if name == "acc":
        return 3 * i + k, (i % 97) / 7.0
    if name == "count":
        return i, (i * (k + 1) - 5000).astype(np.float64)
    raise KeyError(name)


ROW_INDEXES = [i for i in range(N) if i % ROW_EVERY == ROW_EVERY - 1]
TEXT_INDEXES = [i for i in range(N) if i % TEXT_EVERY == 0]
'''

WRITER_SRC = f"""
import io
import sys

import conc_expected as ex
from studio.sdk import Experiment, Workspace

k = int(sys.argv[1])
print("ready", flush=True)
assert sys.stdin.readline().strip() == "go"

ws = Workspace(sys.argv[2], create=False)
run = Experiment(ws, "{EXPERIMENT}").start_logging(display_name=f"writer-{{k}}")
print("run", run.id, flush=True)

for i in range(ex.N):
    run.log("loss", ex.loss(k, i))
    run.log("acc", ex.acc(k, i), step=ex.acc_step(k, i))
    run.log("count", ex.count(k, i))
    if i % ex.ROW_EVERY == ex.ROW_EVERY - 1:
        run.log_row("progress", **ex.row(k, i))
    if i % ex.TEXT_EVERY == 0:
        run.log("phase", ex.text(k, i))
    if i % ex.FLUSH_EVERY == ex.FLUSH_EVERY - 1:
        run.flush()
    if i == 1000:
        run.upload_file("outputs/stream_0.bin", io.BytesIO(ex.file_content(k, "outputs/stream_0.bin")))
    if i == 4000:
        src = f"source_{{k}}.bin"
        with open(src, "wb") as f:
            f.write(ex.file_content(k, "outputs/path_1.bin"))
        run.upload_file("outputs/path_1.bin", src)
    if i == 7000:
        run.upload_file("outputs/big_2.bin", io.BytesIO(ex.file_content(k, "outputs/big_2.bin")))

if k % 2 == 0:
    run.complete()  # odd writers leave it to the exit handler
print("done", flush=True)
"""

READER_SRC = f"""
import os
import sys

import numpy as np

import conc_expected as ex
from studio.core.status import RunStatus
from studio.workspaces.local.backend import LocalBackend

ws_path, stop_file = sys.argv[1], sys.argv[2]
backend = LocalBackend(ws_path)
backend.change_token()
print("ready", flush=True)

passes = 0
passes_with_live_runs = 0
partial_reads = 0
last_token = -1
seen = {{}}
while True:
    stopping = os.path.exists(stop_file)  # checked first: one full pass always follows the writers' end
    token = backend.change_token()
    assert token >= last_token, f"change token went back from {{last_token}} to {{token}}"
    last_token = token
    try:
        runs = backend.list_runs("{EXPERIMENT}", page_size=100).runs
    except Exception as exc:
        if "no experiment" in str(exc):
            runs = []  # no writer created it yet
        else:
            raise
    live = False
    for r in runs:
        assert r.status in (RunStatus.RUNNING, RunStatus.COMPLETED), f"{{r.id}} is {{r.status}}: {{r.status_reason}}"
        live = live or r.status == RunStatus.RUNNING
        k = int(r.display_name.split("-")[1])
        metrics = {{m.name: m for m in backend.list_metrics(r.id)}}
        for name in ("loss", "acc", "count"):
            if name not in metrics:
                assert r.status == RunStatus.RUNNING, f"completed run {{r.id}} lacks {{name}}"
                continue
            s = backend.get_series(r.id, name)
            n = len(s.values)
            assert n >= metrics[name].count, (name, n, metrics[name].count)
            assert n >= seen.get((r.id, name), 0), f"{{name}} of {{r.id}} shrank"
            seen[(r.id, name)] = n
            steps, values = ex.expected_series(k, name)
            assert n <= len(values), (name, n)
            # What a reader sees is always an exact prefix: no gap, no reordering, no torn chunk.
            np.testing.assert_array_equal(s.steps, steps[:n], err_msg=f"steps of {{name}} in {{r.id}}")
            np.testing.assert_array_equal(s.values, values[:n], err_msg=f"values of {{name}} in {{r.id}}")
            if r.status == RunStatus.COMPLETED:
                assert n == len(values), f"completed run {{r.id}} has {{n}} points of {{name}}"
            elif n < len(values):
                partial_reads += 1
        if "progress" in metrics:
            recs = backend.get_metric_records(r.id, "progress")
            want = [ex.row(k, i) for i in ex.ROW_INDEXES]
            assert [x.value for x in recs] == want[: len(recs)], f"rows of {{r.id}}"
        for f in backend.list_files(r.id, "outputs/"):
            data = backend.read_file_range(r.id, f.path, 0, f.size + 1)
            # A listed file is always complete: uploads are written under a temporary name.
            assert data == ex.file_content(k, f.path), f"{{f.path}} of {{r.id}} is incomplete or wrong"
    passes += 1
    passes_with_live_runs += live
    if stopping:
        break
print("passes", passes, passes_with_live_runs, partial_reads, flush=True)
"""


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[ChildPool]:
    pool = ChildPool(tmp_path, tmp_path / "ws")
    yield pool
    pool.cleanup()


def _expected_module(tmp_path: Path) -> dict[str, Any]:
    write_script(tmp_path, "conc_expected.py", EXPECTED_SRC)
    namespace: dict[str, Any] = {}
    exec(compile(EXPECTED_SRC, "conc_expected.py", "exec"), namespace)
    return namespace


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_eight_writers_and_a_reader_share_one_workspace(tmp_path: Path, pool: ChildPool) -> None:
    ex = _expected_module(tmp_path)
    ws_path = tmp_path / "ws"
    LocalWorkspace(ws_path).close()  # created up front: this test is about logging, not creation
    writer = write_script(tmp_path, "writer.py", WRITER_SRC)
    reader_script = write_script(tmp_path, "reader.py", READER_SRC)
    stop_file = tmp_path / "stop-reading"
    t0 = time.time()

    reader = pool.start(reader_script, str(ws_path), str(stop_file))
    reader.expect("ready")
    writers = [pool.start(writer, str(k), str(ws_path)) for k in range(WRITERS)]
    for w in writers:
        w.expect("ready")
    for w in writers:  # all start logging at (nearly) the same moment
        w.send("go")
    run_ids = {}
    for k, w in enumerate(writers):
        run_ids[k] = w.expect("run ").split()[1]
    for k, w in enumerate(writers):
        code = w.wait(timeout=180)
        assert code == 0, f"writer {k} exited with {code}:\n{w.stderr}"
    stop_file.touch()
    assert reader.wait(timeout=120) == 0, f"reader failed:\n{reader.stderr}"
    t1 = time.time()

    for k, w in enumerate(writers):
        assert_clean_stderr(f"writer {k}", w.stderr)
        assert w.stdout_lines[-1] == "done"
    assert_clean_stderr("reader", reader.stderr)
    passes, passes_live, partial_reads = (int(x) for x in reader.stdout_lines[-1].split()[1:])
    assert passes >= 2
    # The reader really read while the writers wrote (otherwise this test proves little).
    assert passes_live >= 1, reader.stdout_lines
    print(f"reader: {passes} passes, {passes_live} while runs were live, {partial_reads} partial series reads")

    assert integrity_check(ws_path / "workspace.db") == "ok"

    backend = LocalBackend(ws_path)
    try:
        runs = backend.list_runs(EXPERIMENT, page_size=100).runs
        assert sorted(r.id for r in runs) == sorted(run_ids.values())
        for k, run_id in run_ids.items():
            info = backend.get_run(run_id)
            assert info.display_name == f"writer-{k}"
            assert info.status == RunStatus.COMPLETED, (info.status, info.status_reason, info.error)
            assert info.error is None
            assert [c.status for c in backend.status_history(run_id)] == [RunStatus.RUNNING, RunStatus.COMPLETED]

            metrics = {m.name: m for m in backend.list_metrics(run_id)}
            assert set(metrics) == {"loss", "acc", "count", "progress", "phase"}
            for name, value_type in (("loss", "float"), ("acc", "float"), ("count", "int")):
                steps, values = ex["expected_series"](k, name)
                series = backend.get_series(run_id, name)
                assert metrics[name].count == ex["N"]
                assert metrics[name].value_type == value_type
                np.testing.assert_array_equal(series.steps, steps, err_msg=f"{name} steps, writer {k}")
                np.testing.assert_array_equal(series.values, values, err_msg=f"{name} values, writer {k}")
                assert series.times.shape == values.shape
                assert np.all((series.times >= t0 - 1) & (series.times <= t1 + 1))

            rows = backend.get_metric_records(run_id, "progress")
            assert [r.value for r in rows] == [ex["row"](k, i) for i in ex["ROW_INDEXES"]]
            assert [r.step for r in rows] == list(range(len(ex["ROW_INDEXES"])))
            texts = backend.get_metric_records(run_id, "phase")
            assert [r.value for r in texts] == [ex["text"](k, i) for i in ex["TEXT_INDEXES"]]

            files = {f.path: f for f in backend.list_files(run_id)}
            assert set(files) == set(ex["FILE_SIZES"]), sorted(files)
            for name, size in ex["FILE_SIZES"].items():
                assert files[name].size == size
                assert (ws_path / "runs" / run_id / name).read_bytes() == ex["file_content"](k, name)
            leftovers = [p.name for p in (ws_path / "runs" / run_id).rglob("*") if ".studio-tmp-" in p.name]
            assert leftovers == []
    finally:
        backend.close()


OWNER_SRC = """
import sys

from studio.sdk import Experiment, Workspace

run = Experiment(Workspace(sys.argv[1], create=False), "shared-run").start_logging()
print("run", run.id, flush=True)
assert sys.stdin.readline().strip() == "complete"
run.complete()
print("done", flush=True)
"""

RANK_SRC = """
import sys

from studio.sdk import Experiment, Run, Workspace

ws_path, run_id, rank, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
print("ready", flush=True)
assert sys.stdin.readline().strip() == "go"
run = Run(Experiment(Workspace(ws_path, create=False), "shared-run"), run_id)
for i in range(n):
    run.log("loss", rank * 1_000_000 + i)  # one metric written by every rank
    run.log(f"rank{rank}", i / 3.0)  # and one of its own
    if i % 500 == 499:
        run.log_row("ranks", rank=rank, i=i)
        run.flush()
print("done", flush=True)
"""


@pytest.mark.timeout(120)
def test_several_processes_log_into_the_same_run(tmp_path: Path, pool: ChildPool) -> None:
    """Ranks of a distributed job log into one run (``Run(experiment, run_id)``) at once."""
    ws_path = tmp_path / "ws"
    LocalWorkspace(ws_path).close()
    ranks, n = 6, 20_000
    owner = pool.start(write_script(tmp_path, "owner.py", OWNER_SRC), str(ws_path))
    run_id = owner.expect("run ").split()[1]
    rank_script = write_script(tmp_path, "rank.py", RANK_SRC)
    children = [pool.start(rank_script, str(ws_path), run_id, str(k), str(n)) for k in range(ranks)]
    for c in children:
        c.expect("ready")
    for c in children:
        c.send("go")
    for k, c in enumerate(children):
        assert c.wait(timeout=90) == 0, f"rank {k} failed:\n{c.stderr}"
        assert_clean_stderr(f"rank {k}", c.stderr)
    owner.send("complete")
    assert owner.wait() == 0, owner.stderr
    assert_clean_stderr("owner", owner.stderr)

    assert integrity_check(ws_path / "workspace.db") == "ok"
    backend = LocalBackend(ws_path)
    try:
        assert backend.get_run(run_id).status == RunStatus.COMPLETED
        metrics = {m.name: m for m in backend.list_metrics(run_id)}
        shared = backend.get_series(run_id, "loss")
        assert metrics["loss"].count == ranks * n == len(shared.values)
        np.testing.assert_array_equal(shared.steps, np.arange(ranks * n))  # one step sequence, no duplicates
        for k in range(ranks):
            mine = shared.values[shared.values // 1_000_000 == k] - k * 1_000_000
            np.testing.assert_array_equal(mine, np.arange(n), err_msg=f"rank {k} in the shared metric")
            own = backend.get_series(run_id, f"rank{k}")
            np.testing.assert_array_equal(own.steps, np.arange(n))
            np.testing.assert_array_equal(own.values, np.arange(n) / 3.0)
        rows = [r.value for r in backend.get_metric_records(run_id, "ranks")]
        assert sorted((r["rank"], r["i"]) for r in rows) == [(k, i) for k in range(ranks) for i in range(499, n, 500)]
    finally:
        backend.close()


# -- regressions: bugs these tests found, now fixed ----------------------------------------------


CREATOR_SRC = """
import sys

from studio.sdk import Experiment, Workspace

k = int(sys.argv[1])
print("ready", flush=True)
assert sys.stdin.readline().strip() == "go"
run = Experiment(Workspace(sys.argv[2]), "first-open").start_logging(display_name=f"creator-{k}")
for i in range(1000):
    run.log("x", k + i / 4.0)
run.complete()
print("done", run.id, flush=True)
"""


@pytest.mark.timeout(180)
def test_many_processes_create_the_same_new_workspace_at_once(tmp_path: Path, pool: ChildPool) -> None:
    """The first scripts of a project often start together on a workspace that does not exist yet."""
    ws_path = tmp_path / "ws"
    script = write_script(tmp_path, "creator.py", CREATOR_SRC)
    rounds, per_round = 10, 6  # the first failing round ends the test; a sound creation passes all
    for rnd in range(rounds):
        path = ws_path.with_name(f"ws{rnd}")
        children = [pool.start(script, str(k), str(path)) for k in range(per_round)]
        for c in children:
            c.expect("ready")
        for c in children:
            c.send("go")
        for k, c in enumerate(children):
            assert c.wait(timeout=60) == 0, f"round {rnd}, creator {k} failed:\n{c.stderr}"
            assert_clean_stderr(f"creator {k}", c.stderr)
        assert integrity_check(path / "workspace.db") == "ok"
        backend = LocalBackend(path)
        try:
            runs = backend.list_runs("first-open", page_size=100).runs
            assert len(runs) == per_round
            assert sorted(r.number for r in runs) == list(range(1, per_round + 1))
            for info in runs:
                k = int(info.display_name.split("-")[1])
                assert info.status == RunStatus.COMPLETED
                np.testing.assert_array_equal(backend.get_series(info.id, "x").values, k + np.arange(1000) / 4.0)
        finally:
            backend.close()


FORKING_SRC = """
import multiprocessing as mp
import os
import sys

from studio.sdk import Experiment, Workspace

run = Experiment(Workspace(sys.argv[1], create=False), "forked").start_logging()


def work(k):
    for i in range(5_000):
        run.log(f"worker{k}", k + i / 8.0)
    run.flush()
    return k


if __name__ == "__main__":
    for i in range(1_000):
        run.log("parent", i / 4.0)  # still buffered when the workers are forked
    with mp.get_context("fork").Pool(3) as workers:
        assert workers.map(work, range(6)) == list(range(6))
    pid = os.fork()
    if pid == 0:  # a plain forked child that ends normally, running the exit handlers
        run.log("child", 1.0)
        run.flush()
        sys.exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    print("after children", run.get_status(), flush=True)
    for i in range(1_000, 2_000):
        run.log("parent", i / 4.0)
    run.complete()
    print("done", run.id, flush=True)
"""


@pytest.mark.timeout(120)
def test_forked_workers_neither_duplicate_nor_steal_the_parents_run(tmp_path: Path, pool: ChildPool) -> None:
    """multiprocessing (fork, the Linux default before 3.14) workers log into the run of their parent.

    A forked child inherits the parent's unflushed buffers, its SQLite connections and its
    at-exit handlers; none of them may act twice.
    """
    ws_path = tmp_path / "ws"
    LocalWorkspace(ws_path).close()
    child = pool.start(write_script(tmp_path, "forking.py", FORKING_SRC), str(ws_path))
    code = child.wait(timeout=90)
    assert code == 0, f"exit {code}:\n{child.stderr}"
    assert_clean_stderr("forking script", child.stderr)
    # A forked child that exits normally must not complete the run its parent is still logging.
    assert child.stdout_lines[0] == "after children Running", child.stdout_lines
    run_id = child.stdout_lines[-1].split()[1]

    assert integrity_check(ws_path / "workspace.db") == "ok"
    backend = LocalBackend(ws_path)
    try:
        assert [c.status for c in backend.status_history(run_id)] == [RunStatus.RUNNING, RunStatus.COMPLETED]
        counts = {m.name: m.count for m in backend.list_metrics(run_id)}
        assert counts == {"parent": 2_000, "child": 1, **{f"worker{k}": 5_000 for k in range(6)}}
        parent = backend.get_series(run_id, "parent")
        np.testing.assert_array_equal(parent.values, np.arange(2_000) / 4.0)  # each point exactly once
        for k in range(6):
            np.testing.assert_array_equal(backend.get_series(run_id, f"worker{k}").values, k + np.arange(5_000) / 8.0)
    finally:
        backend.close()
