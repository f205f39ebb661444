"""PhaseMeter: GUI-thread stalls per phase of a scripted session, for the window benchmarks.

A 5 ms precise timer runs on the GUI thread; the longest gap between its ticks, minus 5 ms,
is the longest stall. The meter also runs the event loop until a condition holds (``wait``),
notes full garbage collections (they hold the GIL) and the process's peak RSS.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import psutil
from bench_common import Row
from PySide6.QtCore import QEvent, QEventLoop, QObject, Qt, QTimer

TICK_MS = 5
STALL_MS = 50.0


def rss() -> int:
    """This process's resident memory in bytes."""
    return int(psutil.Process().memory_info().rss)


class PaintStamp(QObject):
    """An event filter noting when a widget last started to paint (the paint itself follows at once)."""

    def __init__(self) -> None:
        super().__init__()
        self.at = 0.0

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Note the time of a paint event; let every event through."""
        if event.type() == QEvent.Type.Paint:
            self.at = time.perf_counter()
        return False


class PhaseMeter(QObject):
    """Measures the longest GUI-thread stall of each phase; ``phase()`` closes one and gives its row."""

    def __init__(self, label: str = "longest GUI stall: ") -> None:
        super().__init__()
        self.label = label
        self.timer = QTimer(self, interval=TICK_MS, timerType=Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.tick)
        self.last, self.gap, self.ticks, self.peak = time.perf_counter(), 0.0, 0, rss()
        self.last_cpu = self.gap_cpu = 0.0  # the GUI thread's CPU time at the last tick / in the longest gap
        self.worst = ("", 0.0)
        self.check: Callable[[], bool] | None = None
        self.loop = QEventLoop()
        self.deadline = QTimer(self, singleShot=True)
        self.deadline.timeout.connect(self.loop.quit)
        self.gc_start = 0.0
        self.gcs: list[float] = []  # full (generation 2) collections
        gc.callbacks.append(self.on_gc)
        self.timer.start()

    def close(self) -> None:
        """Stop measuring."""
        self.timer.stop()
        if self.on_gc in gc.callbacks:
            gc.callbacks.remove(self.on_gc)

    def tick(self) -> None:
        """The timer's tick: note the gap; every ~100 ms the RSS; end a ``wait`` whose condition holds."""
        now, cpu = time.perf_counter(), time.thread_time()
        if now - self.last > self.gap:
            self.gap, self.gap_cpu = now - self.last, cpu - self.last_cpu
        self.last, self.last_cpu = now, cpu
        self.ticks += 1
        if self.ticks % 20 == 0:
            self.peak = max(self.peak, rss())
        if self.check is not None and self.check():
            self.loop.quit()

    def on_gc(self, when: str, info: dict[str, int]) -> None:
        """gc callback: times full collections."""
        if info["generation"] == 2:
            if when == "start":
                self.gc_start = time.perf_counter()
            else:
                self.gcs.append((time.perf_counter() - self.gc_start) * 1000)

    def wait(self, check: Callable[[], bool], timeout_s: float = 120.0) -> float:
        """Run the event loop until ``check()`` (tested on every tick); returns the seconds waited."""
        start, self.check = time.perf_counter(), check
        self.deadline.start(int(timeout_s * 1000))
        if not check():
            self.loop.exec()
        self.check = None
        self.deadline.stop()
        if not check():
            raise TimeoutError(f"gave up after {timeout_s} s")
        self.peak = max(self.peak, rss())
        return time.perf_counter() - start

    def turn(self) -> None:
        """Run the event loop until the meter ticks (a user's wheel or drag events come that far apart)."""
        ticks = self.ticks
        self.wait(lambda: self.ticks > ticks)

    def idle(self, seconds: float) -> None:
        """Run the event loop for ``seconds``."""
        end = time.perf_counter() + seconds
        self.wait(lambda: time.perf_counter() > end)

    def reset(self) -> None:
        """Forget the gap so far (after blocking work the benchmark itself did on the GUI thread)."""
        self.last, self.last_cpu, self.gap, self.gcs = time.perf_counter(), time.thread_time(), 0.0, []

    def phase(self, name: str) -> Row:
        """The longest stall since the last phase ended, with how much of it the GUI thread was busy."""
        self.tick()
        stall_ms = max(0.0, self.gap * 1000 - TICK_MS)
        if stall_ms > self.worst[1]:
            self.worst = (name, stall_ms)
        notes = [f"GUI thread busy {self.gap_cpu * 1000:.0f} ms of it"] if stall_ms > 10 else []
        notes += [f"full GC {len(self.gcs)}x, longest {max(self.gcs):.0f} ms"] if self.gcs else []
        self.reset()
        return Row(f"{self.label}{name}", stall_ms, STALL_MS, note="; ".join(notes))
