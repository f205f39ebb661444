"""TensorBoard's debiased exponential moving average, vectorised with numpy.

For each finite value ``v`` (the i-th finite one, counting from 0)::

    last = last * w + (1 - w) * v
    smoothed = last / (1 - w ** (i + 1))

Non-finite values (NaN, inf) are skipped: they neither move ``last`` nor count in ``i``,
and their smoothed value is the value itself (as TensorBoard does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_MAX_CHUNK = 4096
_EXP_LIMIT = 100.0  # keep w**-k below 1e100 inside one chunk


@dataclass
class EmaState:
    """Where an EMA stopped, so that appended points continue it: ``last`` and finite points seen."""

    last: float = 0.0
    count: int = 0


def debiased_ema(values: np.ndarray, weight: float, state: EmaState | None = None) -> tuple[np.ndarray, EmaState]:
    """Smoothed ``values`` (same length) and the state to continue from; ``state`` is not modified."""
    values = np.asarray(values, dtype=np.float64)
    state = EmaState() if state is None else EmaState(state.last, state.count)
    out = values.copy()
    finite = np.isfinite(values)
    v = values[finite] if not finite.all() else values
    if v.size == 0:
        return out, state
    w = float(weight)
    if not 0.0 <= w < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), not {weight}")
    if w == 0.0:
        state.last, state.count = float(v[-1]), state.count + int(v.size)
        out[finite] = v
        return out, state
    last = _ema_chunks(v, w, state.last)
    counts = np.arange(state.count + 1, state.count + 1 + v.size, dtype=np.float64)
    debias = -np.expm1(np.maximum(counts * math.log(w), -80.0))  # 1 - w**counts, accurate when w**counts is near 1
    out[finite] = last / debias
    state.last, state.count = float(last[-1]), state.count + int(v.size)
    return out, state


def _ema_chunks(v: np.ndarray, w: float, carry: float) -> np.ndarray:
    """``last`` after each value of the plain (biased) EMA, starting from ``carry``.

    Within a chunk, last_j = w**(j+1) * carry + (1-w) * w**j * cumsum(w**-k * v_k); chunks are
    short enough that w**-k stays far from overflow.
    """
    log_w = math.log(w)
    taps = math.ceil(-18.0 * math.log(10.0) / log_w)  # w**taps < 1e-18: older values no longer count
    if taps <= 32:
        kernel = (1.0 - w) * np.exp(np.arange(taps) * log_w)
        out = np.convolve(v, kernel)[: v.size]
        head = min(taps, v.size)
        out[:head] += carry * np.exp(np.arange(1, head + 1) * log_w)  # later, carry's weight is < 1e-18
        return out
    chunk = int(max(1, min(_MAX_CHUNK, _EXP_LIMIT * math.log(10.0) / -log_w)))
    k = np.arange(chunk, dtype=np.float64)
    grow = np.exp(-k * log_w)  # w**-k
    shrink = np.exp(k * log_w)  # w**k
    shrink1 = shrink * w  # w**(k+1)
    out = np.empty_like(v)
    for begin in range(0, v.size, chunk):
        part = v[begin : begin + chunk]
        n = part.size
        acc = np.cumsum(part * grow[:n])
        block = shrink1[:n] * carry + (1.0 - w) * shrink[:n] * acc
        out[begin : begin + n] = block
        carry = float(block[-1])
    return out


def reference_ema(values: list[float], weight: float) -> list[float]:
    """The same EMA as a plain loop (for tests and documentation)."""
    last, count, result = 0.0, 0, []
    for value in values:
        if not math.isfinite(value):
            result.append(value)
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        result.append(last / (1 - weight**count))
    return result
