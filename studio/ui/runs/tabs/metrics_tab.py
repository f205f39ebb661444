"""The Metrics tab: a chart per numeric metric (or several on one), string and list metrics as tables.

Series are fetched in the background, a few metrics per task (those in view first), one task
at a time; live refresh fetches only the points logged since
(``get_series(start=next_start)``), at most one fetch in flight per metric. The task also
prepares what the chart draws (drawable points, min/max envelopes, smoothing;
:func:`studio.ui.charts.chart_lines.prepare`), so the GUI thread only hands the part in view
to the plot. The grid builds a chart's plot when its panel comes near the view; display
options reach the built charts a few per event-loop turn, nearest first.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
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
from studio.core.types import MetricInfo, MetricKind, RunInfo
from studio.ui.background.notifier import sentence
from studio.ui.background.sliced_work import SlicedWork, Turn
from studio.ui.background.task_slot import TaskSlot
from studio.ui.background.tasks import TaskRunner
from studio.ui.charts.chart_lines import Prepared
from studio.ui.charts.chart_options import ChartOptionsBar
from studio.ui.charts.export import write_csv
from studio.ui.charts.metric_chart import MetricChart
from studio.ui.charts.metric_chooser import MetricChooser
from studio.ui.charts.metric_grid import MetricGrid
from studio.ui.charts.metric_panels import ChartPanel, RecordsPanel
from studio.ui.runs.tabs.base import RunTab
from studio.ui.runs.tabs.metric_fetches import MetricFetch, run_fetches

MAX_SHOWN_AT_FIRST = 30
"""Numeric metrics past this many start unchecked (each one fetched costs memory and a worker's time)."""
APPLY_BUDGET_S = 0.008
"""Display options reach built charts (nearest first) about this long per event-loop turn (at least one)."""
APPLY_PACE_MS = 16
"""And the next turn's after this long (Qt paints the redrawn charts in between)."""
MAX_FETCHES_IN_FLIGHT = 1
"""Fetch tasks running at once. On 2 cores a second one only fights the GUI thread for the GIL and
the CPU: measured (``bench_metrics_tab.py``), the charts in view are drawn sooner and the longest
stall is shorter with one. (A remote workspace, whose calls wait on the network, may want more.)"""
FETCH_BATCH = 5
"""Metrics fetched one after the other by one task (the in-view ones first)."""
_SHOWN_KINDS = (MetricKind.SCALAR, MetricKind.STRING, MetricKind.LIST)
LOADING = "Loading metrics…"


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
        # Series fetches: not a TaskSlot per metric, because FETCH_BATCH metrics share one task
        # and at most MAX_FETCHES_IN_FLIGHT tasks run. A metric is in at most one of _queued (in
        # the order asked, waiting for a task) and _in_flight (its task runs); asked again while
        # in flight, it goes into _again and is queued once its answer arrived. _tasks_running
        # counts the tasks.
        self._queued: dict[str, None] = {}
        self._in_flight: set[str] = set()
        self._again: set[str] = set()
        self._tasks_running = 0
        self._errors: dict[str, str] = {}  # what failed ("" the listing, else a metric) -> the sentence shown
        self._listing = TaskSlot(runner, success=self._listed, failure=self._list_failed, owner=self)
        self._applying = SlicedWork(self._apply_some, APPLY_BUDGET_S, self, pace_ms=APPLY_PACE_MS)
        self._build()

    # -- building ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.options = ChartOptionsBar(self)
        self.options.sig_changed.connect(self._apply_all)
        self.x_mode_combo, self.log_y_check = self.options.x_mode_combo, self.options.log_y_check
        self.smoothing_slider, self.outliers_check = self.options.smoothing_slider, self.options.outliers_check
        # A line of its own under the options, wrapped: a server's sentence is long, and beside the options it
        # made the tab (and the window) as wide as the sentence.
        self.message = QLabel(self)
        self.message.setObjectName("metricsMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        bar = QHBoxLayout()
        bar.addWidget(self.options)
        bar.addStretch(1)
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
        self.loading = QLabel(LOADING, self)
        self.loading.setObjectName("metricsLoading")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.loading.setWordWrap(True)
        # Bound methods, not lambdas: a lambda holding the tab made a cycle only the garbage collector freed.
        self.loading.linkActivated.connect(self._retry)  # "Retry" after a failed listing
        self.message.linkActivated.connect(self._retry)
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
        layout.addWidget(self.message)
        layout.addWidget(splitter, 1)

    # -- loading and live refresh --------------------------------------------------------------
    def load(self) -> None:
        """List the metrics, then fetch each shown one in the background."""
        self._list()

    def run_changed(self, run: RunInfo) -> None:
        """Re-list (new metrics, new counts) and fetch only what was logged since."""
        self._list()

    def _list(self) -> None:
        self._listing.request(self.backend.list_metrics, self.run_id)

    def _list_failed(self, exc: BaseException) -> None:
        text = f"Could not list the metrics: {sentence(exc)}"
        if not self.infos:  # nothing to show: the sentence takes the charts' place
            self.loading.setTextFormat(Qt.TextFormat.RichText)
            self.loading.setText(f"{html.escape(text)}<br><a href='retry'>Retry</a> <small>(F5)</small>")
        self._show_error(text, key="")

    def _retry(self, _link: str = "") -> None:
        """Retry (a link): list again; what failed is fetched again with what is new."""
        for name in self._errors:
            if name:
                self._fetch(name)
        self._list()

    def _listed(self, infos: list[MetricInfo]) -> None:
        self._clear_error("")
        self.loading.setTextFormat(Qt.TextFormat.PlainText)
        self.loading.setText(LOADING)
        new = [i.name for i in infos if i.kind in _SHOWN_KINDS and i.name not in self.infos]
        if new:
            self.grid.setUpdatesEnabled(False)  # the new panels go in with one layout pass and one paint
        shown_numeric = sum(1 for i in self.infos.values() if i.kind is MetricKind.SCALAR)
        to_fetch: list[str] = []
        for info in infos:
            if info.kind not in _SHOWN_KINDS:
                continue
            known = info.name in self.infos
            self.infos[info.name] = info
            if known:
                if self.chooser.is_checked(info.name) and (info.count <= 0 or info.count > self._have(info.name)):
                    to_fetch.append(info.name)
                continue
            # A single logged number (a learning rate, a final score) makes an empty-looking chart:
            # it starts unticked; the chooser and the Overview still show it.
            checked = info.kind is not MetricKind.SCALAR or (info.count != 1 and shown_numeric < MAX_SHOWN_AT_FIRST)
            shown_numeric += info.kind is MetricKind.SCALAR and checked
            self.chooser.add_metric(info, checked)
            if info.kind is MetricKind.SCALAR:
                self.grid.add_chart(info.name, hidden=not checked)
            else:
                records = self.grid.add_records(info.name, info.kind)
                if records.chart is not None:
                    self._apply(records.chart)
            if checked:
                to_fetch.append(info.name)
        self.grid.relayout()
        if new:
            self.grid.setUpdatesEnabled(True)
        self.stack.setCurrentWidget(self.grid if self.infos else self.empty)
        # Only once the panels are in: a running fetch slows the GUI thread down.
        for name in to_fetch:
            self._fetch(name)
        self.sig_listed.emit(len(self.infos))

    def _have(self, name: str) -> int:
        panel = self.records.get(name)
        return panel.count if panel is not None else self.next_start.get(name, 0)

    def _fetch(self, name: str) -> None:
        """Fetch what is new for one metric, unless a fetch for it is in flight (then fetch again after)."""
        if name in self._in_flight:
            self._again.add(name)
            return
        if name not in self._queued:
            self._queued[name] = None
            chart = self.chart_of(name)
            if chart is not None and name not in chart:
                chart.set_loading(name, True)  # its plot waits for the points: one paint, with data
        self._pump()

    def _pump(self) -> None:
        """Start queued fetches, FETCH_BATCH metrics per task, while fewer than MAX_FETCHES_IN_FLIGHT run.

        Metrics in view go first.
        """
        while self._queued and self._tasks_running < MAX_FETCHES_IN_FLIGHT:
            order = [n for n in self.grid.names_in_view() if n in self._queued] + list(self._queued)
            batch = list(dict.fromkeys(order))[:FETCH_BATCH]
            for name in batch:
                del self._queued[name]
            self._start_fetches(batch)

    def _start_fetches(self, names: list[str]) -> None:
        jobs: list[MetricFetch] = []
        for name in names:
            self._in_flight.add(name)
            start = self._have(name)
            if self.infos[name].kind is not MetricKind.SCALAR:
                jobs.append(MetricFetch(name, start, records=True))
                continue
            chart = self.chart_of(name)
            base = chart.prepared(name) if chart is not None and start > 0 and name in chart else None
            mode, weight = (chart.x_mode, chart.smoothing) if chart is not None else (self.options.x_mode, 0.0)
            jobs.append(MetricFetch(name, start, False, base, mode, weight))
        self._tasks_running += 1
        self.runner.submit(
            run_fetches,
            self.backend,
            self.run_id,
            jobs,
            success=self._fetched,
            failure=lambda exc: self._fetched([(job, exc) for job in jobs]),
            owner=self,
        )

    def _fetched(self, results: list[tuple[MetricFetch, Any]]) -> None:
        self._tasks_running -= 1
        for job, result in results:
            self._in_flight.discard(job.name)
            if isinstance(result, BaseException):
                self._fetch_failed(job.name, result)
            elif job.records:
                if job.name in self.records:
                    self.records[job.name].add_records(result)
            else:
                self._fetched_series(job, *result)
            if not isinstance(result, BaseException):
                self._clear_error(job.name)
            self.sig_updated.emit(job.name)
            if job.name in self._again:
                self._again.discard(job.name)
                self._fetch(job.name)
        self._pump()

    def _fetched_series(self, job: MetricFetch, next_start: int, prepared: Prepared) -> None:
        name, base = job.name, None if job.base is None else job.base.points
        chart = self.chart_of(name)
        if chart is None:
            return
        if job.start == 0 or name not in chart or chart.points(name) is base:
            chart.set_prepared(name, name, prepared)
        else:
            # The line changed meanwhile (it cannot, today): add what is new to what it has.
            new = prepared.points.tail(0 if base is None else len(base))
            chart.append(name, new.steps, new.values, new.times)
        self.next_start[name] = next_start
        self.grid.schedule_build()

    def _fetch_failed(self, name: str, exc: BaseException) -> None:
        chart = self.chart_of(name)
        if chart is not None:
            chart.set_loading(name, False)  # the plot is built without it
            self.grid.schedule_build()
        self._again.discard(name)
        self._show_error(f"Could not read metric {name!r}: {sentence(exc)}", key=name)

    def _show_error(self, text: str, key: str | None = None) -> None:
        """Say what failed above the charts; with ``key`` (what failed) it goes once that succeeds, with Retry."""
        if key is not None:
            self._errors[key] = text
        self._show_message(text, retry=key is not None)
        self.sig_error.emit(text)

    def _clear_error(self, key: str) -> None:
        if self._errors.pop(key, None) is not None:
            latest = next(reversed(self._errors.values()), "")
            self._show_message(latest, retry=bool(latest))

    def _show_message(self, text: str, retry: bool) -> None:
        self.message.setVisible(bool(text))
        if not retry:
            self.message.setTextFormat(Qt.TextFormat.PlainText)
            self.message.setText(text)
            return
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setText(
            f"<span style='color:#d9363e'>{html.escape(text)}</span> <a href='retry'>Retry</a> <small>(F5)</small>"
        )

    # -- charts --------------------------------------------------------------------------------
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

    # -- display options -----------------------------------------------------------------------
    def _apply_all(self) -> None:
        """Give every chart the options: at once to those without a plot (they only take note), and
        to the built ones nearest first, one in view per event-loop turn.

        A built chart redraws: its points are laid out again for another x mode or smoothed again
        (O(points)) and it repaints; a screenful of them at once would be a stall.
        """
        for chart in self.grid.charts_nearest_first():
            if not chart.built:
                self._apply(chart)
        self._applying.run_now()

    def _apply_some(self, turn: Turn) -> bool:
        """One built chart in view (its repaint is most of the cost) and those out of view for the
        turn's budget; True if charts are left (for the next turn, once Qt painted these)."""
        in_view = set(self.grid.charts_in_view())
        repaints = False
        for chart in self.grid.charts_nearest_first():
            if self._applied(chart):
                continue
            if turn.over or (repaints and chart in in_view):
                return True
            self._apply(chart)
            repaints = repaints or (chart.built and chart in in_view)
        return False

    def _applied(self, chart: MetricChart) -> bool:
        if chart.log_y_only:
            return chart.log_y == self.log_y_check.isChecked()
        return self.options.applied(chart)

    def _apply(self, chart: MetricChart) -> None:
        if chart.log_y_only:
            chart.set_log_y(self.log_y_check.isChecked())
        else:
            self.options.apply(chart)

    # -- export --------------------------------------------------------------------------------
    def export_png(self, panel: ChartPanel, path: str) -> bool:
        """Save a panel's chart as PNG."""
        return panel.chart.export_png(path)

    def export_csv(self, panel: ChartPanel, path: str) -> None:
        """Write every point of a panel's visible lines as CSV, in the background (sig_exported when done)."""
        data = panel.chart.export_data()
        self.runner.submit(
            write_csv,
            path,
            data,
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
