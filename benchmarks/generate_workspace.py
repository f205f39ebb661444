"""Build a large local workspace quickly, for the benchmarks.

Rows go straight into the workspace database in one big transaction (``executemany``),
not through 100,000 SDK calls; numeric series are packed with
``studio.workspaces.local.series_store.append_points`` and their ``metrics`` rows are written with
``studio.workspaces.local.metrics_store`` exactly as ``MetricWriter._write`` does, so the storage
format is the real one. Everything is seeded: the same arguments give the same runs,
metrics and files (only the creation times that the schema migration records differ).

    python benchmarks/generate_workspace.py PATH [--runs 100000] [--points 10000000]
        [--experiments 10] [--files-runs 1000] [--seed 0] [--metric-columns 0] [--force]

``--metric-columns K`` gives every top-level run of "big" K one-point numeric metrics ``m0``..``m{K-1}``
(uniform in [0, 1), from their own seeded stream, so the other runs and series do not change):
the columns a runs table filters and sorts on.

Active runs (Running, Queued) have no pid, so readers never "reap" them as dead.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.core.types import MetricKind
from studio.workspaces.local import database, metrics_store, series_store, summaries_store
from studio.workspaces.local.workspace import DB_NAME, LocalWorkspace

EXPERIMENT = "big"
BIG_SERIES = "loss"
BIG_SERIES_POINTS = 1_000_000
BIG_RUN_NAME = "million-points"
RARE_TEXT = "needle"  #: in the display name of 3 old runs only: a filter that scans everything
BASE_TIME = 1_700_000_000.0
STATUSES = ("Completed", "Failed", "Canceled", "Running", "Queued")
STATUS_P = (0.84, 0.10, 0.05, 0.007, 0.003)
MODELS = ("resnet50", "vit-b16", "bert-base", "gpt2-small", "unet", "xgboost", "lstm")
WORDS = ("amber", "bold", "calm", "eager", "swift", "river", "comet", "maple", "tiger", "ocean", "piano")
LRS = ("0.1", "0.01", "0.001", "0.0001")
_RUN_SQL = (
    "INSERT INTO runs(seq, id, experiment_id, parent_seq, number, display_name, status, status_reason, "
    "created_at, started_at, ended_at, error, run_type, details, child_count, changed) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
)


@dataclass(frozen=True)
class Generated:
    """What ``generate`` built."""

    path: Path
    experiment: str
    top_level_runs: int
    child_runs: int
    points: int
    big_run_id: str
    seconds: float


class _Builder:
    """Accumulates rows for one transaction; ``seq`` and run numbers are assigned here."""

    def __init__(self, conn: sqlite3.Connection, rng: np.random.Generator) -> None:
        self.conn, self.rng = conn, rng
        self.seq = self.exp_id = self.number = 0
        self.runs: list[tuple[object, ...]] = []
        self.history: list[tuple[int, str, float]] = []
        self.tags: list[tuple[int, str, str]] = []
        self.props: list[tuple[int, str, str]] = []

    def experiment(self, name: str, runs: int, child_every: int = 0) -> list[tuple[int, str, str]]:
        """Add an experiment with ``runs`` top-level runs; returns (seq, id, status) of those."""
        cur = self.conn.execute("INSERT INTO experiments(name, created_at) VALUES (?, ?)", (name, BASE_TIME))
        self.exp_id, self.number, top = int(cur.lastrowid or 0), 0, []
        rng = self.rng
        status_ix = rng.choice(len(STATUSES), size=runs, p=STATUS_P)
        hexes = rng.integers(0, 2**32, size=runs)
        kinds, models, words = rng.random(runs), rng.integers(0, len(MODELS), runs), rng.integers(0, 100_000, runs)
        lrs, durations = rng.integers(0, len(LRS), runs), rng.uniform(60, 3600, runs)
        for i in range(runs):
            created = BASE_TIME + i * 30.0
            run_id = f"{name}_{int(created)}_{int(hexes[i]):08x}"
            lr = LRS[lrs[i]]
            if kinds[i] < 0.4:
                w = int(words[i])
                display = f"{WORDS[w % 11]}_{WORDS[(w // 11) % 11]}_{w:05d}"
            else:
                display = f"{MODELS[models[i]]}-lr{lr}-bs{32 << (i % 3)}-s{i % 7}"
            if name == EXPERIMENT and i in (7, 11, 13):
                display = f"{RARE_TEXT}-{i}"
            if name == EXPERIMENT and i == runs - 1:
                display = BIG_RUN_NAME
            status = "Completed" if i == runs - 1 else STATUSES[status_ix[i]]
            kids = 2 + i % 5 if child_every and i % child_every == child_every - 1 else 0
            seq = self._run(None, run_id, display, status, created, float(durations[i]), kids)
            top.append((seq, run_id, status))
            if kinds[i] < 0.5:
                self.tags += [(seq, "lr", lr), (seq, "model", MODELS[models[i]])]
            if kinds[i] < 0.2:
                self.props.append((seq, "azureml.runsource", "experiment"))
            for c in range(kids):
                self._run(seq, f"{run_id}_{c}", f"child_{c}", "Completed", created + c, 60.0)
        self.conn.execute("UPDATE experiments SET next_run_number = ? WHERE id = ?", (self.number + 1, self.exp_id))
        return top

    def _run(
        self, parent: int | None, run_id: str, display: str, status: str, t: float, d: float, kids: int = 0
    ) -> int:
        self.seq += 1
        self.number += 1
        started = None if status == "Queued" else t + 1.0
        ended = None if status in ("Queued", "Running") else t + 1.0 + d
        failed = status == "Failed"
        reason = "CUDA out of memory." if failed else ""
        error = json.dumps({"code": "UserError", "message": reason}) if failed else None
        details = '{"target": "local", "submittedBy": "bench"}'
        row = (self.seq, run_id, self.exp_id, parent, self.number, display, status, reason, t, started, ended, error)
        self.runs.append((*row, "inline", details, kids))
        self.history.append((self.seq, "Queued" if status == "Queued" else "Running", t))
        if ended is not None:
            self.history.append((self.seq, status, ended))
        return self.seq

    def flush_rows(self) -> None:
        """Insert every accumulated run, status, tag and property row."""
        c = self.conn
        c.executemany(_RUN_SQL, self.runs)
        c.executemany("INSERT INTO run_status_history(run_seq, status, at) VALUES (?, ?, ?)", self.history)
        c.executemany("INSERT INTO run_tags(run_seq, key, value) VALUES (?, ?, ?)", self.tags)
        c.executemany("INSERT INTO run_properties(run_seq, key, value) VALUES (?, ?, ?)", self.props)


def write_series(conn: sqlite3.Connection, seq: int, name: str, values: np.ndarray, t0: float, int_values: bool) -> int:
    """Store a numeric series the way MetricWriter._write does; returns its number of points."""
    n = len(values)
    metric_id, count, old_type = metrics_store.ensure_metric(conn, seq, name, MetricKind.SCALAR, "")
    steps = np.arange(count, count + n, dtype=np.int64)
    times = t0 + np.arange(n, dtype=np.float64) * 0.01
    series_store.append_points(conn, metric_id, count, steps, values, times)
    value_type = metrics_store.widest(old_type, "int" if int_values else "float")
    last = int(values[-1]) if value_type == "int" else float(values[-1])
    metrics_store.update_after_append(conn, metric_id, count + n, value_type, last)
    summaries_store.merge(conn, seq, name, summaries_store.summarize(steps, values.astype(np.float64)))
    return n


def _curve(rng: np.random.Generator, name: str, n: int) -> np.ndarray:
    t = np.arange(n, dtype=np.float64) / n
    if name == "loss":
        return 2.5 * np.exp(-5 * t) + 0.05 + rng.normal(0, 0.02, n)
    if name == "accuracy":
        return np.clip(1 - 0.9 * np.exp(-4 * t) + rng.normal(0, 0.01, n), 0, 1)
    if name == "learning_rate":
        return 0.01 * 0.5 * (1 + np.cos(np.pi * t))
    return np.floor(t * 50)  # epoch


def _write_metrics(
    conn: sqlite3.Connection, rng: np.random.Generator, top: list[tuple[int, str, str]], points: int
) -> int:
    big_seq = top[-1][0]
    total = write_series(
        conn, big_seq, BIG_SERIES, _curve(rng, "loss", min(points, BIG_SERIES_POINTS)), BASE_TIME, False
    )
    candidates = [seq for seq, _, status in top[:-1] if status in ("Completed", "Failed", "Running")]
    order = rng.permutation(len(candidates))
    i = 0
    while total < points and i < len(order):
        seq, n = candidates[order[i]], int(rng.integers(10_000, 20_001))
        for name in ("loss", "accuracy", "learning_rate", "epoch"):
            size = min(n if name != "epoch" else 50, points - total)
            if size > 0:
                total += write_series(conn, seq, name, _curve(rng, name, size), BASE_TIME, name == "epoch")
        i += 1
    for j in order[i : i + len(top) // 10]:  # a one-point summary metric on 10% of runs
        total += write_series(conn, candidates[j], "final_accuracy", rng.uniform(0.5, 0.99, 1), BASE_TIME, False)
    return total


def _write_metric_columns(conn: sqlite3.Connection, top: list[tuple[int, str, str]], columns: int, seed: int) -> int:
    """One point of each of ``m0``..``m{columns-1}`` per run; returns the number of points."""
    values = np.random.default_rng([seed, 1]).random((len(top), columns))
    for row, (seq, _, _) in enumerate(top):
        for j in range(columns):
            write_series(conn, seq, f"m{j}", values[row, j : j + 1], BASE_TIME, False)
    return len(top) * columns


def _write_files(ws: LocalWorkspace, run_ids: list[str]) -> None:
    for k, run_id in enumerate(run_ids):
        root = ws.run_dir(run_id)
        for sub in ("outputs", "logs", "user_logs"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        rows = "".join(f"{e},{2.5 / (e + 1):.5f},{0.5 + e / 200:.4f}\n" for e in range(100))
        (root / "outputs" / "metrics.csv").write_text("epoch,loss,accuracy\n" + rows)
        (root / "outputs" / "config.json").write_text(json.dumps({"lr": 10.0 ** -(k % 4 + 1), "run": k}))
        log = "".join(f"[{t:04d}] step {t * 100}: loss={2.5 / (t + 1):.4f}\n" for t in range(50))
        (root / "logs" / "std_log.txt").write_text(log)
        (root / "user_logs" / "std_log.txt").write_text(f"starting run {run_id}\n" + log)


def generate(
    path: str | Path,
    runs: int = 100_000,
    points: int = 10_000_000,
    experiments: int = 10,
    files_runs: int = 1000,
    seed: int = 0,
    metric_columns: int = 0,
) -> Generated:
    """Create a new workspace at ``path``: experiment "big" with ``runs`` top-level runs and
    ``points`` metric points, plus ``experiments - 1`` small experiments of 25 runs each.
    ``metric_columns``: see the module docstring."""
    if runs < 1 or points < 1:
        raise ValueError("runs and points must be at least 1")
    start = time.perf_counter()
    root = Path(path)
    if (root / DB_NAME).exists():
        raise FileExistsError(f"{root} already holds a workspace")
    rng = np.random.default_rng(seed)
    ws = LocalWorkspace(root)
    conn = database.connect(ws.db_path)
    conn.execute("PRAGMA synchronous=OFF")  # a generated workspace need not survive a power cut
    try:
        with database.write_transaction(conn, ws.db_path):
            b = _Builder(conn, rng)
            top = b.experiment(EXPERIMENT, runs, child_every=100)
            for j in range(1, experiments):
                b.experiment(f"exp-{j:03d}", 25)
            b.flush_rows()
            total = _write_metrics(conn, rng, top, points)
            total += _write_metric_columns(conn, top, metric_columns, seed) if metric_columns else 0
            conn.execute("UPDATE workspace_state SET value = 1 WHERE key = 'changes'")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
        ws.close()
    _write_files(ws, [run_id for _, run_id, _ in top[-files_runs:]] if files_runs else [])
    children = b.seq - runs - 25 * (experiments - 1)
    return Generated(root, EXPERIMENT, runs, children, total, top[-1][1], time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    """The command line: generate a workspace and print what was built and how long it took."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", type=Path)
    p.add_argument("--runs", type=int, default=100_000, help="top-level runs of experiment 'big'")
    p.add_argument("--points", type=int, default=10_000_000, help="metric points in total")
    p.add_argument("--experiments", type=int, default=10, help="experiments in total ('big' + small ones)")
    p.add_argument("--files-runs", type=int, default=1000, help="runs that get small output and log files")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--metric-columns", type=int, default=0, help="one-point metrics m0.. on every top-level run")
    p.add_argument("--force", action="store_true", help="replace an existing workspace at PATH")
    args = p.parse_args(argv)
    if args.force and (args.path / DB_NAME).exists():
        shutil.rmtree(args.path)
    try:
        g = generate(
            args.path, args.runs, args.points, max(1, args.experiments), args.files_runs, args.seed, args.metric_columns
        )
    except FileExistsError as exc:
        print(f"{exc}; use --force to replace it", file=sys.stderr)
        return 1
    size = sum(f.stat().st_size for f in g.path.glob(DB_NAME + "*")) / 1e6
    print(
        f"{g.path}: {g.top_level_runs:,} top-level + {g.child_runs:,} child runs in {g.experiment!r}, "
        f"{g.points:,} points ({size:,.0f} MB database), big series run {g.big_run_id}; {g.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
