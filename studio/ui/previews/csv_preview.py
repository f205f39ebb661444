"""CSV/TSV as a table that loads rows as you scroll (see CsvModel)."""

from __future__ import annotations

from PySide6.QtWidgets import QHeaderView, QTableView, QVBoxLayout, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import FileInfo
from studio.ui.previews.base import FilePreview, human_size, note_label
from studio.ui.previews.csv_model import CsvModel
from studio.ui.tasks import TaskRunner


class CsvPreview(FilePreview):
    """A lazy table of a CSV file (objectName ``csvTable`` for the view)."""

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
        self.model.sig_chunk_loaded.connect(self._chunk_loaded)
        self.model.sig_failed.connect(self._failed)
        self._first = True

    def start(self) -> None:
        """Read the first chunk."""
        self.model.fetchMore()

    def _chunk_loaded(self) -> None:
        if self._first:
            self._first = False
            self.sig_loaded.emit()

    def _failed(self, message: str) -> None:
        self.error = message
        self.note.setText(message)
        self.note.show()
        self.sig_failed.emit(message)
