"""Faults on demand: a status (with optional Retry-After), a hang, or a dropped connection, for matching paths."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass


@dataclass
class Fault:
    """One injected fault: ``kind`` is "status", "hang" or "drop"; it fires ``times`` more times."""

    pattern: re.Pattern[str]
    kind: str
    times: int
    status: int = 0
    retry_after: float | None = None
    message: str = ""


class Faults:
    """The faults waiting to fire, oldest first; ``take`` hands out the first that matches a path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._release = threading.Event()

    def add(self, fault: Fault) -> None:
        """Queue a fault."""
        with self._lock:
            self._faults.append(fault)

    def take(self, path: str) -> Fault | None:
        """The first fault whose pattern is found in ``path`` (one use of it spent), else None."""
        with self._lock:
            for fault in self._faults:
                if fault.pattern.search(path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def wait_released(self, timeout: float) -> None:
        """Block a hung request until ``clear`` (or the timeout)."""
        with self._lock:
            release = self._release
        release.wait(timeout)

    def clear(self) -> None:
        """Drop every queued fault and end every hang."""
        with self._lock:
            self._faults.clear()
            self._release.set()
            self._release = threading.Event()
