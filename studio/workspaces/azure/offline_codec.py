"""Encoding of what the offline cache keeps (``offline_cache``): runs, pages, experiment lists and records as JSON,
numeric series as packed little-endian arrays, and the clock text of the "Cached …" notes."""

from __future__ import annotations

import datetime as _dt
import json
import struct
from dataclasses import asdict, replace
from typing import Any, TypeVar

import numpy as np

from studio.core.status import RunStatus
from studio.core.types import ExperimentInfo, MetricRecord, MetricSeries, RunInfo, RunPage, WorkspaceInfo

T = TypeVar("T")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _or_none(found: tuple[T, float] | None) -> T | None:
    return None if found is None else found[0]


def _clock_text(at: float) -> str:
    when = _dt.datetime.fromtimestamp(at)
    if when.date() == _dt.date.today():
        return when.strftime("%H:%M")
    return f"{when.strftime('%b')} {when.day} {when.strftime('%H:%M')}"


def _info_from_json(text: str | None) -> WorkspaceInfo | None:
    if text is None:
        return None
    try:
        data = json.loads(text)
        return WorkspaceInfo(**{k: v for k, v in data.items() if k not in ("note", "offline")})
    except (TypeError, ValueError):
        return None


def _run_json(run: RunInfo) -> dict[str, Any]:
    data = asdict(run)
    data["status"] = run.status.value
    return data


def _run_from(data: dict[str, Any]) -> RunInfo:
    return RunInfo(**{**data, "status": RunStatus(data["status"])})


def _experiments_json(experiments: list[ExperimentInfo]) -> list[dict[str, Any]]:
    return [asdict(e) for e in experiments]


def _experiments_from(data: list[dict[str, Any]]) -> list[ExperimentInfo]:
    return [ExperimentInfo(**d) for d in data]


def _page_json(page: RunPage) -> dict[str, Any]:
    return {"runs": [_run_json(r) for r in page.runs], "next_token": page.next_token, "note": page.note}


def _page_from(data: dict[str, Any]) -> RunPage:
    return RunPage([_run_from(r) for r in data["runs"]], data["next_token"], data.get("note", ""))


def _records_from(data: list[list[Any]]) -> list[MetricRecord]:
    return [MetricRecord(value, int(step), float(at)) for value, step, at in data]


_SERIES_HEAD = struct.Struct("<4sQQ")  # magic, start, points


def _series_bytes(series: MetricSeries) -> bytes:
    n = len(series)
    return b"".join(
        (
            _SERIES_HEAD.pack(b"MS01", series.start, n),
            np.ascontiguousarray(series.steps, dtype="<i8").tobytes(),
            np.ascontiguousarray(series.values, dtype="<f8").tobytes(),
            np.ascontiguousarray(series.times, dtype="<f8").tobytes(),
        )
    )


def _series_from(name: str, data: bytes) -> MetricSeries | None:
    """The series kept in ``data``, or None when it is not one (damaged)."""
    if len(data) < _SERIES_HEAD.size:
        return None
    magic, start, n = _SERIES_HEAD.unpack_from(data)
    if magic != b"MS01" or len(data) != _SERIES_HEAD.size + 24 * n or start != 0:
        return None
    at = _SERIES_HEAD.size
    steps = np.frombuffer(data, dtype="<i8", count=n, offset=at).astype(np.int64)
    values = np.frombuffer(data, dtype="<f8", count=n, offset=at + 8 * n).astype(np.float64)
    times = np.frombuffer(data, dtype="<f8", count=n, offset=at + 16 * n).astype(np.float64)
    return MetricSeries(name=name, steps=steps, values=values, times=times, start=0)


def _slice(series: MetricSeries, start: int) -> MetricSeries:
    if start == 0:
        return series
    return replace(
        series, steps=series.steps[start:], values=series.values[start:], times=series.times[start:], start=start
    )
