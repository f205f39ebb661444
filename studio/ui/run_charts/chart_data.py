"""What the run charts draw, worked out with numpy (no Qt): points of a scatter, the polylines of
parallel coordinates, and which run is under the cursor.

Everything here works on whole arrays, never run by run in Python: 10,000 runs x 8 columns is
80,000 values, and a hover lookup runs at every mouse move. Non-finite values (NaN, and
infinities, which would stretch an axis to nothing) count as missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MAX_RUNS = 10_000
"""Runs drawn at most; beyond, the first ``MAX_RUNS`` (the table's order) and a note."""


@dataclass(frozen=True)
class RunTable:
    """The runs to chart: ``values[i, j]`` is run ``i``'s value in ``columns[j]`` (NaN = missing)."""

    columns: list[str] = field(default_factory=list)
    values: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    run_ids: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    total: int = 0
    """How many runs were given (``values`` keeps the first ``MAX_RUNS``)."""

    @classmethod
    def make(cls, columns: list[str], values: np.ndarray, run_ids: list[str], names: list[str]) -> RunTable:
        """Check the shapes, keep the first ``MAX_RUNS`` runs, turn infinities into NaN."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.size == 0:
            arr = arr.reshape(len(run_ids), len(columns))
        if arr.ndim != 2 or arr.shape != (len(run_ids), len(columns)) or len(names) != len(run_ids):
            raise ValueError(
                f"values of shape {arr.shape} do not match {len(run_ids)} runs ({len(names)} names)"
                f" x {len(columns)} columns"
            )
        total = len(run_ids)
        arr = arr[:MAX_RUNS]
        if not np.isfinite(arr).all():
            arr = np.where(np.isfinite(arr), arr, np.nan)
        return cls(list(columns), arr, list(run_ids[:MAX_RUNS]), list(names[:MAX_RUNS]), total)

    @property
    def n_runs(self) -> int:
        """Runs kept (at most ``MAX_RUNS``)."""
        return len(self.run_ids)

    def column(self, name: str) -> np.ndarray:
        """The values of column ``name``."""
        return self.values[:, self.columns.index(name)]


def format_value(value: float) -> str:
    """A value as the readout and the axes show it: short, but exact enough to tell runs apart."""
    if not math.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    if abs(value) >= 1e6 or abs(value) < 1e-3:
        return f"{value:.4g}"
    return f"{value:.6g}" if abs(value) >= 1000 else f"{value:.4g}"


# -- scatter ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScatterPoints:
    """The drawn points of a scatter: ``rows[k]`` is the run of point ``(x[k], y[k])``."""

    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray
    lacking: int
    """Runs left out because they lack x or y."""
    note: str
    """Says which runs were left out ("312 runs lack metrics.acc"), or ""."""


def scatter_points(table: RunTable, x_col: str, y_col: str) -> ScatterPoints:
    """The runs having both ``x_col`` and ``y_col``; the others counted and named in ``note``."""
    xs, ys = table.column(x_col), table.column(y_col)
    has_x, has_y = ~np.isnan(xs), ~np.isnan(ys)
    both = has_x & has_y
    rows = np.flatnonzero(both)
    lacking = table.n_runs - rows.size
    note = ""
    if lacking:
        lacks_x, lacks_y = bool((~has_x).any()), bool((~has_y).any())
        if x_col == y_col or (lacks_x and not lacks_y):
            what = x_col
        elif lacks_y and not lacks_x:
            what = y_col
        else:
            what = f"{x_col} or {y_col}"
        note = f"{lacking:,} run{'s' if lacking != 1 else ''} lack{'' if lacking != 1 else 's'} {what}"
    return ScatterPoints(xs[rows], ys[rows], rows, lacking, note)


def nearest_point(points: ScatterPoints, x: float, y: float, px_w: float, px_h: float, radius_px: float = 8.0) -> int:
    """The run (row) of the point nearest to ``(x, y)`` within ``radius_px`` pixels, else -1.

    ``px_w``/``px_h`` are the data units of one pixel, so that distance is measured on screen.
    """
    if points.rows.size == 0 or px_w <= 0 or px_h <= 0:
        return -1
    d2 = ((points.x - x) / px_w) ** 2 + ((points.y - y) / px_h) ** 2
    k = int(np.argmin(d2))
    return int(points.rows[k]) if d2[k] <= radius_px**2 else -1


# -- parallel coordinates ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ParallelLines:
    """Every run's polyline across the axes (axis ``j`` at x = ``j``), normalised to 0..1 per column.

    ``norm[i, j]`` is run ``i`` on axis ``j`` (NaN = missing); ``lo``/``hi`` each axis' range.
    ``x``/``y``/``connect`` are all polylines flattened for one path: point ``p`` joins point
    ``p + 1`` where ``connect[p]`` (never across runs, never to a missing value).
    """

    norm: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    x: np.ndarray
    y: np.ndarray
    connect: np.ndarray
    incomplete: int
    """Runs lacking a value on at least one axis (their line breaks there)."""


def normalise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each column scaled to 0..1 over its own min..max (a constant column sits at 0.5).

    Returns (normalised, min, max); a column without values has NaN bounds.
    """
    n_cols = values.shape[1]
    if values.shape[0] == 0:
        nan = np.full(n_cols, np.nan)
        return values.copy(), nan, nan.copy()
    # fmin/fmax skip NaN and leave an all-NaN column's bounds NaN, without nanmin's warning.
    lo = np.fmin.reduce(values, axis=0) if n_cols else np.empty(0)
    hi = np.fmax.reduce(values, axis=0) if n_cols else np.empty(0)
    span = hi - lo
    flat = ~(span > 0)  # constant (and empty) columns: no division by zero
    safe_span = np.where(flat, 1.0, span)
    norm = (values - lo) / safe_span
    norm[:, flat] = np.where(np.isnan(values[:, flat]), np.nan, 0.5)
    return norm, lo, hi


def parallel_lines(table: RunTable) -> ParallelLines:
    """The polylines of every run of ``table``, ready to draw as one path."""
    norm, lo, hi = normalise(table.values)
    n_runs, n_cols = norm.shape
    present = ~np.isnan(norm)
    x = np.tile(np.arange(n_cols, dtype=np.float64), n_runs)
    y = np.where(present, norm, 0.0).ravel()  # missing points are never joined; 0 keeps the path finite
    joins = np.zeros((n_runs, n_cols), dtype=bool)
    joins[:, :-1] = present[:, :-1] & present[:, 1:]
    incomplete = int((~present).any(axis=1).sum()) if n_cols else 0
    return ParallelLines(norm, lo, hi, x, y, joins.ravel(), incomplete)


def polyline_of(lines: ParallelLines, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (x, y, connect) arrays of only ``rows``' polylines (the hovered or selected runs)."""
    n_cols = lines.norm.shape[1]
    sub = lines.norm[rows]
    present = ~np.isnan(sub)
    joins = np.zeros(sub.shape, dtype=bool)
    joins[:, :-1] = present[:, :-1] & present[:, 1:]
    x = np.tile(np.arange(n_cols, dtype=np.float64), len(rows))
    return x, np.where(present, sub, 0.0).ravel(), joins.ravel()


def nearest_line(lines: ParallelLines, x: float, y: float, px_w: float, px_h: float, radius_px: float = 6.0) -> int:
    """The run whose polyline passes nearest to ``(x, y)`` within ``radius_px`` pixels, else -1.

    Only the segments between the two axes around ``x`` are looked at (one per run), with the
    distance from the point to each segment measured in pixels (``px_w``/``px_h``: data units per
    pixel). Runs lacking either end have no segment there; beside the outer axes, and for a single
    axis, the distance is to the runs' points on the nearest axis.
    """
    n_runs, n_cols = lines.norm.shape
    if n_runs == 0 or n_cols == 0 or px_w <= 0 or px_h <= 0:
        return -1
    if n_cols == 1 or x <= 0 or x >= n_cols - 1:
        j = int(np.clip(round(x), 0, n_cols - 1))
        ys = lines.norm[:, j]
        d2 = ((x - j) / px_w) ** 2 + ((ys - y) / px_h) ** 2
    else:
        j = min(int(x), n_cols - 2)
        # In pixels, with the left axis' point of each run as origin: segment (0, a) -> (w, b).
        w = 1.0 / px_w
        a = lines.norm[:, j] / px_h
        b = lines.norm[:, j + 1] / px_h
        px, py = (x - j) / px_w, y / px_h
        dy = b - a
        t = np.clip((px * w + (py - a) * dy) / (w * w + dy * dy), 0.0, 1.0)
        d2 = (px - t * w) ** 2 + (py - (a + t * dy)) ** 2
    d2 = np.where(np.isnan(d2), np.inf, d2)
    k = int(np.argmin(d2))
    return k if d2[k] <= radius_px**2 else -1
