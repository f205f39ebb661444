"""The Metrics tab: a chart per numeric metric (or several on one), string and list metrics as tables.

Series are fetched in the background, one task per metric; live refresh fetches only the
points logged since (``get_series(start=next_start)``), at most one fetch in flight per metric.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.backend import WorkspaceBackend
from studio.core.types import MetricInfo, MetricKind, MetricRecord, MetricSeries, RunInfo
from studio.ui.charts.chart_options import ChartOptionsBar
from studio.ui.charts.export import write_csv
from studio.ui.charts.metric_chart import MetricChart
from studio.ui.charts.metric_chooser import MetricChooser
from studio.ui.charts.metric_grid import MetricGrid
from studio.ui.charts.metric_panels import ChartPanel, RecordsPanel
from studio.ui.run_tabs.base import RunTab
from studio.ui.tasks import TaskRunner

MAX_SHOWN_AT_FIRST = 30
"""Numeric metrics past this many start unchecked (each chart costs a plot widget)."""
FIRST_PAINT_WAIT_MS = 400
"""New charts are painted once their first data arrived, or after this long."""
_SHOWN_KINDS = (MetricKind.SCALAR, MetricKind.STRING, MetricKind.LIST)


class MetricsTab(RunTab):
    """Charts of the run's metrics with a chooser, x-axis mode, log y, smoothing and outlier scaling."""

    title = "Metrics"
    sig_listed = Signal(int)
    """The metric list arrived (how many metrics the tab shows)."""
    sig_updated = Signal(str)
    """Points or records of this metric arrived and are shown."""
    sig_exported = Signal(str, int)
    """A CSV export finished: (path, points written)."""
    sig_error = Signal(str)
    """A fetch or export failed (the message shown)."""

    def __init__(
        self, backend: WorkspaceBackend, runner: TaskRunner, run_id: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(backend, runner, run_id, parent)
        self.setObjectName("metricsTab")
        self.infos: dict[str, MetricInfo] = {}
        self.next_start: dict[str, int] = {}
        self._in_flight: set[str] = set()
        self._again: set[str] = set()  # fetch again when the one in flight ends
        self._listing = self._relist = False
        self._first_batch: set[str] = set()  # painting waits for these (at most FIRST_PAINT_WAIT_MS)
        self._paint_timer = QTimer(self, singleShot=True, interval=FIRST_PAINT_WAIT_MS)
        self._paint_timer.timeout.connect(self._first_batch_done)
        self._build()

    # ----- building
    def _build(self) -> None:
        self.options = ChartOptionsBar(self)
        self.options.sig_changed.connect(self._apply_all)
        self.x_mode_combo, self.log_y_check = self.options.x_mode_combo, self.options.log_y_check
        self.smoothing_slider, self.outliers_check = self.options.smoothing_slider, self.options.outliers_check
        self.message = QLabel(self)
        self.message.setObjectName("metricsMessage")
        bar = QHBoxLayout()
        bar.addWidget(self.options)
        bar.addStretch(1)
        bar.addWidget(self.message)
        self.chooser = MetricChooser(self)
        self.chooser.sig_visibility_changed.connect(self._visibility_changed)
        self.chooser.sig_combine.connect(self.combine)
        self.chooser.sig_split.connect(self.split)
        self.grid = MetricGrid(self.chooser.is_checked, self)
        self.grid.sig_panel_added.connect(self._panel_added)
        self.empty = QLabel("This run has no metrics yet.", self)
        self.empty.setObjectName("metricsEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setEnabled(False)
        self.loading = QLabel("Loading metrics…", self)
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget(self)
        for page in (self.loading, self.empty, self.grid):
            self.stack.addWidget(page)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.chooser)
        splitter.addWidget(self.stack)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([200, 800])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)

    # ----- loading and live refresh
    def load(self) -> None:
        """List the metrics, then fetch each shown one in the background."""
        self._list()

    def run_changed(self, run: RunInfo) -> None:
        """Re-list (new metrics, new counts) and fetch only what was logged since."""
        self._list()

    def _list(self) -> None:
        if self._listing:
            self._relist = True
            return
        self._listing = True
        backend, run_id = self.backend, self.run_id
        self.runner.submit(
            lambda: backend.list_metrics(run_id), success=self._listed, failure=self._list_failed, owner=self
        )

    def _list_failed(self, exc: BaseException) -> None:
        self._listing = False
        self._show_error(f"Could not list metrics: {exc}")

    def _listed(self, infos: list[MetricInfo]) -> None:
        self._listing = False
        new = [i.name for i in infos if i.kind in _SHOWN_KINDS and i.name not in self.infos]
        if new:  # one paint with data instead of one empty and one per arriving series
            self.grid.setUpdatesEnabled(False)
            self._paint_timer.start()
        shown_numeric = sum(1 for i in self.infos.values() if i.kind is MetricKind.SCALAR)
        for info in infos:
            if info.kind not in _SHOWN_KINDS:
                continue
            known = info.name in self.infos
            self.infos[info.name] = info
            if known:
                if self.chooser.is_checked(info.name) and (info.count <= 0 or info.count > self._have(info.name)):
                    self._fetch(info.name)
                continue
            # A single logged number (a learning rate, a final score) makes an empty-looking chart:
            # it starts unticked; the chooser and the Overview still show it.
            checked = info.kind is not MetricKind.SCALAR or (info.count != 1 and shown_numeric < MAX_SHOWN_AT_FIRST)
            shown_numeric += info.kind is MetricKind.SCALAR and checked
            self.chooser.add_metric(info, checked)
            if info.kind is MetricKind.SCALAR:
                self.grid.add_chart(info.name, hidden=not checked)
            else:
                self.grid.add_records(info.name, info.kind)
            if checked:
                self._first_batch.add(info.name)
                self._fetch(info.name)
        self.grid.relayout()
        if not self._first_batch:
            self._first_batch_done()
        self.stack.setCurrentWidget(self.grid if self.infos else self.empty)
        self.sig_listed.emit(len(self.infos))
        if self._relist:
            self._relist = False
            self._list()

    def _have(self, name: str) -> int:
        panel = self.records.get(name)
        return panel.count if panel is not None else self.next_start.get(name, 0)

    def _fetch(self, name: str) -> None:
        """Fetch what is new for one metric, unless a fetch for it is in flight (then fetch again after)."""
        if name in self._in_flight:
            self._again.add(name)
            return
        self._in_flight.add(name)
        backend, run_id, start = self.backend, self.run_id, self._have(name)
        fn: Any
        if self.infos[name].kind is MetricKind.SCALAR:
            fn = lambda: backend.get_series(run_id, name, start)  # noqa: E731
        else:
            fn = lambda: backend.get_metric_records(run_id, name, start)  # noqa: E731
        self.runner.submit(
            fn,
            success=lambda result: self._fetched(name, start, result),
            failure=lambda exc: self._fetch_failed(name, exc),
            owner=self,
        )

    def _fetched(self, name: str, start: int, result: MetricSeries | list[MetricRecord]) -> None:
        self._in_flight.discard(name)
        if isinstance(result, MetricSeries):
            chart = self.chart_of(name)
            if chart is not None:
                if start == 0 or name not in chart:
                    chart.set_series(name, name, result.steps, result.values, result.times)
                else:
                    chart.append(name, result.steps, result.values, result.times)
                self.next_start[name] = result.next_start
        elif name in self.records:
            self.records[name].add_records(result)
        self._first_batch.discard(name)
        if not self._first_batch:
            self._first_batch_done()
        self.sig_updated.emit(name)
        if name in self._again:
            self._again.discard(name)
            self._fetch(name)

    def _first_batch_done(self) -> None:
        self._first_batch.clear()
        self._paint_timer.stop()
        self.grid.setUpdatesEnabled(True)

    def _fetch_failed(self, name: str, exc: BaseException) -> None:
        self._in_flight.discard(name)
        self._first_batch.discard(name)
        if not self._first_batch:
            self._first_batch_done()
        self._again.discard(name)
        self._show_error(f"Could not read metric {name!r}: {exc}")

    def _show_error(self, text: str) -> None:
        self.message.setText(text)
        self.sig_error.emit(text)

    # ----- charts
    @property
    def panels(self) -> list[ChartPanel]:
        """The numeric chart panels, in grid order."""
        return self.grid.panels

    @property
    def records(self) -> dict[str, RecordsPanel]:
        """The string and list metric panels by name."""
        return self.grid.records

    def chart_of(self, name: str) -> MetricChart | None:
        """The chart that shows a metric (its own, a combined one, or a list metric's)."""
        return self.grid.chart_of(name)

    def combine(self, names: list[str]) -> ChartPanel | None:
        """Put these numeric metrics on one chart (a line each); returns the new panel."""
        return self.grid.combine(names)

    def split(self, names: list[str]) -> None:
        """Give each of these metrics a chart of its own again."""
        self.grid.split(names)

    def _panel_added(self, panel: ChartPanel) -> None:
        panel.sig_export_png.connect(self._ask_png)
        panel.sig_export_csv.connect(self._ask_csv)
        self._apply(panel.chart)

    def _visibility_changed(self, name: str, shown: bool) -> None:
        self.grid.set_shown(name, shown)
        if shown and name in self.infos:
            self._fetch(name)

    # ----- display options
    def _apply(self, chart: MetricChart) -> None:
        self.options.apply(chart)

    def _apply_all(self) -> None:
        for panel in self.panels:
            self._apply(panel.chart)
        for records in self.records.values():
            if records.chart is not None:
                records.chart.set_log_y(self.log_y_check.isChecked())

    # ----- export
    def export_png(self, panel: ChartPanel, path: str) -> bool:
        """Save a panel's chart as PNG."""
        return panel.chart.export_png(path)

    def export_csv(self, panel: ChartPanel, path: str) -> None:
        """Write every point of a panel's visible lines as CSV, in the background (sig_exported when done)."""
        data = panel.chart.export_data()
        self.runner.submit(
            lambda: write_csv(path, data),
            success=lambda count: self.sig_exported.emit(path, int(count)),
            failure=lambda exc: self._show_error(f"Could not write {path}: {exc}"),
            owner=self,
        )

    def _ask_png(self, panel: ChartPanel) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save chart as PNG", f"{'+'.join(panel.names)}.png", "PNG (*.png)")
        if path and not self.export_png(panel, path):
            self._show_error(f"Could not write {path}")

    def _ask_csv(self, panel: ChartPanel) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save points as CSV", f"{'+'.join(panel.names)}.csv", "CSV (*.csv)")
        if path:
            self.export_csv(panel, path)
