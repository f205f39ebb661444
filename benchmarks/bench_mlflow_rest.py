"""Issue 11: the studio's MLflow REST client against MlflowClient, on the same local ``mlflow server``.

1. A 100,000-point metric into numpy: ``MlflowRestClient.get_history`` (pages of 25,000 fetched concurrently
   once the server's page tokens show offsets; also one page after another) vs
   ``MlflowClient().get_metric_history`` plus the conversion to numpy a caller needs.
2. A run with 20 metrics of 10,000 points: ``get_histories`` (all at once, 8 threads) vs MlflowClient fetching
   them one after another.

The server runs with 2 workers (this machine has 2 cores), SQLite store; it is filled in-process with
MlflowClient's ``log_batch`` (1000 points a request, MLflow's limit) before it starts. Each case: the median
of ``--repeat`` runs after one warm-up; request counts come from the client's counter.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.mlflow_server import quiet_mlflow_environment, start_mlflow_server


def fill(url_db: str) -> tuple[str, str]:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(url_db)
    experiment = client.create_experiment("bench", artifact_location="mlflow-artifacts:/bench")
    now = int(time.time() * 1000)
    big = client.create_run(experiment, run_name="big").info.run_id
    points = [Metric("big", float(np.sin(s / 1000)), now + s, s) for s in range(100_000)]
    for i in range(0, len(points), 1000):
        client.log_batch(big, metrics=points[i : i + 1000])
    many = client.create_run(experiment, run_name="many").info.run_id
    for k in range(20):
        metric = [Metric(f"m{k:02d}", k + s / 1e4, now + s, s) for s in range(10_000)]
        for i in range(0, len(metric), 1000):
            client.log_batch(many, metrics=metric[i : i + 1000])
    return big, many


def median_s(fn, repeat: int) -> float:
    fn()  # warm-up: both workers have the store loaded, the pages are in SQLite's cache
    return statistics.median(_timed(fn) for _ in range(repeat))


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def mlflow_to_numpy(history) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.fromiter((m.step for m in history), np.int64, len(history)),
        np.fromiter((m.value for m in history), np.float64, len(history)),
        np.fromiter((m.timestamp for m in history), np.int64, len(history)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    quiet_mlflow_environment()
    from mlflow import MlflowClient

    from studio.workspaces.mlflow.rest import MlflowRestClient

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        big, many = fill(f"sqlite:///{root / 'mlflow.db'}")
        print(f"filled 100,000 + 20 x 10,000 points with log_batch in {time.perf_counter() - started:.1f} s")
        server = start_mlflow_server(root, workers=2)
        print(f"mlflow server answered /health after {server.started_in_s:.1f} s")
        try:
            theirs = MlflowClient(server.url)
            names = [f"m{k:02d}" for k in range(20)]
            with MlflowRestClient(server.url, concurrency=8) as ours:
                rows = []
                mlflow_big = median_s(lambda: mlflow_to_numpy(theirs.get_metric_history(big, "big")), args.repeat)
                before = ours.requests_sent
                ours_big = median_s(lambda: ours.get_history(big, "big"), args.repeat)
                big_requests = (ours.requests_sent - before) // (args.repeat + 1)
                before = ours.requests_sent
                ours_big_seq = median_s(lambda: ours.get_history(big, "big", speculate=False), args.repeat)
                seq_requests = (ours.requests_sent - before) // (args.repeat + 1)
                history = ours.get_history(big, "big")
                assert len(history) == 100_000 and history.steps[-1] == 99_999
                rows.append(("100,000-point metric: MlflowClient.get_metric_history -> numpy", mlflow_big, ""))
                rows.append(("100,000-point metric: studio, pages concurrently", ours_big, f"{big_requests} requests"))
                rows.append(
                    ("100,000-point metric: studio, pages one after another", ours_big_seq, f"{seq_requests} requests")
                )

                mlflow_many = median_s(lambda: [theirs.get_metric_history(many, n) for n in names], args.repeat)
                before = ours.requests_sent
                ours_many = median_s(lambda: ours.get_histories(many, names), args.repeat)
                many_requests = (ours.requests_sent - before) // (args.repeat + 1)
                with MlflowRestClient(server.url, concurrency=1) as serial:
                    ours_many_serial = median_s(lambda: serial.get_histories(many, names), args.repeat)
                rows.append(("20 metrics x 10,000: MlflowClient one after another", mlflow_many, ""))
                rows.append(("20 metrics x 10,000: studio, 8 at once", ours_many, f"{many_requests} requests"))
                rows.append(("20 metrics x 10,000: studio, one at a time", ours_many_serial, ""))
        finally:
            server.stop()
    print(f"\n{'what':<62} {'median s':>9}  note")
    for what, seconds, note in rows:
        print(f"{what:<62} {seconds:>9.2f}  {note}")
    print(
        f"\nspeed-up, 100,000 points: {mlflow_big / ours_big:.2f}x (budget >= 2x); sequential pages {mlflow_big / ours_big_seq:.2f}x"
    )
    print(
        f"speed-up, 20 metrics: {mlflow_many / ours_many:.2f}x (budget >= 4x); one at a time {mlflow_many / ours_many_serial:.2f}x"
    )


if __name__ == "__main__":
    main()
