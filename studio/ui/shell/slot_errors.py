"""Exceptions nobody caught in a slot or an event handler: logged, and shown by the window's notifier.

PySide6 hands an exception raised in a slot (a button's click, a timer) to ``sys.excepthook`` and carries on; the
default hook prints it on a stderr nobody reads and the user sees a button that did nothing. ``SlotErrorHook``
replaces the hook while the application runs: the exception goes to the log (with its traceback) and to the
notifier of the active studio window (a sentence in the status bar, "Details…" with "Copy details"). It may be
called on any thread (a QThread's slot): the notifier is reached through a queued signal, on the GUI thread.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QWidget

from studio.ui.background.notifier import Notifier

log = logging.getLogger(__name__)

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]
CONTEXT = "A bug in the studio (Details… to report it)"
"""What the status bar says before the exception's own sentence."""


class SlotErrorHook(QObject):
    """``sys.excepthook`` for the application's lifetime: ``install()`` at start, ``uninstall()`` at exit."""

    sig_uncaught = Signal(object, str)
    """An uncaught exception and its formatted traceback (queued to the GUI thread)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._previous: ExceptHook | None = None
        self._notifying = False
        self.sig_uncaught.connect(self._notify)

    def install(self) -> None:
        """Take over ``sys.excepthook`` (the one before is kept for ``uninstall`` and for Ctrl+C)."""
        if self._previous is None:
            self._previous = sys.excepthook
            sys.excepthook = self

    def uninstall(self) -> None:
        """Give ``sys.excepthook`` back, unless someone replaced ours meanwhile."""
        if self._previous is not None:
            if sys.excepthook is self:
                sys.excepthook = self._previous
            self._previous = None

    def __call__(self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        """Log the exception and queue it to the notifier (Ctrl+C and exit go to the hook before)."""
        if issubclass(kind, KeyboardInterrupt | SystemExit):
            (self._previous or sys.__excepthook__)(kind, exc, tb)
            return
        log.error("Uncaught exception in the window", exc_info=(kind, exc, tb))
        self.sig_uncaught.emit(exc, "".join(traceback.format_exception(kind, exc, tb)))

    def _notify(self, exc: BaseException, text: str) -> None:
        notifier = active_notifier()
        if notifier is None or self._notifying:  # no window (or showing failed, which comes back here): stderr
            (self._previous or sys.__excepthook__)(type(exc), exc, exc.__traceback__)
            return
        self._notifying = True
        try:
            notifier.error(exc, text, CONTEXT)
        finally:
            self._notifying = False


def active_notifier() -> Notifier | None:
    """The notifier of the active window (or of the window a dialog belongs to), else of a shown window."""
    candidates: list[QWidget] = []
    active = QApplication.activeWindow()
    while active is not None:
        candidates.append(active)
        active = active.parentWidget()
    candidates += [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    for widget in candidates:
        notifier = getattr(widget, "notifier", None)
        if isinstance(notifier, Notifier):
            return notifier
    return None
