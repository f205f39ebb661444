"""Runs charted against each other above the runs table: a scatter of two columns, parallel coordinates."""

from studio.ui.run_charts.panel import RunChartsPanel

__all__ = ["RunChartsPanel"]
