"""A screenshot of an Azure ML job's page: ``python docs/make_azure_job_screenshot.py`` (needs the test extra and
Azurite: see the README's test command).

Starts the tests' Azure ML emulator (tests/azure_fixtures.py: the real azure-ai-ml over HTTPS through a loopback
proxy, a real mlflow server behind Azure's MLflow URL, Azurite for files, the fake ``az`` for sign-in), logs a
job with MLflow's client (params, loss and accuracy curves, a log and outputs in Azurite, a data input), opens the
workspace by location in the real window offscreen at 1280x800 and writes the job's Overview as
docs/azure-job.png (light). ``--dark`` shoots the dark theme; ``--out DIR`` writes ``azure-job[-dark].png`` and
the Metrics and log tabs into DIR instead, for a look before committing.

It runs itself under pytest (``-p tests.azure_fixtures``), which starts and stops the emulator's services.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]  # make_screenshots next to this file; tests/ for the emulator
OUT_ENV, THEME_ENV = "STUDIO_AZURE_JOB_OUT", "STUDIO_THEME"
SIZE = (1280, 800)


def fill(service: Any) -> tuple[str, str]:
    """An experiment "mnist-resnet" with one finished job worth looking at; (experiment, job)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client: Any = MlflowClient(service.mlflow_url)
    experiment = "mnist-resnet"  # a fresh mlflow server each time the script runs
    experiment_id = client.create_experiment(experiment)
    now = int(time.time() * 1000) - 40 * 60_000
    job = client.create_run(experiment_id, run_name="resnet50-lr0.01", start_time=now).info.run_id
    points = []
    for step in range(0, 2000, 2):
        progress = 1 - math.exp(-step / 400)
        points.append(Metric("loss", 2.3 * (1 - progress) + 0.08 + 0.04 * math.sin(step / 30), now + step, step))
        points.append(Metric("val_accuracy", 0.93 * progress + 0.01 * math.sin(step / 70), now + step, step))
    params = [Param("lr", "0.01"), Param("epochs", "20"), Param("batch_size", "128")]
    tags = [RunTag("model", "resnet50"), RunTag("team", "vision"), RunTag("mlflow.note.content", "Baseline")]
    for i in range(0, len(points), 1000):
        client.log_batch(
            job, metrics=points[i : i + 1000], params=params if i == 0 else [], tags=tags if i == 0 else []
        )
    client.set_terminated(job, "FINISHED", end_time=now + 37 * 60_000 + 12_000)
    ws = service.workspace_arm_id
    service.set_job_properties(
        job,
        {
            "computeId": f"{ws}/computes/gpu-cluster-a100",
            "command": "python train.py --data ${{inputs.training_data}} --lr 0.01 --epochs 20 --batch_size 128",
            "inputs": {
                "training_data": {
                    "jobInputType": "uri_folder",
                    "uri": "azureml://datastores/workspaceblobstore/paths/mnist/",
                    "mode": "ReadOnlyMount",
                }
            },
            "environmentId": "azureml://registries/azureml/environments/acpt-pytorch-2.2-cuda12.1/versions/14",
        },
    )
    container = service.container()
    log = "".join(
        f"epoch {e}: loss {2.3 / (e + 1):.4f} val_accuracy {0.93 * (1 - math.exp(-e / 4)):.4f}\n" for e in range(20)
    )
    container.upload_blob(f"ExperimentRun/dcid.{job}/user_logs/std_log.txt", log.encode(), overwrite=True)
    container.upload_blob(f"ExperimentRun/dcid.{job}/outputs/model.pt", os.urandom(200_000), overwrite=True)
    return experiment, job


def shoot(theme: str, service: Any, experiment: str, job: str, out: Path, extra: bool) -> None:
    """Open the window themed, the job's page, and save its Overview (and with ``extra`` its other tabs)."""
    from make_screenshots import pump, wait

    from studio.ui.runs.run_detail import RunPage
    from studio.ui.shell.app import create_app
    from studio.ui.shell.main_window import MainWindow
    from studio.ui.shell.settings import WindowSettings
    from studio.workspaces import kinds

    os.environ[THEME_ENV] = theme
    create_app(["studio"])
    import tempfile

    ini = Path(tempfile.mkdtemp()) / "settings.ini"
    window = MainWindow([next(o for o in kinds() if o.kind == "azure")], WindowSettings(str(ini)))
    window.resize(*SIZE)
    window.show()
    window.open_workspace(service.location)
    wait("the workspace", lambda: window.backend is not None)
    model = window.experiment_pane.model
    wait("the experiment", lambda: model.index_of_experiment(experiment).isValid())
    window.experiment_pane.view.expand(model.index_of_experiment(experiment))
    wait("the job in the tree", lambda: model.index_of_run(job).isValid())
    window.open_run(job)
    page = wait("the job's page", lambda: next((p for p in window.findChildren(RunPage) if p.run_id == job), None))
    wait("the Overview", lambda: page.overview.run is not None and page.overview.studio_button.isVisible())
    wait("idle", lambda: not window.runner.running())
    pump(800)
    suffix = "" if theme == "light" else "-dark"
    save(window, out / f"azure-job{suffix}.png")
    if extra:
        page.show_tab("Outputs + logs")
        files = page.tab("Outputs + logs")
        wait("the files", lambda: files.model.index_of("user_logs/std_log.txt").isValid())
        files.select("user_logs/std_log.txt")
        wait("the log", lambda: files.preview.preview is not None and files.preview.preview.loaded)
        pump(500)
        save(window, out / f"azure-job-log{suffix}.png")
    window.close()
    for thread in threading.enumerate():
        if thread.name == "studio-close-workspace":
            thread.join(timeout=10)


def save(widget: Any, path: Path) -> None:
    """Write ``widget`` as a PNG (the strongest compression), checking its size."""
    image = widget.grab().toImage()
    if (image.width(), image.height()) != SIZE:
        raise RuntimeError(f"{path.name}: the window is {image.width()}x{image.height()}, not {SIZE}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(path), "PNG", 0):
        raise RuntimeError(f"could not write {path}")
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def test_shoot(azure_env: Any) -> None:
    """The pytest entry (``azure_env`` points this process at the emulator); run by ``main``."""
    out = Path(os.environ.get(OUT_ENV) or HERE)
    experiment, job = fill(azure_env)
    themes = os.environ.get("STUDIO_AZURE_JOB_THEMES", "light").split(",")
    for theme in themes:
        shoot(theme, azure_env, experiment, job, out, extra=out != HERE)


def main(argv: list[str]) -> int:
    """Run ``test_shoot`` under pytest with the emulator's plugin."""
    import pytest

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    home = Path(__import__("tempfile").mkdtemp())
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        os.environ[name] = str(home / name.lower())  # no saved account: the fake az signs in
    themes = ["dark"] if "--dark" in argv else ["light"]
    if "--out" in argv:
        os.environ[OUT_ENV] = argv[argv.index("--out") + 1]
        themes = ["light", "dark"]
    os.environ["STUDIO_AZURE_JOB_THEMES"] = ",".join(themes)
    return int(
        pytest.main(
            [
                __file__,
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "tests.azure_fixtures",
                "-W",
                "ignore",
                "--rootdir",
                str(ROOT),
            ]
        )
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
