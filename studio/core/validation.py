"""Checks on names, values and file paths that users pass in; clear errors, nothing written."""

from __future__ import annotations

import numbers
import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

MAX_NAME_LENGTH = 255
_EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,254}$")
COMPUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,23}$")
COMPUTE_NAME_RULE = "2 to 24 letters, digits or '-', starting with a letter."
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,299}$")


def check_metric_name(name: object) -> str:
    """Return ``name`` if it is a usable metric or tag name, else raise ValueError/TypeError."""
    if not isinstance(name, str):
        raise TypeError(f"metric name must be a string, not {type(name).__name__}")
    if not name:
        raise ValueError("metric name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"metric name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}")
    if "\x00" in name:
        raise ValueError(f"metric name {name!r} contains a NUL character")
    return name


def check_experiment_name(name: object) -> str:
    """Return ``name`` if it is a valid experiment name (as Azure ML allows), else raise ValueError."""
    if not isinstance(name, str):
        raise TypeError(f"experiment name must be a string, not {type(name).__name__}")
    if not _EXPERIMENT_NAME.match(name):
        raise ValueError(
            f"invalid experiment name {name!r}: use 1-255 letters, digits, '_' or '-', starting with a letter or digit"
        )
    return name


def check_compute_name(name: object) -> str:
    """Return ``name`` if it is a valid compute instance name (as Azure ML allows), else raise ValueError."""
    if not isinstance(name, str) or not COMPUTE_NAME.match(name):
        raise ValueError(f"invalid compute name {name!r}: use {COMPUTE_NAME_RULE}")
    return name


def check_run_id(run_id: object) -> str:
    """Return ``run_id`` if it has the shape of a run id, else raise ValueError."""
    if not isinstance(run_id, str):
        raise TypeError(f"run id must be a string, not {type(run_id).__name__}")
    if not _RUN_ID.match(run_id) or ".." in run_id:
        raise ValueError(f"invalid run id {run_id!r}")
    return run_id


def scalar_value(name: str, value: object) -> float | int | bool | str:
    """Normalise a value given to ``Run.log``: numbers, bools, strings and numpy scalars.

    Raises TypeError naming the metric for anything else.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.generic) and value.dtype.kind in "iuf":
        return value.item()  # type: ignore[no-any-return]
    raise TypeError(
        f"metric {name!r}: cannot log a value of type {type(value).__name__}; "
        "use int, float, bool, str or a numpy scalar"
    )


def plain_value(name: str, value: object) -> Any:
    """Convert an element of a list/row/table to a JSON-storable value, or raise TypeError."""
    if value is None:
        return None
    return scalar_value(name, value)


_CLEAN_FILE_NAME = re.compile(r"[\w\-][\w\-. ]*(?:/[\w\-][\w\-. ]*)*", re.ASCII)
"""Relative names with nothing to clean: no empty, ``.`` or ``..`` parts, no backslash or colon."""


def relative_file_name(name: object) -> str:
    """Return ``name`` as a clean POSIX relative path inside a run, or raise ValueError.

    Rejects absolute paths, drive letters, ``..`` components, NUL characters and empty names.
    """
    if not isinstance(name, str):
        raise TypeError(f"file name must be a string, not {type(name).__name__}")
    if len(name) <= 1024 and _CLEAN_FILE_NAME.fullmatch(name):
        return name  # already clean (the usual case: a download of 1,000 files checks 3,000 names)
    if not name or "\x00" in name:
        raise ValueError(f"invalid file name {name!r}: empty or contains NUL")
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        raise ValueError(f"invalid file name {name!r}: must be relative to the run, not absolute")
    parts = [p for p in re.split(r"[\\/]", name) if p not in ("", ".")]
    if not parts:
        raise ValueError(f"invalid file name {name!r}: names no file")
    if any(p == ".." for p in parts):
        raise ValueError(f"invalid file name {name!r}: '..' is not allowed")
    if len(name) > 1024:
        raise ValueError("invalid file name: longer than 1024 characters")
    return str(PurePosixPath(*parts))
