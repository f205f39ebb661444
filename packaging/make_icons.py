"""Render ``resources/icons/studio.svg`` to the PNG sizes of the hicolor icon theme.

Run it after changing the SVG and commit the PNGs it writes::

    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py

The PNGs land in ``resources/icons/hicolor/<N>x<N>/apps/studio.png``, the layout ``studio install-desktop``
copies into ``$XDG_DATA_HOME/icons/hicolor``; ``studio.ico`` and ``studio.icns`` beside the SVG are the bundle's
program icon on Windows and macOS. Desktops that draw small icons from the SVG scale it themselves;
the PNGs serve the ones (and the panels, docks and window switchers) that ask for a fixed size.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "icons" / "studio.svg"
OUT = ROOT / "resources" / "icons" / "hicolor"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
"""The sizes desktops ask the hicolor theme for most (the freedesktop icon theme spec's usual set)."""


def render(svg: Path, size: int, target: Path, image_format: str = "PNG") -> None:
    """Draw ``svg`` on a transparent ``size`` x ``size`` image and save it at ``target`` (PNG, or ICO / ICNS)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: {svg} is not a valid SVG.")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Straight alpha is what PNG stores; converting first keeps the edges' colours exact.
    if not image.convertToFormat(QImage.Format.Format_ARGB32).save(str(target), image_format):
        raise SystemExit(f"make_icons: cannot write {target}.")


def main(argv: list[str] | None = None) -> int:
    """Write every size; prints one line per PNG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svg", type=Path, default=SVG, help="the source SVG (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=OUT, help="the hicolor folder to fill (default: %(default)s)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display needed to render
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # QImage text and fonts need one
    for size in SIZES:
        target = args.out / f"{size}x{size}" / "apps" / "studio.png"
        render(args.svg, size, target)
        print(target)
    # The bundle's program icon on Windows (ICO) and macOS (ICNS), for packaging/studio.spec.
    for name, size, image_format in (("studio.ico", 256, "ICO"), ("studio.icns", 512, "ICNS")):
        target = args.svg.parent / name
        render(args.svg, size, target, image_format)
        print(target)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
