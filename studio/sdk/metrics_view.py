"""Shapes stored metrics the way ``Run.get_metrics`` returns them in the Azure ML API."""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.core.backend import WorkspaceBackend
from studio.core.types import MetricInfo, MetricKind, MetricRecord


def metric_value(backend: WorkspaceBackend, run_id: str, info: MetricInfo) -> Any:
    """One metric as get_metrics shows it: a single value, or the list of values in order."""
    if info.kind == MetricKind.SCALAR:
        values = backend.get_series(run_id, info.name).values
        if info.value_type == "int":
            # float64 holds ints up to 2**63 exactly rounded; int64 stops one short of it.
            fits = values.size == 0 or float(np.abs(values).max()) < 2.0**63
            out: list[Any] = values.astype("int64").tolist() if fits else [int(v) for v in values.tolist()]
        elif info.value_type == "bool":
            out = values.astype(bool).tolist()
        else:
            out = values.tolist()
        return out[0] if len(out) == 1 else out
    records = backend.get_metric_records(run_id, info.name)
    if info.kind in (MetricKind.ROW, MetricKind.TABLE):
        return _columns(records)
    logged = [r.value for r in records]
    return logged[0] if len(logged) == 1 else logged


def _columns(records: list[MetricRecord]) -> dict[str, list[Any]]:
    """Rows ({col: value}) and tables ({col: [values]}) merged into columns, gaps filled with None."""
    columns: dict[str, list[Any]] = {}
    length = 0
    for record in records:
        chunk = record.value
        rows = len(next(iter(chunk.values()), [])) if chunk and isinstance(next(iter(chunk.values())), list) else 1
        for name, value in chunk.items():
            column = columns.setdefault(name, [None] * length)
            column.extend(value if isinstance(value, list) else [value])
        length += rows
        for column in columns.values():
            column.extend([None] * (length - len(column)))
    return columns
