"""The Images tab: a gallery of logged images (read, decoded, scaled off the GUI thread) and a zoomable viewer."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from PySide6 import QtGui, QtWidgets
from PySide6.QtCore import QEvent, QModelIndex, QObject, QRect, QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QLabel, QListView, QPushButton, QVBoxLayout, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import MetricKind, RunInfo
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner, TaskState
from studio.ui.runs.tabs.base import RunTab

SMOOTH = Qt.TransformationMode.SmoothTransformation
THUMB_SIZE = 160
READ_CHUNK = 4 * 1024 * 1024
MAX_IMAGE_BYTES = 256 * 1024 * 1024
THUMB_BATCH = 8
IMAGE_ROLE = Qt.ItemDataRole.UserRole + 1  # the item's LoggedImage
THUMB_READY_ROLE = Qt.ItemDataRole.UserRole + 2  # True once the real thumbnail is shown


@dataclass(frozen=True)
class LoggedImage:
    """One logged image: its metric, step, time, file path inside the run and record number."""

    metric: str
    step: int
    time: float
    path: str
    number: int = 0
    """The record's place among the metric's records (0 for the first)."""

    @property
    def label(self) -> str:
        """``name (step)``, as the gallery shows it."""
        return f"{self.metric} ({self.step})"


def fetch_new_images(backend: WorkspaceBackend, run_id: str, known: dict[str, int]) -> list[LoggedImage]:
    """Images of IMAGE metrics logged after the first ``known[name]`` records (worker thread)."""
    found: list[LoggedImage] = []
    for info in backend.list_metrics(run_id):
        start = known.get(info.name, 0)
        if info.kind is MetricKind.IMAGE and info.count > start:
            records = backend.get_metric_records(run_id, info.name, start=start)
            found += [LoggedImage(info.name, r.step, r.time, str(r.value), start + i) for i, r in enumerate(records)]
    return found


def make_thumbnails(
    state: TaskState, backend: WorkspaceBackend, run_id: str, batch: list[tuple[int, str]]
) -> list[tuple[int, QImage | None]]:
    """Thumbnails of a batch of (row, path), until cancelled (worker thread)."""
    return [(row, _thumbnail(backend, run_id, path)) for row, path in batch if not state.cancelled]


def read_image(backend: WorkspaceBackend, run_id: str, path: str, max_side: int = 0) -> QImage:
    """Read and decode a run's image file; with ``max_side``, a square thumbnail of that size (worker thread)."""
    data = bytearray()
    while len(data) % READ_CHUNK == 0 and len(data) <= MAX_IMAGE_BYTES:  # the last read came back full
        chunk = backend.read_file_range(run_id, path, len(data), READ_CHUNK)
        if not chunk:
            break
        data += chunk
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_IMAGE_BYTES // 2**20} MB")
    image = QImage.fromData(bytes(data))
    if image.isNull():
        raise ValueError(f"{path} is not an image this studio can decode")
    if not max_side:
        return image
    if max(image.width(), image.height()) > max_side:
        image = image.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio, SMOOTH)
    square = QRect((image.width() - max_side) // 2, (image.height() - max_side) // 2, max_side, max_side)
    return image.convertToFormat(QImage.Format.Format_ARGB32).copy(square)  # centred on transparent: the grid lines up


def _thumbnail(backend: WorkspaceBackend, run_id: str, path: str) -> QImage | None:
    """A thumbnail, or None for a file that cannot be read or decoded (its tile says so)."""
    try:
        return read_image(backend, run_id, path, THUMB_SIZE)
    except Exception:
        return None


@cache
def _placeholder(broken: bool = False) -> QIcon:
    """A grey tile shown while a thumbnail loads (reddish when the image is unreadable)."""
    pix = QPixmap(THUMB_SIZE, THUMB_SIZE)
    pix.fill(Qt.GlobalColor.transparent)
    colour = QtGui.QColor(217, 54, 62) if broken else QtGui.QColor(158, 158, 158)
    painter = QPainter(pix)
    painter.setPen(colour)
    painter.setBrush(QtGui.QColor(colour.red(), colour.green(), colour.blue(), 40))
    painter.drawRoundedRect(24, 24, THUMB_SIZE - 48, THUMB_SIZE - 48, 8, 8)
    painter.drawText(pix.rect(), Qt.AlignmentFlag.AlignCenter, "cannot show" if broken else "…")
    painter.end()
    return QIcon(pix)


class ImageViewer(QtWidgets.QDialog):
    """A full-size view of one image with zoom in / out / fit / 100% (and Ctrl+wheel)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageViewer")
        self.resize(900, 700)
        self.image: LoggedImage | None = None
        self.title = QLabel(self)
        self.title.setObjectName("imageTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.zoom_label = QLabel(self)
        self.zoom_label.setObjectName("imageZoom")
        self.scene = QtWidgets.QGraphicsScene(self)
        self.item = QtWidgets.QGraphicsPixmapItem()
        self.item.setTransformationMode(SMOOTH)
        self.scene.addItem(self.item)
        self.view = QtWidgets.QGraphicsView(self.scene, self)
        self.view.setObjectName("imageView")
        self.view.setDragMode(QtWidgets.QGraphicsView.DragMode.ScrollHandDrag)
        self.view.setTransformationAnchor(QtWidgets.QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.view.viewport().installEventFilter(self)
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(self.title, 1)
        bar.addWidget(self.zoom_label)
        for name, text, slot, keys in (
            ("zoomOut", "-", lambda: self.zoom_by(0.8), QtGui.QKeySequence.StandardKey.ZoomOut),
            ("zoomIn", "+", lambda: self.zoom_by(1.25), QtGui.QKeySequence.StandardKey.ZoomIn),
            ("zoomFit", "Fit", self.fit, QtGui.QKeySequence("Ctrl+0")),
            ("zoomActual", "100%", lambda: self.set_zoom(1.0), QtGui.QKeySequence("Ctrl+1")),
        ):
            button = QPushButton(text, self, autoDefault=False)
            button.setObjectName(name)
            button.clicked.connect(slot)
            QtGui.QShortcut(keys, self).activated.connect(slot)
            bar.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: D102
        if isinstance(event, QtGui.QWheelEvent) and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(1.25 if event.angleDelta().y() > 0 else 0.8)  # Ctrl+wheel zooms
            return True
        return super().eventFilter(watched, event)

    def show_loading(self, image: LoggedImage) -> None:
        """Name the image and say it is loading."""
        self.image = image
        self.setWindowTitle(image.label)
        self.item.setPixmap(QPixmap())
        self.zoom_label.clear()
        self.caption("Loading…")

    def caption(self, note: str = "") -> None:
        """Show the image's name, path and time, and a note (rich text: loading, its size or an error)."""
        if self.image is not None:
            when = datetime.fromtimestamp(self.image.time).strftime("%Y-%m-%d %H:%M:%S")
            about = f"<small>{html.escape(self.image.path)} · {when}</small>"
            self.title.setText(f"<b>{html.escape(self.image.label)}</b> &nbsp; {about} {note}")

    def set_image(self, image: QImage) -> None:
        """Show a decoded image at 100%, or fitted if it is larger than the view."""
        self.item.setPixmap(QPixmap.fromImage(image))
        self.scene.setSceneRect(self.item.boundingRect())
        self.caption(f"<small>{image.width()} x {image.height()}</small>")
        room = self.view.viewport().size()
        self.fit() if image.width() > room.width() or image.height() > room.height() else self.set_zoom(1.0)

    def zoom(self) -> float:
        """The current scale (1.0 is one image pixel per screen pixel)."""
        return float(self.view.transform().m11())

    def set_zoom(self, scale: float) -> None:
        """Zoom to an absolute scale (clamped to 1%..3200%)."""
        scale = min(32.0, max(0.01, scale))
        self.view.resetTransform()
        self.view.scale(scale, scale)
        self.zoom_label.setText(f"{scale:.0%}")

    def zoom_by(self, factor: float) -> None:
        """Zoom in (factor > 1) or out."""
        self.set_zoom(self.zoom() * factor)

    def fit(self) -> None:
        """Fit the whole image in the view."""
        if not self.item.pixmap().isNull():
            self.view.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)
            self.zoom_label.setText(f"{self.zoom():.0%}")


class ImagesTab(RunTab):
    """Every image the run logged, as thumbnails; double-click (or Enter) opens the viewer."""

    title = "Images"

    def __init__(
        self, backend: WorkspaceBackend, runner: TaskRunner, run_id: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(backend, runner, run_id, parent)
        self.setObjectName("imagesTab")
        self._counts: dict[str, int] = {}
        self._listing = TaskSlot(runner, success=self._add, failure=self._failed, owner=self)
        self._reading: TaskSlot | None = None  # the viewer's image, once the viewer exists
        self.viewer: ImageViewer | None = None
        self.model = QStandardItemModel(self)
        self.gallery = QListView(
            self, viewMode=QListView.ViewMode.IconMode, wordWrap=True, spacing=6, uniformItemSizes=True,
            resizeMode=QListView.ResizeMode.Adjust, movement=QListView.Movement.Static,
            gridSize=QSize(THUMB_SIZE + 20, THUMB_SIZE + 36),
        )  # fmt: skip
        self.gallery.setObjectName("imageGallery")
        self.gallery.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.gallery.setModel(self.model)
        self.gallery.activated.connect(self.open_image)
        self.placeholder = QLabel("Loading images…", self, alignment=Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setObjectName("imagesEmpty")
        self.stack = QtWidgets.QStackedWidget(self)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.gallery)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    def run_changed(self, run: RunInfo) -> None:
        """Fetch images logged since the last look."""
        self.load()

    def load(self) -> None:
        """Fetch the images logged since the last look (all of them the first time), then their thumbnails."""
        self._listing.request(fetch_new_images, self.backend, self.run_id, dict(self._counts))

    def _failed(self, exc: BaseException) -> None:
        if not self.model.rowCount():
            self.placeholder.setText(f"Could not list this run's images: {exc}")

    def _add(self, found: list[LoggedImage]) -> None:
        pending: list[tuple[int, str]] = []
        for image in found:
            # A look asked during the one before it started from the counts of then: skip what
            # that one added.
            if image.number < self._counts.get(image.metric, 0):
                continue
            self._counts[image.metric] = image.number + 1
            item = QStandardItem(_placeholder(), image.label)
            item.setEditable(False)
            item.setData(image, IMAGE_ROLE)
            item.setToolTip(f"{image.label}\n{image.path}")
            pending.append((self.model.rowCount(), image.path))
            self.model.appendRow(item)
        if self.model.rowCount():
            self.stack.setCurrentWidget(self.gallery)
        else:
            self.placeholder.setText("This run has logged no images.\nRun.log_image(name, path=...) adds some.")
        for i in range(0, len(pending), THUMB_BATCH):
            self._make_thumbnails(pending[i : i + THUMB_BATCH])

    def _make_thumbnails(self, batch: list[tuple[int, str]]) -> None:
        """Read, decode and scale a batch of (row, path) in one background task."""
        self.runner.submit(
            make_thumbnails, self.backend, self.run_id, batch, with_state=True, success=self._set_thumbnails, owner=self
        )

    def _set_thumbnails(self, done: list[tuple[int, QImage | None]]) -> None:
        for row, image in done:
            item = self.model.item(row)
            item.setIcon(QIcon(QPixmap.fromImage(image)) if image is not None else _placeholder(broken=True))
            item.setData(image is not None, THUMB_READY_ROLE)

    def open_image(self, index: QModelIndex) -> ImageViewer:
        """Show the image at ``index`` in the viewer (read and decoded in the background)."""
        image: LoggedImage = index.data(IMAGE_ROLE)
        if self.viewer is None:
            self.viewer = ImageViewer(self)
        viewer = self.viewer
        viewer.show_loading(image)
        viewer.show()
        viewer.raise_()
        if self._reading is None:
            self._reading = TaskSlot(
                self.runner, success=viewer.set_image, failure=self._not_shown, when_busy="latest", owner=viewer
            )
        self._reading.request(read_image, self.backend, self.run_id, image.path)
        return viewer

    def _not_shown(self, exc: BaseException) -> None:
        if self.viewer is not None:
            self.viewer.caption(f"<span style='color:#d9363e'>Could not show it: {html.escape(str(exc))}</span>")
