"""Editing a run's display name, description and tags."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QPlainTextEdit, QWidget

from studio.core.types import RunInfo


def parse_tags(text: str) -> dict[str, str]:
    """``key=value`` (or a bare ``key``) per line; ValueError names a bad line."""
    tags: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if not key:
            raise ValueError(f"line {number}: a tag needs a name before '='")
        tags[key] = value.strip()
    return tags


class EditRunDialog(QDialog):
    """Fields for the editable parts of a run; ``values()`` returns them once accepted."""

    def __init__(self, run: RunInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("editRunDialog")
        self.setWindowTitle(f"Edit {run.display_name or run.id}")
        form = QFormLayout(self)
        self.name = QLineEdit(run.display_name, self)
        self.name.setObjectName("editDisplayName")
        self.description = QPlainTextEdit(run.description, self)
        self.description.setObjectName("editDescription")
        self.description.setMaximumHeight(90)
        self.tags = QPlainTextEdit("\n".join(f"{k}={v}" if v else k for k, v in run.tags.items()), self)
        self.tags.setObjectName("editTags")
        self.tags.setPlaceholderText("one per line: key=value")
        self.error = QLabel(self)
        self.error.setStyleSheet("color: #d9363e")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow("Display name:", self.name)
        form.addRow("Description:", self.description)
        form.addRow("Tags:", self.tags)
        form.addRow(self.error)
        form.addRow(buttons)
        self.result_values: tuple[str, str, dict[str, str]] | None = None

    def _accept(self) -> None:
        try:
            tags = parse_tags(self.tags.toPlainText())
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        self.result_values = (self.name.text().strip(), self.description.toPlainText(), tags)
        self.accept()
