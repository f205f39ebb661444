"""A lazy table model of a CSV/TSV file of any size: memory stays flat however far you scroll.

A background indexer (:class:`~studio.ui.previews.csv_index.CsvIndexer`, one long task) scans
the file once and hands over where each block of up to 1,024 rows starts; the row count grows
in batches as it goes. The model keeps only those block starts plus a small LRU cache of
parsed blocks; a row whose block is not cached shows ``…`` and its block is read and parsed
on a worker thread (newest request first, two at a time). The GUI thread does no I/O.
A file that grows (a running run's CSV) is indexed on from where the scan stopped.
"""

from __future__ import annotations

import bisect
import threading
from array import array
from collections import OrderedDict, deque
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from studio.core.backend import WorkspaceBackend
from studio.core.errors import CancelledError
from studio.core.types import FileInfo
from studio.ui.background.tasks import Task, TaskRunner, TaskState
from studio.ui.previews.csv_index import MAX_RECORD_BYTES, Block, CsvIndexer, IndexBatch, parse_block

LOADING = "…"
"""What a cell shows until its block is read."""
CACHE_BLOCKS = 16
CACHE_BYTES = 2 * 1024 * 1024
"""Parsed blocks kept: at most this many, and (beyond two) at most this much of the file."""
MAX_READS = 2
"""Block reads in flight at once."""
MAX_WANTED = 8
"""Blocks waiting to be read (the newest requests win: the rows in view)."""
SHOWN_CHARS, TIP_CHARS, HEADER_CHARS = 1000, 4000, 200
"""A cell's text is cut to this many characters in the table / its tooltip; a column name to the last."""
MAX_COLUMNS = 1000
"""More columns than this are not shown (a file that is not really a table)."""
Index = QModelIndex | QPersistentModelIndex


def read_block(
    backend: WorkspaceBackend, run_id: str, path: str, start: int, end: int, rows: int, delimiter: str
) -> Block:
    """Read and parse the bytes ``[start, end)`` of a CSV file, ``rows`` rows (worker thread)."""
    return parse_block(backend.read_file_range(run_id, path, start, end - start), rows, delimiter)


class CsvModel(QAbstractTableModel):
    """Rows of a CSV file, its first record being the header (``header``)."""

    sig_first_rows = Signal()
    """The first block of rows is in (or the file turned out to have no rows)."""
    sig_indexed = Signal()
    """The indexer handed over more rows (or finished): the row count or status changed."""
    sig_problem = Signal(str)
    """A readable note about the file's content (bad UTF-8, odd quoting, a record cut)."""
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
        self.problems: list[str] = []
        self._problem_kinds: set[str] = set()
        self._indexer = CsvIndexer(delimiter)
        self._starts = array("q")
        self._first_rows = array("q")
        self._end = 0
        self._open_last = False
        self._rows = 0
        self._columns = 0
        self._cache: OrderedDict[int, Block] = OrderedDict()
        self._cached_bytes = 0
        self._reading: dict[int, tuple[int, int, int]] = {}
        self._wanted: list[int] = []
        self._inbox: deque[IndexBatch] = deque()
        self._index_task: Task | None = None
        self._scan_again = False
        self._generation = 0
        self._first_shown = False
        self._stopped = False
        self._view = (0, -1)

    # -- Qt model ------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._columns

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            name = self.header[section] if section < len(self.header) else f"column {section + 1}"
            return name if len(name) <= HEADER_CHARS else name[:HEADER_CHARS] + "…"
        return str(section + 1)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        tip = role == Qt.ItemDataRole.ToolTipRole
        if not (tip or role == Qt.ItemDataRole.DisplayRole) or not index.isValid():
            return None
        row = index.row()
        block_no = bisect.bisect_right(self._first_rows, row) - 1
        block = self._cache.get(block_no)
        if block is None:
            self._want(block_no)
            return None if tip else LOADING
        self._cache.move_to_end(block_no)
        cells = block.row(row - self._first_rows[block_no])
        text = cells[index.column()] if index.column() < len(cells) else ""
        limit = TIP_CHARS if tip else SHOWN_CHARS
        return text if len(text) <= limit else text[:limit] + "…"

    # -- public --------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin indexing the file in the background."""
        self._scan()

    def stop(self) -> None:
        """Stop background work (the preview is closing)."""
        self._stopped = True
        if self._index_task is not None:
            self._index_task.cancel()

    def set_size(self, size: int) -> None:
        """The file's size changed: index what was appended (or start over if it shrank)."""
        grew, shrank = size > self.file.size, size < self.file.size
        self.file = FileInfo(self.file.path, size, self.file.modified_at)
        if shrank:
            self._reset()
        elif grew:
            self._scan()

    def fully_indexed(self) -> bool:
        """True once the whole file (as far as it was written) is indexed."""
        return self._index_task is None and self._indexer.at_eof and not self._inbox and not self._scan_again

    def indexed_bytes(self) -> int:
        """How much of the file the indexer has scanned."""
        return self._end

    def row_loaded(self, row: int) -> bool:
        """True if row ``row`` shows its cells (its block is parsed); else asks for it."""
        if not 0 <= row < self._rows:
            return False
        block_no = bisect.bisect_right(self._first_rows, row) - 1
        if block_no in self._cache:
            return True
        self._want(block_no)
        return False

    def row_values(self, row: int) -> list[str] | None:
        """The cells of a row if its block is parsed (None: not yet; it is then asked for)."""
        if not self.row_loaded(row):
            return None
        block_no = bisect.bisect_right(self._first_rows, row) - 1
        return self._cache[block_no].row(row - self._first_rows[block_no])

    def set_view(self, first: int, last: int) -> None:
        """Rows ``first``..``last`` are in view: their blocks stay cached."""
        self._view = (first, last)

    def cached_rows(self) -> int:
        """Rows held parsed in memory now (bounded, however far the view scrolled)."""
        return sum(block.rows for block in self._cache.values())

    # -- indexing ------------------------------------------------------------------------------

    def _scan(self) -> None:
        if self._stopped:
            return
        if self._index_task is not None:
            self._scan_again = True
            return
        indexer, backend, run_id, path = self._indexer, self.backend, self.run_id, self.file.path
        inbox = self._inbox
        generation = self._generation
        connected = threading.Event()

        def work(state: TaskState) -> None:
            # A batch published before the GUI listens would lie unseen until the next.
            connected.wait(5)

            def publish(batch: IndexBatch) -> None:
                inbox.append(batch)
                state.set_progress(batch.end, 0)

            def cancelled() -> bool:
                return state.cancelled

            indexer.scan(
                lambda offset, length: backend.read_file_range(run_id, path, offset, length), publish, cancelled
            )
            if state.cancelled:
                raise CancelledError("stopped")

        task = self.runner.submit(
            work,
            success=lambda _: self._scan_ended(generation),
            failure=lambda exc: self._scan_failed(generation, exc),
            with_state=True,
            owner=self,
        )
        task.sig_progress.connect(self._drain)
        connected.set()
        self._index_task = task
        token = task.cancel_token
        self.destroyed.connect(lambda *_: token.cancel())

    def _scan_ended(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._index_task = None
        self._drain()
        if not self._first_shown and not self._rows:
            self._first_rows_shown()  # an empty file, or a header only
        if self._scan_again:
            self._scan_again = False
            self._scan()
        self.sig_indexed.emit()

    def _scan_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._index_task = None
        self._inbox.clear()
        self.sig_failed.emit(f"Could not read {self.file.path}: {exc}")

    def _drain(self, *_: object) -> None:
        """Apply the indexer's batches (GUI thread)."""
        if not self._inbox:
            return
        while self._inbox:
            self._apply(self._inbox.popleft())
        if not self._first_shown and self._rows:
            self._want(0)  # before the view asks: the first screen comes sooner
        self.sig_indexed.emit()

    def _apply(self, batch: IndexBatch) -> None:
        if batch.header is not None:
            self.header = batch.header
            self._widen(len(batch.header))
            if self._columns:
                self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, self._columns - 1)
        if batch.cut_records:
            self._problem("cut", f"A record longer than {MAX_RECORD_BYTES >> 20} MiB was cut: this is not regular CSV.")
        old_rows, replaced = self._rows, -1
        old_key: tuple[int, int, int] | None = None
        old_first = 0
        if self._open_last and self._starts:  # the batch brings the open block again
            replaced = len(self._starts) - 1
            old_key = (self._starts[replaced], self._block_end(replaced), self._block_rows(replaced))
            old_first = self._first_rows[replaced]
            self._starts.pop()
            self._first_rows.pop()
        self._starts.extend(batch.starts)
        self._first_rows.extend(batch.first_rows)
        self._end, self._open_last = batch.end, batch.open_last
        if batch.rows > old_rows:
            self.beginInsertRows(QModelIndex(), old_rows, batch.rows - 1)
            self._rows = batch.rows
            self.endInsertRows()
        if old_key is not None:
            same = replaced < len(self._starts) and old_key == (
                self._starts[replaced],
                self._block_end(replaced),
                self._block_rows(replaced),
            )
            if not same:
                self._forget(replaced)
                if old_first < old_rows and self._columns:
                    self.dataChanged.emit(self.index(old_first, 0), self.index(old_rows - 1, self._columns - 1))

    def _reset(self) -> None:
        """Start over (the file was replaced or truncated)."""
        if self._index_task is not None:
            self._index_task.cancel()
        self._index_task = None
        self._generation += 1
        self.beginResetModel()
        self._indexer = CsvIndexer(self.delimiter)
        self._starts, self._first_rows = array("q"), array("q")
        self._end, self._open_last, self._rows, self._columns = 0, False, 0, 0
        self.header, self._scan_again = [], False
        self.problems, self._problem_kinds = [], set()
        self._cache.clear()
        self._cached_bytes = 0
        self._reading.clear()
        self._wanted.clear()
        self._inbox = deque()
        self.endResetModel()
        self._scan()

    # -- blocks --------------------------------------------------------------------------------

    def _block_end(self, block_no: int) -> int:
        return self._starts[block_no + 1] if block_no + 1 < len(self._starts) else self._end

    def _block_rows(self, block_no: int) -> int:
        if block_no + 1 < len(self._first_rows):
            return self._first_rows[block_no + 1] - self._first_rows[block_no]
        return self._rows - self._first_rows[block_no]

    def _want(self, block_no: int) -> None:
        if block_no < 0 or block_no >= len(self._starts) or block_no in self._reading:
            return
        if block_no in self._wanted:
            self._wanted.remove(block_no)
        self._wanted.append(block_no)
        del self._wanted[:-MAX_WANTED]
        self._read_next()

    def _read_next(self) -> None:
        while self._wanted and len(self._reading) < MAX_READS and not self._stopped:
            block_no = self._wanted.pop()
            if block_no in self._cache or block_no >= len(self._starts):
                continue
            self._read(block_no)

    def _read(self, block_no: int) -> None:
        start, end, rows = self._starts[block_no], self._block_end(block_no), self._block_rows(block_no)
        key = (start, end, rows)
        self._reading[block_no] = key
        generation = self._generation
        self.runner.submit(
            read_block,
            self.backend,
            self.run_id,
            self.file.path,
            start,
            end,
            rows,
            self.delimiter,
            success=lambda block: self._block_arrived(generation, block_no, key, block),
            failure=lambda exc: self._block_failed(generation, block_no, exc),
            owner=self,
        )

    def _block_failed(self, generation: int, block_no: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._reading.pop(block_no, None)
        self.sig_failed.emit(f"Could not read {self.file.path}: {exc}")

    def _block_arrived(self, generation: int, block_no: int, key: tuple[int, int, int], block: Block) -> None:
        if generation != self._generation:
            return
        self._reading.pop(block_no, None)
        current = block_no < len(self._starts) and key == (
            self._starts[block_no],
            self._block_end(block_no),
            self._block_rows(block_no),
        )
        if current:
            self._remember(block_no, block)
            first = self._first_rows[block_no]
            self._widen(block.width)
            if block.bad_row >= 0:
                self._problem(
                    "utf-8", f"Not valid UTF-8 (row {first + block.bad_row + 1:,}): bad bytes are shown as \ufffd."
                )
            if block.odd_row >= 0:
                self._problem(
                    "quotes",
                    f"Quotes that do not pair up (row {first + block.odd_row + 1:,}): lines are shown joined as one row.",
                )
            if self._columns and block.rows:
                self.dataChanged.emit(self.index(first, 0), self.index(first + block.rows - 1, self._columns - 1))
            if not self._first_shown:
                self._first_rows_shown()
        elif block_no < len(self._starts):
            self._want(block_no)  # the block grew while it was read
        self._read_next()

    def _first_rows_shown(self) -> None:
        self._first_shown = True
        self.sig_first_rows.emit()

    def _remember(self, block_no: int, block: Block) -> None:
        """Cache a block; drop the least recently used ones beyond the budget, but not those in view."""
        self._forget(block_no)
        self._cache[block_no] = block
        self._cached_bytes += block.nbytes
        first, last = self._view
        keep = range(self._block_of(first), self._block_of(last) + 1) if last >= first else range(0)
        while len(self._cache) > CACHE_BLOCKS or (len(self._cache) > 2 and self._cached_bytes > CACHE_BYTES):
            victim = next((b for b in self._cache if b != block_no and b not in keep), None)
            if victim is None:
                # More blocks in view than the budget: keep them, or they would be read again and
                # again.
                break
            self._forget(victim)

    def _block_of(self, row: int) -> int:
        return bisect.bisect_right(self._first_rows, row) - 1

    def _forget(self, block_no: int) -> None:
        old = self._cache.pop(block_no, None)
        if old is not None:
            self._cached_bytes -= old.nbytes

    def _widen(self, columns: int) -> None:
        if columns > MAX_COLUMNS:
            self._problem("columns", f"Only the first {MAX_COLUMNS:,} of {columns:,} columns are shown.")
            columns = MAX_COLUMNS
        if columns > self._columns:
            self.beginInsertColumns(QModelIndex(), self._columns, columns - 1)
            self._columns = columns
            self.endInsertColumns()

    def _problem(self, kind: str, text: str) -> None:
        """Note a problem with the file (once per kind)."""
        if kind not in self._problem_kinds:
            self._problem_kinds.add(kind)
            self.problems.append(text)
            self.sig_problem.emit(text)
