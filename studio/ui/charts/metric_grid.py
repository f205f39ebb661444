"""The scrollable grid of the Metrics tab: chart panels (one metric or several combined) and tables.

A chart's pyqtgraph plot costs several milliseconds to make and more to paint, so panels
start with a cheap placeholder of the same size (the scrollbar is right from the start) and
the grid builds the plots of the panels in view, then of those within a screen of it, a
time-boxed batch per event-loop turn (the GUI never stalls on building charts nobody sees).
A chart whose first points are still loading waits for them, so it paints once, with data.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QRect, Qt, QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QScrollArea, QWidget

from studio.core.types import MetricKind
from studio.ui.background.sliced_work import SlicedWork, Turn
from studio.ui.charts.metric_chart import MetricChart
from studio.ui.charts.metric_panels import ChartPanel, RecordsPanel

TWO_COLUMNS_WIDTH = 900
"""From this viewport width on, the grid has two columns."""
BUILD_MARGIN = 1.0
"""Plots are built for the panels in view and those within this many viewport heights of it."""
BUILD_BUDGET_S = 0.012
"""Build plots out of view for about this long per event-loop turn (at least one)."""
PAINT_WAIT_MS = 50
"""After building a plot in view, the next is built once it painted, or after this long."""


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
        self._building = SlicedWork(self._build_some, BUILD_BUDGET_S, self)
        self._awaiting_paint = False
        self._paint_timer = QTimer(self, singleShot=True, interval=PAINT_WAIT_MS)
        self._paint_timer.timeout.connect(self._painted)
        self.verticalScrollBar().valueChanged.connect(self.schedule_build)

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
        data = {n: p.chart.prepared(n) for p in old for n in p.names if n in p.chart}
        loading = [n for p in old for n in p.names if p.chart.is_loading(n)]
        at = self.panels.index(old[0])
        for p in old:
            self._drop(p)
        panel = self._new_panel(names, at)
        # The points and their envelopes move over as they are.
        for n, prepared in data.items():
            panel.chart.set_prepared(n, n, prepared)
            panel.chart.set_visible(n, self.is_checked(n))
        for n in loading:
            panel.chart.set_loading(n, True)
        panel.setHidden(not any(self.is_checked(n) for n in names))
        self.relayout()
        return panel

    def split(self, names: list[str]) -> None:
        """Give each of these metrics (and the others on their combined charts) a chart of its own."""
        for panel in [p for p in self.panels if len(p.names) > 1 and set(p.names) & set(names)]:
            at = self.panels.index(panel)
            data = {n: panel.chart.prepared(n) for n in panel.chart.line_keys()}
            self._drop(panel)
            for offset, n in enumerate(panel.names):
                single = self._new_panel([n], at + offset)
                single.setHidden(not self.is_checked(n))
                if n in data:
                    single.chart.set_prepared(n, n, data[n])
                elif panel.chart.is_loading(n):
                    single.chart.set_loading(n, True)
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
        self.schedule_build()

    # -- building plots as they come into view -------------------------------------------------
    def schedule_build(self) -> None:
        """Build the plots that came into view (or near it), starting on the next event-loop turn."""
        if not self._awaiting_paint:
            self._building.start()

    def _painted(self) -> None:
        if self._awaiting_paint:
            self._awaiting_paint = False
            self._paint_timer.stop()
            self.schedule_build()

    def pending_charts(self, margin: float = BUILD_MARGIN) -> list[MetricChart]:
        """Charts without a plot yet in shown boxes within ``margin`` viewport heights of the view, nearest first.

        Charts still loading their first points are left out (they are built once the points arrive).
        """
        return [chart for chart, _distance in self._pending(margin)]

    def charts_in_view(self) -> list[MetricChart]:
        """The charts of the boxes (partly) in view, top to bottom."""
        return [box.chart for _distance, box in self._boxes_near(0.0) if box.chart is not None]

    def charts_nearest_first(self) -> list[MetricChart]:
        """Every chart: those of shown boxes nearest to the view first, then those of hidden boxes."""
        boxes = [box for _distance, box in self._boxes_near(float("inf"))]
        boxes += [box for box in self._boxes() if box not in boxes]
        return [box.chart for box in boxes if box.chart is not None]

    def names_in_view(self) -> list[str]:
        """The metrics whose boxes are (partly) in view, top to bottom."""
        names: list[str] = []
        for _distance, box in self._boxes_near(0.0):
            names += box.names if isinstance(box, ChartPanel) else [box.name]
        return names

    def _pending(self, margin: float) -> list[tuple[MetricChart, int]]:
        found = []
        for distance, box in self._boxes_near(margin):
            chart = box.chart
            if chart is not None and not chart.built and not chart.loading:
                found.append((chart, distance))
        return found

    def _boxes(self) -> list[ChartPanel | RecordsPanel]:
        return [*self.panels, *self.records.values()]

    def _boxes_near(self, margin: float) -> list[tuple[int, ChartPanel | RecordsPanel]]:
        """Shown boxes within ``margin`` viewport heights of the view and how far (0: in view), nearest first.

        None while the grid is hidden.
        """
        if not self.isVisible():
            return []
        self.grid.activate()  # the boxes' places are up to date
        height = self.viewport().height()
        top = self.verticalScrollBar().value()
        view = QRect(0, top, self.viewport().width(), height)
        reach = margin * height
        found: list[tuple[int, int, ChartPanel | RecordsPanel]] = []
        for box in self._boxes():
            if box.isHidden():
                continue
            area = box.geometry()
            if area.intersects(view):
                distance = 0
            else:
                distance = top - area.bottom() if area.bottom() < top else area.top() - view.bottom()
            if distance <= reach:
                found.append((distance, area.top(), box))
        found.sort(key=lambda f: (f[0], f[1]))
        return [(f[0], f[2]) for f in found]

    def _build_some(self, turn: Turn) -> bool:
        """Build plots, nearest first: one in view per turn (Qt paints it before the next turn), or
        those out of view (not painted yet) for the turn's budget. True: go on next turn."""
        pending = self._pending(BUILD_MARGIN)
        for done, (chart, distance) in enumerate(pending, start=1):
            chart.ensure_built()
            if done == len(pending):
                return False
            if distance == 0:
                # Go on once it has painted: Qt paints a little later than a zero timer fires.
                self._awaiting_paint = True
                chart.sig_first_paint.connect(self._painted, Qt.ConnectionType.SingleShotConnection)
                self._paint_timer.start()  # or if it does not paint soon
                return False
            if turn.over:
                return True
        return False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Switch between one and two columns as the viewport's width crosses the threshold."""
        if watched is self.viewport():
            if event.type() == QEvent.Type.Resize:
                columns = 2 if self.viewport().width() >= TWO_COLUMNS_WIDTH else 1
                if columns != self._columns:
                    self.relayout()
                self.schedule_build()
            elif event.type() == QEvent.Type.Show:
                self.schedule_build()
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
