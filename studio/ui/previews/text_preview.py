"""A text and log viewer that holds only a window of the file: a 1 GB log opens at once.

The file is read in windows of ``WINDOW_BYTES`` around the scroll position. The scroll bar
on the right is the position in the whole file (in bytes); the text box scrolls within the
window, and reaching its edge loads the next window in the background. "Follow" polls the
end of the file at the window's poll rate (a range read from the last size, so a remote kind's
growing blob is followed the same way) and appends new lines (a running run's log), dropping old
ones so memory stays flat; ``finish_following`` reads the end once more when the run has ended,
then stops.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QPlainTextEdit, QScrollBar, QVBoxLayout, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import FileInfo
from studio.ui.background.live_refresh import POLL_MS as LIVE_POLL_MS
from studio.ui.background.tasks import TaskRunner
from studio.ui.previews.base import FilePreview, fixed_font, human_size, is_dark, note_label
from studio.ui.previews.highlighter import SyntaxHighlighter
from studio.ui.previews.text_paging import WINDOW_BYTES, TextWindow, decode_lines, line_starts, make_window
from studio.ui.previews.text_paging import window_bounds as _bounds

EDGE_LINES = 10
"""Load the next window when the view comes this close to the edge of the current one."""
POLL_MS = LIVE_POLL_MS
"""Follow reads the file's end as often as the window polls the workspace for changed runs."""
_MAX_SCROLL = 2**31 - 1


def read_window(
    backend: WorkspaceBackend, run_id: str, path: str, start: int, end: int, size: int, keep_partial_end: bool
) -> TextWindow:
    """The bytes ``[start, end)`` of a text file as a window of lines (worker thread)."""
    data = backend.read_file_range(run_id, path, start, end - start)
    return make_window(start, data, size, keep_partial_end=keep_partial_end)


def read_new_end(backend: WorkspaceBackend, run_id: str, path: str, base: int) -> tuple[int, bytes, int]:
    """(base, bytes logged after ``base``, new size) of a growing file (worker thread).

    Far behind (a whole window or more): no bytes, and the size, so the preview jumps to the end.
    """
    data = backend.read_file_range(run_id, path, base, WINDOW_BYTES)
    if len(data) < WINDOW_BYTES:
        return base, data, base + len(data)
    sizes = [f.size for f in backend.list_files(run_id, path) if f.path == path]
    return base, b"", sizes[0] if sizes else base


class TextPreview(FilePreview):
    """Shows a text file window by window; ``following`` keeps the end of a growing log in view."""

    def __init__(
        self,
        backend: WorkspaceBackend,
        runner: TaskRunner,
        run_id: str,
        file: FileInfo,
        syntax: str = "plain",
        note: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(backend, runner, run_id, file, parent)
        self.setObjectName("textPreview")
        self.text_window: TextWindow | None = None
        self.following = False
        self._reading = False
        self._polling = False
        self._finishing = ""  # "wanted": one last read of the end, then stop; "sent": that read is in flight
        self._syncing = False
        self._queued: tuple[int, bool, bool] | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.note = note_label(note or f"{file.path} · {human_size(file.size)}", self)
        self.follow_box = QCheckBox("Follow", self)
        self.follow_box.setObjectName("followLog")
        self.follow_box.setToolTip("Keep showing the end of the file as it grows")
        self.follow_box.toggled.connect(self._follow_toggled)
        bar.addWidget(self.note, 1)
        bar.addWidget(self.follow_box)
        layout.addLayout(bar)
        body = QHBoxLayout()
        body.setSpacing(0)
        self.editor = QPlainTextEdit(self)
        self.editor.setObjectName("textView")
        self.editor.setReadOnly(True)
        self.editor.setUndoRedoEnabled(False)  # else the document keeps every line a followed log dropped
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.editor.setFont(fixed_font())
        self.editor.setPlaceholderText("Loading…")
        self.highlighter = SyntaxHighlighter(self.editor.document(), syntax, is_dark(self), lazy=True)
        self.position = QScrollBar(Qt.Orientation.Vertical, self)
        self.position.setObjectName("filePosition")
        self._scale = max(1, -(-file.size // _MAX_SCROLL))
        self.position.setRange(0, file.size // self._scale)
        self.position.valueChanged.connect(self._position_moved)
        self.editor.verticalScrollBar().valueChanged.connect(self._view_scrolled)
        self.editor.verticalScrollBar().rangeChanged.connect(self._colour_visible)
        body.addWidget(self.editor, 1)
        body.addWidget(self.position)
        layout.addLayout(body, 1)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def file_size(self) -> int:
        """The file size as last known."""
        return self.file.size

    def start(self) -> None:
        """Show the start of the file."""
        self.request(0)

    def set_size(self, size: int) -> None:
        """The file grew (or shrank): widen the scroll range."""
        super().set_size(size)
        self._scale = max(self._scale, -(-size // _MAX_SCROLL))
        self._syncing = True
        self.position.setRange(0, size // self._scale)
        self._syncing = False
        self._update_bars()

    def set_following(self, on: bool) -> None:
        """Follow the end of the file (poll every second) or stop."""
        self.follow_box.setChecked(on)

    def finish_following(self) -> None:
        """The file stopped growing (its run ended): read its end once more, show it all, then stop following."""
        if not self.following:
            return
        self._finishing = "wanted"
        self._poll()  # busy now: the next tick sends it

    def scroll_to_end(self) -> None:
        """Show the last lines of the file."""
        self.request(self.file_size, at_end=True)

    def top_offset(self) -> int:
        """The byte offset of the first line in view."""
        if self.text_window is None:
            return 0
        return self.text_window.offset_of(self.editor.verticalScrollBar().value())

    def request(self, offset: int, at_end: bool = False, keep_view: bool = False) -> None:
        """Load the window around byte ``offset`` (the newest request wins while one is in flight)."""
        if self._reading:
            self._queued = (offset, at_end, keep_view)
            return
        self._reading = True
        size = self.file_size
        start, end = (max(0, size - WINDOW_BYTES), size) if at_end else _bounds(offset, size)
        self.runner.submit(
            read_window,
            self.backend,
            self.run_id,
            self.file.path,
            start,
            end,
            size,
            not self.following,
            success=lambda window: self._show(window, offset, at_end, keep_view),
            failure=self._request_failed,
            owner=self,
        )

    def _request_failed(self, exc: BaseException) -> None:
        self._reading = False
        self._queued = None
        self.show_error(exc)
        self.editor.setPlaceholderText(self.error)

    def _show(self, window: TextWindow, offset: int, at_end: bool, keep_view: bool) -> None:
        self._reading = False
        queued, self._queued = self._queued, None
        if queued is not None and self.text_window is not None:  # the user moved on while this loaded
            q_offset, q_at_end, q_keep_view = queued
            if q_at_end or q_keep_view or not window.start <= q_offset < window.end:
                # Skip this window: showing it would only stall the GUI thread.
                self.request(*queued)
                return
            offset, at_end, keep_view = q_offset, False, False  # it holds the newest position too
            queued = None
        if keep_view and self.text_window is not None:
            offset = self.top_offset()  # the user kept scrolling while the window loaded
        self.text_window = window
        bar = self.editor.verticalScrollBar()
        self._syncing = True
        self.highlighter.forget()
        self.editor.setPlainText(window.text)
        window.text = ""  # the document holds it now
        bar.setValue(bar.maximum() if at_end else window.line_of(offset))
        self._syncing = False
        self._colour_visible()
        self._update_bars()
        self._sync_position()
        self.sig_loaded.emit()
        if queued is not None:  # asked for while the first window loaded
            self.request(*queued)

    def _update_bars(self) -> None:
        """A file that fits in one window scrolls with the text box's own bar; else the file-position bar."""
        window = self.text_window
        whole = window is not None and window.start == 0 and window.end >= self.file_size
        self.position.setVisible(not whole)
        policy = Qt.ScrollBarPolicy.ScrollBarAsNeeded if whole else Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        self.editor.setVerticalScrollBarPolicy(policy)

    def _sync_position(self) -> None:
        window = self.text_window
        if window is None or self.position.isSliderDown():
            return
        lines = max(1, window.line_count)
        visible = (window.end - window.start) * self.editor.verticalScrollBar().pageStep() // lines
        self._syncing = True
        self.position.setPageStep(max(1, visible // self._scale))
        self.position.setSingleStep(max(1, visible // 10 // self._scale))
        self.position.setValue(self.top_offset() // self._scale)
        self._syncing = False

    def _colour_visible(self, *_: object) -> None:
        """Colour the lines in view (the highlighter leaves the others alone)."""
        bar = self.editor.verticalScrollBar()
        self.highlighter.show_lines(bar.value(), bar.value() + bar.pageStep() + 2)

    def _view_scrolled(self, value: int) -> None:
        self._colour_visible()
        window = self.text_window
        if self._syncing or window is None:
            return
        self._sync_position()
        if self.following:
            return
        bar = self.editor.verticalScrollBar()
        near_end = value >= bar.maximum() - EDGE_LINES and window.end < self.file_size
        near_start = value <= EDGE_LINES and window.start > 0
        if near_end or near_start:
            self.request(window.offset_of(value), keep_view=True)

    def _position_moved(self, value: int) -> None:
        if self._syncing:
            return
        offset = value * self._scale
        window = self.text_window
        if window is not None and window.start <= offset < window.end:
            self.editor.verticalScrollBar().setValue(window.line_of(offset))
        else:
            self.request(offset, at_end=offset >= self.file_size)

    def _follow_toggled(self, on: bool) -> None:
        self.following = on
        self._finishing = ""
        if on:
            self._timer.start()
            self.scroll_to_end()
        else:
            self._timer.stop()

    def _poll(self) -> None:
        window = self.text_window
        if self._reading or self._polling or window is None:
            return
        self._polling = True
        if self._finishing == "wanted":
            self._finishing = "sent"
        self.runner.submit(
            read_new_end, self.backend, self.run_id, self.file.path, window.end,
            success=self._append, failure=self._poll_failed, owner=self,
        )  # fmt: skip

    def _poll_failed(self, exc: BaseException) -> None:
        self._polling = False
        self.show_error(exc)
        self._after_poll()

    def _after_poll(self) -> None:
        if self._finishing == "sent":  # the last read is in: nothing more will be written
            self.set_following(False)

    def _append(self, result: tuple[int, bytes, int]) -> None:
        self._polling = False
        self._append_end(result)
        self._after_poll()

    def _append_end(self, result: tuple[int, bytes, int]) -> None:
        base, data, size = result
        window = self.text_window
        if window is None or base != window.end or not self.following:
            return
        if size > self.file_size:
            self.set_size(size)
        if not data:
            if size > base:
                self.scroll_to_end()
            return
        # A partial last line waits for its end, unless this is the last read (the run has ended).
        cut = len(data) if self._finishing == "sent" else data.rfind(b"\n") + 1
        if cut == 0:
            return  # only a partial line so far
        body = data[:cut]
        cursor = QTextCursor(self.editor.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(("\n" if window.end > window.start else "") + decode_lines(body))
        window.line_starts = _concat(window.line_starts, line_starts(body, base), window.end > window.start)
        window.end = base + cut
        self._drop_old_lines(window)
        self._update_bars()
        bar = self.editor.verticalScrollBar()
        bar.setValue(bar.maximum())
        self._colour_visible()
        self._sync_position()
        self.sig_loaded.emit()

    def _drop_old_lines(self, window: TextWindow) -> None:
        if window.end - window.start <= 2 * WINDOW_BYTES:
            return
        keep_from = window.line_of(window.end - WINDOW_BYTES)
        cursor = QTextCursor(self.editor.document())
        cursor.movePosition(QTextCursor.MoveOperation.Start)
        cursor.movePosition(QTextCursor.MoveOperation.NextBlock, QTextCursor.MoveMode.KeepAnchor, keep_from)
        cursor.removeSelectedText()
        self.highlighter.forget()  # the lines are numbered anew
        window.line_starts = window.line_starts[keep_from:]
        window.start = int(window.line_starts[0])


def _concat(old: np.ndarray, new: np.ndarray, keep_old: bool) -> np.ndarray:
    return np.concatenate((old, new)) if keep_old else new
