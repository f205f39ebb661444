"""Frees big containers a slice at a time from the event loop.

Dropping the last reference to 100,000 loaded runs frees them all in one go, which stalls
the GUI thread (for a million, noticeably). Handing the containers to a ``DeferredRelease``
frees them in slices between events instead.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject

from studio.ui.background.sliced_work import SlicedWork, Turn

SLICE = 10_000
"""Entries freed per event-loop turn. The budget is a count, not a time: freeing an entry costs
about the same each time, and a count keeps the number of turns predictable."""


class DeferredRelease(QObject):
    """Holds dicts and lists that are no longer used and empties them a slice at a time."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: list[dict[Any, Any] | list[Any]] = []
        self._releasing = SlicedWork(self._release_slice, 0.0, self)

    def drop(self, *containers: dict[Any, Any] | list[Any]) -> None:
        """Take over these containers (the caller keeps no reference) and free them soon."""
        self._pending.extend(c for c in containers if c)
        if self._pending:
            self._releasing.start()

    @property
    def pending(self) -> int:
        """How many entries are still to be freed."""
        return sum(len(c) for c in self._pending)

    def _release_slice(self, _turn: Turn) -> bool:
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
        return bool(self._pending)
