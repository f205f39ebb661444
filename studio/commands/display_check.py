"""Before the window: can Qt's platform plugin load on this Linux machine? If not, say exactly what to install.

Qt's own message when ``libqxcb.so`` cannot load names the wrong library ("…even though it was found", with a hint
about ``libxcb-cursor0`` whatever is missing) and aborts. This check runs first, without importing Qt: it reads
the plugin's dependencies with ``ldd`` (those of the libraries it needs too), and for the ones "not found" prints
their names and the install commands: Debian/Ubuntu package names follow Debian's rule for shared libraries
(``libxcb-icccm.so.4`` → ``libxcb-icccm4``), Fedora's ``dnf`` installs by the library itself
(``'libxcb-icccm.so.4()(64bit)'``). No list of libraries is written here: the plugin says what it needs.

A Wayland session uses the ``wayland`` plugin when it loads; with no display at all the check says so and
points at ``QT_QPA_PLATFORM=offscreen`` and the command-line subcommands.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path

#: Platforms that need no display libraries beyond Qt's own.
HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay"})
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
_SONAME = re.compile(r"^(?P<name>lib[\w+.-]*?)\.so\.(?P<version>[\d.]+)$")

#: Runs ``ldd`` on a file and returns its output (tests give their own).
Ldd = Callable[[Path], str]


def run_ldd(library: Path) -> str:
    """``ldd library``'s output ("" when ldd is missing or fails: nothing can be said then)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return ""
    try:
        done = subprocess.run([ldd, str(library)], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout


def missing_libraries(plugin: Path, ldd: Ldd = run_ldd) -> list[str]:
    """The libraries ``plugin`` (or a library it loads) needs and the system cannot find, in ldd's order."""
    return list(dict.fromkeys(_NOT_FOUND.findall(ldd(plugin))))


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package of a shared library, by Debian's naming rule (``libxcb-icccm.so.4`` →
    ``libxcb-icccm4``; a name ending in a digit takes a '-': ``libxkbcommon-x11.so.0`` → ``libxkbcommon-x11-0``)."""
    match = _SONAME.match(soname)
    if match is None:
        return soname
    name, version = match["name"], match["version"].split(".")[0]
    return f"{name.lower()}{'-' if name[-1].isdigit() else ''}{version}"


def install_commands(sonames: list[str]) -> list[str]:
    """The commands that install ``sonames`` on Debian/Ubuntu and on Fedora."""
    debian = " ".join(dict.fromkeys(debian_package(s) for s in sonames))
    bits = "(64bit)" if platform.machine() in ("x86_64", "aarch64", "ppc64le", "s390x") else ""
    fedora = " ".join(f"'{s}(){bits}'" for s in sonames)
    return [f"Debian/Ubuntu: sudo apt-get install {debian}", f"Fedora: sudo dnf install {fedora}"]


def plugins_dir() -> Path | None:
    """PySide6's ``Qt/plugins/platforms`` folder, found without importing Qt (None if PySide6 is missing)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms"
    return folder if folder.is_dir() else None


def check_display(
    environ: MutableMapping[str, str] | None = None,
    plugins: Path | None = None,
    ldd: Ldd = run_ldd,
    system: str | None = None,
) -> str:
    """ "" when the window can open, else the message to print; may choose ``QT_QPA_PLATFORM=wayland``.

    Only Linux is checked (elsewhere Qt brings what it needs). ``environ`` is ``os.environ`` unless given.
    """
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    if (system or platform.system()) != "Linux":
        return ""
    chosen = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if chosen in HEADLESS_PLATFORMS:
        return ""
    folder = plugins if plugins is not None else plugins_dir()
    if folder is None:
        return ""  # no PySide6 here: the import error that follows says so
    wayland_session = bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE", "").lower() == "wayland"
    if chosen in ("", "wayland") and wayland_session:
        problem = _plugin_problem(folder / "libqwayland.so", "wayland", ldd)
        if not problem:
            env["QT_QPA_PLATFORM"] = "wayland"
            return ""
        if chosen == "wayland" or not env.get("DISPLAY"):
            return problem
    if chosen not in ("", "xcb"):
        return ""  # a platform this check does not know: let Qt try it
    if not env.get("DISPLAY"):
        return no_display_message(env)
    return _plugin_problem(folder / "libqxcb.so", "xcb", ldd)


def _plugin_problem(plugin: Path, name: str, ldd: Ldd) -> str:
    if not plugin.is_file():
        return ""
    missing = missing_libraries(plugin, ldd)
    if not missing:
        return ""
    listed = ", ".join(missing)
    lines = [
        f"studio: the window cannot open: Qt's {name} platform plugin needs {listed}, which "
        f"{'is' if len(missing) == 1 else 'are'} not installed.",
        "Install with one of:",
        *(f"  {command}" for command in install_commands(missing)),
        "Without a window, the command-line subcommands work: studio --help.",
    ]
    return "\n".join(lines)


def no_display_message(env: Mapping[str, str]) -> str:
    """What to do when there is no display at all (no DISPLAY, no Wayland)."""
    return (
        "studio: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set).\n"
        "Run it in a desktop session, set QT_QPA_PLATFORM=offscreen to run the window without a screen, "
        "or use the command-line subcommands: studio --help."
    )
