"""Cancel tokens and progress callbacks for long work (after Orange's TaskState)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from studio.core.errors import CancelledError

#: Called with (units done, units in all); units are bytes for transfers.
ProgressCallback = Callable[[int, int], None]


class CancelToken:
    """A flag that long-running work checks between steps; safe to set from any thread."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once `cancel` was called."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise CancelledError if the work was cancelled."""
        if self._event.is_set():
            raise CancelledError("cancelled")


def no_progress(done: int, total: int) -> None:
    """A progress callback that ignores progress."""
