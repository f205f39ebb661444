"""What Qt says about this machine, for ``studio --diagnostics``: versions, the platform plugin, OpenGL.

Asked in a child process (``probe_in_child``), never in the command's own: a QGuiApplication on a display that is
set but unreachable aborts the process ("could not connect to display"), and a broken OpenGL driver may crash or
hang. The child prints what needs no application first (Qt's and PySide6's versions, the settings file), flushed,
then creates the application and prints the platform plugin and OpenGL; the parent keeps whatever arrived and says
why the rest did not (a crash, a timeout). This module imports Qt only inside ``probe`` and ``main``, so the
command line can call ``probe_in_child`` without loading Qt.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping

from studio.core.self_command import module_command

TIMEOUT_S = 20.0
APP_FLAG = "--with-app"
"""The child's argument that lets it create the application (only when a display can be used)."""


def versions() -> dict[str, str]:
    """Qt's and PySide6's versions and the window's settings file: no application needed."""
    import PySide6
    from PySide6.QtCore import qVersion

    from studio.ui.shell.settings import WindowSettings

    settings = WindowSettings().q.fileName()
    return {"qt": qVersion(), "pyside6": PySide6.__version__, "settings_file": settings}


def probe() -> dict[str, str]:
    """The platform plugin in use and OpenGL's vendor, renderer and version (creates a QGuiApplication)."""
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    name = app.platformName() if isinstance(app, QGuiApplication) else ""
    return {"platform_plugin": name or "unknown", **opengl()}


def opengl() -> dict[str, str]:
    """OpenGL as a context on an offscreen surface reports it, or ``"unavailable: <why>"``."""
    from PySide6.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext

    context = QOpenGLContext()
    if not context.create():
        return {"opengl": f"unavailable: the {QGuiApplication.platformName()} platform gives no OpenGL context"}
    surface = QOffscreenSurface()
    surface.setFormat(context.format())
    surface.create()
    if not surface.isValid() or not context.makeCurrent(surface):
        return {"opengl": "unavailable: an OpenGL context was created but cannot be made current"}
    functions = context.functions()
    gl_vendor, gl_renderer, gl_version = 0x1F00, 0x1F01, 0x1F02
    found = {
        "opengl": "available",
        "opengl_vendor": functions.glGetString(gl_vendor) or "unknown",
        "opengl_renderer": functions.glGetString(gl_renderer) or "unknown",
        "opengl_version": functions.glGetString(gl_version) or "unknown",
    }
    context.doneCurrent()
    return found


def _probe_command(with_app: bool) -> list[str]:
    """This module run as a program: ``python -m`` installed; in a bundle, the studio program's module role."""
    return module_command("studio.ui.shell.qt_probe") + ([APP_FLAG] if with_app else [])


def probe_in_child(environ: Mapping[str, str], with_app: bool, timeout: float = TIMEOUT_S) -> dict[str, str]:
    """``versions()`` and, with ``with_app``, ``probe()``, from a child process run with ``environ``.

    Never raises: what the child could not say comes back as ``"error"``, a sentence.
    """
    try:
        done = subprocess.run(
            _probe_command(with_app),
            env=dict(environ),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        stdout, stderr, code = done.stdout, done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        stderr, code = "", None
    except OSError as exc:
        return {"error": f"Qt could not be asked: {exc.strerror or exc}"}
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        try:
            part = json.loads(line)
        except ValueError:
            continue
        if isinstance(part, dict):
            found.update({str(k): str(v) for k, v in part.items()})
    if code is None:
        found["error"] = f"Qt did not answer within {timeout:g} s (a display or OpenGL driver that hangs)"
    elif code != 0:
        first = next((ln.strip() for ln in stderr.splitlines() if ln.strip()), "")  # Qt's first line says why
        how = f"was stopped by signal {-code}" if code < 0 else f"stopped with exit code {code}"
        found["error"] = f"Qt {how}" + (f": {first}" if first else "")
    return found


def main(argv: list[str]) -> int:
    """Print ``versions()`` then, with ``--with-app``, ``probe()``: one JSON object a line, each flushed."""
    print(json.dumps(versions()), flush=True)
    if APP_FLAG in argv:
        print(json.dumps(probe()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
