"""The tabs a run page shows, in order (the Overview comes first and is built by the page)."""

from __future__ import annotations

from studio.ui.runs.tabs.base import RunTab


def tab_classes() -> list[type[RunTab]]:
    """Tab classes after Overview, imported when the first run page opens (pyqtgraph is heavy)."""
    from studio.ui.runs.tabs.children_tab import ChildRunsTab
    from studio.ui.runs.tabs.files_tab import OutputsTab, SnapshotTab
    from studio.ui.runs.tabs.images_tab import ImagesTab
    from studio.ui.runs.tabs.metrics_tab import MetricsTab
    from studio.ui.runs.tabs.tables_tab import TablesTab

    return [MetricsTab, ImagesTab, TablesTab, ChildRunsTab, OutputsTab, SnapshotTab]
