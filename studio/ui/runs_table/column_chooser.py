"""The "Columns…" popup: every metric, param, tag and property name of the experiment, checkable, with a search box.

The names and their run counts come from ``list_run_keys``, fetched by the tab in the background;
until they arrive the popup says so. Ticking a name emits ``sig_toggled`` at once (the column
appears while the popup stays open, so several can be picked in a row).
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from studio.core.search import Key, key_text
from studio.core.types import RunKeys
from studio.ui.runs_table.columns import CHOOSABLE_KINDS

KEY_ROLE = Qt.ItemDataRole.UserRole + 1
_TITLES = {"metrics": "Metrics", "params": "Parameters", "tags": "Tags", "properties": "Properties"}


class ColumnChooser(QFrame):
    """A popup list of checkable column names (objectName ``runsTableColumnChooser``)."""

    sig_toggled = Signal(object, bool)
    """A name was ticked (True) or unticked (False): (Key, shown)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("runsTableColumnChooser")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.search = QLineEdit(self)
        self.search.setObjectName("runsTableColumnSearch")
        self.search.setPlaceholderText("Search names")
        self.search.setClearButtonEnabled(True)
        self.note = QLabel("Loading names…", self)
        self.note.setObjectName("runsTableColumnNote")
        self.note.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.setObjectName("runsTableColumnList")
        self.list.setUniformItemSizes(True)
        # Fusion draws an unticked box of an item view without a frame on the dark palette: give it one.
        self.list.setStyleSheet(
            "QListView::indicator:unchecked { border: 1px solid palette(mid); border-radius: 2px;"
            " background: palette(base); width: 12px; height: 12px; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.search)
        layout.addWidget(self.note)
        layout.addWidget(self.list)
        self.resize(340, 420)
        self._chosen: set[Key] = set()
        self._filling = False
        self.search.textChanged.connect(self._filter)
        self.list.itemChanged.connect(self._changed)

    def set_keys(self, keys: RunKeys) -> None:
        """Show these names (grouped by kind, each with how many runs have it)."""
        self._filling = True
        self.list.clear()
        bold = QFont()
        bold.setBold(True)
        total = 0
        for kind in CHOOSABLE_KINDS:
            names: dict[str, int] = getattr(keys, kind)
            if not names:
                continue
            title = QListWidgetItem(_TITLES[kind])
            title.setFlags(Qt.ItemFlag.NoItemFlags)
            title.setFont(bold)
            self.list.addItem(title)
            for name, count in names.items():
                key = Key(kind, name)
                item = QListWidgetItem(f"{name}    {count:,} run{'' if count == 1 else 's'}")
                item.setData(KEY_ROLE, key)
                item.setToolTip(key_text(key))
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if key in self._chosen else Qt.CheckState.Unchecked)
                self.list.addItem(item)
                total += 1
        self._filling = False
        self.note.setText("" if total else "These runs have no metrics, parameters, tags or properties yet.")
        self.note.setVisible(not total)
        self._filter(self.search.text())
        self._fit()

    def _fit(self) -> None:
        """As tall as its names need, up to a screenful's worth."""
        rows = max(4, min(self.list.count(), 18))
        list_height = rows * max(self.list.sizeHintForRow(0), 1) + 2 * self.list.frameWidth() + 4
        self.list.setFixedHeight(list_height)
        self.adjustSize()
        self.resize(max(self.width(), 340), self.sizeHint().height())

    def set_failed(self, message: str) -> None:
        """Say that the names could not be listed."""
        self.note.setText(f"Could not list the names: {message}")
        self.note.show()

    def set_chosen(self, keys: list[Key]) -> None:
        """Tick these names (and untick the others) without emitting."""
        self._chosen = set(keys)
        self._filling = True
        for row in range(self.list.count()):
            item = self.list.item(row)
            key = item.data(KEY_ROLE)
            if isinstance(key, Key):
                item.setCheckState(Qt.CheckState.Checked if key in self._chosen else Qt.CheckState.Unchecked)
        self._filling = False

    def item_for(self, key: Key) -> QListWidgetItem | None:
        """The list item of a name (tests and keyboard users pick it by key)."""
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(KEY_ROLE) == key:
                return item
        return None

    def show_below(self, widget: QWidget) -> None:
        """Pop up under a widget (the "Columns…" button), with the cursor in the search box."""
        self.move(widget.mapToGlobal(QPoint(0, widget.height())))
        self.show()
        self.search.setFocus()

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        title: QListWidgetItem | None = None
        any_shown = False
        for row in range(self.list.count()):
            item = self.list.item(row)
            key = item.data(KEY_ROLE)
            if not isinstance(key, Key):
                if title is not None:
                    title.setHidden(not any_shown)
                title, any_shown = item, False
                continue
            hidden = bool(needle) and needle not in key_text(key).lower()
            item.setHidden(hidden)
            any_shown = any_shown or not hidden
        if title is not None:
            title.setHidden(not any_shown)

    def _changed(self, item: QListWidgetItem) -> None:
        key = item.data(KEY_ROLE)
        if self._filling or not isinstance(key, Key):
            return
        shown = item.checkState() == Qt.CheckState.Checked
        if shown:
            self._chosen.add(key)
        else:
            self._chosen.discard(key)
        self.sig_toggled.emit(key, shown)
