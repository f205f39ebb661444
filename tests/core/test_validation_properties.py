"""Property tests (hypothesis) for metric names, values and file names."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core.validation import check_metric_name, relative_file_name, scalar_value
from studio.sdk import Experiment, Workspace
from studio.workspaces.local.files_store import safe_path

FIXTURE_OK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

valid_names = st.text(min_size=1, max_size=255).filter(lambda s: "\x00" not in s)
scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=50),
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    ws = Workspace(tmp_path_factory.mktemp("hyp") / "ws")
    return Experiment(workspace=ws, name="props").start_logging()


@FIXTURE_OK
@given(name=valid_names, value=scalars)
def test_any_valid_name_and_value_round_trips(run: Any, name: str, value: Any) -> None:
    child = run.child_run()
    child.log(name, value)
    got = child.get_metrics()[name]
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(got)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        assert got == pytest.approx(value, rel=1e-15)  # stored as float64 in the numeric series
    else:
        assert got == value and type(got) is type(value)


@given(name=st.one_of(st.just(""), st.text(min_size=256, max_size=300), st.text(min_size=1).map(lambda s: s + "\x00")))
def test_invalid_names_are_value_errors(name: str) -> None:
    with pytest.raises(ValueError):
        check_metric_name(name)


@given(
    value=st.one_of(
        st.none(), st.lists(st.integers()), st.dictionaries(st.text(), st.integers()), st.binary(), st.complex_numbers()
    )
)
def test_non_scalars_are_type_errors_naming_the_metric(value: Any) -> None:
    with pytest.raises(TypeError, match="'my metric'"):
        scalar_value("my metric", value)


@given(value=st.one_of(st.integers(-(2**31), 2**31), st.floats(width=32)))
def test_numpy_scalars_become_python_numbers(value: Any) -> None:
    arr = np.array([value])
    converted = scalar_value("m", arr[0])
    assert type(converted) in (int, float)
    assert (math.isnan(converted) and math.isnan(value)) or converted == pytest.approx(float(arr[0]))


segment = st.text(
    alphabet=st.characters(blacklist_characters="/\\\x00", blacklist_categories=("Cs",)), min_size=1, max_size=12
).filter(lambda s: s not in (".", ".."))


@given(parts=st.lists(segment, min_size=1, max_size=4))
def test_clean_relative_names_stay_inside_the_run(tmp_path_factory: pytest.TempPathFactory, parts: list[str]) -> None:
    root = tmp_path_factory.getbasetemp() / "runroot"
    name = "/".join(parts)
    clean = relative_file_name(name)
    path = safe_path(root, name)
    assert root.resolve() in path.resolve().parents
    assert clean == "/".join(p for p in parts)


@given(parts=st.lists(segment, max_size=3), position=st.integers(0, 3), kind=st.sampled_from(["..", "/abs", "nul"]))
def test_escaping_names_are_rejected(parts: list[str], position: int, kind: str) -> None:
    if kind == "..":
        parts = [*parts[:position], "..", *parts[position:]]
        name = "/".join(parts)
    elif kind == "/abs":
        name = "/" + "/".join(parts)
    else:
        name = "/".join([*parts, "a\x00b"])
    with pytest.raises(ValueError):
        relative_file_name(name)


@FIXTURE_OK
@given(name=st.one_of(st.just("../x"), st.just("/tmp/x"), st.text(min_size=1, max_size=5).map(lambda s: "../" + s)))
def test_upload_with_escaping_name_writes_nothing(run: Any, name: str) -> None:
    ws_root: Path = run._ws.path
    before = sorted(p for p in ws_root.parent.rglob("*"))
    with pytest.raises(ValueError):
        run.upload_file(name, __file__)
    assert sorted(p for p in ws_root.parent.rglob("*")) == before


@given(name=st.text(alphabet="ab ._-/\\:", min_size=1, max_size=12))
def test_already_clean_names_are_returned_as_the_full_check_would(name: str) -> None:
    """Names that need no cleaning skip the full check: the answer must be the same either way."""
    import studio.core.validation as validation

    def full_check(n: str) -> str:
        saved, validation._CLEAN_FILE_NAME = validation._CLEAN_FILE_NAME, re.compile(r"(?!)")  # never matches
        try:
            return relative_file_name(n)
        finally:
            validation._CLEAN_FILE_NAME = saved

    try:
        expected: str | type[Exception] = full_check(name)
    except ValueError:
        expected = ValueError
    if expected is ValueError:
        with pytest.raises(ValueError):
            relative_file_name(name)
    else:
        assert relative_file_name(name) == expected
