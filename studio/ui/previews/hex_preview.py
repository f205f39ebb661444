"""Anything else: the size and a hex dump of the first 4 KiB."""

from __future__ import annotations

from PySide6.QtWidgets import QPlainTextEdit, QVBoxLayout, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import FileInfo
from studio.ui.background.tasks import TaskRunner
from studio.ui.previews.base import FilePreview, fixed_font, human_size, note_label
from studio.ui.previews.chooser import HEAD_BYTES


def hex_dump(data: bytes, offset: int = 0) -> str:
    """Classic 16-bytes-a-line dump: offset, hex bytes, printable ASCII."""
    lines = []
    for i in range(0, len(data), 16):
        row = data[i : i + 16]
        hexes = " ".join(f"{b:02x}" for b in row)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"{offset + i:08x}  {hexes:<47}  {text}")
    return "\n".join(lines)


class HexPreview(FilePreview):
    """Size, a note (why hex) and the first bytes in hex (objectName ``hexView``)."""

    def __init__(
        self,
        backend: WorkspaceBackend,
        runner: TaskRunner,
        run_id: str,
        file: FileInfo,
        note: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(backend, runner, run_id, file, parent)
        self.setObjectName("hexPreview")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        shown = min(file.size, HEAD_BYTES)
        summary = f"{file.path} · {human_size(file.size)}" + (f" · first {shown:,} bytes" if shown < file.size else "")
        self.note = note_label(f"{note} — {summary}" if note else summary, self)
        layout.addWidget(self.note)
        self.view = QPlainTextEdit(self)
        self.view.setObjectName("hexView")
        self.view.setReadOnly(True)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setFont(fixed_font())
        layout.addWidget(self.view, 1)

    def start(self) -> None:
        """Read the first 4 KiB."""
        self.read_async(0, HEAD_BYTES, self._show)

    def _show(self, data: bytes) -> None:
        self.view.setPlainText(hex_dump(data))
        self.sig_loaded.emit()
