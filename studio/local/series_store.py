"""Numeric metric series stored as packed numpy arrays in chunks of up to CHUNK_POINTS points.

Each flush appends to the last chunk while it has room (rewriting that one row) and
starts new chunks after it, so a series of N points is about N / CHUNK_POINTS rows
whose blobs read straight into numpy with ``frombuffer``.
"""

from __future__ import annotations

import sqlite3

import numpy as np

CHUNK_POINTS = 32768

_STEP = np.dtype("<i8")
_VALUE = np.dtype("<f8")
_TIME = np.dtype("<f8")


def append_points(
    conn: sqlite3.Connection,
    metric_id: int,
    first_index: int,
    steps: np.ndarray,
    values: np.ndarray,
    times: np.ndarray,
) -> None:
    """Append points whose first has index ``first_index``; call inside a write transaction."""
    steps = np.ascontiguousarray(steps, dtype=_STEP)
    values = np.ascontiguousarray(values, dtype=_VALUE)
    times = np.ascontiguousarray(times, dtype=_TIME)
    row = conn.execute(
        "SELECT first_index, count, steps, vals, times FROM metric_chunks "
        "WHERE metric_id = ? ORDER BY first_index DESC LIMIT 1",
        (metric_id,),
    ).fetchone()
    start = 0
    if row is not None and row[1] < CHUNK_POINTS:
        chunk_first, chunk_count = row[0], row[1]
        take = min(CHUNK_POINTS - chunk_count, len(values))
        merged = (
            np.concatenate([np.frombuffer(row[2], _STEP), steps[:take]]),
            np.concatenate([np.frombuffer(row[3], _VALUE), values[:take]]),
            np.concatenate([np.frombuffer(row[4], _TIME), times[:take]]),
        )
        conn.execute(
            "UPDATE metric_chunks SET count = ?, steps = ?, vals = ?, times = ? "
            "WHERE metric_id = ? AND first_index = ?",
            (chunk_count + take, *(a.tobytes() for a in merged), metric_id, chunk_first),
        )
        start = take
    rows = []
    for lo in range(start, len(values), CHUNK_POINTS):
        hi = min(lo + CHUNK_POINTS, len(values))
        rows.append(
            (
                metric_id,
                first_index + lo,
                hi - lo,
                steps[lo:hi].tobytes(),
                values[lo:hi].tobytes(),
                times[lo:hi].tobytes(),
            )
        )
    conn.executemany(
        "INSERT INTO metric_chunks(metric_id, first_index, count, steps, vals, times) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )


def read_points(conn: sqlite3.Connection, metric_id: int, start: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All points with index >= ``start`` as (steps int64, values float64, times float64)."""
    rows = conn.execute(
        "SELECT first_index, steps, vals, times FROM metric_chunks "
        "WHERE metric_id = ? AND first_index + count > ? ORDER BY first_index",
        (metric_id, start),
    ).fetchall()
    if not rows:
        empty = np.empty(0, _STEP), np.empty(0, _VALUE), np.empty(0, _TIME)
        return empty
    skip = max(0, start - rows[0][0])
    steps = _join([r[1] for r in rows], _STEP, skip)
    values = _join([r[2] for r in rows], _VALUE, skip)
    times = _join([r[3] for r in rows], _TIME, skip)
    return steps, values, times


def _join(blobs: list[bytes], dtype: np.dtype, skip: int) -> np.ndarray:
    total = sum(len(b) for b in blobs) // dtype.itemsize
    out = np.empty(total, dtype)
    pos = 0
    for blob in blobs:
        part = np.frombuffer(blob, dtype)
        out[pos : pos + len(part)] = part
        pos += len(part)
    return out[skip:] if skip else out
