"""`studio job list` searches on other kinds and corners the first tests leave: a real process each time.

A kind with params and short pages stands for the remote kinds (MLflow, Azure): the in-memory fake, installed as
a plug-in the subprocess finds through its entry point, with a server that answers at most two runs a page.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

FAKE_KIND = """
from tests.fake_backend import FakeBackend

class SmallPages(FakeBackend):
    def list_runs(self, experiment, query=None, page_token=None, page_size=200):
        return super().list_runs(experiment, query, page_token, min(page_size, 2))

class FakeOpener:
    kind = "fakeruns"
    label = "Fake runs"
    location_form = "fakeruns://name"
    def owns(self, location): return location.startswith("fakeruns://")
    def default_location(self): return None
    def display_name(self, location): return location[11:]
    def is_workspace(self, location): return True
    def is_missing(self, location): return False
    def open(self, location, create=False):
        backend = SmallPages("fake-ws", location)
        backend.add_experiment("sweep")
        for i, (lr, acc) in enumerate([("0.1", 0.7), ("0.01", 0.9), ("0.001", 0.8), ("0.01", 0.6), ("0.01", 0.95)]):
            run_id = backend.add_run("sweep", f"s{i}", tags={"model": "resnet" if i % 2 else "vit"})
            backend.set_params(run_id, {"lr": lr, "batch size": str(32 << i)})
            backend.log_series(run_id, "acc", [0.0, acc])
        return backend
"""


def _studio(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def _json(*args: str, env: dict[str, str] | None = None) -> Any:
    out = _studio(*args, "--output", "json", env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def fake_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a subprocess that finds the ``fakeruns://`` kind (and the tests package it uses)."""
    (tmp_path / "fakeruns_kind.py").write_text(FAKE_KIND)
    dist = tmp_path / "fakeruns_kind-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeruns-kind\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[studio.workspace_kinds]\nfakeruns = fakeruns_kind:FakeOpener\n")
    paths = [str(tmp_path), str(REPO), os.environ.get("PYTHONPATH", "")]
    return {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def test_params_filter_order_and_columns_across_pages_shorter_than_asked(fake_env: dict[str, str]) -> None:
    out = _studio(
        "job", "list", "--workspace", "fakeruns://x", "--experiment", "sweep",
        "--filter", "params.lr = '0.01'", "--order-by", "metrics.acc DESC",
        "--columns", "params.lr,params.`batch size`,metrics.acc", "--limit", "3",
        env=fake_env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    header, *lines = out.stdout.splitlines()
    assert header.endswith("PARAMS.LR  PARAMS.`BATCH SIZE`  METRICS.ACC")
    # Three runs from two pages of at most two, best first; the limit cuts the rest.
    assert [line.split()[2:3] + line.split()[-3:] for line in lines] == [
        ["s4", "0.01", "512", "0.95"],
        ["s1", "0.01", "64", "0.9"],
        ["s3", "0.01", "256", "0.6"],
    ]


def test_two_orders_break_ties_and_json_carries_the_params(fake_env: dict[str, str]) -> None:
    runs = _json(
        "job", "list", "--workspace", "fakeruns://x", "--experiment", "sweep",
        "--order-by", "params.lr", "--order-by", "metrics.acc DESC", "--limit", "5",
        env=fake_env,
    )  # fmt: skip
    assert [(r["display_name"], r["params"]["lr"]) for r in runs] == [
        ("s2", "0.001"),
        ("s4", "0.01"),
        ("s1", "0.01"),
        ("s3", "0.01"),
        ("s0", "0.1"),
    ]
    assert runs[0]["params"] == {"lr": "0.001", "batch size": "128"} and runs[0]["metrics"] == {"acc": 0.8}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A local workspace: experiment "mnist" with runs r0..r3 (acc, a model tag and an lr property)."""
    from studio.sdk import Experiment, Workspace

    path = tmp_path_factory.mktemp("job-search") / "ws"
    ws = Workspace(path)
    mnist = Experiment(workspace=ws, name="mnist")
    for name, acc, model, lr in [
        ("r0", 0.95, "resnet", "0.01"),
        ("r1", 0.85, "vit", "0.1"),
        ("r2", 0.99, "resnet", "0.001"),
        ("r3", 0.91, "resnet", "0.01"),
    ]:
        run = mnist.start_logging(display_name=name)
        run.log("acc", acc)
        run.set_tags({"model": model})
        run.add_properties({"lr": lr})
        run.complete()
    ws.close()
    return str(path)


def test_the_limit_keeps_the_best_runs_of_the_order_not_the_newest(workspace: str) -> None:
    runs = _json(
        "job", "list", "--workspace", workspace, "--experiment", "mnist",
        "--filter", "metrics.acc > 0.9", "--order-by", "metrics.acc DESC", "--limit", "2",
    )  # fmt: skip
    assert [r["display_name"] for r in runs] == ["r2", "r0"]


def test_property_and_attribute_filters_with_an_attribute_order(workspace: str) -> None:
    runs = _json(
        "job", "list", "--workspace", workspace, "--experiment", "mnist",
        "--filter", "properties.lr = '0.01' AND attributes.status = 'Completed' AND tags.model LIKE 'res%'",
        "--order-by", "attributes.run_name DESC",
    )  # fmt: skip
    assert [r["display_name"] for r in runs] == ["r3", "r0"]


def test_a_filter_nothing_matches_lists_none(workspace: str) -> None:
    out = _studio("job", "list", "--workspace", workspace, "--experiment", "mnist", "--filter", "metrics.acc > 2")
    assert out.returncode == 0 and out.stdout.strip() == "(none)", out.stderr
    assert _json("job", "list", "--workspace", workspace, "--filter", "tags.model = 'nope'") == []


def test_help_says_the_filter_is_mlflow_syntax_without_quick_words() -> None:
    out = _studio("job", "list", "--help")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "MLflow's search syntax" in text and "quick words" in text and "attributes.status = 'Failed'" in text
