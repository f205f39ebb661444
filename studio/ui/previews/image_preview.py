"""Images (PNG, JPEG, GIF, BMP, WebP) and SVG: decoded off the GUI thread, scaled to fit, zoomable.

SVG is drawn with QSvgRenderer (no scripts; ``<script>``, ``<foreignObject>`` and ``<image>``
that is not a ``data:`` URI are stripped first so nothing is fetched). Without QtSvg the
host shows SVG as text.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QToolButton, QVBoxLayout, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import FileInfo
from studio.ui.background.tasks import TaskRunner
from studio.ui.previews.base import FilePreview, human_size, note_label

IMAGE_MAX_BYTES = 100 * 1024 * 1024
SVG_MAX_PIXELS = 2048
_SVG_STRIP = re.compile(
    r"<(script|foreignObject)\b.*?(?:</\1\s*>|\Z)|<image\b(?![^>]*href\s*=\s*[\"']data:)[^>]*>(?:\s*</image>)?",
    re.IGNORECASE | re.DOTALL,
)

try:
    from PySide6.QtSvg import QSvgRenderer

    HAS_SVG = True
except ImportError:  # pragma: no cover - PySide6-Essentials without QtSvg
    HAS_SVG = False


def sanitize_svg(data: bytes) -> bytes:
    """SVG source without scripts, foreign objects and external images."""
    return _SVG_STRIP.sub("", data.decode("utf-8", errors="replace")).encode("utf-8")


def render_svg(data: bytes) -> QImage:
    """Draw an SVG into an image at its own size (at most SVG_MAX_PIXELS a side)."""
    renderer = QSvgRenderer(QByteArray(sanitize_svg(data)))
    if not renderer.isValid():
        return QImage()
    size = renderer.defaultSize()
    if size.isEmpty():
        size = QSize(512, 512)
    size = size.scaled(
        min(size.width(), SVG_MAX_PIXELS), min(size.height(), SVG_MAX_PIXELS), Qt.AspectRatioMode.KeepAspectRatio
    )
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    return image


def read_image(backend: WorkspaceBackend, run_id: str, path: str, svg: bool) -> QImage:
    """Read and decode (or render, for SVG) an image file (worker thread)."""
    data = backend.read_file_range(run_id, path, 0, IMAGE_MAX_BYTES)
    return render_svg(data) if svg else QImage.fromData(data)


class ImagePreview(FilePreview):
    """An image scaled to fit the pane; zoom with the buttons (objectName ``imageView`` for the picture)."""

    def __init__(
        self,
        backend: WorkspaceBackend,
        runner: TaskRunner,
        run_id: str,
        file: FileInfo,
        svg: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(backend, runner, run_id, file, parent)
        self.setObjectName("imagePreview")
        self.svg = svg
        self.image = QImage()
        self.zoom: float | None = None  # None: fit to the pane
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.note = note_label(f"{file.path} · {human_size(file.size)}", self)
        bar.addWidget(self.note, 1)
        for name, text, factor in (("zoomOut", "\u2212", 0.8), ("zoomIn", "+", 1.25), ("zoomActual", "100%", 0.0)):
            button = QToolButton(self)
            button.setText(text)
            button.setObjectName(name)
            button.clicked.connect(lambda _=False, f=factor: self.set_zoom(f))
            bar.addWidget(button)
        fit = QToolButton(self)
        fit.setText("Fit")
        fit.setObjectName("zoomFit")
        fit.clicked.connect(lambda: self.set_zoom(None))
        bar.addWidget(fit)
        layout.addLayout(bar)
        self.scroller = QScrollArea(self)
        self.scroller.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture = QLabel(self.scroller)
        self.picture.setObjectName("imageView")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroller.setWidget(self.picture)
        self.scroller.setWidgetResizable(True)
        layout.addWidget(self.scroller, 1)

    def start(self) -> None:
        """Read and decode the image in the background."""
        self.runner.submit(
            read_image, self.backend, self.run_id, self.file.path, self.svg,
            success=self._decoded, failure=self.show_error, owner=self,
        )  # fmt: skip

    def _decoded(self, image: QImage) -> None:
        self.image = image
        if image.isNull():
            self.picture.setText("This image could not be decoded.")
        else:
            self.note.setText(f"{self.note.text()} · {image.width()} x {image.height()}")
            self._rescale()
        self.sig_loaded.emit()

    def set_zoom(self, factor: float | None) -> None:
        """Fit (None), actual size (0) or multiply the current zoom by ``factor``."""
        if factor is None:
            self.zoom = None
        elif factor == 0:
            self.zoom = 1.0
        else:
            self.zoom = max(0.05, min(20.0, (self.zoom or self._fit_factor()) * factor))
        self.scroller.setWidgetResizable(self.zoom is None)
        self._rescale()

    def _fit_factor(self) -> float:
        if self.image.isNull():
            return 1.0
        area = self.scroller.viewport().size()
        return min(1.0, area.width() / max(1, self.image.width()), area.height() / max(1, self.image.height()))

    def _rescale(self) -> None:
        if self.image.isNull():
            return
        factor = self.zoom if self.zoom is not None else self._fit_factor()
        size = self.image.size() * factor
        pixmap = QPixmap.fromImage(self.image).scaled(
            size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.picture.setPixmap(pixmap)
        if self.zoom is not None:
            self.picture.resize(pixmap.size())

    def resizeEvent(self, event: object) -> None:  # type: ignore[override]
        """Refit when the pane is resized."""
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self.zoom is None:
            self._rescale()
