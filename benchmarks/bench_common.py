"""Small helpers shared by the benchmarks: timing and the result table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    """One line of a result table; ``budget`` and ``measured`` are in the same unit (None: no budget)."""

    what: str
    measured: float
    budget: float | None
    unit: str = "ms"
    note: str = ""

    @property
    def verdict(self) -> str:
        """OK, OVER, or "-" when there is no budget."""
        if self.budget is None:
            return "-"
        return "OK" if self.measured <= self.budget else "OVER"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    """The median wall time of ``repeat`` calls, in milliseconds."""
    return statistics.median(timed(fn)[0] for _ in range(repeat)) * 1000


def print_table(title: str, rows: list[Row]) -> None:
    """Print rows as an aligned Markdown table (so it can be pasted into the README)."""
    print(f"\n{title}\n")
    width = max(len(r.what) for r in rows)
    print(f"| {'what':<{width}} | {'measured':>12} | {'budget':>10} | verdict | note")
    print(f"|{'-' * (width + 2)}|{'-' * 13}:|{'-' * 11}:|---------|-----")
    for r in rows:
        budget = "-" if r.budget is None else f"{_num(r.budget)} {r.unit}"
        print(f"| {r.what:<{width}} | {_num(r.measured) + ' ' + r.unit:>12} | {budget:>10} | {r.verdict:<7} | {r.note}")


def _num(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}" if x >= 0.1 else f"{x:.3f}"


class StallMeter:
    """A 5 ms precise timer on the GUI thread: the longest gap between its ticks, minus 5 ms, is the
    longest GUI-thread stall since ``start()`` (or since the last ``lap()``)."""

    TICK_S = 0.005

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer  # the benchmarks that need no Qt import this module too

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(int(self.TICK_S * 1000))
        self.timer.timeout.connect(self.tick)
        self.last = time.perf_counter()
        self.gap = 0.0

    def start(self) -> None:
        """Start measuring from now."""
        self.last, self.gap = time.perf_counter(), 0.0
        self.timer.start()

    def tick(self) -> None:
        """Note a tick (the timer calls this; call it yourself to close a phase)."""
        now = time.perf_counter()
        self.gap, self.last = max(self.gap, now - self.last), now

    def lap(self) -> float:
        """The longest stall in ms since ``start()`` or the last ``lap()``; measuring goes on."""
        self.tick()
        stall, self.gap = max(0.0, (self.gap - self.TICK_S) * 1000), 0.0
        return stall

    def stop(self) -> float:
        """The longest stall in ms since the last lap, and stop the timer."""
        stall = self.lap()
        self.timer.stop()
        return stall
