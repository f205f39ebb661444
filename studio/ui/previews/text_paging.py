"""Byte windows of a large text file: where to read, how to cut at line ends, where lines start (no Qt)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW_BYTES = 256 * 1024
"""How much of a text file is held at once."""


@dataclass
class TextWindow:
    """Whole lines of a file: bytes ``[start, end)`` and the absolute offset where each line starts."""

    start: int
    end: int
    text: str
    line_starts: np.ndarray

    @property
    def line_count(self) -> int:
        """Lines in the window."""
        return len(self.line_starts)

    def line_of(self, offset: int) -> int:
        """The index of the line holding byte ``offset`` (clamped to the window)."""
        index = int(np.searchsorted(self.line_starts, offset, side="right")) - 1
        return max(0, min(index, self.line_count - 1))

    def offset_of(self, line: int) -> int:
        """The byte offset where line ``line`` starts (clamped)."""
        if self.line_count == 0:
            return self.start
        return int(self.line_starts[max(0, min(line, self.line_count - 1))])


def window_bounds(offset: int, size: int, window: int = WINDOW_BYTES) -> tuple[int, int]:
    """The range to read so that ``offset`` sits a quarter into the window (clamped to the file)."""
    start = max(0, min(offset - window // 4, size - window))
    return start, min(size, start + window)


def make_window(start: int, data: bytes, size: int, *, keep_partial_end: bool = True) -> TextWindow:
    """Cut ``data`` (read at ``start`` of a file of ``size`` bytes) to whole lines and index them.

    A partial first line is dropped unless the window starts the file; a partial last line is
    dropped unless it ends the file and ``keep_partial_end``. A window without any line end
    (one huge line) is kept whole.
    """
    head = 0
    if start > 0:
        nl = data.find(b"\n")
        if 0 <= nl < len(data) - 1:
            head = nl + 1
    tail = len(data)
    if start + len(data) < size or not keep_partial_end:
        nl = data.rfind(b"\n")
        if nl >= head:
            tail = nl + 1
    body = data[head:tail]
    return TextWindow(start + head, start + tail, decode_lines(body), line_starts(body, start + head))


def line_starts(body: bytes, base: int) -> np.ndarray:
    """Absolute offsets of the lines of ``body`` (which starts a line at ``base``)."""
    ends = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], ends + 1)).astype(np.int64)
    if len(starts) > 1 and starts[-1] == len(body):
        starts = starts[:-1]  # a final newline does not start another line
    return starts + base


def decode_lines(body: bytes) -> str:
    """The text of whole lines for a plain-text view: one block per line, no trailing newline."""
    text = body.decode("utf-8", errors="replace")
    if text.endswith("\n"):
        text = text[:-1]
    return text.replace("\r\n", "\n").replace("\r", " ") if "\r" in text else text
