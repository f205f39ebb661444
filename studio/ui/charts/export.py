"""Writing a chart's data: CSV of every point (full resolution) and PNG of the widget."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_BLOCK = 65_536


@dataclass(frozen=True)
class SeriesExport:
    """One line of a chart as it is exported: its label and all of its points."""

    label: str
    steps: np.ndarray
    values: np.ndarray
    times: np.ndarray


def write_csv(path: str | os.PathLike[str], series: Sequence[SeriesExport]) -> int:
    """Write ``series,step,time,value`` rows (long format); returns the number of points written.

    Values keep full precision (``repr``); NaN and inf are written as ``nan``, ``inf``, ``-inf``.
    The file is written under a temporary name and renamed when complete.
    """
    target = Path(path)
    tmp = target.with_name(target.name + ".part")
    written = 0
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        out.write("series,step,time,value\n")
        for s in series:
            label = _csv_field(s.label)
            for begin in range(0, len(s.values), _BLOCK):
                steps = s.steps[begin : begin + _BLOCK].tolist()
                times = s.times[begin : begin + _BLOCK].tolist()
                values = s.values[begin : begin + _BLOCK].tolist()
                out.writelines(f"{label},{st},{t!r},{v!r}\n" for st, t, v in zip(steps, times, values, strict=True))
                written += len(values)
    os.replace(tmp, target)
    return written


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text
