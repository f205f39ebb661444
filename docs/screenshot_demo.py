"""The demo workspace of docs/make_screenshots.py: runs logged with studio.sdk, and compute jobs."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any

STEPS = 320  # points of each demo run's loss curve
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


def loss_curve(rng: random.Random, n: int) -> list[tuple[int, float]]:
    """A noisy decaying loss: its own start, floor and speed, some with a learning-rate drop."""
    start, floor, tau, noise = (
        rng.uniform(2.0, 2.6),
        rng.uniform(0.06, 0.5),
        rng.uniform(15, 110),
        rng.uniform(0.01, 0.05),
    )
    drop = rng.choice([n + 1, rng.randint(n // 3, 3 * n // 4)])
    points = []
    for s in range(n):
        value = floor + (start - floor) * math.exp(-s / tau)
        value -= 0.6 * floor * (1 - math.exp(-(s - drop) / 12)) if s >= drop else 0
        points.append((s, value + noise * math.sqrt(value) * rng.gauss(0, 1)))
    return points


def log_demo(root: Path) -> tuple[list[Any], dict[str, str]]:
    """Three experiments of realistic runs; returns (runs left Running, ids by display name)."""
    from studio.sdk import Experiment, Workspace
    from studio.workspaces.local.workspace import LocalWorkspace

    ws, rng, now = Workspace(root), random.Random(7), time.time()
    timeline: list[tuple[Any, float, float | None]] = []  # run, started minutes ago, minutes it took
    running: list[Any] = []

    def run(parent: Any, name: str, tags: dict[str, Any], at: float, took: float, end: str = "ok") -> Any:
        r = parent.child_run(name) if hasattr(parent, "child_run") else parent.start_logging(display_name=name)
        r.set_tags(tags)
        acc = rng.uniform(0.8, 0.95)
        for step, value in loss_curve(rng, STEPS if end in ("ok", "running") else rng.randint(60, 200)):
            r.log("loss", value, step=step)
        for epoch in range(1, 9):
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
    from studio.sdk import Experiment, ScriptRunConfig, Workspace
    from studio.workspaces.local.compute import control
    from studio.workspaces.local.workspace import LocalWorkspace

    ws = Workspace(root)
    with LocalWorkspace(root) as lws:
        control.create(lws, "ci-gpu", 2, 60, start_now=False)
        control.create(lws, "gpu-box-1", 4, 30, wait=False)
    for name, target in (("roberta-large-sst2", "local"), ("nightly-eval", "ci-gpu")):
        config = ScriptRunConfig(source, "finetune.py", ["--epochs", "3"], compute_target=target)
        run = Experiment(ws, "bert-finetune").submit(config, tags={"model": name.split("-sst2")[0]})
        run.display_name = name
