"""Axis ranges that ignore outliers: robust quantiles of the finite values, padded."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

LOW_QUANTILE = 0.005
HIGH_QUANTILE = 0.995
# Beyond this, quantiles of an evenly strided subset (ranges only, never drawing).
_MAX_SAMPLE = 2_000_000


def robust_range(
    arrays: Iterable[np.ndarray], low: float = LOW_QUANTILE, high: float = HIGH_QUANTILE, pad: float = 0.1
) -> tuple[float, float] | None:
    """(bottom, top) covering the ``low``..``high`` quantiles of all finite values, padded by ``pad`` of the span.

    None when there is no finite value. A flat range is widened so that it has a height.
    """
    parts = [a[np.isfinite(a)] for a in arrays if a.size]
    parts = [p for p in parts if p.size]
    if not parts:
        return None
    values = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if values.size > _MAX_SAMPLE:
        values = values[:: values.size // _MAX_SAMPLE + 1]
    lo, hi = (float(q) for q in np.quantile(values, [low, high]))
    span = hi - lo
    if span <= 0:
        span = abs(lo) * 0.1 or 1.0
    return lo - pad * span, hi + pad * span
