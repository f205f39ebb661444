"""What every file preview shares: the file it shows, background reads, a loaded signal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase, QPalette
from PySide6.QtWidgets import QLabel, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import FileInfo
from studio.ui.background.tasks import TaskRunner


def human_size(size: float) -> str:
    """``1.5 MB``-style size."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover


def is_dark(widget: QWidget) -> bool:
    """True when the widget's palette has a dark base colour."""
    return widget.palette().color(QPalette.ColorRole.Base).lightness() < 128


def fixed_font() -> Any:
    """The system's monospace font."""
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


class FilePreview(QWidget):
    """Base of the preview widgets: built without I/O; ``start()`` begins background reads."""

    sig_loaded = Signal()
    """The first screen (or a new window of a large file) is shown."""
    sig_failed = Signal(str)
    """Reading the file failed (a readable message)."""

    def __init__(
        self, backend: WorkspaceBackend, runner: TaskRunner, run_id: str, file: FileInfo, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.backend, self.runner, self.run_id, self.file = backend, runner, run_id, file
        self.error = ""
        self.loaded = False
        self.sig_loaded.connect(self._mark_loaded)

    def _mark_loaded(self) -> None:
        self.loaded = True

    def start(self) -> None:
        """Begin loading (background work only)."""

    def stop(self) -> None:
        """Stop background work: the preview is about to close."""

    def set_size(self, size: int) -> None:
        """The file's size changed (a running run's log grew)."""
        self.file = FileInfo(self.file.path, size, self.file.modified_at)

    def read_async(self, offset: int, length: int, success: Callable[[bytes], None]) -> None:
        """Read a byte range on a worker thread and hand it to ``success`` on the GUI thread."""
        self.runner.submit(
            self.backend.read_file_range,
            self.run_id,
            self.file.path,
            offset,
            length,
            success=success,
            failure=self.show_error,
            owner=self,
        )

    def show_error(self, exc: BaseException) -> None:
        """Remember and announce a failed read."""
        self.error = f"Could not read {self.file.path}: {exc}"
        self.sig_failed.emit(self.error)


def note_label(text: str, parent: QWidget) -> QLabel:
    """A one-line, selectable note above a preview (objectName ``previewNote``)."""
    label = QLabel(text, parent)
    label.setObjectName("previewNote")
    label.setWordWrap(True)
    label.setVisible(bool(text))
    return label
