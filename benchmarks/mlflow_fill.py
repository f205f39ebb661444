"""A big MLflow store in about a minute: one template run logged with MlflowClient, copied with plain SQL.

    python benchmarks/mlflow_fill.py [--runs 10000] [--root benchmarks/.data/mlflow10k] [--rebuild]

Creating 10,000 runs through ``MlflowClient`` takes many minutes (several ORM transactions a run).
Instead, one template run of experiment ``big`` is logged with ``MlflowClient`` on
``sqlite:///<root>/mlflow.db`` (params, tags, metrics ``loss`` / ``accuracy`` / ``lr`` of ``POINTS``
steps each), so MLflow writes every row its server expects, and then its rows in ``runs``, ``tags``,
``params``, ``metrics`` and ``latest_metrics`` are copied with ``executemany``: new run ids, names,
start and end times and artifact URIs, metric values scaled per run (``latest_metrics`` agrees with
the last point), a few runs failed or killed. Columns are read from the file, so a schema change
in a later MLflow keeps working as long as those five tables keep these key columns. Runs 0 to 999 also
get the artifacts of a logged model and an image (``artifact_files``: three levels of folders), written
straight into the server's artifact folder.

``ensure_store`` builds the store once and checks it through a real ``mlflow server`` with
``MlflowClient`` (``search_runs``: newest-first names, one run's metrics by filter, the count; a run's
history and artifacts); a marker file records the check, and later calls reuse the store.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import struct
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.mlflow_server import quiet_mlflow_environment, start_mlflow_server

DATA = Path(__file__).resolve().parent / ".data"
EXPERIMENT = "big"
POINTS = 100
METRICS = ("loss", "accuracy", "lr")
PARAMS = {"lr": "0.001", "batch_size": "64", "optimizer": "adamw", "epochs": "100"}
TAGS = {"model": "resnet50", "dataset": "imagenet-1k", "team": "vision"}
STEP_MS = 60_000
"""Runs start a minute apart: run 0 is the newest, so newest first is run-00000, run-00001, ..."""
MARKER = "checked.json"
ARTIFACT_RUNS = 1000
"""Runs 0 to 999 have the artifacts of a logged model and an image (written straight into the artifact folder)."""


@dataclass(frozen=True)
class Store:
    """A filled store: its folder (``mlflow.db`` inside), experiment id and name, and how many runs."""

    root: Path
    experiment_id: str
    runs: int

    @property
    def db(self) -> Path:
        """The SQLite file the server opens."""
        return self.root / "mlflow.db"


def run_name(i: int) -> str:
    """The name of copy ``i`` (0 is the newest)."""
    return f"run-{i:05d}"


def scale(i: int) -> float:
    """Copy ``i``'s metric values are the template's times this (distinct, deterministic)."""
    return 0.5 + (i * 7919 % 10_000) / 10_000


def log_template(db: Path) -> tuple[str, str]:
    """Log the template run with MlflowClient; (experiment id, run id)."""
    quiet_mlflow_environment()
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(f"sqlite:///{db}")
    experiment = client.create_experiment(EXPERIMENT, artifact_location=f"mlflow-artifacts:/{EXPERIMENT}")
    run = client.create_run(experiment, run_name="template", tags=TAGS).info.run_id
    now = int(time.time() * 1000)
    points = [
        Metric(name, value, now + s * 1000, s)
        for s in range(POINTS)
        for name, value in (("loss", 2.0 / (1 + s)), ("accuracy", 1 - 0.9 / (1 + s)), ("lr", 1e-3 * 0.98**s))
    ]
    params = [Param(k, v) for k, v in PARAMS.items()]
    client.log_batch(run, metrics=points, params=params, tags=[RunTag("stage", "sweep")])
    client.set_terminated(run)
    return experiment, run


def copy_runs(db: Path, template: str, runs: int) -> None:
    """Insert ``runs`` copies of the template's rows (then delete the template), in one transaction."""
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA synchronous = OFF")
        tables = {t: _rows(con, t, template) for t in ("runs", "tags", "params", "metrics", "latest_metrics")}
        run_row = tables["runs"][0]
        newest = int(run_row["start_time"])
        with con:
            for table, rows in tables.items():
                columns = list(rows[0])
                sql = f"INSERT INTO {table} ({', '.join(_q(c) for c in columns)}) VALUES ({', '.join('?' * len(columns))})"
                con.executemany(
                    sql, (tuple(r[c] for c in columns) for r in _copies(table, rows, template, runs, newest))
                )
            for table in ("latest_metrics", "metrics", "params", "tags", "runs"):
                con.execute(f"DELETE FROM {table} WHERE run_uuid = ?", (template,))
        con.execute("ANALYZE")
    finally:
        con.close()


def _q(column: str) -> str:
    return f'"{column}"'


def _rows(con: sqlite3.Connection, table: str, run: str) -> list[dict[str, object]]:
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute(f"SELECT * FROM {table} WHERE run_uuid = ?", (run,))]
    con.row_factory = None
    if not rows:
        raise RuntimeError(f"the template run has no rows in {table}: did MLflow's schema change?")
    return rows


def _copies(
    table: str, rows: list[dict[str, object]], template: str, runs: int, newest: int
) -> Iterator[dict[str, object]]:
    for i in range(runs):
        run_id, factor = _run_id(i), scale(i)
        for row in rows:
            new = dict(row, run_uuid=run_id)
            if table == "runs":
                start = newest - i * STEP_MS
                new.update(name=run_name(i), start_time=start, end_time=start + 30_000 + i % 600 * 1000)
                new["status"] = "FAILED" if i % 97 == 5 else "KILLED" if i % 211 == 7 else "FINISHED"
                new["artifact_uri"] = str(row["artifact_uri"]).replace(template, run_id)
            elif table == "tags" and row["key"] == "mlflow.runName":
                new["value"] = run_name(i)
            elif table == "params" and row["key"] == "lr":
                new["value"] = f"{1e-4 * (1 + i % 10):g}"
            elif table in ("metrics", "latest_metrics"):
                new["value"] = float(row["value"]) * factor  # type: ignore[arg-type]
            yield new


def _run_id(i: int) -> str:
    """A stable, valid MLflow run id for copy ``i`` (32 hex digits, like uuid4().hex)."""
    return uuid.UUID(int=(0xB16 << 112) + i).hex


def build(root: Path, runs: int) -> Store:
    """Log the template and copy it ``runs`` times into a new ``root``; the store, unchecked."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    experiment, template = log_template(root / "mlflow.db")
    copy_runs(root / "mlflow.db", template, runs)
    return Store(root, experiment, runs)


def artifact_files() -> dict[str, bytes]:
    """What ``mlflow.pytorch.log_model`` and ``mlflow.log_image`` leave in a run: three levels of folders."""
    mlmodel = b"artifact_path: model\nflavors:\n  pytorch:\n    model_data: data\n    pytorch_version: 2.5.1\n"
    return {
        "model/MLmodel": mlmodel,
        "model/conda.yaml": b"name: mlflow-env\ndependencies:\n- python=3.11\n",
        "model/python_env.yaml": b"python: 3.11\n",
        "model/requirements.txt": b"mlflow==3.17.2\ntorch==2.5.1\n",
        "model/data/model.pth": bytes(range(256)) * 16,
        "model/data/pickle_module_info.txt": b"mlflow.pytorch.pickle_module\n",
        "images/confusion%step%99%timestamp%1796395817467%0f3a.png": _png(8, 8),
    }


def _png(width: int, height: int) -> bytes:
    """A small grey PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def add_artifacts(store: Store) -> None:
    """Write ``artifact_files()`` for runs 0 to ARTIFACT_RUNS - 1 where the server keeps their artifacts."""
    files = artifact_files()
    for i in range(min(store.runs, ARTIFACT_RUNS)):
        base = store.root / "artifacts" / EXPERIMENT / _run_id(i) / "artifacts"
        for path, data in files.items():
            target = base / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def check(store: Store, url: str) -> str:
    """Ask the server what a user would see; raise if it differs from what was copied. Returns a summary."""
    quiet_mlflow_environment()
    from mlflow import MlflowClient

    client = MlflowClient(url)
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is None or exp.experiment_id != store.experiment_id:
        raise RuntimeError(f"the server does not show experiment {EXPERIMENT!r}")
    first = client.search_runs([exp.experiment_id], max_results=100)
    names = [r.info.run_name for r in first]
    if names != [run_name(i) for i in range(100)]:
        raise RuntimeError(f"the first page is not run-00000..run-00099 newest first: {names[:5]}...")
    k = store.runs * 4321 // 10_000  # one run in the middle
    one = client.search_runs([exp.experiment_id], filter_string=f"attributes.run_name = '{run_name(k)}'")
    if len(one) != 1:
        raise RuntimeError(f"{run_name(k)} was found {len(one)} times")
    run = one[0]
    want_loss = 2.0 / POINTS * scale(k)
    want_params = {**PARAMS, "lr": f"{1e-4 * (1 + k % 10):g}"}
    if abs(run.data.metrics["loss"] - want_loss) > 1e-9 or run.data.params != want_params:
        raise RuntimeError(f"{run_name(k)} has metrics {run.data.metrics} and params {run.data.params}")
    history = client.get_metric_history(run.info.run_id, "loss")
    if len(history) != POINTS or abs(history[-1].value - want_loss) > 1e-9:
        raise RuntimeError(f"{run_name(k)}'s loss has {len(history)} points, not {POINTS} ending at the last value")
    listed = [f.path for f in client.list_artifacts(first[0].info.run_id, "model/data")]
    if listed != ["model/data/model.pth", "model/data/pickle_module_info.txt"]:
        raise RuntimeError(f"{run_name(0)}'s model/data holds {listed}")
    # The count: pages of 5,000 (the server builds whole runs, so this is the slow part of the check).
    seen = 0
    token = None
    while True:
        page = client.search_runs([exp.experiment_id], max_results=5000, page_token=token)
        seen += len(page)
        token = page.token
        if not token:
            break
    if seen != store.runs:
        raise RuntimeError(f"the server lists {seen} runs, not {store.runs}")
    return f"{seen:,} runs listed; first page newest first; {run_name(k)}'s params, last loss and {POINTS}-point history as copied; {run_name(0)}'s artifacts listed"


def ensure_store(runs: int = 10_000, root: Path | None = None, rebuild: bool = False) -> Store:
    """The checked store of ``runs`` runs under ``root`` (default ``benchmarks/.data/mlflow<N>``), built if needed."""
    root = root or DATA / f"mlflow{runs // 1000}k"
    marker = root / MARKER
    saved = json.loads(marker.read_text()) if marker.exists() and not rebuild else {}
    if saved.get("runs") == runs and saved.get("points") == POINTS:
        store = Store(root, saved["experiment_id"], runs)
        if saved.get("artifacts") == ARTIFACT_RUNS:
            return store
    else:
        started = time.perf_counter()
        store = build(root, runs)
        built = time.perf_counter() - started
        print(f"filled {runs:,} runs in {built:.1f} s ({store.db.stat().st_size / 1e6:.0f} MB)", flush=True)
    add_artifacts(store)
    server = start_mlflow_server(root, workers=2)
    print(f"mlflow server answered /health after {server.started_in_s:.1f} s", flush=True)
    try:
        started = time.perf_counter()
        summary = check(store, server.url)
        print(f"checked in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        server.stop()
    print(f"checked through mlflow server: {summary}", flush=True)
    saved = {"runs": runs, "points": POINTS, "artifacts": ARTIFACT_RUNS, "experiment_id": store.experiment_id}
    marker.write_text(json.dumps(saved))
    return store


def main() -> None:
    """Build (or reuse) and check the store."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10_000)
    p.add_argument("--root", type=Path, default=None)
    p.add_argument("--rebuild", action="store_true")
    args = p.parse_args()
    store = ensure_store(args.runs, args.root, args.rebuild)
    print(f"store: {store.db} (experiment {EXPERIMENT!r}, id {store.experiment_id})")


if __name__ == "__main__":
    main()
