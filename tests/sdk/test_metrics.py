"""Run.log* and get_metrics return what the Azure ML Run API returns."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.core.types import MetricKind
from studio.sdk import Run

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_single_and_repeated_scalars(exp: Any) -> None:
    run = exp.start_logging()
    run.log("observations", 15000)
    run.log("acc", 0.5)
    run.log("acc", 0.75)
    run.log("flag", True)
    metrics = run.get_metrics()
    assert metrics == {"observations": 15000, "acc": [0.5, 0.75], "flag": True}
    assert isinstance(metrics["observations"], int)
    assert run.get_metrics(name="acc") == {"acc": [0.5, 0.75]}


def test_nan_and_infinities_survive(exp: Any) -> None:
    run = exp.start_logging()
    for v in (float("nan"), float("inf"), float("-inf"), 1.5):
        run.log("x", v)
    values = run.get_metrics()["x"]
    assert math.isnan(values[0]) and values[1] == math.inf and values[2] == -math.inf and values[3] == 1.5


def test_numpy_scalars_and_mixed_int_float(exp: Any) -> None:
    run = exp.start_logging()
    run.log("a", np.float32(0.25))
    run.log("a", np.int64(3))
    run.log("b", np.int32(7))
    run.log("c", np.bool_(False))
    assert run.get_metrics() == {"a": [0.25, 3.0], "b": 7, "c": False}


def test_steps_are_explicit_or_the_point_index(exp: Any, ws: Any) -> None:
    run = exp.start_logging()
    run.log("loss", 1.0)
    run.log("loss", 0.5, step=10)
    run.log("loss", 0.25)
    run.flush()
    series = ws.backend.get_series(run.id, "loss")
    assert series.steps.tolist() == [0, 10, 2]
    assert series.values.tolist() == [1.0, 0.5, 0.25]
    assert np.all(np.diff(series.times) >= 0)


def test_strings_list_row_table(exp: Any) -> None:
    run = exp.start_logging()
    run.log("optimizer", "adam")
    run.log_list("sizes", np.array([1, 2, 3]))
    run.log_list("tuple", (0.5, "x", None))
    run.log_row("eval", epoch=1, acc=0.5)
    run.log_row("eval", epoch=2, loss=0.1)
    run.log_table("tbl", {"x": [1, 2], "y": np.array([0.5, 0.25])})
    run.log_table("tbl", {"x": [3], "z": ["a"]})
    assert run.get_metrics() == {
        "optimizer": "adam",
        "sizes": [1, 2, 3],
        "tuple": [0.5, "x", None],
        "eval": {"epoch": [1, 2], "acc": [0.5, None], "loss": [None, 0.1]},
        "tbl": {"x": [1, 2, 3], "y": [0.5, 0.25, None], "z": [None, None, "a"]},
    }


def test_repeated_lists_and_strings_become_lists(exp: Any) -> None:
    run = exp.start_logging()
    run.log_list("l", [1])
    run.log_list("l", [2, 3])
    run.log("s", "a")
    run.log("s", "b")
    assert run.get_metrics() == {"l": [[1], [2, 3]], "s": ["a", "b"]}


def test_log_image_from_file_is_listed_as_a_file(exp: Any, tmp_path: Path) -> None:
    img = tmp_path / "cm.png"
    img.write_bytes(PNG)
    run = exp.start_logging()
    run.log_image("confusion matrix", path=str(img), description="cm")
    stored = run.get_metrics()["confusion matrix"]
    assert stored.startswith("images/confusion_matrix_") and stored.endswith(".png")
    assert stored in run.get_file_names()
    assert (exp.workspace.path / "runs" / run.id / stored).read_bytes() == PNG


def test_log_image_from_a_figure_like_object(exp: Any) -> None:
    class Figure:
        def savefig(self, stream: Any, format: str) -> None:
            assert format == "png"
            stream.write(PNG)

    run = exp.start_logging()
    run.log_image("plot", plot=Figure())
    assert run.get_metrics()["plot"] in run.get_file_names()


def test_log_image_errors(exp: Any, tmp_path: Path) -> None:
    run = exp.start_logging()
    with pytest.raises(FileNotFoundError):
        run.log_image("x", path=str(tmp_path / "missing.png"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not an image"):
        run.log_image("x", path=str(tmp_path / "notes.txt"))
    with pytest.raises(TypeError, match="matplotlib"):
        run.log_image("x", plot=object())
    with pytest.raises(ValueError, match="exactly one"):
        run.log_image("x")
    assert run.get_metrics() == {}


def test_kinds_cannot_mix_under_one_name(exp: Any) -> None:
    run = exp.start_logging()
    run.log("m", 1.0)
    with pytest.raises(ValueError, match="holds scalar"):
        run.log_list("m", [1])
    with pytest.raises(ValueError, match="holds scalar"):
        run.log("m", "text")
    run.flush()
    other = Run(exp, run.id)  # another Run object: the kind comes from the database
    with pytest.raises(ValueError, match="holds scalar"):
        other.log_row("m", a=1)


def test_bad_values_raise_type_error_naming_the_metric(exp: Any) -> None:
    run = exp.start_logging()
    for bad in (None, [1], {"a": 1}, object(), b"bytes", 1j):
        with pytest.raises(TypeError, match="'loss'"):
            run.log("loss", bad)
    with pytest.raises(TypeError, match="'rows'"):
        run.log_row("rows", a=[1, 2])
    with pytest.raises(TypeError, match="'l'"):
        run.log_list("l", "a string is not a list")
    with pytest.raises(ValueError, match="different lengths"):
        run.log_table("t", {"a": [1, 2], "b": [1]})
    with pytest.raises(TypeError):
        run.log("loss", 1.0, step=1.5)
    with pytest.raises(ValueError, match="64-bit"):
        run.log("big", 2**70)
    assert run.get_metrics() == {}


def test_recursive_metrics_cover_descendants(exp: Any) -> None:
    run = exp.start_logging()
    run.log("root", 1)
    child = run.child_run(name="fold 1")
    child.log("acc", 0.9)
    grandchild = child.child_run()
    grandchild.log("deep", 3)
    assert run.get_metrics(recursive=True) == {
        run.id: {"root": 1},
        child.id: {"acc": 0.9},
        grandchild.id: {"deep": 3},
    }


def test_backend_lists_metric_kinds_and_records(exp: Any, ws: Any) -> None:
    run = exp.start_logging()
    run.log("loss", 0.5, description="training loss")
    run.log("name", "x")
    run.log_row("r", a=1)
    run.flush()
    infos = {m.name: m for m in ws.backend.list_metrics(run.id)}
    assert infos["loss"].kind == MetricKind.SCALAR and infos["loss"].description == "training loss"
    assert infos["name"].kind == MetricKind.STRING and infos["name"].last_value == "x"
    assert infos["r"].kind == MetricKind.ROW and infos["r"].count == 1
    records = ws.backend.get_metric_records(run.id, "r")
    assert [r.value for r in records] == [{"a": 1}]


def test_incremental_series_fetch(exp: Any, ws: Any) -> None:
    run = exp.start_logging()
    for i in range(100_000):
        run.log("x", float(i))
    run.flush()
    first = ws.backend.get_series(run.id, "x")
    assert len(first) == 100_000 and first.next_start == 100_000
    for i in range(100_000, 100_050):
        run.log("x", float(i))
    run.flush()
    more = ws.backend.get_series(run.id, "x", start=first.next_start)
    assert more.values.tolist() == [float(i) for i in range(100_000, 100_050)]
    assert more.steps[0] == 100_000
    middle = ws.backend.get_series(run.id, "x", start=40_000)
    assert middle.values[0] == 40_000.0 and len(middle) == 60_050
