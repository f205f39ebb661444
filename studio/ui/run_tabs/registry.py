"""The tabs a run page shows, in order (the Overview comes first and is built by the page)."""

from __future__ import annotations

from studio.ui.run_tabs.base import RunTab


def tab_classes() -> list[type[RunTab]]:
    """Tab classes after Overview, imported when the first run page opens (pyqtgraph is heavy)."""
    from studio.ui.run_tabs.children_tab import ChildRunsTab
    from studio.ui.run_tabs.files_tab import OutputsTab, SnapshotTab
    from studio.ui.run_tabs.images_tab import ImagesTab
    from studio.ui.run_tabs.metrics_tab import MetricsTab
    from studio.ui.run_tabs.tables_tab import TablesTab

    return [MetricsTab, ImagesTab, TablesTab, ChildRunsTab, OutputsTab, SnapshotTab]
