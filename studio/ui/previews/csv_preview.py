"""CSV/TSV as a lazy table of any length: rows are indexed in the background (see CsvModel)."""

from __future__ import annotations

from PySide6.QtWidgets import QHeaderView, QTableView, QVBoxLayout, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import FileInfo
from studio.ui.background.tasks import TaskRunner
from studio.ui.previews.base import FilePreview, human_size, note_label
from studio.ui.previews.csv_model import CsvModel


class CsvPreview(FilePreview):
    """A lazy table of a CSV file (objectName ``csvTable`` for the view); the note counts its rows."""

    def __init__(
        self,
        backend: WorkspaceBackend,
        runner: TaskRunner,
        run_id: str,
        file: FileInfo,
        delimiter: str = ",",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(backend, runner, run_id, file, parent)
        self.setObjectName("csvPreview")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.note = note_label(f"{file.path} · {human_size(file.size)}", self)
        layout.addWidget(self.note)
        self.model = CsvModel(backend, runner, run_id, file, delimiter, self)
        self.table = QTableView(self)
        self.table.setObjectName("csvTable")
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        vertical = self.table.verticalHeader()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.horizontalHeader().setDefaultSectionSize(120)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self.table.verticalScrollBar().valueChanged.connect(self._view_moved)
        self.table.verticalScrollBar().rangeChanged.connect(self._view_moved)
        self.model.sig_first_rows.connect(self.sig_loaded)
        self.model.sig_indexed.connect(self._update_note)
        self.model.sig_problem.connect(self._update_note)
        self.model.sig_failed.connect(self._failed)

    def start(self) -> None:
        """Index the file in the background (the first rows show as soon as they are found)."""
        self.model.start()

    def stop(self) -> None:
        """Stop indexing and reading."""
        self.model.stop()

    def set_size(self, size: int) -> None:
        """The file grew (a running run appends rows): index the new part."""
        super().set_size(size)
        self.model.set_size(size)
        self._update_note()

    def _view_moved(self, *_: object) -> None:
        """Tell the model which rows are in view (it keeps their blocks)."""
        first = self.table.rowAt(0)
        last = self.table.rowAt(self.table.viewport().height() - 1)
        if first < 0:
            self.model.set_view(0, -1)  # not laid out yet
        else:  # no row at the bottom edge: the rows end above it
            self.model.set_view(first, last if last >= 0 else self.model.rowCount() - 1)

    def _update_note(self, *_: object) -> None:
        if self.error:
            return
        model = self.model
        rows = f"{model.rowCount():,} row{'s' if model.rowCount() != 1 else ''}"
        if not model.fully_indexed():
            done = min(100, 100 * model.indexed_bytes() // max(1, self.file.size))
            rows += f" so far (counting: {done} %)"
        parts = [self.file.path, human_size(self.file.size), rows, *model.problems]
        self.note.setText(" · ".join(parts))

    def _failed(self, message: str) -> None:
        self.error = message
        self.note.setText(message)
        self.note.show()
        self.sig_failed.emit(message)
