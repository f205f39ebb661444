"""Feeds the run charts panel above the runs table (studio.ui.run_charts.RunChartsPanel).

The panel's module pulls in pyqtgraph (~180 ms to import), so it is imported on a worker
unless the window's warm-up already did; until then the splitter holds an empty slot. The panel
is handed the loaded runs a moment after they change (pages, columns, live changes): the table
paints its first rows before any chart is drawn, and a burst of pages draws the chart once. While
the user keeps the chart area collapsed nothing is sent.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QSplitter, QWidget

from studio.ui.background.debounce import qdebounced
from studio.ui.background.tasks import TaskRunner

CHARTS_MODULE = "studio.ui.run_charts"
UPDATE_DELAY_MS = 150
CHART_SHARE = 0.4  # of the height, when the panel arrives...
TABLE_MIN = 250  # ...as long as the table keeps this many pixels
CHART_MIN = 140  # below this the chart starts collapsed (its handle drags it open)

ChartData = tuple[list[str], np.ndarray, list[str], list[str]]


class ChartFeed(QObject):
    """Owns the chart panel in ``splitter``'s first place and keeps it fed with ``data()``."""

    def __init__(
        self,
        splitter: QSplitter,
        data: Callable[[], ChartData],
        on_click: Callable[[str], object],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.splitter, self._data, self._on_click = splitter, data, on_click
        self.panel: Any = None  # a RunChartsPanel once set: set_data, select_runs, sig_run_clicked
        self.loading = False  # load() was called
        self.later = qdebounced(self.update, UPDATE_DELAY_MS, self)
        splitter.splitterMoved.connect(lambda _pos, _index: self.later())  # shown again after a collapse

    def load(self, runner: TaskRunner) -> None:
        """Make the real panel: at once if its module is imported, else after importing it on a worker."""
        self.loading = True
        module = sys.modules.get(CHARTS_MODULE)
        if module is not None and hasattr(module, "RunChartsPanel"):
            self._imported(module)
            return
        runner.submit(importlib.import_module, CHARTS_MODULE, success=self._imported, owner=self)

    def _imported(self, module: ModuleType) -> None:
        self.set_panel(module.RunChartsPanel())

    def set_panel(self, panel: QWidget) -> None:
        """Put ``panel`` above the table (replacing the slot or an earlier panel) and feed it."""
        old = self.splitter.widget(0)
        self.splitter.replaceWidget(0, panel)
        if old is not None and old is not panel:
            old.deleteLater()
        panel.show()
        self.panel = panel
        self.splitter.setSizes(list(split(sum(self.splitter.sizes()))))
        self.panel.sig_run_clicked.connect(self._on_click)
        self.later()  # drawn in a later turn: making the panel and drawing it at once stalled ~45 ms

    def update(self) -> None:
        """Send the loaded runs now (nothing while the chart area is collapsed)."""
        self.later.cancel()
        if self.panel is not None and self.splitter.sizes()[0] > 0:
            self.panel.set_data(*self._data())

    def select(self, run_ids: list[str]) -> None:
        """Highlight the runs selected in the table."""
        if self.panel is not None:
            self.panel.select_runs(run_ids)


def split(total: int) -> tuple[int, int]:
    """(chart, table) heights for a splitter ``total`` pixels high: the table comes first."""
    if total <= 0:
        return 2, 3  # not laid out yet: a ratio Qt scales
    chart = min(int(total * CHART_SHARE), total - TABLE_MIN)
    chart = chart if chart >= CHART_MIN else 0
    return chart, total - chart
