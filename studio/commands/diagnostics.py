"""``studio --diagnostics``: what a bug report needs, on one screen or as one JSON object.

Versions (the studio, Python, Qt, PySide6, pyqtgraph, numpy, the Azure packages when installed), whether this is
a frozen bundle, the platform plugin Qt uses and OpenGL, the keyring backend, and the folders the studio reads and
writes. Package versions come from their installed metadata: nothing heavy is imported (never azure, never
pyqtgraph). Qt is asked in a child process through the ``qt_probe`` the entry point hands in (Qt lives in
``studio.ui``, which commands do not import), and only when a display can be used: with none, or with a platform
plugin that cannot load, the Qt items say why (``studio.commands.display_check``) and the command still answers.
It always exits 0; nothing it prints holds a secret (values go through ``studio.core.redaction``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
from collections.abc import Callable, Mapping
from importlib import metadata

from studio import __version__
from studio.commands.display_check import check_display
from studio.core import user_paths
from studio.core.redaction import redact
from studio.workspaces.local.compute.interpreter import job_python_text

QtProbe = Callable[[Mapping[str, str], bool], dict[str, str]]
"""Asks Qt (in a child process): the environment to run it with, and whether it may create an application."""

Report = dict[str, dict[str, str]]

KEYRING_TIMEOUT_S = 10.0
PACKAGES = {
    "pyqtgraph": ("pyqtgraph",),
    "numpy": ("numpy",),
    "azure-ai-ml": ("azure-ai-ml",),
    "azure-identity": ("azure-identity",),
    "keyring": ("keyring",),
}
"""A report's name → the distributions that may provide it (the first installed one answers)."""


def run(args: argparse.Namespace, qt_probe: QtProbe | None = None) -> int:
    """Print the report as ``key: value`` lines by group, or as JSON with ``--output json``; returns 0."""
    report = collect(qt_probe, getattr(args, "workspace", None))
    if getattr(args, "output", "table") == "json":
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
    return 0


def collect(qt_probe: QtProbe | None, workspace: str | None = None, environ: Mapping[str, str] | None = None) -> Report:
    """The whole report, grouped; every value a string (redacted)."""
    env = dict(os.environ if environ is None else environ)
    qt = ask_qt(qt_probe, env)
    report: Report = {
        "studio": studio_section(),
        "libraries": {
            "qt": qt.get("qt", f"unknown: {qt.get('error', 'Qt was not asked')}"),
            "pyside6": qt.get("pyside6") or _version(("PySide6", "PySide6-Essentials")),
            **library_section(),
        },
        "display": display_section(qt, env),
        "jobs": {"local_python": job_python_text()},  # the words the Compute pane shows
        "keyring": {"backend": keyring_backend()},
        "paths": {"settings_file": qt.get("settings_file", "unknown (Qt did not answer)"), **path_section(workspace)},
    }
    return {group: {key: redact(value) for key, value in items.items()} for group, items in report.items()}


def studio_section() -> dict[str, str]:
    """The studio, the interpreter running it and the operating system."""
    return {
        "version": __version__,
        "frozen": "yes (a bundled application)" if getattr(sys, "frozen", False) else "no",
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def library_section() -> dict[str, str]:
    """Versions of the libraries that matter in a report, from their installed metadata."""
    return {name: _version(dists) for name, dists in PACKAGES.items()}


def _version(dists: tuple[str, ...]) -> str:
    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    if getattr(sys, "frozen", False):  # a bundle holds only the metadata its build copied
        return "unknown (no package metadata in this bundle)"
    return "not installed"


def ask_qt(qt_probe: QtProbe | None, env: dict[str, str]) -> dict[str, str]:
    """What Qt says (``studio.ui.shell.qt_probe``); an application is created only if the display check passes.

    The platform plugin and OpenGL items say why they are unknown when it does not, or when Qt failed.
    """
    if qt_probe is None:
        return {"platform_plugin": "unknown (Qt was not asked)", "opengl": "unknown (Qt was not asked)"}
    problem = check_display(env)  # may choose wayland in env, as the window would
    found = qt_probe(env, not problem)
    if problem:
        why = problem.splitlines()[0].removeprefix("studio: ")
        found["platform_plugin"] = f"unavailable: {why}"
        found["opengl"] = "unknown: no platform plugin can load"
    elif "error" in found:
        found.setdefault("platform_plugin", f"unknown: {found['error']}")
        found.setdefault("opengl", f"unknown: {found['error']}")
    return found


def display_section(qt: Mapping[str, str], env: Mapping[str, str]) -> dict[str, str]:
    """The session, the platform asked for and the one Qt uses, OpenGL."""
    section = {
        "session": _session(env),
        "requested_platform": env.get("QT_QPA_PLATFORM") or "(Qt's default)",
        "platform_plugin": qt.get("platform_plugin", "unknown"),
    }
    section.update(
        {key: qt[key] for key in ("opengl", "opengl_vendor", "opengl_renderer", "opengl_version") if key in qt}
    )
    return section


def _session(env: Mapping[str, str]) -> str:
    parts = [f"{name}={env[name]}" for name in ("XDG_SESSION_TYPE", "WAYLAND_DISPLAY", "DISPLAY") if env.get(name)]
    return ", ".join(parts) if parts else "no display (DISPLAY and WAYLAND_DISPLAY are not set)"


def keyring_backend() -> str:
    """The keyring backend's class (asked on a thread: finding it may start D-Bus, which can hang)."""
    answer: list[str] = []

    def ask() -> None:
        try:
            import keyring

            backend = keyring.get_keyring()
        except Exception as exc:  # a report says any failure, it does not stop
            answer.append(f"unavailable: {type(exc).__name__}: {exc}")
            return
        name = f"{type(backend).__module__}.{type(backend).__name__}"
        inner = getattr(backend, "backends", None)  # the chainer: the backends it tries, in order
        if inner:
            name += f" ({', '.join(type(b).__name__ for b in inner)})"
        if type(backend).__module__ == "keyring.backends.fail":
            name += ": none, server passwords cannot be kept"
        answer.append(name)

    thread = threading.Thread(target=ask, name="studio-keyring-probe", daemon=True)
    thread.start()
    thread.join(KEYRING_TIMEOUT_S)
    return answer[0] if answer else f"unknown: the keyring did not answer within {KEYRING_TIMEOUT_S:g} s"


def path_section(workspace: str | None) -> dict[str, str]:
    """The folders the studio uses and the workspace it would open."""
    log_dir = user_paths.log_dir()
    return {
        "config_folder": str(user_paths.config_dir()),
        "data_folder": str(user_paths.data_dir()),
        "cache_folder": str(user_paths.cache_dir()),
        "log_folder": str(log_dir),
        "log_file": str(log_dir / user_paths.LOG_FILE),
        "crash_file": str(log_dir / user_paths.CRASH_FILE),
        **_workspaces(workspace),
    }


def _workspaces(named: str | None) -> dict[str, str]:
    from studio.core.errors import StudioError
    from studio.workspaces import kinds, resolve_location

    try:
        default = next((d for o in kinds() if (d := o.default_location()) is not None), "none")
    except (StudioError, OSError, ValueError) as exc:
        default = f"unknown: {exc}"
    try:
        chosen = resolve_location(named)
    except (StudioError, OSError, ValueError) as exc:
        chosen = f"unknown: {exc}"
    return {"workspace": chosen, "default_workspace": default}


def format_table(report: Report) -> str:
    """Groups under their names, ``key: value`` lines aligned across the whole report."""
    width = max(len(key) for items in report.values() for key in items) + 1
    lines: list[str] = []
    for group, items in report.items():
        lines.append(f"{group.capitalize()}")
        lines += [f"  {(key + ':').ljust(width)} {value}" for key, value in items.items()]
    return "\n".join(lines)
