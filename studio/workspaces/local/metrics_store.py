"""Metric rows and non-numeric metric records in the workspace database."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from studio.core.errors import NotFoundError
from studio.core.types import MetricInfo, MetricKind, MetricRecord

#: Numeric value types ordered so that mixing keeps the widest (bool < int < float).
VALUE_TYPES = ("bool", "int", "float")


def widest(a: str, b: str) -> str:
    """The value type that holds both ``a`` and ``b``."""
    if not a:
        return b
    if not b:
        return a
    return VALUE_TYPES[max(VALUE_TYPES.index(a), VALUE_TYPES.index(b))]


def find_metric(conn: sqlite3.Connection, run_seq: int, name: str) -> tuple[int, str, int, str] | None:
    """(id, kind, count, value_type) of a run's metric, or None."""
    row = conn.execute(
        "SELECT id, kind, count, value_type FROM metrics WHERE run_seq = ? AND name = ?", (run_seq, name)
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]), int(row[2]), str(row[3]))


def ensure_metric(
    conn: sqlite3.Connection, run_seq: int, name: str, kind: MetricKind, description: str
) -> tuple[int, int, str]:
    """(id, count, value_type) of a metric, created if new; call inside a write transaction.

    Raises ValueError if the name already holds another kind of metric.
    """
    found = find_metric(conn, run_seq, name)
    if found is None:
        cur = conn.execute(
            "INSERT INTO metrics(run_seq, name, kind, description) VALUES (?, ?, ?, ?)",
            (run_seq, name, kind.value, description or ""),
        )
        return int(cur.lastrowid or 0), 0, ""
    metric_id, existing, count, value_type = found
    if existing != kind.value:
        raise ValueError(f"metric {name!r} holds {existing} values; cannot add {kind.value} values to it")
    if description:
        conn.execute("UPDATE metrics SET description = ? WHERE id = ?", (description, metric_id))
    return metric_id, count, value_type


def update_after_append(conn: sqlite3.Connection, metric_id: int, count: int, value_type: str, last_value: Any) -> None:
    """Record the new size, value type and last value of a metric after an append."""
    conn.execute(
        "UPDATE metrics SET count = ?, value_type = ?, last_value = ? WHERE id = ?",
        (count, value_type, json.dumps(last_value), metric_id),
    )


def append_records(
    conn: sqlite3.Connection, metric_id: int, first_index: int, records: list[tuple[int | None, float, str]]
) -> None:
    """Insert (step or None, time, JSON value) records; a missing step becomes the record's index."""
    conn.executemany(
        "INSERT INTO metric_records(metric_id, idx, step, time, value) VALUES (?, ?, ?, ?, ?)",
        [
            (metric_id, first_index + i, first_index + i if step is None else step, t, value)
            for i, (step, t, value) in enumerate(records)
        ],
    )


def list_metrics(conn: sqlite3.Connection, run_seq: int) -> list[MetricInfo]:
    """A run's metrics in the order they were first logged."""
    rows = conn.execute(
        "SELECT name, kind, count, description, last_value, value_type FROM metrics WHERE run_seq = ? ORDER BY id",
        (run_seq,),
    ).fetchall()
    return [
        MetricInfo(
            name=r[0],
            kind=MetricKind(r[1]),
            count=r[2],
            description=r[3],
            last_value=json.loads(r[4]) if r[4] is not None else None,
            value_type=r[5],
        )
        for r in rows
    ]


def metric_id_of(conn: sqlite3.Connection, run_seq: int, name: str, run_id: str) -> tuple[int, str, str]:
    """(id, kind, value_type) of a metric, or NotFoundError."""
    found = find_metric(conn, run_seq, name)
    if found is None:
        raise NotFoundError(f"Run {run_id} has no metric named {name!r}.")
    return found[0], found[1], found[3]


def read_records(conn: sqlite3.Connection, metric_id: int, start: int = 0) -> list[MetricRecord]:
    """Records of a non-numeric metric from index ``start``."""
    rows = conn.execute(
        "SELECT step, time, value FROM metric_records WHERE metric_id = ? AND idx >= ? ORDER BY idx",
        (metric_id, start),
    ).fetchall()
    return [MetricRecord(value=json.loads(v), step=s, time=t) for s, t, v in rows]
