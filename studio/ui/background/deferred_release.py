"""Frees big containers a slice at a time from the event loop.

Dropping the last reference to 100,000 loaded runs frees them all in one go (about 30 ms,
and ten times that for a million), which stalls the GUI thread. Handing the containers to a
``DeferredRelease`` frees them in slices between events instead.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer

SLICE = 10_000
"""Entries freed per event-loop turn (a few milliseconds)."""


class DeferredRelease(QObject):
    """Holds dicts and lists that are no longer used and empties them a slice at a time."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: list[dict[Any, Any] | list[Any]] = []
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._release_slice)

    def drop(self, *containers: dict[Any, Any] | list[Any]) -> None:
        """Take over these containers (the caller keeps no reference) and free them soon."""
        self._pending.extend(c for c in containers if c)
        if self._pending and not self._timer.isActive():
            self._timer.start()

    @property
    def pending(self) -> int:
        """How many entries are still to be freed."""
        return sum(len(c) for c in self._pending)

    def _release_slice(self) -> None:
        budget = SLICE
        while budget > 0 and self._pending:
            container = self._pending[-1]
            count = min(budget, len(container))
            if isinstance(container, dict):
                for _ in range(count):
                    container.popitem()
            else:
                del container[len(container) - count :]
            budget -= count
            if not container:
                self._pending.pop()
        if not self._pending:
            self._timer.stop()
