"""Compare runs: one chart per metric with a line per run, and a table of their differences."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.core.backend import WorkspaceBackend
from studio.core.types import MetricInfo, MetricKind, RunInfo
from studio.ui.background.sliced_work import SlicedWork, Turn
from studio.ui.background.tasks import TaskRunner
from studio.ui.compare.compare_table_model import CompareTableModel

# The chart modules pull in pyqtgraph: imported once something is compared.
if TYPE_CHECKING:
    from studio.ui.charts.chart_lines import Prepared

MAX_CHARTS = 24
TURN_BUDGET_S = 0.02
"""Charts and lines are added until this much time has passed, then the event loop runs again."""


def run_colour(i: int, n: int) -> QColor:
    """Distinct colours around the hue circle (golden-angle steps keep neighbours apart)."""
    return QColor.fromHsvF((i * 0.618033988749895) % 1.0, 0.75, 0.85)


Comparison = tuple[list[RunInfo], dict[str, list[MetricInfo]], dict[str, dict[str, "Prepared"]]]


def load_comparison(backend: WorkspaceBackend, run_ids: list[str]) -> Comparison:
    """Everything the compare view shows, fetched in one background task, with each line's
    envelopes computed there too (a million-point line would stall the GUI thread)."""
    from studio.ui.charts.axes import XMode
    from studio.ui.charts.chart_lines import Points, prepare

    runs = [backend.get_run(r) for r in run_ids]
    metrics = {r: backend.list_metrics(r) for r in run_ids}
    series: dict[str, dict[str, Prepared]] = {}
    for run_id, infos in metrics.items():
        for info in infos:
            # A metric logged once is a value: the table shows it.
            if info.kind == MetricKind.SCALAR and info.count > 1 and len(series) <= MAX_CHARTS:
                s = backend.get_series(run_id, info.name)
                points = Points.of(s.steps, s.values, s.times)
                # Prepared with the chart's defaults.
                series.setdefault(info.name, {})[run_id] = prepare(points, XMode.STEP, 0.0)
    return runs, metrics, series


class CompareView(QWidget):
    """Shown as a tab in the run area (objectName ``compareView``)."""

    sig_loaded = Signal()
    """The comparison data arrived and every chart and line is shown."""

    def __init__(
        self, backend: WorkspaceBackend, runner: TaskRunner, run_ids: list[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self.run_ids = list(run_ids)
        self.charts: dict[str, Any] = {}
        self.runs: list[RunInfo] = []
        self.loaded = False
        self._hidden: set[str] = set()  # runs unticked in the legend
        # 100 runs' lines would stall the window if built in one go: they are built a slice
        # at a time. A None step ends the turn there.
        self._work: deque[Callable[[], None] | None] = deque()
        self._building = SlicedWork(self._build_some, TURN_BUDGET_S, self)
        layout = QVBoxLayout(self)
        self.title = QLabel(f"Comparing {len(run_ids)} runs…", self)
        layout.addWidget(self.title)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        top = QWidget(splitter)
        top_layout = QHBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        self.legend = QListWidget(top)
        self.legend.setObjectName("compareRuns")
        self.legend.setMaximumWidth(180)
        self.legend.itemChanged.connect(self._toggle_run)
        scroll = QScrollArea(top)
        scroll.setWidgetResizable(True)
        self.chart_host = QWidget(scroll)
        self.chart_grid = QGridLayout(self.chart_host)
        scroll.setWidget(self.chart_host)
        top_layout.addWidget(self.legend)
        top_layout.addWidget(scroll, 1)
        bottom = QWidget(splitter)
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        self.diff_only = QCheckBox("Show differences only", bottom)
        self.diff_only.setObjectName("compareDifferencesOnly")
        self.table_model = CompareTableModel(self)
        self.diff_only.toggled.connect(self.table_model.set_differences_only)
        self.table = QTableView(bottom)
        self.table.setObjectName("compareTable")
        self.table.setModel(self.table_model)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.horizontalHeader().setDefaultSectionSize(130)
        bottom_layout.addWidget(self.diff_only)
        bottom_layout.addWidget(self.table)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setSizes([500, 300])
        layout.addWidget(splitter)
        runner.submit(
            load_comparison,
            backend,
            self.run_ids,
            success=self._show,
            failure=lambda exc: self.title.setText(f"Could not compare: {exc}"),
            label=f"Comparing {len(run_ids)} runs",
            owner=self,
        )

    def _show(self, data: Comparison) -> None:
        runs, metrics, series = data
        self.runs = runs
        self.title.setText(f"Comparing {len(runs)} runs of {', '.join(sorted({r.experiment for r in runs}))}")
        self.table_model.set_data(runs, metrics)
        colours = {r.id: run_colour(i, len(runs)) for i, r in enumerate(runs)}
        self.legend.blockSignals(True)
        for run in runs:
            item = QListWidgetItem(run.display_name or run.id, self.legend)
            item.setData(Qt.ItemDataRole.UserRole, run.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            item.setForeground(colours[run.id])
            item.setToolTip(run.id)
        self.legend.blockSignals(False)
        self._work.extend(self._chart_steps(series, colours))
        self._building.start()

    def _build_some(self, turn: Turn) -> bool:
        """Add charts and lines until the turn's time is up; announce when all are in."""
        while self._work:
            step = self._work.popleft()
            if step is None:
                # The next step paints a whole chart: it gets a turn to itself.
                break
            step()
            if turn.over:
                break
        if self._work:
            return True
        self.loaded = True
        self.sig_loaded.emit()
        return False

    def _chart_steps(
        self, series: dict[str, dict[str, Prepared]], colours: dict[str, QColor]
    ) -> Iterator[Callable[[], None] | None]:
        """The steps that build the charts: one per chart, one per line, and one that shows the chart."""
        from studio.ui.charts.metric_chart import MetricChart  # pyqtgraph: only once something is compared

        names = {r.id: r.display_name or r.id for r in self.runs}
        # The longest curves (the training loss, usually) come first.
        ordered = sorted(series.items(), key=lambda kv: (-max(len(p.points) for p in kv[1].values()), kv[0]))
        for i, (metric, per_run) in enumerate(ordered):

            def add_chart(metric: str = metric, i: int = i) -> None:
                panel = QWidget(self.chart_host)  # the title stays on its chart, whatever the height
                box = QVBoxLayout(panel)
                box.setContentsMargins(0, 0, 0, 0)
                box.setSpacing(2)
                box.addWidget(QLabel(f"<b>{metric}</b>", panel))
                chart = MetricChart(panel)
                chart.set_legend_shown(False)  # the run list on the left is the legend
                chart.setObjectName(f"compareChart:{metric}")
                chart.setMinimumHeight(220)
                # Painted once all its lines are in: each paint of 100 lines costs.
                chart.setUpdatesEnabled(False)
                box.addWidget(chart, 1)
                self.charts[metric] = chart
                self.chart_grid.addWidget(panel, i // 2, i % 2)

            yield add_chart
            for run_id, p in per_run.items():

                def add_line(metric: str = metric, run_id: str = run_id, p: Prepared = p) -> None:
                    chart = self.charts[metric]
                    chart.set_prepared(run_id, names[run_id], p, colour=colours[run_id])
                    if run_id in self._hidden:
                        chart.set_visible(run_id, False)

                yield add_line

            def show_chart(metric: str = metric) -> None:
                self.charts[metric].setUpdatesEnabled(True)

            yield None
            yield show_chart

    def _toggle_run(self, item: QListWidgetItem) -> None:
        run_id = item.data(Qt.ItemDataRole.UserRole)
        visible = item.checkState() == Qt.CheckState.Checked
        if visible:
            self._hidden.discard(run_id)
        else:
            self._hidden.add(run_id)
        for chart in self.charts.values():
            if run_id in chart:
                chart.set_visible(run_id, visible)
