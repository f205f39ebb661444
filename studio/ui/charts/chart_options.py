"""The display options shared by a page of charts: x-axis mode, log y, smoothing, outlier scaling."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QWidget

from studio.ui.background.debounce import qdebounced
from studio.ui.charts.axes import XMode
from studio.ui.charts.metric_chart import MetricChart

SMOOTHING_REST_MS = 60
"""Charts are smoothed again once the slider rests this long (not on every value it passes)."""


class ChartOptionsBar(QWidget):
    """A row of controls; ``apply(chart)`` gives a chart the current options."""

    sig_changed = Signal()
    """An option changed (smoothing: once the slider rests for a moment)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chartOptions")
        self.x_mode_combo = QComboBox(self)
        self.x_mode_combo.setObjectName("metricsXMode")
        for mode in XMode:
            self.x_mode_combo.addItem(mode.label, mode.value)
        self.x_mode_combo.currentIndexChanged.connect(lambda _i: self.sig_changed.emit())
        self.log_y_check = QCheckBox("Log y", self)
        self.log_y_check.setObjectName("metricsLogY")
        self.log_y_check.toggled.connect(lambda _on: self.sig_changed.emit())
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.smoothing_slider.setObjectName("metricsSmoothing")
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setFixedWidth(140)
        self.smoothing_slider.setToolTip("Debiased exponential moving average (as TensorBoard)")
        self.smoothing_label = QLabel("0.00", self)
        self._smoothing_rested = qdebounced(self.sig_changed.emit, SMOOTHING_REST_MS, self)
        self.smoothing_slider.valueChanged.connect(self._smoothing_moved)
        self.outliers_check = QCheckBox("Ignore outliers in scaling", self)
        self.outliers_check.setObjectName("metricsIgnoreOutliers")
        self.outliers_check.toggled.connect(lambda _on: self.sig_changed.emit())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        controls: list[QWidget] = [QLabel("X axis", self), self.x_mode_combo, self.log_y_check]
        controls += [QLabel("Smoothing", self), self.smoothing_slider, self.smoothing_label, self.outliers_check]
        for control in controls:
            layout.addWidget(control)

    @property
    def x_mode(self) -> XMode:
        """The chosen x-axis mode."""
        return XMode(self.x_mode_combo.currentData())

    @property
    def smoothing(self) -> float:
        """The chosen smoothing weight in [0, 0.99]."""
        return self.smoothing_slider.value() / 100

    def apply(self, chart: MetricChart) -> None:
        """Give ``chart`` the current options."""
        chart.set_x_mode(self.x_mode)
        chart.set_log_y(self.log_y_check.isChecked())
        chart.set_smoothing(self.smoothing)
        chart.set_ignore_outliers(self.outliers_check.isChecked())

    def applied(self, chart: MetricChart) -> bool:
        """Whether ``chart`` has the current options."""
        return (
            chart.x_mode is self.x_mode
            and chart.log_y == self.log_y_check.isChecked()
            and chart.smoothing == min(self.smoothing, 0.999)
            and chart.ignore_outliers == self.outliers_check.isChecked()
        )

    def _smoothing_moved(self, value: int) -> None:
        self.smoothing_label.setText(f"{value / 100:.2f}")
        self._smoothing_rested()
