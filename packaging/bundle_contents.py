"""What goes into the bundle and what stays out: read by ``studio.spec`` and by the bundle's test.

Only the Qt modules the studio uses go in (QtCore, QtGui, QtWidgets, QtNetwork, QtSvg, and QtOpenGL,
QtOpenGLWidgets and QtTest, which pyqtgraph imports); Qml, Quick, WebEngine, 3D, Multimedia, Designer, PDF and
the rest stay out, as do Qt's translations of them and the Python packages only tests and tools use.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

QT_MODULES_USED = (
    "Core",
    "Gui",
    "Widgets",
    "Network",
    "Svg",
    "OpenGL",
    "OpenGLWidgets",
    "Test",
    "DBus",
    "XcbQpa",
    "WaylandClient",
    "WlShellIntegration",
    "WaylandEglClientHwIntegration",
)
"""Qt libraries kept (DBus, XcbQpa and the Wayland ones are what the platform plugins load)."""

EXCLUDED_MODULES = [
    "tkinter",
    "matplotlib",
    "IPython",
    "jupyter_client",
    "notebook",
    "pytest",
    "_pytest",
    "hypothesis",
    "mlflow",
    "pandas",
    "scipy",
    "PIL",
    "mypy",
    "ruff",
    "importlinter",
    "PyInstaller",
    "setuptools",
    "pip",
    "pydantic",  # collected through an optional import; nothing the studio runs imports it
    "pydantic_core",
    "readline",
    "pydoc_data",  # help()'s topics
    "docker",  # azure-ai-ml's local endpoints only, imported behind a "pip install docker" message
    # azure-core's async transport: imported only where it is optional (the studio's Azure calls are synchronous).
    "aiohttp",
    "aiohappyeyeballs",
    "aiosignal",
    "yarl",
    "multidict",
    "frozenlist",
    "propcache",
    "pyqtgraph.opengl",  # 3D views: needs PyOpenGL, never used
    "pyqtgraph.examples",
    "pyqtgraph.jupyter",
    *[
        f"PySide6.Qt{name}"
        for name in (
            "Qml",
            "Quick",
            "QuickWidgets",
            "QuickControls2",
            "Quick3D",
            "WebEngineCore",
            "WebEngineWidgets",
            "WebChannel",
            "WebSockets",
            "3DCore",
            "Multimedia",
            "MultimediaWidgets",
            "Designer",
            "UiTools",
            "Pdf",
            "PdfWidgets",
            "Charts",
            "DataVisualization",
            "Sql",
            "Xml",
            "Concurrent",
            "PrintSupport",
            "Help",
            "StateMachine",
            "RemoteObjects",
            "Scxml",
            "Sensors",
            "SerialPort",
            "TextToSpeech",
            "Positioning",
            "Location",
            "Bluetooth",
            "Nfc",
        )
    ],
]

DROPPED_PLUGINS = ("platformthemes/libqgtk3",)
"""The GTK theme plugin brings GTK's whole stack (cairo, pango, gdk-pixbuf…), about 10 MB; the Fusion style is used."""

QT_PLUGIN_KEEP = (
    "platforms",
    "platformthemes",
    "platforminputcontexts",
    "xcbglintegrations",
    "imageformats",
    "iconengines",
    "tls",
    "wayland-shell-integration",
    "wayland-decoration-client",
    "wayland-graphics-integration-client",
    "egldeviceintegrations",
    "generic",
)
"""Qt plugin folders kept; others (sqldrivers, qmltooling, multimedia, …) are dropped."""

_QT_LIBRARY = re.compile(r"(?:^|[/\\])(?:lib)?Qt6([A-Za-z0-9]+?)(?:\.so[.\d]*|\.dll|\.dylib|\.framework.*)?$")
_PLUGIN = re.compile(r"[/\\]plugins[/\\]([^/\\]+)[/\\]")
_TRANSLATION = re.compile(r"[/\\]translations[/\\][\w@]+\.qm$")


def keep_binary(destination: str) -> bool:
    """Whether a file the analysis collected (its path inside the bundle) belongs in the bundle."""
    library = _QT_LIBRARY.search(destination)
    if library and library.group(1) not in QT_MODULES_USED:
        return False
    plugin = _PLUGIN.search("/" + destination.replace("\\", "/"))
    if plugin and "PySide6" in destination and plugin.group(1) not in QT_PLUGIN_KEEP:
        return False
    if any(dropped in destination.replace("\\", "/") for dropped in DROPPED_PLUGINS):
        return False
    if _TRANSLATION.search(destination):  # the studio is in English and installs no translator
        return False
    return not ("PySide6" in destination and any(part in destination for part in ("/qml/", "\\qml\\", "Qt6Quick")))


def needed_only(
    binaries: list[tuple[str, str, str]], imports_of: Callable[[str], set[tuple[str, str | None]]]
) -> list[tuple[str, str, str]]:
    """``binaries`` without the top-level shared libraries nothing kept needs any more (the analysis collected
    them for files ``keep_binary`` dropped, such as the GTK plugin's). ``imports_of(path)`` gives a file's
    libraries, all of them (on Linux from ``ldd``)."""
    roots = [entry for entry in binaries if "/" in entry[0].replace("\\", "/") or entry[2] == "EXTENSION"]
    roots += [entry for entry in binaries if entry[0].startswith("libpython")]
    needed: set[str] = set()
    for _, source, _ in roots:
        needed.update(name for name, _ in imports_of(source))
    return [entry for entry in binaries if entry in roots or entry[0] in needed]


def sdk_sources(package: Path) -> list[tuple[str, str]]:
    """(file, folder in the bundle) of the studio package's source, put at ``sdk/studio``: a job run by another
    Python interpreter imports ``studio.sdk`` from there (``interpreter.sdk_path``)."""
    pairs = []
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] == "ui":  # the window's code: a job never imports it
            continue
        relative = path.relative_to(package.parent).parent
        pairs.append((str(path), str(Path("sdk") / relative)))
    return pairs
