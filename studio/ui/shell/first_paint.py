"""The log line that says how long the start took: "Window painted 0.41 s after the process started".

Read by people wondering why their studio starts slowly, and by ``benchmarks/bench_bundle.py``, which cannot put
a probe inside a frozen program: it takes the time from this line. The frame counts as painted when the event
loop is back after the window's first paint event.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer

log = logging.getLogger("studio.ui.shell.app")


def seconds_since_process_start() -> float | None:
    """How long this process has run, to the system's clock tick (10 ms); None where it cannot tell.

    Linux: the process's start in clock ticks since boot (``/proc/self/stat``) against ``CLOCK_BOOTTIME``;
    elsewhere psutil's start time, which is as exact as the system keeps it."""
    try:
        if sys.platform.startswith("linux"):
            with open("/proc/self/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, counted after the command's ")"
            return time.clock_gettime(time.CLOCK_BOOTTIME) - started
        import psutil

        return time.time() - float(psutil.Process().create_time())
    except Exception:  # a start-up time is worth nothing that could fail the start
        return None


class FirstPaintLog(QObject):
    """Logs the window's first painted frame once, then takes itself off the window."""

    def __init__(self, window: QObject) -> None:
        super().__init__(window)
        self._window = window
        self._seen = False
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Notes the first paint event of the window; lets every event through."""
        if watched is self._window and event.type() == QEvent.Type.Paint and not self._seen:
            self._seen = True
            QTimer.singleShot(0, self._painted)
        return False

    def _painted(self) -> None:
        self._window.removeEventFilter(self)
        elapsed = seconds_since_process_start()
        if elapsed is not None:
            log.info("Window painted %.2f s after the process started", elapsed)
        else:
            log.info("Window painted")
