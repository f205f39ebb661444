"""The controls above the runs table: filter box, Columns…, Compare, new-runs notice, run count, the kind's
note on the query, and the error lines."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPalette, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QSizePolicy, QVBoxLayout, QWidget

ERROR_STYLE = "color: #d9363e"


class TableBar(QWidget):
    """Widgets only: the tab connects them (objectNames ``runsTableFilter``, ``runsTableFilterError``, …)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runsTableBar")
        self.filter_box = QLineEdit(self)
        self.filter_box.setObjectName("runsTableFilter")
        self.filter_box.setPlaceholderText("Filter: name, status:Failed, metrics.acc > 0.9 …")
        self.filter_box.setToolTip(
            "Quick words first (a name or id, status:Failed, tag:lr=0.01), then MLflow's syntax:\n"
            "metrics.acc > 0.9 and params.lr = '0.01' and tags.`my tag` LIKE 'a%'\n"
            "Applied as you type, or at once with Enter."
        )
        self.filter_box.setMinimumWidth(220)
        self.filter_box.setClearButtonEnabled(True)
        self.columns_button = QPushButton("Columns…", self)
        self.columns_button.setObjectName("runsTableColumns")
        self.compare_button = QPushButton("Compare", self)
        self.compare_button.setObjectName("runsTableCompare")
        self.compare_button.setEnabled(False)
        self.compare_button.setToolTip("Select two or more runs to compare them")
        self.submit_button = QPushButton("Submit script…", self)
        self.submit_button.setObjectName("runsTableSubmit")
        self.submit_button.setToolTip("Submit a script to a compute of this workspace, as a run of this experiment")
        self.submit_button.hide()  # shown by the window where the workspace can run scripts
        self.count_label = QLabel(self)
        self.count_label.setObjectName("runsTableCount")
        self.new_runs_button = QPushButton(self)
        self.new_runs_button.setObjectName("runsTableNewRuns")
        self.new_runs_button.setFlat(True)
        self.new_runs_button.hide()
        self.query_note = NoteLine(self)
        self.query_note.setObjectName("runsTableQueryNote")
        self.filter_error = self._error_line("runsTableFilterError")
        self.load_error = self._error_line("runsTableLoadError")
        self.load_error.setTextFormat(Qt.TextFormat.RichText)  # with a Retry link
        row = QHBoxLayout()
        row.addWidget(self.filter_box, 1)
        row.addWidget(self.columns_button)
        row.addWidget(self.compare_button)
        row.addWidget(self.submit_button)
        row.addWidget(self.new_runs_button)
        row.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.query_note)
        layout.addWidget(self.filter_error)
        layout.addWidget(self.load_error)

    def set_query_note(self, note: str) -> None:
        """Show what part of the query the kind answered on this computer (``RunPage.note``); hidden when empty."""
        self.query_note.set_full_text(note)
        self.query_note.setVisible(bool(note))

    def _error_line(self, name: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setStyleSheet(ERROR_STYLE)
        label.setWordWrap(True)
        label.hide()
        return label


class NoteLine(QLabel):
    """A small one-line note in the placeholder colour, elided to its width; the whole sentence is its tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the tab
        self.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.setFont(font)
        self.hide()

    def set_full_text(self, text: str) -> None:
        """Show ``text``, elided at the right if it does not fit (all of it in the tooltip)."""
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        """The sentence before eliding."""
        return self._full

    def sizeHint(self) -> QSize:
        """One line high."""
        return QSize(super().sizeHint().width(), self.fontMetrics().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Elide again for the new width."""
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(self.width(), 40)))
