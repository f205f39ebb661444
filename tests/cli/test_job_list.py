"""`studio job list` with --filter, --order-by and --columns, as a user runs it, in a real process."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _studio(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, env=dict(os.environ))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two experiments; "mnist" has runs a..e with acc, a team tag and NaN / missing values."""
    from studio.sdk import Experiment, Workspace

    path = tmp_path_factory.mktemp("cli") / "ws"
    ws = Workspace(path)
    mnist = Experiment(workspace=ws, name="mnist")
    for name, acc, model in [
        ("a", 0.5, "resnet"),
        ("b", 0.95, "resnet"),
        ("c", 0.91, "vit"),
        ("d", math.nan, "vit"),
        ("e", None, "mlp"),
    ]:
        run = mnist.start_logging(display_name=name)
        if acc is not None:
            run.log("acc", 0.1)
            run.log("acc", acc)
        run.log("val loss", 1.0 - (acc if acc is not None and not math.isnan(acc) else 0.0))
        run.set_tags({"model": model})
        run.add_properties({"lr": "0.01" if name in "ab" else "0.1"})
        run.complete()
    other = Experiment(workspace=ws, name="other").start_logging(display_name="z")
    other.log("acc", 0.99)
    other.complete()
    ws.close()
    return path


def _names(out: subprocess.CompletedProcess[str]) -> list[str]:
    assert out.returncode == 0, out.stderr
    return [row["display_name"] for row in json.loads(out.stdout)]


def test_filter_and_order_choose_and_sort_the_runs(workspace: Path) -> None:
    out = _studio(
        "job", "list", "--workspace", str(workspace), "--experiment", "mnist", "--output", "json",
        "--filter", "metrics.acc > 0.9 and tags.model IN ('resnet', 'vit')", "--order-by", "metrics.acc DESC",
    )  # fmt: skip
    assert _names(out) == ["b", "c"]


def test_runs_lacking_the_key_sort_last_in_both_directions(workspace: Path) -> None:
    common = ("job", "list", "--workspace", str(workspace), "--experiment", "mnist", "--output", "json")
    assert _names(_studio(*common, "--order-by", "metrics.acc DESC")) == ["b", "c", "a", "d", "e"]
    assert _names(_studio(*common, "--order-by", "metrics.acc ASC")) == ["a", "c", "b", "d", "e"]


def test_without_an_experiment_runs_of_every_experiment_are_merged_in_order(workspace: Path) -> None:
    out = _studio("job", "list", "--workspace", str(workspace), "--output", "json", "--order-by", "metrics.acc DESC")
    assert _names(out)[:3] == ["z", "b", "c"]
    limited = _studio("job", "list", "--workspace", str(workspace), "--output", "json", "--limit", "2")
    assert _names(limited) == ["z", "e"]  # newest first by default


def test_columns_show_last_values_tags_and_properties(workspace: Path) -> None:
    args = ["job", "list", "--workspace", str(workspace), "--experiment", "mnist"]
    columns = [
        "--columns",
        "metrics.acc,metrics.`val loss`,tags.model,properties.lr",
        "--order-by",
        "attributes.run_name",
    ]
    rows = json.loads(_studio(*args, *columns, "--output", "json").stdout)
    by_name = {r["display_name"]: r for r in rows}
    assert by_name["b"]["metrics.acc"] == 0.95  # the last value, not the first
    assert by_name["d"]["metrics.acc"] == "NaN"  # JSON has no NaN; written as MLflow's API writes it
    assert by_name["e"]["metrics.acc"] is None
    assert by_name["a"]["metrics.`val loss`"] == pytest.approx(0.5)
    assert by_name["c"]["tags.model"] == "vit" and by_name["c"]["properties.lr"] == "0.1"
    assert by_name["a"]["metrics"] == {"acc": 0.5, "val loss": pytest.approx(0.5)}

    table = _studio(*args, *columns)
    assert table.returncode == 0, table.stderr
    header, *lines = table.stdout.splitlines()
    assert "METRICS.ACC" in header and "METRICS.`VAL LOSS`" in header and "TAGS.MODEL" in header
    assert [line.split()[2] for line in lines] == ["a", "b", "c", "d", "e"]
    row_d = next(line for line in lines if line.split()[2] == "d")
    assert "NaN" in row_d.split()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--filter", "metrics.acc > 'high'", "at column 15: metrics.acc compares with numbers"),
        ("--filter", "metrics.acc > 1 or tags.x = 'y'", "has no OR"),
        ("--order-by", "metrics.acc UP", "In the order 'metrics.acc UP'"),
        ("--columns", "metrics.acc,metricz.x", "In the key 'metricz.x'"),
    ],
)
def test_a_malformed_query_is_one_line_naming_the_mistake(
    workspace: Path, option: str, value: str, message: str
) -> None:
    out = _studio("job", "list", "--workspace", str(workspace), option, value)
    assert out.returncode == 1
    assert out.stderr.startswith("studio: error:") and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert message in out.stderr


def test_a_limit_below_one_is_refused(workspace: Path) -> None:
    out = _studio("job", "list", "--workspace", str(workspace), "--limit", "0")
    assert out.returncode == 2 and "give 1 or more" in out.stderr
