"""The one place errors from background work are shown: a readable line, details on demand."""

from __future__ import annotations

import logging
import platform
import sys

from PySide6.QtCore import QObject, Signal, qVersion
from PySide6.QtWidgets import QApplication, QMessageBox, QStatusBar, QWidget

from studio import __version__
from studio.core.errors import StudioError
from studio.core.redaction import redact

log = logging.getLogger(__name__)


def readable(exc: BaseException) -> str:
    """A message a user can act on; no traceback."""
    if isinstance(exc, StudioError | ValueError | TypeError | KeyError | FileExistsError | PermissionError):
        text = str(exc).strip("'\"") or type(exc).__name__
    elif isinstance(exc, OSError):
        text = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    elif isinstance(exc, TimeoutError):
        text = str(exc) or "The operation timed out."
    else:
        text = f"Unexpected error ({type(exc).__name__}): {exc}"
    return text


def sentence(exc: BaseException) -> str:
    """``readable`` on one line: what a pane shows in place of what could not be loaded."""
    lines = readable(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Notifier(QObject):
    """Shows errors in the status bar; ``show_details`` opens the last one with its traceback."""

    sig_notified = Signal(str)
    """An error was shown (the message, as displayed)."""

    def __init__(self, status_bar: QStatusBar, parent_widget: QWidget) -> None:
        super().__init__(parent_widget)
        self._bar = status_bar
        self._parent = parent_widget
        self.last: tuple[str, str] | None = None

    def error(self, exc: BaseException, tb: str = "", context: str = "") -> None:
        """Show an error; ``context`` says what was being done ("Loading runs")."""
        message = readable(exc)
        shown = f"{context}: {message}" if context else message
        self.last = (shown, tb)
        # In the log file too: an expected failure (a server down, a refusal) as a warning, anything else with its
        # traceback as an error, so a report of "it said Unexpected error" can be read afterwards.
        if message.startswith("Unexpected error"):
            log.error("%s%s", shown, f"\n{tb.rstrip()}" if tb else "")
        else:
            log.warning("%s", shown)
        self._bar.showMessage(f"⚠ {shown}", 15_000)
        self.sig_notified.emit(shown)

    def info(self, message: str, timeout_ms: int = 5000) -> None:
        """A passing message in the status bar."""
        self._bar.showMessage(message, timeout_ms)

    def show_details(self) -> None:
        """A dialog with the last error and, on demand, its technical details; "Copy details" puts them, with
        the versions and the platform, on the clipboard for a bug report."""
        if self.last is None:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Studio", self.last[0], QMessageBox.StandardButton.Ok, self._parent)
        box.setObjectName("errorDetails")
        if self.last[1]:
            box.setDetailedText(redact(self.last[1]))
        copy = box.addButton("Copy details", QMessageBox.ButtonRole.ActionRole)
        copy.setObjectName("copyDetails")
        copy.clicked.disconnect()  # a message box closes on any of its buttons: this one copies and stays
        copy.clicked.connect(self.copy_details)
        box.open()

    def details_text(self) -> str:
        """The last error as a bug report wants it: the message, versions and platform, the traceback (redacted)."""
        if self.last is None:
            return ""
        message, tb = self.last
        versions = (
            f"Studio {__version__}, Python {platform.python_version()}, Qt {qVersion()}, "
            f"{platform.platform()}{' (frozen)' if getattr(sys, 'frozen', False) else ''}"
        )
        return redact("\n\n".join(part for part in (message, versions, tb.rstrip()) if part)) + "\n"

    def copy_details(self) -> None:
        """Put ``details_text()`` on the clipboard and say so."""
        clipboard = QApplication.clipboard()
        clipboard.setText(self.details_text())
        self.info("Error details copied to the clipboard.")
