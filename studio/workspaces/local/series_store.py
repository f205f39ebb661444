"""Numeric metric series stored as packed numpy arrays in chunks of up to CHUNK_POINTS points.

A flush fills up the last chunk only while that chunk is small (< TAIL_POINTS) or
smaller than the flush, so a slow trickle of points never rewrites large blobs;
otherwise it adds rows. Consecutive partial rows are merged once they hold a full chunk's worth, so
a series of N points stays about N / CHUNK_POINTS rows whose blobs read straight
into numpy with ``frombuffer``.
"""

from __future__ import annotations

import sqlite3

import numpy as np

CHUNK_POINTS = 32768
TAIL_POINTS = 1024

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
    last = conn.execute(
        "SELECT first_index, count FROM metric_chunks WHERE metric_id = ? ORDER BY first_index DESC LIMIT 1",
        (metric_id,),
    ).fetchone()
    start = 0
    # Rewriting the last row costs at most as much as the points added: it is small, or
    # the new points outnumber it.
    if last is not None and last[1] < CHUNK_POINTS and (last[1] < TAIL_POINTS or len(values) >= last[1]):
        take = min(CHUNK_POINTS - last[1], len(values))
        old = _read_rows(conn, metric_id, last[0], last[0])
        merged = [np.concatenate([o, a[:take]]) for o, a in zip(old, (steps, values, times), strict=True)]
        _replace_rows(conn, metric_id, last[0], last[0], last[0], merged)
        start = take
    if start < len(values):
        _insert_rows(conn, metric_id, first_index + start, steps[start:], values[start:], times[start:])
    _compact(conn, metric_id)


def _compact(conn: sqlite3.Connection, metric_id: int) -> None:
    """Merge runs of consecutive partial rows once they hold a full chunk (or are many)."""
    rows = conn.execute(
        "SELECT first_index, count FROM metric_chunks WHERE metric_id = ? ORDER BY first_index", (metric_id,)
    ).fetchall()
    run: list[tuple[int, int]] = []
    for row in [*rows, (None, CHUNK_POINTS)]:
        if row[1] < CHUNK_POINTS:
            run.append(row)
            continue
        if len(run) >= 2 and (sum(c for _, c in run) >= CHUNK_POINTS or len(run) >= 16):
            lo, hi = run[0][0], run[-1][0]
            _replace_rows(conn, metric_id, lo, hi, lo, list(_read_rows(conn, metric_id, lo, hi)))
        run = []


def _read_rows(conn: sqlite3.Connection, metric_id: int, lo: int, hi: int) -> tuple[np.ndarray, ...]:
    rows = conn.execute(
        "SELECT steps, vals, times FROM metric_chunks WHERE metric_id = ? AND first_index BETWEEN ? AND ? "
        "ORDER BY first_index",
        (metric_id, lo, hi),
    ).fetchall()
    return tuple(_join([r[i] for r in rows], dtype, 0) for i, dtype in enumerate((_STEP, _VALUE, _TIME)))


def _replace_rows(
    conn: sqlite3.Connection, metric_id: int, lo: int, hi: int, first_index: int, arrays: list[np.ndarray]
) -> None:
    conn.execute("DELETE FROM metric_chunks WHERE metric_id = ? AND first_index BETWEEN ? AND ?", (metric_id, lo, hi))
    _insert_rows(conn, metric_id, first_index, *arrays)


def _insert_rows(
    conn: sqlite3.Connection, metric_id: int, first_index: int, steps: np.ndarray, values: np.ndarray, times: np.ndarray
) -> None:
    rows = []
    for lo in range(0, len(values), CHUNK_POINTS):
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


def decode(step_blobs: list[bytes], value_blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of consecutive chunk rows given as their ``steps`` and ``vals`` blobs."""
    return _join(step_blobs, _STEP, 0), _join(value_blobs, _VALUE, 0)


def _join(blobs: list[bytes], dtype: np.dtype, skip: int) -> np.ndarray:
    total = sum(len(b) for b in blobs) // dtype.itemsize
    out = np.empty(total, dtype)
    pos = 0
    for blob in blobs:
        part = np.frombuffer(blob, dtype)
        out[pos : pos + len(part)] = part
        pos += len(part)
    return out[skip:] if skip else out
