"""Screenshots for the docs: ``python docs/make_screenshots.py`` writes docs/screenshots/*.png.

It logs a demo workspace in a temporary folder with studio.sdk (three experiments, failed,
running and child runs), runs the bundled sample experiment through the window, puts jobs
on three compute instances, then shows the real main window offscreen at 1280x800 in the
light and the dark theme. Every compute instance is stopped before it returns.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "screenshots"
SIZE = (1280, 800)
JOB_SCRIPT = """import time
from studio.sdk import Run
run = Run.get_context()
for step in range(900):
    run.log("loss", 2.4 * 0.996 ** step + 0.08, step=step)
    time.sleep(1)
"""
MNIST = ("baseline", "baseline-bs128", "dropout-0.25", "dropout-0.5", "batchnorm", "batchnorm-adamw", "lr-3e-4",
         "lr-1e-3", "augment-rot15", "augment-rot15-cutout", "wide-64ch", "wide-128ch", "deep-6conv", "final-ensemble")  # fmt: skip
OOM = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity)"
NAN = "RuntimeError: Function 'CudnnConvolutionBackward0' returned nan values in its 0th output."
DIVERGED = "FloatingPointError: loss is nan at step 4812 (lr=0.2 is too high for this schedule)"
VOCAB = "ValueError: The tokenizer has 30522 tokens but the checkpoint's embeddings have 28996 rows."


def pump(ms: int = 50) -> None:
    """Let the GUI thread handle events (worker results, timers, paints) for ``ms``."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Process events until ``probe()`` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        pump()
    return value


def overview(page: Any) -> Any:
    """The Overview of an open run's tab (the tab itself in versions without sub-tabs)."""
    return getattr(page, "overview", page)


def log_demo(root: Path) -> tuple[list[Any], dict[str, str]]:
    """Three experiments of realistic runs; returns (runs left Running, ids by display name)."""
    from studio.local.workspace import LocalWorkspace
    from studio.sdk import Experiment, Workspace

    ws, rng, now = Workspace(root), random.Random(7), time.time()
    timeline: list[tuple[Any, float, float | None]] = []  # run, started minutes ago, minutes it took
    running: list[Any] = []

    def run(parent: Any, name: str, tags: dict[str, Any], at: float, took: float, end: str = "ok") -> Any:
        r = parent.child_run(name) if hasattr(parent, "child_run") else parent.start_logging(display_name=name)
        r.set_tags(tags)
        acc = rng.uniform(0.8, 0.95)
        for epoch in range(1, 9):
            r.log("loss", 2.3 * math.exp(-epoch / 3) + rng.uniform(0.02, 0.08), step=epoch)
            r.log("accuracy", acc * (1 - math.exp(-epoch / 2)) + rng.uniform(-0.01, 0.01), step=epoch)
        timeline.append((r, at, None if end == "running" else took))
        if end == "ok":
            r.log("final_accuracy", acc)
            r.complete()
        elif end == "running":
            running.append(r)
        else:
            r.fail(error_details=end)
        return r

    day = 24 * 60
    mnist = Experiment(ws, "mnist-cnn")
    for i, name in enumerate(MNIST):
        tags = {"optimizer": "adamw" if "adamw" in name else "sgd", "lr": 0.01 if i < 6 else 0.001, "batch": 64}
        run(mnist, name, tags, 9 * day - i * 430, rng.uniform(4, 19), NAN if i == 12 else "ok")
    resnet = Experiment(ws, "resnet50-sweep")
    run(resnet, "resnet50-imagenet100-baseline", {"epochs": 90, "lr": 0.1}, 3 * day, 212)
    grid = run(resnet, "grid lr x wd", {"sweep": "grid", "trials": 6}, 2 * day, 265)
    for k, (lr, wd) in enumerate((lr, wd) for lr in (0.1, 0.05, 0.01) for wd in ("1e-4", "5e-4")):
        end = OOM if k == 1 else "ok"
        run(grid, f"lr={lr} wd={wd}", {"lr": lr, "wd": wd}, 2 * day - 1 - k * 44, rng.uniform(35, 43), end)
    cosine = run(resnet, "cosine-schedule sweep", {"sweep": "random", "trials": 4}, 240, 0, "running")
    for k, (lr, end) in enumerate([(0.08, "ok"), (0.12, "ok"), (0.2, DIVERGED), (0.06, "running")]):
        run(cosine, f"trial-{k + 1} lr={lr}", {"lr": lr, "schedule": "cosine"}, 238 - k * 45, 42 - 30 * (k == 2), end)
    bert = Experiment(ws, "bert-finetune")
    for name, end, at, took in [
        ("bert-base-sst2", "ok", 4 * day, 38), ("bert-base-sst2-lr2e-5", "ok", 3.7 * day, 41),
        ("bert-large-sst2", OOM, 3.2 * day, 3), ("bert-base-mnli", "ok", 2.9 * day, 162),
        ("bert-base-mnli-fp16", "ok", 1.9 * day, 97), ("distilbert-sst2", "ok", 1.2 * day, 19),
        ("bert-base-qqp", VOCAB, 0.9 * day, 1), ("bert-base-squad-v2", "running", 95, 0),
    ]:  # fmt: skip
        task = next(t for t in ("sst2", "mnli", "qqp", "squad-v2") if t in name)
        run(bert, name, {"model": name[: name.index(task) - 1], "task": task}, at, took, end)
    with LocalWorkspace(root) as lws, lws.write() as conn:  # spread the runs over the last days
        for r, ago, took in timeline:
            start = now - ago * 60
            end_at = None if took is None else start + took * 60
            conn.execute(
                "UPDATE runs SET created_at = ?, started_at = ?, ended_at = COALESCE(?, ended_at) WHERE id = ?",
                (start - 4, start, end_at, r.id),
            )
    return running, {r.display_name: r.id for r, _, _ in timeline}


def start_jobs(root: Path, source: Path) -> None:
    """A job running on `local`, one waiting on the stopped `ci-gpu`, and an idle `gpu-box-1`."""
    from studio.local.compute import control
    from studio.local.workspace import LocalWorkspace
    from studio.sdk import Experiment, ScriptRunConfig, Workspace

    ws = Workspace(root)
    with LocalWorkspace(root) as lws:
        control.create(lws, "ci-gpu", 2, 60, start_now=False)
        control.create(lws, "gpu-box-1", 4, 30, wait=False)
    for name, target in (("roberta-large-sst2", "local"), ("nightly-eval", "ci-gpu")):
        config = ScriptRunConfig(source, "finetune.py", ["--epochs", "3"], compute_target=target)
        run = Experiment(ws, "bert-finetune").submit(config, tags={"model": name.split("-sst2")[0]})
        run.display_name = name


def stage(window: Any, ids: dict[str, str], tabs: list[str]) -> None:
    """Open ``tabs`` (the last one current), expand the sweeps and wait until everything shows."""
    from studio.ui.run_overview import RunOverview

    tree, model = window.experiment_pane.view, window.experiment_pane.model
    wait("the experiments", lambda: model.rowCount() >= 4)
    for run_id in tabs:
        window.open_run(run_id)
    for name in ("bert-finetune", "resnet50-sweep", "sample-experiment"):
        tree.expand(model.index_of_experiment(name))
    wait("the sweep runs", lambda: model.index_of_run(ids["cosine-schedule sweep"]).isValid())
    tree.expand(model.index_of_run(ids["cosine-schedule sweep"]))
    wait("the trials", lambda: model.index_of_run(ids["trial-1 lr=0.08"]).isValid())
    wait("the current run in the tree", lambda: window.experiment_pane.select_run(tabs[-1]))
    pages = [window.run_detail.tabs.widget(i) for i in range(window.run_detail.tabs.count())]
    wait("the run tabs", lambda: all(isinstance(overview(p), RunOverview) and overview(p).run for p in pages))
    wait("the compute instances", lambda: window.compute_pane.model.rowCount() >= 3)
    settle(window)


def settle(window: Any) -> None:
    """Wait for the background tasks, a live-refresh round and the last paints; drop passing messages."""
    wait("idle background tasks", lambda: not window.runner.running())
    pump(1200)
    window.statusBar().clearMessage()  # e.g. "Sample experiment submitted: …"


def shoot(widget: Any, name: str, size: tuple[int, int] | None = SIZE) -> None:
    """Save ``widget`` as docs/screenshots/<name>.png (checking its size)."""
    image = widget.grab().toImage()
    if size is not None and (image.width(), image.height()) != size:
        raise RuntimeError(f"{name}: the window is {image.width()}x{image.height()}, not {size[0]}x{size[1]}")
    OUT.mkdir(parents=True, exist_ok=True)
    if not image.save(str(OUT / f"{name}.png"), "PNG", 0):  # 0: the strongest compression
        raise RuntimeError(f"could not write {name}.png")
    print(f"wrote {OUT / name}.png ({(OUT / f'{name}.png').stat().st_size // 1024} KB)")


def new_window(theme: str, ini: Path) -> Any:
    """The real main window, themed, shown offscreen at 1280x800."""
    from studio.local.opener import LocalWorkspaceOpener
    from studio.ui.app import create_app
    from studio.ui.main_window import MainWindow
    from studio.ui.settings import WindowSettings

    os.environ["STUDIO_THEME"] = theme
    create_app(["studio"])  # (re)applies the theme: windows made after it use its palette
    window = MainWindow(LocalWorkspaceOpener(), WindowSettings(str(ini)))
    window.resize(*SIZE)
    window.show()
    pump(200)
    return window


def close(window: Any) -> None:
    """Close a window and let its background tasks (closing the workspace) finish."""
    window.close()
    window.deleteLater()
    pump(300)


def main() -> None:
    """Build the demo workspace, take the screenshots, stop the compute instances."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from studio.core.status import RunStatus
    from studio.local.compute import control, store
    from studio.local.workspace import LocalWorkspace

    with tempfile.TemporaryDirectory(prefix="studio-shots-") as tmp:
        os.environ["XDG_DATA_HOME"] = str(Path(tmp, "data"))  # the "Default" workspace: not the user's
        root, empty, source, ini = (Path(tmp, n) for n in ("vision-nlp-team", "new-project", "src", "studio.ini"))
        source.mkdir()
        (source / "finetune.py").write_text(JOB_SCRIPT)
        running, ids = log_demo(root)
        try:
            window = new_window("light", ini)
            window.settings.add_recent(str(Path.home() / "projects" / "kaggle-plankton"))
            window.open_workspace(str(root))
            wait("the workspace", lambda: window.backend)
            window.run_sample_experiment()
            sample = wait("the sample run's tab", lambda: window.run_detail.open_run_ids())[0]
            tab = overview(window.run_detail.tabs.widget(0))
            wait("the sample run", lambda: tab.run and tab.run.status == RunStatus.COMPLETED, 120)
            start_jobs(root, source)
            wait("the local job", lambda: window.backend.get_compute("local").running_jobs, 60)
            wait("gpu-box-1", lambda: window.backend.get_compute("gpu-box-1").state == "Running", 60)
            window.refresh()
            stage(window, ids, [ids["bert-large-sst2"], sample])
            shoot(window, "main-light")
            shoot(window.compute_pane, "compute", None)
            close(window)
            window = new_window("dark", ini)
            window.open_workspace(str(root))
            stage(window, ids, [sample, ids["bert-large-sst2"]])
            shoot(window, "main-dark")
            close(window)
            window = new_window("light", ini)
            window.open_workspace(str(empty), create=True)
            wait("the empty state", lambda: window.location and window.experiment_pane.stack.currentIndex() == 1)
            settle(window)
            shoot(window, "empty-workspace")
            close(window)
        finally:
            for run in running:
                run.complete()
            with LocalWorkspace(root) as lws:
                for info in store.list_instances(lws.connection()):
                    control.stop(lws, info.name, wait=True)


if __name__ == "__main__":
    main()
