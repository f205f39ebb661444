"""JSON as a tree whose nodes are built when expanded (files up to JSON_MAX_BYTES; larger ones show as text)."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from studio.core.backend import WorkspaceBackend
from studio.core.types import FileInfo
from studio.ui.background.tasks import TaskRunner
from studio.ui.previews.base import FilePreview, human_size, note_label
from studio.ui.previews.text_preview import TextPreview

JSON_MAX_BYTES = 50 * 1024 * 1024
CHILDREN_SHOWN = 1000
"""Children listed per node; the rest are summarised in one row."""
_VALUE = Qt.ItemDataRole.UserRole


def summary(value: Any) -> str:
    """How a value shows in the Value column."""
    if isinstance(value, dict):
        return f"{{{len(value)} keys}}"
    if isinstance(value, list):
        return f"[{len(value)} items]"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 500 else text[:499] + "…"


def read_json(backend: WorkspaceBackend, run_id: str, path: str, size: int) -> Any:
    """Read and parse a whole JSON file (worker thread)."""
    return json.loads(backend.read_file_range(run_id, path, 0, size + 1))


class JsonPreview(FilePreview):
    """A tree of keys and values (objectName ``jsonTree``); falls back to text if the file is not JSON."""

    def __init__(
        self, backend: WorkspaceBackend, runner: TaskRunner, run_id: str, file: FileInfo, parent: QWidget | None = None
    ) -> None:
        super().__init__(backend, runner, run_id, file, parent)
        self.setObjectName("jsonPreview")
        self.text_preview: TextPreview | None = None
        # Values of nodes not expanded yet, by the index in their item.
        self._unexpanded: list[Any] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.note = note_label(f"{file.path} · {human_size(file.size)}", self)
        self._layout.addWidget(self.note)
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("jsonTree")
        self.tree.setHeaderLabels(["Key", "Value"])
        self.tree.setColumnWidth(0, 220)
        self.tree.setUniformRowHeights(True)
        self.tree.itemExpanded.connect(self._expand)
        self._layout.addWidget(self.tree, 1)

    def start(self) -> None:
        """Parse the file in the background (or show it as text if it is too large)."""
        if self.file.size > JSON_MAX_BYTES:
            self._as_text(f"larger than {human_size(JSON_MAX_BYTES)}; showing text")
            return
        self.runner.submit(
            read_json, self.backend, self.run_id, self.file.path, self.file.size,
            success=self._parsed, failure=self._not_json, owner=self,
        )  # fmt: skip

    def _not_json(self, exc: BaseException) -> None:
        if isinstance(exc, ValueError):
            self._as_text(f"not valid JSON ({exc}); showing text")
        else:
            self.show_error(exc)
            self.note.setText(self.error)

    def _as_text(self, why: str) -> None:
        self.tree.hide()
        self.note.setText(f"{self.file.path} · {human_size(self.file.size)} · {why}")
        self.text_preview = TextPreview(self.backend, self.runner, self.run_id, self.file, "json", parent=self)
        self.text_preview.note.hide()
        self.text_preview.sig_loaded.connect(self.sig_loaded)
        self._layout.addWidget(self.text_preview, 1)
        self.text_preview.start()

    def _parsed(self, value: Any) -> None:
        root = self.tree.invisibleRootItem()
        if isinstance(value, (dict, list)):
            self._add_children(root, value)
        else:
            self._add(root, "(value)", value)
        self.sig_loaded.emit()

    def _add(self, parent: QTreeWidgetItem, key: str, value: Any) -> QTreeWidgetItem:
        item = QTreeWidgetItem(parent, [key, summary(value)])
        if isinstance(value, (dict, list)) and value:
            self._unexpanded.append(value)
            item.setData(0, _VALUE, len(self._unexpanded) - 1)
            item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
        return item

    def _add_children(self, parent: QTreeWidgetItem, value: dict[str, Any] | list[Any]) -> None:
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for n, (key, child) in enumerate(pairs):
            if n == CHILDREN_SHOWN:
                QTreeWidgetItem(parent, ["…", f"{len(value) - CHILDREN_SHOWN:,} more not shown"])
                break
            self._add(parent, str(key), child)

    def _expand(self, item: QTreeWidgetItem) -> None:
        key = item.data(0, _VALUE)
        if key is not None and item.childCount() == 0:
            value, self._unexpanded[key] = self._unexpanded[key], None
            item.setData(0, _VALUE, None)
            self._add_children(item, value)
