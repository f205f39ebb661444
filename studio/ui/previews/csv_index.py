"""Where the rows of a big CSV/TSV file start, and the rows of one block of it (no Qt).

A background :class:`CsvIndexer` scans the file once, piece by piece, and keeps only the
start of every block of up to ``BLOCK_ROWS`` records (and at most about ``BLOCK_BYTES``):
16 bytes per block, so a 1 GB file of 16 M rows needs about 250 KB. A record ends at a
newline outside double quotes (quote parity, computed with numpy), so quoted cells may span
lines. :func:`parse_block` reads one block's records with the ``csv`` module; the table model
keeps a few parsed blocks and reads others again when they come into view.

The first record is the header; the rows counted here are the records after it.
"""

from __future__ import annotations

import csv
import io
import itertools
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

BLOCK_ROWS = 1024
"""Records in a block (fewer when they are long: see BLOCK_BYTES)."""
BLOCK_BYTES = 256 * 1024
"""A block ends at the first record end at or after this many bytes."""
FIRST_PIECE_BYTES = 256 * 1024
"""The first read of the indexer (small, so that the first screen comes quickly)."""
PIECE_BYTES = 1024 * 1024
"""What the indexer reads at once after the first piece."""
MAX_RECORD_BYTES = 16 * 1024 * 1024
"""A record longer than this (no newline outside quotes) is cut: the file is not really CSV."""
PUBLISH_EVERY_S = 0.1
"""How often the indexer hands new blocks to the model while it scans."""

Reader = Callable[[int, int], bytes]
_QUOTE, _NEWLINE = 34, 10


def record_ends(data: bytes, base: int, in_quotes: bool) -> tuple[np.ndarray, bool]:
    """Offsets just after each newline outside double quotes in ``data`` (read at ``base``).

    ``in_quotes``: whether ``data`` starts inside a quoted cell. Returns the absolute offsets
    (int64) and whether ``data`` ends inside a quoted cell. A doubled quote (``""``) inside a
    quoted cell toggles twice, so it keeps the parity, as CSV wants.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == _NEWLINE)
    if not in_quotes and b'"' not in data:
        return newlines + (base + 1), False
    quotes = np.flatnonzero(buf == _QUOTE)
    before = np.searchsorted(quotes, newlines) + int(in_quotes)
    ends = newlines[(before & 1) == 0]
    return ends + (base + 1), bool((len(quotes) + int(in_quotes)) & 1)


@dataclass
class IndexBatch:
    """What the indexer found since its last batch: blocks to append, and the total so far.

    ``starts``/``first_rows`` are new blocks; the last of them is the block still open (it may
    gain rows) when ``open_last``. The model replaces its own open block with these.
    """

    starts: list[int]
    first_rows: list[int]
    rows: int
    """Rows (records after the header) in the file so far, an unfinished last record included."""
    end: int
    """Where the scanned part of the file ends (the last block ends there)."""
    open_last: bool
    header: list[str] | None = None
    """The header's cells, when they were (re)read."""
    cut_records: int = 0


@dataclass
class CsvIndexer:
    """Scans a CSV file for block starts; keeps its state between scans so a growing file continues.

    Used by one worker at a time. ``scan`` reads from where the last scan stopped to the end
    of the file and calls ``publish`` with :class:`IndexBatch` es.
    """

    delimiter: str = ","
    pos: int = 0
    """The next byte to scan."""
    in_quotes: bool = False
    header_end: int = -1
    """Where the header record ends (-1: not found yet)."""
    last_end: int = 0
    """Where the last whole record ends."""
    block_start: int = 0
    block_first_row: int = 0
    block_rows: int = 0
    """Whole records in the open block."""
    sealed_starts: list[int] = field(default_factory=list)
    sealed_first_rows: list[int] = field(default_factory=list)
    cut_records: int = 0
    at_eof: bool = False

    @property
    def rows(self) -> int:
        """Rows found so far (the unfinished last record counts)."""
        if self.header_end < 0:
            return 0
        return self.block_first_row + self.block_rows + (1 if self.last_end < self.pos else 0)

    def scan(self, read: Reader, publish: Callable[[IndexBatch], None], cancelled: Callable[[], bool]) -> None:
        """Index from ``pos`` to the end of the file (as far as it is written now)."""
        header_dirty = self.header_end < 0
        last_publish = 0.0
        first = True
        while True:
            if cancelled():
                return
            start = self.pos
            length = FIRST_PIECE_BYTES if start == 0 else PIECE_BYTES
            data = read(start, length)
            self.at_eof = len(data) < length
            ends, in_quotes = record_ends(data, start, self.in_quotes)
            end = start + len(data)
            if not len(ends) and end - self.last_end > MAX_RECORD_BYTES:
                ends, in_quotes = np.array([end], dtype=np.int64), False
                self.cut_records += 1
            self.in_quotes = in_quotes
            if self.header_end < 0 and len(ends):
                self.header_end = self.block_start = self.last_end = int(ends[0])
                ends = ends[1:]
            self.pos = end
            self._seal(ends)
            now = time.monotonic()
            if self.at_eof or first or now - last_publish >= PUBLISH_EVERY_S:
                header = self._header(read, data, start) if header_dirty or self.header_end < 0 else None
                header_dirty = self.header_end < 0
                publish(self._batch(header))
                last_publish, first = now, False
            if self.at_eof:
                return

    def _seal(self, ends: np.ndarray) -> None:
        """Count the record ends of a piece into blocks; seal every full block."""
        if not len(ends):
            return
        self.last_end = int(ends[-1])
        i = 0
        while i < len(ends):
            by_rows = i + BLOCK_ROWS - self.block_rows - 1
            by_bytes = int(np.searchsorted(ends, self.block_start + BLOCK_BYTES, side="left"))
            j = min(by_rows, max(by_bytes, i))
            if j >= len(ends):
                self.block_rows += len(ends) - i
                return
            self.sealed_starts.append(self.block_start)
            self.sealed_first_rows.append(self.block_first_row)
            self.block_first_row += self.block_rows + (j - i + 1)
            self.block_start = int(ends[j])
            self.block_rows = 0
            i = j + 1

    def _batch(self, header: list[str] | None) -> IndexBatch:
        starts, first_rows = self.sealed_starts, self.sealed_first_rows
        self.sealed_starts, self.sealed_first_rows = [], []
        rows = self.rows
        open_last = rows > self.block_first_row
        if open_last:
            starts, first_rows = [*starts, self.block_start], [*first_rows, self.block_first_row]
        end = self.pos if open_last else self.block_start
        return IndexBatch(starts, first_rows, rows, end, open_last, header, self.cut_records)

    def _header(self, read: Reader, data: bytes, start: int) -> list[str]:
        """The header's cells (the whole scanned text while its end is not found yet)."""
        size = min(self.header_end if self.header_end >= 0 else self.pos, MAX_RECORD_BYTES)
        head = data[:size] if start == 0 and size <= len(data) else read(0, size)
        rows = _csv_rows(head.decode("utf-8-sig", errors="replace"), self.delimiter)
        return [cell for row in rows for cell in row]


@dataclass
class Block:
    """The parsed rows of one block: every cell in one flat list (cheap for the garbage collector)."""

    cells: list[str]
    row_starts: array  # type: ignore[type-arg]
    """Index in ``cells`` where each row starts, plus the end: ``len(row_starts) == rows + 1``."""
    nbytes: int
    width: int
    bad_row: int = -1
    """The first row (of the block) with bytes that are not UTF-8 (-1: none)."""
    odd_row: int = -1
    """The first row (of the block) that the csv module read as several records (stray quotes; -1: none)."""

    @property
    def rows(self) -> int:
        """Rows in the block."""
        return len(self.row_starts) - 1

    def row(self, i: int) -> list[str]:
        """The cells of row ``i`` of the block."""
        return self.cells[self.row_starts[i] : self.row_starts[i + 1]]


def parse_block(data: bytes, rows: int, delimiter: str) -> Block:
    """Exactly ``rows`` rows from the whole records in ``data``.

    Bad UTF-8 is replaced (and flagged). When the ``csv`` module sees a different number of
    records than the index (stray quotes inside unquoted cells, bare ``\\r`` line ends), each
    record is parsed on its own and its pieces joined, so row numbers stay those of the index.
    """
    try:
        text, bad_row = data.decode("utf-8"), -1
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        bad_row = len(record_ends(data[: exc.start], 0, False)[0])
    cells: list[str] = []
    starts = array("q", [0])
    width, odd_row = 0, -1
    # Row by row: no list of 1,024 row lists that would outlive a GC pass (and the GIL is let go
    # between rows).
    try:
        for row in _reader(text, delimiter):
            cells.extend(row)
            starts.append(len(cells))
            width = max(width, len(row))
    except csv.Error:
        starts = array("q", [0])  # not CSV the way the csv module wants it: per record below
    if len(starts) - 1 != rows:
        parsed, odd_row = _per_record(data, delimiter)
        parsed = (parsed + [[] for _ in range(rows - len(parsed))])[:rows]
        cells, starts, width = [], array("q", [0]), 0
        for row in parsed:
            cells.extend(row)
            starts.append(len(cells))
            width = max(width, len(row))
    return Block(cells, starts, len(data), width, bad_row, odd_row)


def _per_record(data: bytes, delimiter: str) -> tuple[list[list[str]], int]:
    """Each record (as the index cuts them) as one row; and the first that the csv module splits."""
    ends, _ = record_ends(data, 0, False)
    bounds = [0, *ends.tolist()]
    if bounds[-1] < len(data):
        bounds.append(len(data))
    out: list[list[str]] = []
    odd = -1
    for start, end in itertools.pairwise(bounds):
        rows = _csv_rows(data[start:end].decode("utf-8", errors="replace"), delimiter)
        if len(rows) > 1 and odd < 0:
            odd = len(out)
        out.append([cell for row in rows for cell in row])
    return out, odd


def _reader(text: str, delimiter: str) -> Iterator[list[str]]:
    if csv.field_size_limit() < MAX_RECORD_BYTES:
        csv.field_size_limit(MAX_RECORD_BYTES)  # one cell may be as long as a record
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _csv_rows(text: str, delimiter: str) -> list[list[str]]:
    try:
        return list(_reader(text, delimiter))
    except csv.Error:
        return [line.split(delimiter) for line in text.splitlines()]
