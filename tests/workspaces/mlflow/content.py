"""What the MLflow fixture logs, with MLflow's own client, and what the tests expect to read back.

Metrics, params, tags and runs go in through an in-process ``MlflowClient`` on the SQLite store while the
server starts (the ORM insert of 100,000 points is the slow part, ~8 s; over HTTP it took ~20 s); artifacts go
through the started server, as a user's script would send them (``mlflow-artifacts:`` URIs).
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIG_POINTS = 100_000
BATCH = 1000  # MLflow's limit of metrics per log_batch request
PAGING_RUNS = 250
SMALL_METRICS = 20
SMALL_POINTS = 300
LOG_BYTES = 300_000


@dataclass
class Filled:
    """Ids the server gave, and the data the tests compare against."""

    main_experiment_id: str = ""
    paging_experiment_id: str = ""
    run_ids: dict[str, str] = field(default_factory=dict)
    big_start_ms: int = 0
    log_text: bytes = b""
    png: bytes = b""
    fill_s: float = 0.0
    artifacts_s: float = 0.0

    def big_values(self) -> Any:
        """The 100,000 values of metric "big" as logged."""
        import numpy as np

        steps = np.arange(BIG_POINTS, dtype=np.int64)
        return steps, np.sin(steps / 1000.0), self.big_start_ms + steps


def tiny_png() -> bytes:
    """A valid 2x2 RGB PNG, built by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00\x00\xff\x00" for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def fill_store(client: Any, filled: Filled) -> None:
    """Experiments, runs, params, tags and metrics through ``client`` (an MlflowClient on the SQLite store)."""
    from mlflow.entities import Metric, Param, RunTag

    started = time.monotonic()
    main = client.create_experiment("main", artifact_location="mlflow-artifacts:/main")
    paging = client.create_experiment("paging", artifact_location="mlflow-artifacts:/paging")
    filled.main_experiment_id, filled.paging_experiment_id = main, paging
    now = int(time.time() * 1000)

    parent = client.create_run(
        main, run_name="parent", tags={"team": "vision", "mlflow.note.content": "A note"}
    ).info.run_id
    client.log_batch(
        parent,
        params=[Param("lr", "0.01"), Param("batch", "32")],
        metrics=[
            Metric(name, float(v), now + s, s)
            for s in range(100)
            for name, v in (("loss", 1 / (s + 1)), ("acc", s / 100))
        ],
    )
    filled.big_start_ms = now
    steps, values, times = filled.big_values()
    points = [Metric("big", float(v), int(t), int(s)) for s, v, t in zip(steps, values, times, strict=True)]
    for i in range(0, BIG_POINTS, BATCH):
        client.log_batch(parent, metrics=points[i : i + BATCH])
    client.set_terminated(parent, "FINISHED")
    filled.run_ids["parent"] = parent

    for name in ("child-a", "child-b"):
        child = client.create_run(main, run_name=name, tags={"mlflow.parentRunId": parent}).info.run_id
        client.log_batch(child, metrics=[Metric("loss", 0.5, now, 0)])
        client.set_terminated(child, "FINISHED")
        filled.run_ids[name] = child

    many = client.create_run(main, run_name="many-metrics").info.run_id
    small = [Metric(f"m{k:02d}", k + s / 1000, now + s, s) for k in range(SMALL_METRICS) for s in range(SMALL_POINTS)]
    for i in range(0, len(small), BATCH):
        client.log_batch(many, metrics=small[i : i + BATCH])
    filled.run_ids["many-metrics"] = many

    for name, status in (("failed", "FAILED"), ("killed", "KILLED")):
        run = client.create_run(main, run_name=name).info.run_id
        client.set_terminated(run, status)
        filled.run_ids[name] = run

    for i in range(PAGING_RUNS):
        run = client.create_run(
            paging, start_time=now + i, run_name=f"p{i:03d}", tags={"parity": "even" if i % 2 == 0 else "odd"}
        ).info.run_id
        client.log_batch(
            run, metrics=[Metric("score", float(i), now, 0)], params=[Param("i", str(i))], tags=[RunTag("k", "v")]
        )
    filled.fill_s = time.monotonic() - started


def log_artifacts(client: Any, filled: Filled, scratch: Path) -> None:
    """An image, CSV, JSON (``log_table`` / ``log_dict`` style) and a large log on run "parent", over HTTP."""
    started = time.monotonic()
    parent = filled.run_ids["parent"]
    filled.png = tiny_png()
    filled.log_text = b"".join(f"line {i:06d} of the training log\n".encode() for i in range(LOG_BYTES // 30 + 1))[
        :LOG_BYTES
    ]
    files = {
        "plots/curve.png": filled.png,
        "tables/data.csv": b"epoch,loss\n0,1.0\n1,0.5\n",
        "table.json": json.dumps({"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}).encode(),
        "logs/train.log": filled.log_text,
    }
    for relative, data in files.items():
        path = scratch / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        folder = str(Path(relative).parent)
        client.log_artifact(parent, str(path), artifact_path=None if folder == "." else folder)
    client.log_text(parent, "small\n", "notes/readme.txt")
    filled.artifacts_s = time.monotonic() - started
