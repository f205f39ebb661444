"""Markdown and HTML rendered as rich text, with no scripts and no remote (or local) resources.

QTextDocument runs no scripts at all; ``<script>`` and embedding elements are stripped anyway
so their source does not show as text, and every resource request (images, style sheets)
is refused by ``SafeTextBrowser.loadResource``. Links are not followed.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QPlainTextEdit, QStackedWidget, QTextBrowser, QVBoxLayout, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import FileInfo
from studio.ui.background.tasks import TaskRunner
from studio.ui.previews.base import FilePreview, fixed_font, human_size, note_label

RICH_MAX_BYTES = 5 * 1024 * 1024
"""Larger Markdown/HTML files are shown as text."""

_DANGEROUS = re.compile(
    r"<(script|style|iframe|object|embed|applet|frame|frameset|noscript|template)\b.*?(?:</\1\s*>|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_VOID = re.compile(r"<(?:link|meta|base)\b[^>]*>", re.IGNORECASE)


def sanitize_html(source: str) -> str:
    """HTML without scripts, embedded frames/objects, style blocks and link/meta/base tags."""
    return _VOID.sub("", _DANGEROUS.sub("", source))


class SafeTextBrowser(QTextBrowser):
    """A QTextBrowser that loads no resource and follows no link; it records what it refused."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.refused: list[str] = []

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        """Refuse every resource (remote or local): previews never fetch anything."""
        self.refused.append(name.toString() if isinstance(name, QUrl) else str(name))
        return None


class RichPreview(FilePreview):
    """Renders Markdown (``markdown=True``) or sanitized HTML; "Source" shows the text as is."""

    def __init__(
        self,
        backend: WorkspaceBackend,
        runner: TaskRunner,
        run_id: str,
        file: FileInfo,
        markdown: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(backend, runner, run_id, file, parent)
        self.setObjectName("richPreview")
        self.markdown = markdown
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        kind = "Markdown" if markdown else "HTML (no scripts, no remote content)"
        self.note = note_label(f"{file.path} · {human_size(file.size)} · {kind}", self)
        self.source_box = QCheckBox("Source", self)
        self.source_box.setObjectName("showSource")
        bar.addWidget(self.note, 1)
        bar.addWidget(self.source_box)
        layout.addLayout(bar)
        self.stack = QStackedWidget(self)
        self.browser = SafeTextBrowser(self.stack)
        self.browser.setObjectName("richView")
        self.source = QPlainTextEdit(self.stack)
        self.source.setObjectName("sourceView")
        self.source.setReadOnly(True)
        self.source.setFont(fixed_font())
        self.stack.addWidget(self.browser)
        self.stack.addWidget(self.source)
        self.source_box.toggled.connect(lambda on: self.stack.setCurrentIndex(1 if on else 0))
        layout.addWidget(self.stack, 1)

    def start(self) -> None:
        """Read the file (it is at most RICH_MAX_BYTES; the host checks)."""
        self.read_async(0, RICH_MAX_BYTES, self._show)

    def _show(self, data: bytes) -> None:
        text = data.decode("utf-8", errors="replace")
        self.source.setPlainText(text)
        if self.markdown:
            self.browser.setMarkdown(text)
        else:
            self.browser.setHtml(sanitize_html(text))
        self.sig_loaded.emit()
