"""A lazy table model of a CSV/TSV file: rows arrive chunk by chunk through fetchMore.

Only chunk boundaries (first row, byte range) are kept for the whole file; parsed rows
stay in a small cache of recent chunks, and a row whose chunk was evicted is read again
in the background (its cells show empty until then).
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from studio.core.backend import WorkspaceBackend
from studio.core.types import FileInfo
from studio.ui.previews.csv_chunks import read_chunk
from studio.ui.tasks import TaskRunner

CACHED_CHUNKS = 8
Index = QModelIndex | QPersistentModelIndex


class CsvModel(QAbstractTableModel):
    """Rows of a CSV file, the first line being the header."""

    sig_chunk_loaded = Signal()
    """Rows were added (or re-read into the cache)."""
    sig_failed = Signal(str)
    """Reading failed (a readable message)."""

    def __init__(
        self,
        backend: WorkspaceBackend,
        runner: TaskRunner,
        run_id: str,
        file: FileInfo,
        delimiter: str = ",",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.backend, self.runner, self.run_id, self.file = backend, runner, run_id, file
        self.delimiter = delimiter
        self.header: list[str] = []
        self._first_rows: list[int] = []
        self._ranges: list[tuple[int, int]] = []
        self._rows = 0
        self._next_byte = 0
        self._cache: OrderedDict[int, list[list[str]]] = OrderedDict()
        self._fetching = False
        self._rereading: set[int] = set()

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.header)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.header[section] if section < len(self.header) else None
        return str(section + 1)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole) or not index.isValid():
            return None
        chunk = bisect.bisect_right(self._first_rows, index.row()) - 1
        rows = self._cache.get(chunk)
        if rows is None:
            self._reread(chunk)
            return None
        self._cache.move_to_end(chunk)
        row = rows[index.row() - self._first_rows[chunk]]
        return row[index.column()] if index.column() < len(row) else ""

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        return not parent.isValid() and self._next_byte < self.file.size

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        if self._fetching or not self.canFetchMore(parent):
            return
        self._fetching = True
        start = self._next_byte
        self.runner.submit(lambda: self._read(start), success=self._chunk_arrived, failure=self._failed, owner=self)

    def fetching(self) -> bool:
        """True while a chunk is being read."""
        return self._fetching

    def _read(self, start: int) -> tuple[int, int, list[list[str]]]:
        backend, run_id, path = self.backend, self.run_id, self.file.path
        return read_chunk(
            lambda offset, length: backend.read_file_range(run_id, path, offset, length),
            start,
            self.file.size,
            self.delimiter,
        )

    def _failed(self, exc: BaseException) -> None:
        self._fetching = False
        self.sig_failed.emit(f"Could not read {self.file.path}: {exc}")

    def _chunk_arrived(self, result: tuple[int, int, list[list[str]]]) -> None:
        self._fetching = False
        start, end, rows = result
        if start != self._next_byte:
            return
        self._next_byte = end
        if start == 0 and rows:
            header, rows = rows[0], rows[1:]
            self._set_columns(header, rows)
        elif rows:
            self._set_columns(self.header, rows)
        chunk = len(self._ranges)
        self._first_rows.append(self._rows)
        self._ranges.append((start, end))
        self._remember(chunk, rows)
        if rows:
            self.beginInsertRows(QModelIndex(), self._rows, self._rows + len(rows) - 1)
            self._rows += len(rows)
            self.endInsertRows()
        self.sig_chunk_loaded.emit()

    def _set_columns(self, header: list[str], rows: list[list[str]]) -> None:
        wanted = max([len(header), *(len(r) for r in rows[:1000])])
        names = header + [f"column {i + 1}" for i in range(len(header), wanted)]
        if len(names) > len(self.header):
            self.beginInsertColumns(QModelIndex(), len(self.header), len(names) - 1)
            self.header = names
            self.endInsertColumns()

    def _remember(self, chunk: int, rows: list[list[str]]) -> None:
        self._cache[chunk] = rows
        self._cache.move_to_end(chunk)
        while len(self._cache) > CACHED_CHUNKS:
            self._cache.popitem(last=False)

    def _reread(self, chunk: int) -> None:
        if chunk in self._rereading:
            return
        self._rereading.add(chunk)
        start, _end = self._ranges[chunk]

        def done(result: tuple[int, int, list[list[str]]]) -> None:
            self._rereading.discard(chunk)
            rows = result[2][1:] if start == 0 else result[2]
            self._remember(chunk, rows)
            first = self._first_rows[chunk]
            last = first + len(rows) - 1
            self.dataChanged.emit(self.index(first, 0), self.index(last, max(0, len(self.header) - 1)))
            self.sig_chunk_loaded.emit()

        self.runner.submit(lambda: self._read(start), success=done, failure=self._failed, owner=self)
