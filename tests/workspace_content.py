"""One description of a populated workspace, and a builder per kind that makes it.

The contract suite (tests/workspaces/test_backend_contract.py) checks every kind against
this one description, so the content is plain data: experiments, nested runs, every metric
kind, files of several sizes and odd names, every final status and a running run.
A builder returns the backend and the run ids by display name (ids are the kind's own).
"""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.backend import WorkspaceBackend
from studio.core.status import RunStatus
from studio.core.types import MetricKind
from tests.fake_backend import FakeBackend

LONG_SERIES_POINTS = 70_000  # over two storage chunks of 32,768 points
BIG_FILE_SIZE = (1 << 20) + (1 << 19) + 17  # 1.5 MiB and a few bytes


def tiny_png() -> bytes:
    """A valid 2 x 2 RGB PNG, built without any imaging library."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class RunSpec:
    """One run as logged: its display name is unique in the workspace and names it in tests."""

    name: str
    experiment: str
    status: RunStatus = RunStatus.COMPLETED
    parent: str | None = None
    description: str = ""
    error: str | None = None  # the message of a Failed run
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)  # MLflow-style; only kinds that can write them get them
    series: dict[str, list[float] | list[int] | np.ndarray] = field(default_factory=dict)  # automatic steps
    stepped: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)  # (steps, values)
    strings: dict[str, list[str]] = field(default_factory=dict)
    lists: dict[str, list[Any]] = field(default_factory=dict)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tables: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)  # one PNG per image metric
    files: dict[str, bytes] = field(default_factory=dict)

    def metric_kinds(self) -> dict[str, MetricKind]:
        """Every metric of the run with its kind."""
        kinds = dict.fromkeys([*self.series, *self.stepped], MetricKind.SCALAR)
        kinds |= dict.fromkeys(self.strings, MetricKind.STRING)
        kinds |= dict.fromkeys(self.lists, MetricKind.LIST)
        kinds |= dict.fromkeys(self.rows, MetricKind.ROW)
        kinds |= dict.fromkeys(self.tables, MetricKind.TABLE)
        return kinds | dict.fromkeys(self.images, MetricKind.IMAGE)


@dataclass(frozen=True)
class WorkspaceContent:
    """Experiments (some empty) and runs in creation order (parents before their children)."""

    experiments: list[str]
    runs: list[RunSpec]

    def run(self, name: str) -> RunSpec:
        """The run with display name ``name``."""
        return next(r for r in self.runs if r.name == name)

    def top_level(self, experiment: str) -> list[RunSpec]:
        """An experiment's runs without a parent, oldest first."""
        return [r for r in self.runs if r.experiment == experiment and r.parent is None]

    def children(self, name: str) -> list[RunSpec]:
        """A run's direct children, oldest first."""
        return [r for r in self.runs if r.parent == name]


def _loss(points: int) -> np.ndarray:
    return 1.0 / (np.arange(points, dtype=np.float64) + 1.0)


BASELINE_FILES = {
    "empty.txt": b"",
    "logs/std_log.txt": b"epoch 1\nepoch 2\ndone\n",
    "outputs/metrics.json": json.dumps({"accuracy": 0.93, "loss": 0.07}).encode(),
    "outputs/model.bin": random.Random(9).randbytes(BIG_FILE_SIZE),
    "outputs/nested/deep/notes.txt": b"three folders down\n",
    "outputs/r\u00e9sum\u00e9 \u2713.txt": "\u00e7a marche \u2713\n".encode(),
    "outputs/with space.txt": b"a name with a space",
    "outputs/100% done #1.txt": b"percent and hash",
    "outputs/50% off.txt": b"a percent sign alone",  # a name that MLflow's server accepts ("#" it refuses)
    "outputs/\u30c7\u30fc\u30bf.csv": b"a,b\n1,2\n",
    "snapshot/train.py": b"print('training')\n",
}

NAN = float("nan")
#: The "search" experiment, oldest first. "acc" ties between s-tie-old and s-tie-new (newest first wins a
#: tie), ends in NaN for s-nan, is infinite for s-inf and missing for s-none. "val loss" and "a.b" need
#: backticks or hold a dot. Tag values differ only in case ("cnn" / "CNN-big"), hold LIKE's wildcards as text
#: ("rnn_50%") and non-ASCII letters ("Ÿes"). s-none has no metric, tag or param, and only a property.
SEARCH_RUNS = [
    RunSpec(
        "s-first",
        "search",
        tags={"model": "cnn", "mlflow.note": "first"},
        properties={"dataset": "v1"},
        params={"lr": "0.1", "opt": "adam"},
        series={"acc": [0.2, 0.9], "val loss": [0.5, 0.3], "a.b": [1.0]},
    ),
    RunSpec(
        "s-tie-old",
        "search",
        status=RunStatus.FAILED,
        error="diverged",
        tags={"model": "CNN-big", "note": "Ÿes"},
        properties={"dataset": "v2"},
        params={"lr": "0.01"},
        series={"acc": [0.7], "val loss": [NAN]},
    ),
    RunSpec(
        "s-nan",
        "search",
        status=RunStatus.CANCELED,
        tags={"model": "rnn_50%"},
        params={"opt": "sgd"},
        series={"acc": [0.4, NAN]},
    ),
    RunSpec(
        "s-tie-new",
        "search",
        tags={"model": "rnn-500", "note": "ÿes"},
        properties={"dataset": "v1"},
        series={"acc": [0.7], "val loss": [0.1], "a.b": [-2.0]},
    ),
    RunSpec("s-none", "search", status=RunStatus.RUNNING, properties={"dataset": "V1"}),
    RunSpec("s-inf", "search", tags={"model": "cnn"}, params={"lr": "0.1"}, series={"acc": [1.0, float("inf")]}),
    RunSpec("s-neg", "search", tags={"model": "mlp"}, stepped={"acc": ([5, 1], [-1.5, 3.0])}),  # last = highest step
]

CONTENT = WorkspaceContent(
    experiments=["cifar", "empty", "mnist", "scratch", "search"],
    runs=[
        RunSpec(
            "baseline",
            "mnist",
            description="The first try.",
            tags={"lr": "0.1", "model": "cnn"},
            properties={"dataset": "v1"},
            series={"loss": _loss(LONG_SERIES_POINTS), "epoch": [1, 2, 3]},
            stepped={"lr": ([0, 10, 20], [0.1, 0.05, 0.025])},
            strings={"phase": ["warm-up", "train", "eval"]},
            lists={"layer sizes": [784, 128, 10]},
            rows={"eval": [{"epoch": 1, "accuracy": 0.9}, {"epoch": 2, "accuracy": 0.93}]},
            tables={"confusion": {"label": ["0", "1"], "correct": [97, 98]}},
            images={"samples": tiny_png()},
            files=BASELINE_FILES,
        ),
        RunSpec(
            "diverged",
            "mnist",
            status=RunStatus.FAILED,
            error="loss went to NaN",
            tags={"lr": "1.0"},
            series={"loss": [0.5, 3.0, float("inf")]},
        ),
        RunSpec("stopped", "mnist", status=RunStatus.CANCELED, tags={"lr": "0.05"}),
        RunSpec("trial-3", "mnist", tags={"lr": "0.01"}, series={"loss": [0.3, 0.2]}),
        RunSpec("trial-4", "mnist", tags={"lr": "0.01", "best": ""}, series={"loss": [0.25, 0.1]}),
        RunSpec("live", "mnist", status=RunStatus.RUNNING, series={"loss": [0.9]}),
        RunSpec("sweep", "cifar", tags={"kind": "sweep"}),
        RunSpec("child-a", "cifar", parent="sweep", series={"loss": [0.4, 0.3]}, files={"outputs/a.txt": b"A"}),
        RunSpec("grandchild", "cifar", parent="child-a", series={"loss": [0.2]}),
        RunSpec("child-b", "cifar", parent="sweep", status=RunStatus.FAILED, error="out of memory"),
        # The run search's experiment: every comparator, NaN and missing values, ties, odd names (see SEARCH_*).
        *SEARCH_RUNS,
        # Runs that the contract's write tests change; nothing else reads them.
        RunSpec("editable", "scratch", tags={"old": "tag"}, description="before"),
        RunSpec("to-cancel", "scratch", status=RunStatus.RUNNING),
    ],
)


@dataclass(frozen=True)
class KindTraits:
    """What a kind's runs can hold of the content; the contract suite expects only that of the kind.

    Where a kind lacks something, the suite expects what a workspace without it answers (no properties: a
    properties comparison matches nothing; no recorded errors: ``RunInfo.error`` is None) or skips the check.
    """

    writes_params: bool = True
    """Whether the builder writes RunSpec.params (local runs have properties, not params)."""
    has_properties: bool = True
    records_errors: bool = True
    """Whether a Failed run keeps its error message."""
    metric_kinds: frozenset[MetricKind] = frozenset(MetricKind)
    """The metric kinds the kind can hold; metrics of the other kinds are not written."""
    metric_file_folders: tuple[str, ...] = ("images/",)
    """Folders of files that record metrics add to a run's own files (one file each in the content)."""
    refused_file_characters: str = ""
    """Characters the kind refuses in a file's path; files whose paths hold one are not written."""

    def metric_kinds_of(self, spec: RunSpec) -> dict[str, MetricKind]:
        """The metrics of ``spec`` that the kind holds, with their kinds."""
        return {name: kind for name, kind in spec.metric_kinds().items() if kind in self.metric_kinds}

    def files_of(self, spec: RunSpec) -> dict[str, bytes]:
        """The files of ``spec`` that the kind holds, with their bytes."""
        return {path: data for path, data in spec.files.items() if not set(path) & set(self.refused_file_characters)}


#: What each builder's kind holds. MLflow: metrics are numbers (tables and images are artifacts), runs have no
#: properties and record no error; log_table writes tables/<name>.json beside the images; the server refuses an
#: artifact path holding "#" ("Invalid path", mlflow.utils.uri.validate_path_is_safe).
TRAITS = {
    "local": KindTraits(writes_params=False),
    "fake": KindTraits(),
    "mlflow": KindTraits(
        has_properties=False,
        records_errors=False,
        metric_kinds=frozenset({MetricKind.SCALAR, MetricKind.TABLE, MetricKind.IMAGE}),
        metric_file_folders=("images/", "tables/"),
        refused_file_characters="#",
    ),
}


def build_local(path: Path, content: WorkspaceContent = CONTENT) -> tuple[WorkspaceBackend, dict[str, str], Any]:
    """Log ``content`` into a new local workspace through the SDK; returns its backend, run ids and SDK workspace.

    The backend is opened by location through ``studio.workspaces.open_workspace``, as tools open it.
    ``params`` are not written (``TRAITS["local"]``).
    """
    from studio.sdk import Experiment, Workspace
    from studio.workspaces import open_workspace

    ws = Workspace(path)
    experiments = {name: Experiment(ws, name) for name in content.experiments}
    runs: dict[str, Any] = {}
    images = path.parent / f"{path.name}-images"
    images.mkdir()
    for spec in content.runs:
        if spec.parent is None:
            run = experiments[spec.experiment].start_logging(display_name=spec.name)
        else:
            run = runs[spec.parent].child_run(name=spec.name)
        runs[spec.name] = run
        if spec.description:
            run.description = spec.description
        if spec.tags:
            run.set_tags(spec.tags)
        if spec.properties:
            run.add_properties(spec.properties)
        for name, values in spec.series.items():
            for value in values.tolist() if isinstance(values, np.ndarray) else values:
                run.log(name, value)
        for name, (steps, stepped_values) in spec.stepped.items():
            for step, value in zip(steps, stepped_values, strict=True):
                run.log(name, value, step=step)
        for name, texts in spec.strings.items():
            for text in texts:
                run.log(name, text)
        for name, items in spec.lists.items():
            run.log_list(name, items)
        for name, row_list in spec.rows.items():
            for row in row_list:
                run.log_row(name, **row)
        for name, table in spec.tables.items():
            run.log_table(name, table)
        for name, png in spec.images.items():
            image = images / f"{name}.png"
            image.write_bytes(png)
            run.log_image(name, path=str(image))
        for file_name, data in spec.files.items():
            run.upload_file(file_name, io.BytesIO(data))
    for spec in reversed(content.runs):  # children end before their parents
        run = runs[spec.name]
        if spec.status == RunStatus.COMPLETED:
            run.complete()
        elif spec.status == RunStatus.FAILED:
            run.fail(error_details=spec.error)
        elif spec.status == RunStatus.CANCELED:
            run.cancel()
        else:
            run.flush()
    return open_workspace(str(path)), {name: run.id for name, run in runs.items()}, ws


def build_fake(
    content: WorkspaceContent = CONTENT, fake: FakeBackend | None = None
) -> tuple[FakeBackend, dict[str, str]]:
    """Make ``content`` in a new FakeBackend (or in ``fake``) through its own API; returns it and the run ids."""
    fake = fake or FakeBackend(name="fake-ws")
    for name in content.experiments:
        fake.add_experiment(name)
    ids: dict[str, str] = {}
    for spec in content.runs:
        run_id = fake.add_run(
            spec.experiment,
            spec.name,
            parent_id=ids[spec.parent] if spec.parent else None,
            description=spec.description,
            tags=spec.tags,
            properties=spec.properties,
        )
        ids[spec.name] = run_id
        if spec.params:
            fake.set_params(run_id, spec.params)
        for name, values in spec.series.items():
            fake.log_series(run_id, name, list(values))
        for name, (steps, stepped_values) in spec.stepped.items():
            fake.log_series(run_id, name, stepped_values, steps=steps)
        for name, texts in spec.strings.items():
            fake.log_records(run_id, name, MetricKind.STRING, list(texts))
        for name, items in spec.lists.items():
            fake.log_records(run_id, name, MetricKind.LIST, [items])
        for name, row_list in spec.rows.items():
            fake.log_records(run_id, name, MetricKind.ROW, list(row_list))
        for name, table in spec.tables.items():
            fake.log_records(run_id, name, MetricKind.TABLE, [table])
        for name, png in spec.images.items():
            fake.add_file(run_id, f"images/{name}.png", png)
            fake.log_records(run_id, name, MetricKind.IMAGE, [f"images/{name}.png"])
        for file_name, data in spec.files.items():
            fake.add_file(run_id, file_name, data)
    for spec in reversed(content.runs):
        if spec.status != RunStatus.RUNNING:
            error = {"message": spec.error} if spec.error else None
            fake.set_status(ids[spec.name], spec.status, error=error)
    return fake, ids
