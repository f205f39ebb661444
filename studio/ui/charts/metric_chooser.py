"""The metric chooser of the Metrics tab: a checkable list (show/hide), Combine and Split."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.types import MetricInfo, MetricKind

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
KIND_ROLE = Qt.ItemDataRole.UserRole + 2


class MetricChooser(QWidget):
    """Lists a run's metrics; checking shows a metric, Combine puts the selected numeric ones on one chart."""

    sig_visibility_changed = Signal(str, bool)
    """A metric was checked (True) or unchecked (False)."""
    sig_combine = Signal(list)
    """Put these numeric metrics on one chart."""
    sig_split = Signal(list)
    """Give these metrics a chart each again."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metricChooser")
        self.filter = QLineEdit(self)
        self.filter.setObjectName("metricFilter")
        self.filter.setPlaceholderText("Filter metrics")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter)
        self.list = QListWidget(self)
        self.list.setObjectName("metricList")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.itemChanged.connect(self._item_changed)
        self.combine_button = QPushButton("Combine", self)
        self.combine_button.setObjectName("combineMetrics")
        self.combine_button.setToolTip("Put the selected numeric metrics on one chart")
        self.combine_button.clicked.connect(lambda: self.sig_combine.emit(self.selected_numeric()))
        self.split_button = QPushButton("Split", self)
        self.split_button.setObjectName("splitMetrics")
        self.split_button.setToolTip("Give the selected metrics a chart each")
        self.split_button.clicked.connect(lambda: self.sig_split.emit(self.selected_numeric()))
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.combine_button)
        buttons.addWidget(self.split_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)

    def add_metric(self, info: MetricInfo, checked: bool = True) -> None:
        """Add a metric (in order of arrival)."""
        suffix = "" if info.kind is MetricKind.SCALAR else f"  ({info.kind.value})"
        item = QListWidgetItem(info.name + suffix)
        item.setData(NAME_ROLE, info.name)
        item.setData(KIND_ROLE, info.kind.value)
        item.setToolTip(info.description or info.name)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.list.blockSignals(True)
        self.list.addItem(item)
        self.list.blockSignals(False)
        item.setHidden(not self._matches(item))

    def names(self) -> list[str]:
        """Every metric listed, in order."""
        return [self.list.item(i).data(NAME_ROLE) for i in range(self.list.count())]

    def is_checked(self, name: str) -> bool:
        """Whether a metric is shown."""
        item = self._item(name)
        return item is not None and item.checkState() == Qt.CheckState.Checked

    def set_checked(self, name: str, checked: bool) -> None:
        """Show or hide a metric (emits sig_visibility_changed when it changes)."""
        item = self._item(name)
        if item is not None:
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def select(self, names: list[str]) -> None:
        """Select exactly these metrics."""
        self.list.clearSelection()
        for name in names:
            item = self._item(name)
            if item is not None:
                item.setSelected(True)

    def selected_numeric(self) -> list[str]:
        """Selected numeric metrics, in list order."""
        return [
            item.data(NAME_ROLE)
            for item in (self.list.item(i) for i in range(self.list.count()))
            if item.isSelected() and item.data(KIND_ROLE) == MetricKind.SCALAR.value
        ]

    def _item(self, name: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(NAME_ROLE) == name:
                return item
        return None

    def _item_changed(self, item: QListWidgetItem) -> None:
        self.sig_visibility_changed.emit(item.data(NAME_ROLE), item.checkState() == Qt.CheckState.Checked)

    def _matches(self, item: QListWidgetItem) -> bool:
        return self.filter.text().lower() in str(item.data(NAME_ROLE)).lower()

    def _filter(self) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setHidden(not self._matches(item))
