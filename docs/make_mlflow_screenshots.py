"""Screenshots of an MLflow server in the window: ``python docs/make_mlflow_screenshots.py`` (needs the test extra).

Starts a real ``mlflow server`` on 127.0.0.1 (tests/mlflow_server.py), logs a small sweep with MLflow's own client
(params, a metric of 3,000 steps and two short ones per run, a nested run, a failed one, a PNG), opens it in the
real window offscreen at 1280x800 and writes docs/screenshots/mlflow-runs-table.png and mlflow-run-metrics.png.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # make_screenshots next to this file; tests/ for the server


def log_sweep(url: str, scratch: Path) -> str:
    """An experiment "resnet-sweep" of 12 runs; returns the id of the best one."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    from tests.workspace_content import tiny_png

    client: Any = MlflowClient(url)
    experiment = client.create_experiment("resnet-sweep")
    client.create_experiment("bert-finetune")
    now = int(time.time() * 1000) - 3_600_000
    best, best_acc = "", -1.0
    for k in range(12):
        lr, depth = [0.1, 0.03, 0.01, 0.003][k % 4], [18, 34, 50][k % 3]
        run = client.create_run(experiment, run_name=f"resnet{depth}-lr{lr}", start_time=now + k * 60_000)
        run_id = run.info.run_id
        final = 0.6 + 0.35 * (1 - math.exp(-depth / 30)) * (1 - abs(math.log10(lr) + 2) / 3)
        points = []
        for step in range(0, 3000, 3):
            progress = 1 - math.exp(-step / 600)
            points.append(Metric("loss", 2.3 * (1 - progress) + 0.1 + 0.05 * math.sin(step / 40 + k), now + step, step))
            points.append(Metric("val_accuracy", final * progress + 0.01 * math.sin(step / 90), now + step, step))
        for i in range(0, len(points), 1000):
            params = [Param("lr", str(lr)), Param("depth", str(depth)), Param("optimizer", "sgd")] if i == 0 else []
            tags = [RunTag("model", f"resnet{depth}")] if i == 0 else []
            client.log_batch(run_id, metrics=points[i : i + 1000], params=params, tags=tags)
        client.log_metric(run_id, "final_accuracy", final)
        if final > best_acc:
            best, best_acc = run_id, final
        status = "FAILED" if k == 7 else "FINISHED"
        client.set_terminated(run_id, status, end_time=now + k * 60_000 + 50_000)
    image = scratch / "confusion.png"
    image.write_bytes(tiny_png())
    client.log_artifact(best, str(image), artifact_path="plots")
    client.log_text(best, "".join(f"epoch {e}: loss {2.3 / (e + 1):.4f}\n" for e in range(200)), "logs/train.log")
    return best


def main() -> None:
    """Start the server, log the sweep, take the two screenshots, stop the server."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from make_screenshots import new_window, settle, shoot, show_metrics, wait

    from tests.mlflow_server import launch_mlflow_server, quiet_mlflow_environment, wait_until_healthy

    quiet_mlflow_environment()
    with tempfile.TemporaryDirectory(prefix="studio-mlflow-shots-") as tmp:
        os.environ["XDG_DATA_HOME"] = str(Path(tmp, "data"))
        Path(tmp, "server").mkdir()
        server = launch_mlflow_server(Path(tmp, "server"), workers=1)
        try:
            wait_until_healthy(server)
            best = log_sweep(server.url, Path(tmp))
            window = new_window("light", Path(tmp, "studio.ini"))
            window.open_workspace("mlflow+" + server.url)
            wait("the server", lambda: window.backend)
            window.open_runs_table("resnet-sweep")
            tab = window.run_detail.tabs.currentWidget()
            wait("the runs", lambda: tab.model.rowCount() == 12)
            wait("the chart", lambda: tab.chart_panel is not None)
            settle(window)
            shoot(window, "mlflow-runs-table")
            show_metrics(window, best)
            shoot(window, "mlflow-run-metrics")
            window.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
