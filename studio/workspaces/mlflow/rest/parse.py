"""MLflow's JSON into the client's dataclasses and numpy arrays.

int64 fields may come as numbers (OSS MLflow) or strings (protobuf's JSON rule, some servers); floats may be
``"NaN"`` / ``"Infinity"`` strings (protobuf's JSON for non-finite values). Missing fields take proto defaults.
The metric-history parser is the hot path (100,000 points): it walks the decoded list once per column with
``numpy.fromiter`` and lets numpy turn the rare string floats into numbers.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from studio.workspaces.mlflow.rest.types import (
    ArtifactEntry,
    Experiment,
    LatestMetric,
    MetricHistory,
    Run,
)

_LARGEST = sys.float_info.max
"""MLflow's SQL stores keep a logged ±inf as ± the largest double: read back, it is infinity again."""


def experiment_from_json(item: dict[str, Any]) -> Experiment:
    """One element of ``experiments`` (or the ``experiment`` of get-by-name)."""
    return Experiment(
        experiment_id=str(item.get("experiment_id", "")),
        name=str(item.get("name", "")),
        artifact_location=str(item.get("artifact_location", "")),
        lifecycle_stage=str(item.get("lifecycle_stage", "active")),
        creation_time_ms=_int_or_none(item.get("creation_time")),
        last_update_time_ms=_int_or_none(item.get("last_update_time")),
        tags=_pairs(item.get("tags")),
    )


def run_from_json(item: dict[str, Any]) -> Run:
    """One ``run`` object: ``{"info": {...}, "data": {"metrics", "params", "tags"}}``."""
    info = item.get("info") or {}
    data = item.get("data") or {}
    tags = _pairs(data.get("tags"))
    metrics = {
        str(m.get("key", "")): LatestMetric(
            value=_float(m.get("value", 0.0)),
            timestamp_ms=_int_or_none(m.get("timestamp")) or 0,
            step=_int_or_none(m.get("step")) or 0,
        )
        for m in data.get("metrics") or ()
    }
    run_id = str(info.get("run_id") or info.get("run_uuid") or "")
    return Run(
        run_id=run_id,
        experiment_id=str(info.get("experiment_id", "")),
        run_name=str(info.get("run_name") or tags.get("mlflow.runName") or ""),
        status=str(info.get("status", "RUNNING")),
        start_time_ms=_int_or_none(info.get("start_time")),
        end_time_ms=_int_or_none(info.get("end_time")),
        artifact_uri=str(info.get("artifact_uri", "")),
        lifecycle_stage=str(info.get("lifecycle_stage", "active")),
        user_id=str(info.get("user_id", "")),
        metrics=metrics,
        params=_pairs(data.get("params")),
        tags=tags,
    )


def history_columns(points: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps int64, values float64, timestamps_ms int64) of one get-history page's ``metrics``."""
    steps = _column([p.get("step", 0) for p in points], np.int64)
    values = _column([p.get("value", 0.0) for p in points], np.float64)
    timestamps = _column([p.get("timestamp", 0) for p in points], np.int64)
    stored_infinities = np.abs(values) == _LARGEST
    if stored_infinities.any():
        values[stored_infinities] = np.copysign(np.inf, values[stored_infinities])
    return steps, values, timestamps


def _column(items: list[Any], dtype: type[np.generic]) -> np.ndarray:
    """A numpy column; the fast path takes plain numbers, numpy's string parsing takes "NaN" or "123"."""
    try:
        return np.fromiter(items, dtype=dtype, count=len(items))
    except (TypeError, ValueError):
        return np.array(items, dtype=dtype)


def join_history(key: str, pages: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> MetricHistory:
    """One MetricHistory from the columns of its pages, in page order."""
    if not pages:
        empty_i = np.empty(0, dtype=np.int64)
        return MetricHistory(key, empty_i, np.empty(0, dtype=np.float64), empty_i.copy())
    if len(pages) == 1:
        steps, values, times = pages[0]
        return MetricHistory(key, steps, values, times)
    return MetricHistory(
        key,
        np.concatenate([p[0] for p in pages]),
        np.concatenate([p[1] for p in pages]),
        np.concatenate([p[2] for p in pages]),
    )


def artifact_from_json(item: dict[str, Any]) -> ArtifactEntry:
    """One element of ``files`` of ``artifacts/list``."""
    is_dir = bool(item.get("is_dir", False))
    return ArtifactEntry(
        path=str(item.get("path", "")),
        is_dir=is_dir,
        size=None if is_dir else _int_or_none(item.get("file_size")),
    )


def _pairs(items: Any) -> dict[str, str]:
    """MLflow's ``[{"key": k, "value": v}]`` lists as a dict."""
    return {str(p.get("key", "")): str(p.get("value", "")) for p in items or ()}


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return math.copysign(math.inf, number) if abs(number) == _LARGEST else number
