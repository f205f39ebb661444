"""The run charts above the runs table: a scatter of two columns or parallel coordinates of all.

The runs table hands over the filtered runs' numeric columns (``set_data``) and the runs selected
in it (``select_runs``); the panel says which run is hovered and which one was clicked, by run id.
A toolbar switches the chart and chooses the scatter's columns; a readout line shows the hovered
run's name and values, a note says which runs are not drawn. Without columns or runs the panel
says so instead of showing an empty plot. The plot widgets are made when first shown.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.run_charts.chart_data import MAX_RUNS, RunTable, format_value
from studio.ui.run_charts.chart_view import ChartView
from studio.ui.run_charts.parallel_view import ParallelView
from studio.ui.run_charts.scatter_view import ScatterView

SCATTER, PARALLEL = "scatter", "parallel"
NO_COLUMNS = "Choose numeric columns to chart runs against each other"
ONE_COLUMN = "Choose one more numeric column to chart runs against each other"
NO_RUNS = "No runs to chart"


class ElidedLabel(QLabel):
    """A one-line label that elides its text to its width (the full text in its tooltip).

    A text given in two parts (a run's name, then its values) elides the name first, in the
    middle, so that the values stay readable; the rest is elided only when even that is not enough.
    """

    SEPARATOR = " — "

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._head, self._tail = "", ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)

    def set_full_text(self, text: str, tail: str = "") -> None:
        """Show ``text`` (then `` — tail`` if given), eliding ``text`` first if it does not fit."""
        self._head, self._tail = text, tail
        self.setToolTip(self.full_text())
        self.updateGeometry()  # the size hint follows the whole text
        self._elide()

    def full_text(self) -> str:
        """The text before eliding."""
        return f"{self._head}{self.SEPARATOR}{self._tail}" if self._tail else self._head

    def _elide(self) -> None:
        metrics, width = self.fontMetrics(), max(self.width(), 40)
        if not self._tail:
            self.setText(metrics.elidedText(self._head, Qt.TextElideMode.ElideRight, width))
            return
        tail = self.SEPARATOR + self._tail
        room = max(width - metrics.horizontalAdvance(tail), width // 3)
        head = metrics.elidedText(self._head, Qt.TextElideMode.ElideMiddle, room)
        self.setText(metrics.elidedText(head + tail, Qt.TextElideMode.ElideRight, width))

    def sizeHint(self) -> QSize:
        """As wide as the whole text (the shown text may be elided)."""
        hint = super().sizeHint()
        return QSize(self.fontMetrics().horizontalAdvance(self.full_text()) + 8, hint.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Elide again for the new width."""
        super().resizeEvent(event)
        self._elide()


class RunChartsPanel(QWidget):
    """Scatter or parallel coordinates of runs' numeric columns, with hover, click and selection."""

    sig_run_clicked = Signal(str)
    """A run's point or line was clicked: its run id."""
    sig_run_hovered = Signal(str)
    """The run under the mouse changed: its run id ("" when none)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runCharts")
        self.table = RunTable()
        self.mode = SCATTER
        self._selected_ids: list[str] = []
        self._rows: dict[str, int] = {}
        self.scatter: ScatterView | None = None
        self.parallel: ParallelView | None = None

        self.scatter_button = self._mode_button("Scatter", SCATTER)
        self.parallel_button = self._mode_button("Parallel coordinates", PARALLEL)
        self.scatter_button.setChecked(True)
        self.modes = QButtonGroup(self)
        self.modes.addButton(self.scatter_button)
        self.modes.addButton(self.parallel_button)
        self.x_combo, self.y_combo = QComboBox(self), QComboBox(self)
        for combo, name in ((self.x_combo, "runChartsX"), (self.y_combo, "runChartsY")):
            combo.setObjectName(name)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
            combo.currentIndexChanged.connect(self._axes_chosen)
        self.x_label, self.y_label = QLabel("X", self), QLabel("Y", self)
        self.note = ElidedLabel(self)
        self.note.setObjectName("runChartsNote")
        self.note.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.readout = ElidedLabel(self)
        self.readout.setObjectName("runChartsReadout")
        self.message = QLabel(NO_COLUMNS, self)
        self.message.setObjectName("runChartsMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setEnabled(False)  # the disabled text colour: a quiet placeholder in either theme
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.message)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for widget in (self.scatter_button, self.parallel_button, self.x_label, self.x_combo, self.y_label):
            bar.addWidget(widget)
        bar.addWidget(self.y_combo)
        bar.addStretch(1)
        # The note keeps its whole width (it says what is not drawn); the readout elides into the rest.
        self.note.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        info = QHBoxLayout()
        info.setContentsMargins(0, 0, 0, 0)
        info.addWidget(self.readout, 1)
        info.addWidget(self.note)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addLayout(info)
        layout.addWidget(self.stack, 1)
        self._refresh()

    # -- the API the runs table calls ----------------------------------------------------------------
    def set_data(self, columns: list[str], values: np.ndarray, run_ids: list[str], names: list[str]) -> None:
        """Chart these runs: ``values[i, j]`` is run ``run_ids[i]``'s value in ``columns[j]`` (NaN = missing).

        At most the first 10,000 runs are drawn (the note says so). The scatter keeps its columns
        if they are still given, else takes the first two.
        """
        self.table = RunTable.make(columns, values, run_ids, names)
        self._rows = {run_id: i for i, run_id in enumerate(self.table.run_ids)}
        x_keep, y_keep = self.x_combo.currentText(), self.y_combo.currentText()
        for combo in (self.x_combo, self.y_combo):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(self.table.columns)
        n = len(self.table.columns)
        self.x_combo.setCurrentIndex(self.table.columns.index(x_keep) if x_keep in self.table.columns else 0)
        self.y_combo.setCurrentIndex(
            self.table.columns.index(y_keep) if y_keep in self.table.columns else min(1, n - 1)
        )
        for combo in (self.x_combo, self.y_combo):
            combo.blockSignals(False)
        self._refresh()

    def select_runs(self, run_ids: list[str]) -> None:
        """Draw these runs highlighted (those not charted are ignored)."""
        self._selected_ids = list(run_ids)
        view = self.current_view()
        if view is not None:
            self._show_selection(view)

    def set_mode(self, mode: str) -> None:
        """Show the scatter (``"scatter"``) or the parallel coordinates (``"parallel"``)."""
        if mode not in (SCATTER, PARALLEL):
            raise ValueError(f"unknown chart {mode!r}")
        (self.scatter_button if mode == SCATTER else self.parallel_button).setChecked(True)
        if mode != self.mode:
            self.mode = mode
            self._refresh()

    # -- inside ----------------------------------------------------------------------------------------
    def current_view(self) -> ChartView | None:
        """The chart shown, None while a message is shown instead."""
        widget = self.stack.currentWidget()
        return widget if isinstance(widget, ChartView) else None

    def empty_message(self) -> str:
        """Why nothing is charted, or "" when a chart is shown."""
        n_cols = len(self.table.columns)
        if n_cols == 0:
            return NO_COLUMNS
        if self.table.n_runs == 0:
            return NO_RUNS
        if n_cols == 1:
            return ONE_COLUMN
        return ""

    def _mode_button(self, text: str, mode: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setCheckable(True)
        button.setAutoRaise(True)
        button.setObjectName(f"runCharts{mode.title()}")
        button.clicked.connect(lambda: self.set_mode(mode))
        return button

    def _axes_chosen(self) -> None:
        if self.mode == SCATTER:
            self._refresh()

    def _view(self, mode: str) -> ChartView:
        """The chart for ``mode``, made when first needed."""
        if mode == SCATTER:
            if self.scatter is None:
                self.scatter = ScatterView(self)
                self._adopt(self.scatter)
            return self.scatter
        if self.parallel is None:
            self.parallel = ParallelView(self)
            self._adopt(self.parallel)
        return self.parallel

    def _adopt(self, view: ChartView) -> None:
        self.stack.addWidget(view)
        view.sig_row_hovered.connect(self._row_hovered)
        view.sig_row_clicked.connect(self._row_clicked)

    def _refresh(self) -> None:
        """Show the chart of the current mode with the current data, or the message saying why not."""
        message = self.empty_message()
        for widget in (self.x_label, self.x_combo, self.y_label, self.y_combo):
            widget.setVisible(self.mode == SCATTER and not message)  # no empty choosers
        self.readout.set_full_text("")
        previous = self.current_view()
        if previous is not None and previous.hovered >= 0:
            previous.set_hovered(-1)
        if message:
            self.message.setText(message)
            self.stack.setCurrentWidget(self.message)
            self.note.set_full_text("")
            return
        notes = []
        if self.table.total > self.table.n_runs:
            notes.append(f"Showing the first {MAX_RUNS:,} of {self.table.total:,} runs")
        view = self._view(self.mode)
        if isinstance(view, ScatterView):
            points = view.set_points(self.table, self.x_combo.currentText(), self.y_combo.currentText())
            if points.note:
                notes.append(points.note)
        elif isinstance(view, ParallelView):
            lines = view.set_lines(self.table)
            if lines.incomplete:
                n = lines.incomplete
                notes.append(f"{n:,} run{'s' if n != 1 else ''} lack{'' if n != 1 else 's'} some columns")
        self._show_selection(view)
        self.stack.setCurrentWidget(view)
        self.note.set_full_text(" · ".join(notes))

    def _show_selection(self, view: ChartView) -> None:
        rows = np.array([self._rows[r] for r in self._selected_ids if r in self._rows], dtype=np.intp)
        if isinstance(view, (ScatterView, ParallelView)):
            view.show_selected(rows)

    def _row_hovered(self, row: int) -> None:
        if row < 0:
            self.readout.set_full_text("")
            self.sig_run_hovered.emit("")
            return
        self.readout.set_full_text(self.table.names[row], self._values_of(row))
        self.sig_run_hovered.emit(self.table.run_ids[row])

    def _values_of(self, row: int) -> str:
        """The hovered run's values (only the charted two in the scatter)."""
        columns = self.table.columns
        if self.mode == SCATTER:
            columns = [self.x_combo.currentText(), self.y_combo.currentText()]
            columns = columns[:1] if columns[0] == columns[1] else columns
        return ", ".join(f"{c} {format_value(float(self.table.column(c)[row]))}" for c in columns)

    def _row_clicked(self, row: int) -> None:
        self.sig_run_clicked.emit(self.table.run_ids[row])

    def changeEvent(self, event: QEvent) -> None:
        """Follow a palette change (light/dark) in the charts."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            for view in (self.scatter, self.parallel):
                if view is not None:
                    view.restyle()
