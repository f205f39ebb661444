"""The preview pane: reads a file's first bytes, picks the preview (chooser) and shows it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import FileInfo
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner
from studio.ui.previews.base import FilePreview, human_size
from studio.ui.previews.chooser import HEAD_BYTES, Choice, PreviewKind, choose
from studio.ui.previews.csv_preview import CsvPreview
from studio.ui.previews.hex_preview import HexPreview
from studio.ui.previews.image_preview import HAS_SVG, IMAGE_MAX_BYTES, ImagePreview
from studio.ui.previews.json_preview import JsonPreview
from studio.ui.previews.rich_preview import RICH_MAX_BYTES, RichPreview
from studio.ui.previews.text_preview import TextPreview


def read_head(backend: WorkspaceBackend, run_id: str, file: FileInfo) -> tuple[FileInfo, bytes]:
    """The file and its first bytes, enough to choose its preview (worker thread)."""
    return file, backend.read_file_range(run_id, file.path, 0, HEAD_BYTES)


class PreviewHost(QWidget):
    """Shows the preview of one file at a time (objectName ``filePreview``)."""

    sig_preview_shown = Signal(object)
    """A preview widget was created for the selected file (it loads in the background)."""

    def __init__(
        self, backend: WorkspaceBackend, runner: TaskRunner, run_id: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("filePreview")
        self.backend, self.runner, self.run_id = backend, runner, run_id
        self.file: FileInfo | None = None
        self.choice: Choice | None = None
        self.preview: FilePreview | None = None
        # The head of the file chosen last: an answer for one clicked past is not shown.
        self._reading = TaskSlot(
            runner, success=self._head_arrived, failure=self._failed, when_busy="latest", owner=self
        )
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.placeholder = QLabel("Select a file to preview it.", self)
        self.placeholder.setObjectName("previewPlaceholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setEnabled(False)
        self._layout.addWidget(self.placeholder)

    def show_file(self, file: FileInfo | None) -> None:
        """Preview this file (None: nothing)."""
        self._clear()
        self.file = file
        if file is None:
            self._reading.reset()
            self.placeholder.setText("Select a file to preview it.")
            self.placeholder.show()
            return
        self.placeholder.setText(f"Loading {file.path}…")
        self.placeholder.show()
        self._reading.request(read_head, self.backend, self.run_id, file)

    def file_changed(self, file: FileInfo) -> None:
        """The shown file has a new size (a growing log): tell its preview."""
        if self.file is not None and file.path == self.file.path and file.size != self.file.size:
            self.file = file
            if self.preview is not None:
                self.preview.set_size(file.size)

    def _clear(self) -> None:
        if self.preview is not None:
            self.preview.stop()
            self.preview.hide()
            self.preview.deleteLater()
            self.preview = None
        self.choice = None

    def _failed(self, exc: BaseException) -> None:
        if self.file is not None:
            self.placeholder.setText(f"Could not read {self.file.path}: {exc}")

    def _head_arrived(self, answer: tuple[FileInfo, bytes]) -> None:
        file, head = answer
        self.choice = choose(file.path, head, file.size)
        self.preview = self._build(file, self.choice)
        self.placeholder.hide()
        self._layout.addWidget(self.preview, 1)
        self.preview.start()
        self.sig_preview_shown.emit(self.preview)

    def _build(self, file: FileInfo, choice: Choice) -> FilePreview:
        args = (self.backend, self.runner, self.run_id, file)
        kind = choice.kind
        too_big = f"{file.path} · {human_size(file.size)} · too large to render; showing text"
        if kind is PreviewKind.CSV:
            return CsvPreview(*args, delimiter=choice.delimiter, parent=self)
        if kind is PreviewKind.JSON:
            return JsonPreview(*args, parent=self)
        if kind in (PreviewKind.MARKDOWN, PreviewKind.HTML):
            if file.size > RICH_MAX_BYTES:
                return TextPreview(*args, choice.syntax, too_big, parent=self)
            return RichPreview(*args, markdown=kind is PreviewKind.MARKDOWN, parent=self)
        if kind is PreviewKind.SVG:
            if not HAS_SVG or file.size > RICH_MAX_BYTES:
                return TextPreview(*args, "plain", too_big if HAS_SVG else "", parent=self)
            return ImagePreview(*args, svg=True, parent=self)
        if kind is PreviewKind.IMAGE:
            if file.size > IMAGE_MAX_BYTES:
                return HexPreview(*args, note="image too large to preview", parent=self)
            return ImagePreview(*args, parent=self)
        if kind is PreviewKind.HEX:
            return HexPreview(*args, note=choice.note, parent=self)
        return TextPreview(*args, choice.syntax, choice.note, parent=self)
