"""Closing the window cleanly when the system asks the process to end (SIGTERM at log-out or from ``kill``,
SIGINT from Ctrl+C in the terminal that started it, SIGHUP when that terminal goes away).

Python runs its signal handlers only between bytecodes, and Qt's event loop sits in C: the signal is written to
a socket (``signal.set_wakeup_fd``) that a ``QSocketNotifier`` watches, so it is handled at once, without a
polling timer. The window closes as if its close button were pressed: settings are saved, and the compute close
prompt may still keep it open.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Callable

from PySide6.QtCore import QObject, QSocketNotifier

HANDLED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))


class QuitOnSignals(QObject):
    """While installed, SIGTERM, SIGINT and SIGHUP call ``close`` on the GUI thread (once per signal)."""

    def __init__(self, close: Callable[[], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._close = close
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._woken)
        self._previous: dict[int, object] = {}
        self._previous_fd = -1
        self.received: list[int] = []

    def install(self) -> None:
        """Route the signals here (only the main thread may set handlers: elsewhere nothing changes)."""
        try:
            self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
            for number in HANDLED:
                self._previous[number] = signal.signal(number, self._noted)
        except ValueError:  # not the main thread (a test's worker): the default handlers stay
            self._previous.clear()

    def uninstall(self) -> None:
        """Put the previous handlers back and close the socket pair."""
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        if self._previous:
            signal.set_wakeup_fd(self._previous_fd)
        self._previous.clear()
        self._notifier.setEnabled(False)
        for end in (self._reader, self._writer):
            end.close()

    def _noted(self, number: int, _frame: object) -> None:
        """The Python-level handler: the wakeup socket already carries the signal's number."""

    def _woken(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            data = self._reader.recv(64)
            self.received.extend(data)
            if data:
                self._close()
