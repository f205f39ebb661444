"""Light and dark palettes that follow the system (or $STUDIO_THEME), on the Fusion style."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

_DARK = {
    QPalette.ColorRole.Window: "#2b2d31",
    QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#1f2023",
    QPalette.ColorRole.AlternateBase: "#26282c",
    QPalette.ColorRole.ToolTipBase: "#3a3d42",
    QPalette.ColorRole.ToolTipText: "#f0f0f0",
    QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#34373c",
    QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Link: "#6cb6ff",
    QPalette.ColorRole.Highlight: "#2f6fb3",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.PlaceholderText: "#8a8f98",
    # Fusion draws check-box frames and separators with these: keep them visible on dark.
    QPalette.ColorRole.Light: "#5a5e66",
    QPalette.ColorRole.Midlight: "#4a4e55",
    QPalette.ColorRole.Mid: "#8a8f98",
    QPalette.ColorRole.Dark: "#8a8f98",
    QPalette.ColorRole.Shadow: "#15161a",
}


def wants_dark(app: QGuiApplication) -> bool:
    """$STUDIO_THEME (light/dark) if set, else the system's colour scheme."""
    choice = os.environ.get("STUDIO_THEME", "").lower()
    if choice in ("light", "dark"):
        return choice == "dark"
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication) -> bool:
    """Set the Fusion style and the palette; returns True for dark. Follows later system changes."""
    app.setStyle("Fusion")
    dark = wants_dark(app)
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    hints = app.styleHints()
    if not getattr(app, "_studio_theme_hooked", False):
        hints.colorSchemeChanged.connect(lambda _scheme: apply_theme(app))
        app._studio_theme_hooked = True  # type: ignore[attr-defined]
    return dark


def dark_palette() -> QPalette:
    """The dark palette."""
    palette = QPalette()
    for role, colour in _DARK.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7d828a"))
    return palette
