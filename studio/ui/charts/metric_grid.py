"""The scrollable grid of the Metrics tab: chart panels (one metric or several combined) and tables."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QGridLayout, QScrollArea, QWidget

from studio.core.types import MetricKind
from studio.ui.charts.metric_chart import MetricChart
from studio.ui.charts.metric_panels import ChartPanel, RecordsPanel

TWO_COLUMNS_WIDTH = 900
"""From this viewport width on, the grid has two columns."""


class MetricGrid(QScrollArea):
    """Lays out one box per shown metric (or group of metrics) in one or two columns."""

    sig_panel_added = Signal(object)
    """A chart panel was created (the ChartPanel): connect its export signals, apply the display options."""

    def __init__(self, is_checked: Callable[[str], bool], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metricsGridArea")
        self.is_checked = is_checked
        self.host = QWidget(self)
        self.host.setObjectName("metricsGrid")
        self.grid = QGridLayout(self.host)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.setWidgetResizable(True)
        self.setWidget(self.host)
        self.viewport().installEventFilter(self)
        self.panels: list[ChartPanel] = []  # numeric charts, in grid order
        self.records: dict[str, RecordsPanel] = {}
        self._columns = 0

    def add_chart(self, name: str, hidden: bool) -> ChartPanel:
        """A chart panel for a new numeric metric, at the end."""
        panel = self._new_panel([name], len(self.panels))
        panel.setHidden(hidden)
        return panel

    def add_records(self, name: str, kind: MetricKind) -> RecordsPanel:
        """A table (and chart, for lists) for a new string or list metric."""
        panel = RecordsPanel(name, kind, self.host)
        self.records[name] = panel
        return panel

    def chart_of(self, name: str) -> MetricChart | None:
        """The chart that shows a metric (its own, a combined one, or a list metric's)."""
        panel = self.panel_of(name)
        if panel is not None:
            return panel.chart
        return self.records[name].chart if name in self.records else None

    def panel_of(self, name: str) -> ChartPanel | None:
        """The chart panel that holds a numeric metric."""
        return next((p for p in self.panels if name in p.names), None)

    def combine(self, names: list[str]) -> ChartPanel | None:
        """Put these numeric metrics on one chart (a line each); returns the new panel."""
        names = [n for n in names if self.panel_of(n) is not None]
        if len(names) < 2:
            return None
        old = [p for p in self.panels if set(p.names) & set(names)]
        names = [n for p in old for n in p.names]  # a combined chart joins whole
        data = {n: p.chart.series(n) for p in old for n in p.names if n in p.chart}
        at = self.panels.index(old[0])
        for p in old:
            self._drop(p)
        panel = self._new_panel(names, at)
        for n, s in data.items():
            panel.chart.set_series(n, n, s.steps, s.values, s.times)
            panel.chart.set_visible(n, self.is_checked(n))
        panel.setHidden(not any(self.is_checked(n) for n in names))
        self.relayout()
        return panel

    def split(self, names: list[str]) -> None:
        """Give each of these metrics (and the others on their combined charts) a chart of its own."""
        for panel in [p for p in self.panels if len(p.names) > 1 and set(p.names) & set(names)]:
            at = self.panels.index(panel)
            data = {n: panel.chart.series(n) for n in panel.chart.line_keys()}
            self._drop(panel)
            for offset, n in enumerate(panel.names):
                single = self._new_panel([n], at + offset)
                single.setHidden(not self.is_checked(n))
                if n in data:
                    s = data[n]
                    single.chart.set_series(n, n, s.steps, s.values, s.times)
        self.relayout()

    def set_shown(self, name: str, shown: bool) -> None:
        """Show or hide a metric (its line on a combined chart, else its box)."""
        panel = self.panel_of(name)
        if panel is not None:
            if len(panel.names) > 1 and name in panel.chart:
                panel.chart.set_visible(name, shown)
            panel.setHidden(not any(self.is_checked(n) for n in panel.names))
        elif name in self.records:
            self.records[name].setHidden(not shown)
        self.relayout()

    def relayout(self) -> None:
        """Place the shown boxes, one or two columns depending on the width."""
        boxes: list[QWidget] = [*self.panels, *self.records.values()]
        for box in boxes:
            self.grid.removeWidget(box)
        self._columns = 2 if self.viewport().width() >= TWO_COLUMNS_WIDTH else 1
        for i, box in enumerate(b for b in boxes if not b.isHidden()):
            self.grid.addWidget(box, i // self._columns, i % self._columns)
        for c in range(2):
            self.grid.setColumnStretch(c, 1 if c < self._columns else 0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Switch between one and two columns as the viewport's width crosses the threshold."""
        if event.type() == QEvent.Type.Resize and watched is self.viewport():
            columns = 2 if self.viewport().width() >= TWO_COLUMNS_WIDTH else 1
            if columns != self._columns:
                self.relayout()
        return super().eventFilter(watched, event)

    def _new_panel(self, names: list[str], at: int) -> ChartPanel:
        panel = ChartPanel(names, self.host)
        panel.sig_split.connect(lambda p: self.split(p.names))
        self.panels.insert(at, panel)
        self.sig_panel_added.emit(panel)
        return panel

    def _drop(self, panel: ChartPanel) -> None:
        self.panels.remove(panel)
        self.grid.removeWidget(panel)
        panel.hide()
        panel.deleteLater()
