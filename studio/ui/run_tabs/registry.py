"""The tabs a run page shows, in order (the Overview comes first and is built by the page)."""

from __future__ import annotations

from studio.ui.run_tabs.base import RunTab


def tab_classes() -> list[type[RunTab]]:
    """Tab classes after Overview, imported when the first run page opens (pyqtgraph is heavy)."""
    return []
