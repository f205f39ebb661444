"""Chart colours that follow the application palette (light or dark)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

# Tableau 10: distinct and readable on white; the dark variants are lighter for dark backgrounds.
_LIGHT_LINES = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]
_DARK_LINES = [
    "#5aa9e6",
    "#ffa94d",
    "#69db7c",
    "#ff6b6b",
    "#b197fc",
    "#c9a27e",
    "#f783ac",
    "#adb5bd",
    "#e6e65c",
    "#4dd4e6",
]


def palette() -> QPalette:
    """The application's palette (a default one without an application)."""
    app = QApplication.instance()
    return app.palette() if isinstance(app, QApplication) else QPalette()


def is_dark(pal: QPalette | None = None) -> bool:
    """True when the palette's base colour is dark."""
    pal = pal or palette()
    return pal.color(QPalette.ColorRole.Base).lightness() < 128


def background() -> QColor:
    """The plot background: the palette's Base colour (where content sits)."""
    return palette().color(QPalette.ColorRole.Base)


def foreground() -> QColor:
    """Axis and text colour."""
    return palette().color(QPalette.ColorRole.Text)


def grid_alpha() -> float:
    """How strong the grid is."""
    return 0.25 if is_dark() else 0.18


def line_colour(index: int) -> QColor:
    """The ``index``-th line colour of the palette."""
    lines = _DARK_LINES if is_dark() else _LIGHT_LINES
    return QColor(lines[index % len(lines)])


def faded(colour: QColor, alpha: float = 0.28) -> QColor:
    """The same colour, translucent (the raw line behind a smoothed one)."""
    c = QColor(colour)
    c.setAlphaF(alpha)
    return c
