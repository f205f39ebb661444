"""Call a function once input has rested for a moment (like superqt's ``qdebounced``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer


class Debounced(QObject):
    """``debounced()`` restarts the wait; ``fn`` runs once no call came for ``timeout_ms``.

    Calls may pass arguments (a signal's value): they are ignored, so it can be connected to
    any signal. ``flush()`` runs a pending call now; ``cancel()`` drops it.
    """

    def __init__(self, fn: Callable[[], Any], timeout_ms: int, parent: QObject) -> None:
        super().__init__(parent)
        self._fn = fn
        self._timer = QTimer(self, singleShot=True, interval=timeout_ms)
        self._timer.timeout.connect(fn)

    def __call__(self, *_ignored: object) -> None:
        """Start (or restart) the wait."""
        self._timer.start()

    @property
    def pending(self) -> bool:
        """True while a call waits for the input to rest."""
        return self._timer.isActive()

    def flush(self) -> None:
        """Run the waiting call now (nothing if none waits)."""
        if self._timer.isActive():
            self._timer.stop()
            self._fn()

    def cancel(self) -> None:
        """Drop the waiting call."""
        self._timer.stop()


def qdebounced(fn: Callable[[], Any], timeout_ms: int, parent: QObject) -> Debounced:
    """``fn``, called once the returned callable has not been called for ``timeout_ms``."""
    return Debounced(fn, timeout_ms, parent)
