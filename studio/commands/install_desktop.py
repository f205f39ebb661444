"""``studio install-desktop [--uninstall]``: the studio in the current user's desktop menus (Linux, no root).

What it writes, under the XDG base folders (``$XDG_DATA_HOME``, default ``~/.local/share``, and
``$XDG_CONFIG_HOME``, default ``~/.config``):

- ``applications/studio.desktop``: ``resources/studio.desktop`` with ``Exec`` set to the absolute path of the
  studio that runs the command (the bundle's executable when frozen), since a desktop launches entries without the
  user's shell and its PATH (a virtual environment is not on it);
- ``icons/hicolor/<N>x<N>/apps/studio.png`` and ``icons/hicolor/scalable/apps/studio.svg``;
- ``metainfo/io.github.studio.studio.metainfo.xml`` (software centres read it);
- ``x-scheme-handler/studio=studio.desktop`` in ``mimeapps.list``'s ``[Default Applications]``, so that a
  ``studio://`` link opens the studio.

The desktop id is ``studio.desktop`` because the application calls ``setDesktopFileName("studio")``: the shell
matches windows to the entry by it. Every file is written to a temporary name and renamed; a file whose content
is already right is left alone, so a second run changes nothing. ``--uninstall`` removes the same files, and the
handler line only while it still names this entry.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studio.commands import mimeapps
from studio.core.errors import StudioError

DESKTOP_ID = "studio.desktop"
METAINFO_NAME = "io.github.studio.studio.metainfo.xml"
URL_MIME_TYPE = "x-scheme-handler/studio"
ICON_NAME = "studio"
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
MARKER = "# Written by 'studio install-desktop'; 'studio install-desktop --uninstall' removes it."
"""The installed entry's first line: uninstall leaves a studio.desktop without it (one the user wrote) alone."""
TOOL_TIMEOUT_S = 60

_RESERVED = re.compile(r"""[\s"'\\><~|&;$*?#()`]""")
"""Characters that oblige an Exec argument to be quoted (Desktop Entry Specification, "The Exec key")."""


@dataclass
class Step:
    """One group of files (or one tool) and what the command did with it."""

    group: str
    status: str  # wrote, unchanged, removed, absent, kept, ran, skipped, failed
    detail: str = ""
    paths: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Folders:
    """Where the files go, from the XDG base-directory variables."""

    data_home: Path
    config_home: Path

    @classmethod
    def from_environment(cls) -> Folders:
        """The user's folders (a relative or empty XDG variable is ignored, as the XDG spec says)."""
        return cls(_xdg_home("XDG_DATA_HOME", ".local/share"), _xdg_home("XDG_CONFIG_HOME", ".config"))

    @property
    def desktop_entry(self) -> Path:
        """The installed desktop entry."""
        return self.data_home / "applications" / DESKTOP_ID

    @property
    def hicolor(self) -> Path:
        """The user's hicolor icon theme folder."""
        return self.data_home / "icons" / "hicolor"

    @property
    def metainfo(self) -> Path:
        """The installed AppStream metainfo."""
        return self.data_home / "metainfo" / METAINFO_NAME

    @property
    def mimeapps(self) -> Path:
        """The user's default applications."""
        return self.config_home / "mimeapps.list"

    def icons(self) -> list[tuple[tuple[str, ...], Path]]:
        """(resource parts, installed path) of every icon."""
        pairs: list[tuple[tuple[str, ...], Path]] = [
            (("icons", "hicolor", f"{n}x{n}", "apps", f"{ICON_NAME}.png"), self.hicolor / f"{n}x{n}" / "apps")
            for n in ICON_SIZES
        ]
        pairs.append((("icons", f"{ICON_NAME}.svg"), self.hicolor / "scalable" / "apps"))
        return [(parts, folder / parts[-1]) for parts, folder in pairs]


def add_parser(sub: Any) -> None:
    """Register ``install-desktop``."""
    parser = sub.add_parser(
        "install-desktop",
        help="add the studio to this user's desktop menus and register studio:// links (Linux)",
        description="Install the desktop entry, icons and AppStream metainfo into $XDG_DATA_HOME (~/.local/share) "
        "and make the studio the handler of studio:// links in $XDG_CONFIG_HOME/mimeapps.list. No root needed; "
        "running it again changes nothing.",
    )
    parser.add_argument("--uninstall", action="store_true", help="remove what install-desktop wrote")
    parser.add_argument("--output", choices=("table", "json"), default=argparse.SUPPRESS, help="output format")


def run(args: argparse.Namespace) -> int:
    """Install or uninstall, print one line per group of files (or JSON); errors raise ``StudioError``."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        raise StudioError(
            f"install-desktop registers the studio with Linux (freedesktop.org) desktops; on {sys.platform} "
            "start the studio from its application bundle instead."
        )
    folders = Folders.from_environment()
    steps = uninstall(folders) if args.uninstall else install(folders, studio_command())
    if args.output == "json":
        import json

        action = "uninstall" if args.uninstall else "install"
        print(json.dumps({"action": action, "steps": [asdict(s) for s in steps]}, indent=2))
    else:
        for step in steps:
            print(f"{step.group}: {step.status}{' ' + step.detail if step.detail else ''}")
    return 0


def studio_command() -> list[str]:
    """The command that starts this studio from a desktop, as an argument list of absolute paths.

    Frozen (PyInstaller), the bundle's executable. Installed, the ``studio`` script that is running, its path
    kept as called rather than resolved: a link such as pipx's ``~/.local/bin/studio`` outlives the environment
    behind it. Run as ``python -m studio``, the ``studio`` on PATH, else this interpreter with ``-m studio``.
    """
    if getattr(sys, "frozen", False):
        return [os.path.abspath(sys.executable)]
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "studio" and script.is_file() and os.access(script, os.X_OK):
        return [os.path.abspath(script)]
    on_path = shutil.which("studio")
    if on_path:
        return [os.path.abspath(on_path)]
    return [os.path.abspath(sys.executable), "-m", "studio"]


def exec_value(command: list[str]) -> str:
    """The ``Exec`` value that runs ``command`` with the opened links (``%U``), quoted as the spec asks."""
    for arg in command:
        if any(ord(c) < 32 for c in arg):
            raise StudioError(f"The studio's path {arg!r} holds a control character, which a desktop entry cannot.")
    return " ".join(_quote_arg(a) for a in command) + " %U"


def desktop_entry_text(template: str, command: list[str]) -> str:
    """The installed entry: ``template`` with the marker on top, ``Exec`` set to ``command`` and a ``TryExec``
    that hides the entry once that program is gone."""
    lines = [MARKER]
    for line in template.splitlines():
        if line.startswith("Exec="):
            lines.append(f"TryExec={_escape_string(command[0])}")
            lines.append(f"Exec={exec_value(command)}")
        elif not line.startswith("TryExec="):
            lines.append(line)
    return "\n".join(lines) + "\n"


def install(folders: Folders, command: list[str]) -> list[Step]:
    """Write every file (unchanged ones untouched), make the entry the ``studio://`` handler, refresh caches."""
    template = _resource_bytes("studio.desktop").decode("utf-8")
    planned: list[tuple[Path, bytes]] = [(target, _resource_bytes(*parts)) for parts, target in folders.icons()]
    planned.append((folders.metainfo, _resource_bytes(METAINFO_NAME)))
    # The entry last: a menu never shows it before its icon is there.
    planned.append((folders.desktop_entry, desktop_entry_text(template, command).encode("utf-8")))
    _check_writable(
        [folders.desktop_entry, folders.metainfo, *(t for _, t in folders.icons()), folders.mimeapps], folders
    )

    created: list[Path] = []
    changed: set[Path] = set()
    try:
        for target, data in planned:
            existed = target.exists()
            if _write_if_changed(target, data):
                changed.add(target)
                if not existed:
                    created.append(target)
        previous = mimeapps.default_handlers(folders.mimeapps, URL_MIME_TYPE)
        handler_changed = mimeapps.set_default(folders.mimeapps, URL_MIME_TYPE, DESKTOP_ID)
    except OSError as exc:
        for path in created:  # a failed install leaves no new file behind
            path.unlink(missing_ok=True)
        raise _write_error(exc, folders) from exc

    icon_paths = [t for _, t in folders.icons()]
    was = f" (was {';'.join(previous)})" if handler_changed and previous else ""
    steps = [
        _file_step(
            "desktop entry", [folders.desktop_entry], changed, f"{folders.desktop_entry} (Exec={exec_value(command)})"
        ),
        _file_step("icons", icon_paths, changed, f"{len(icon_paths)} files in {folders.hicolor}"),
        _file_step("metainfo", [folders.metainfo], changed),
        Step(
            "URL handler",
            "wrote" if handler_changed else "unchanged",
            f"{URL_MIME_TYPE}={DESKTOP_ID} in {folders.mimeapps}{was}",
            [str(folders.mimeapps)],
        ),
    ]
    return steps + _refresh_caches(folders)


def uninstall(folders: Folders) -> list[Step]:
    """Remove what ``install`` wrote; the handler line only if it still names this entry."""
    entry_step = Step("desktop entry", "absent", str(folders.desktop_entry))
    icon_paths = [t for _, t in folders.icons()]
    try:
        if folders.desktop_entry.exists():
            if folders.desktop_entry.read_text(encoding="utf-8", errors="replace").startswith(MARKER):
                folders.desktop_entry.unlink()
                entry_step = Step("desktop entry", "removed", str(folders.desktop_entry), [str(folders.desktop_entry)])
            else:
                entry_step = Step("desktop entry", "kept", f"{folders.desktop_entry} (not written by install-desktop)")
        removed_icons = [p for p in icon_paths if _remove(p)]
        for path in icon_paths:  # the size folders install-desktop filled and nothing else uses
            for folder in (path.parent, path.parent.parent):
                _remove_empty_dir(folder)
        metainfo_removed = _remove(folders.metainfo)
        handler_removed = mimeapps.remove_default(folders.mimeapps, URL_MIME_TYPE, DESKTOP_ID)
        handler_now = mimeapps.default_handlers(folders.mimeapps, URL_MIME_TYPE)
    except OSError as exc:
        raise _write_error(exc, folders) from exc

    if handler_removed:
        handler = Step("URL handler", "removed", f"{URL_MIME_TYPE} from {folders.mimeapps}", [str(folders.mimeapps)])
    elif handler_now:
        handler = Step("URL handler", "kept", f"{URL_MIME_TYPE}={';'.join(handler_now)} (another application's)")
    else:
        handler = Step("URL handler", "absent", f"no {URL_MIME_TYPE} line in {folders.mimeapps}")
    steps = [
        entry_step,
        Step(
            "icons",
            "removed" if removed_icons else "absent",
            f"{len(removed_icons)} files from {folders.hicolor}" if removed_icons else f"from {folders.hicolor}",
            [str(p) for p in removed_icons],
        ),
        Step(
            "metainfo",
            "removed" if metainfo_removed else "absent",
            str(folders.metainfo),
            [str(folders.metainfo)] if metainfo_removed else [],
        ),
        handler,
    ]
    return steps + _refresh_caches(folders)


def _refresh_caches(folders: Folders) -> list[Step]:
    """Let menus and icon lookups see the change now; a missing tool is said, never an error."""
    applications = folders.desktop_entry.parent
    if applications.is_dir():
        steps = [_run_tool("update-desktop-database", ["-q", str(applications)])]
    else:
        steps = [Step("update-desktop-database", "skipped", f"(no folder {applications})")]
    hicolor = folders.hicolor
    if hicolor.is_dir():
        os.utime(hicolor)  # as xdg-icon-resource does: a cache older than its folder is not trusted
    # Only an existing cache is refreshed: one created here would hide icons that later installs put in
    # without refreshing it (GTK checks only the theme folder's own time).
    if (hicolor / "icon-theme.cache").exists():
        steps.append(_run_tool("gtk-update-icon-cache", ["-q", "-f", "-t", str(hicolor)]))
    else:
        steps.append(Step("gtk-update-icon-cache", "skipped", f"(no icon cache in {hicolor} to refresh)"))
    return steps


def _run_tool(name: str, args: list[str]) -> Step:
    import subprocess  # only here: the command line's start-up does not pay for it

    program = shutil.which(name)
    if program is None:
        return Step(name, "skipped", "(not installed)")
    try:
        result = subprocess.run([program, *args], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Step(name, "failed", f"({exc})")
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        return Step(name, "failed", f"(exit {result.returncode}: {message[-1] if message else 'no message'})")
    return Step(name, "ran", f"on {args[-1]}")


def _file_step(group: str, paths: list[Path], changed: set[Path], detail: str = "") -> Step:
    wrote = [p for p in paths if p in changed]
    return Step(
        group,
        "wrote" if wrote else "unchanged",
        detail or str(paths[0]),
        [str(p) for p in paths],
    )


def _resource_bytes(*parts: str) -> bytes:
    from importlib.resources import files

    resource = files("studio.resources").joinpath(*parts)
    try:
        return resource.read_bytes()
    except OSError as exc:
        raise StudioError(
            f"The studio package lacks its desktop file {'/'.join(parts)}: reinstall the studio from a complete "
            "release or source tree."
        ) from exc


def _check_writable(targets: list[Path], folders: Folders) -> None:
    """Refuse before writing anything when a target folder (or the nearest existing one above it) is read-only."""
    for target in targets:
        folder = target.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise StudioError(
                f"Cannot write {target.parent}: {folder} is read-only or not a folder; make it writable or point "
                f"{_variable_for(target, folders)} at a folder that is."
            )


def _write_if_changed(target: Path, data: bytes) -> bool:
    """Write ``data`` through a temporary file and a rename; False (no write) when the file already holds it."""
    try:
        if target.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temp.write_bytes(data)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return True


def _remove(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _remove_empty_dir(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (another application's icons), or already gone


def _write_error(exc: OSError, folders: Folders) -> StudioError:
    where = Path(exc.filename) if exc.filename else folders.data_home
    return StudioError(
        f"Cannot change {where}: {exc.strerror or exc}; make it writable or point {_variable_for(where, folders)} at a "
        "folder that is."
    )


def _variable_for(path: Path, folders: Folders) -> str:
    config = folders.config_home
    return "XDG_CONFIG_HOME" if path == config or config in path.parents else "XDG_DATA_HOME"


def _xdg_home(variable: str, default: str) -> Path:
    value = os.environ.get(variable, "")
    return Path(value) if os.path.isabs(value) else Path.home() / default


def _quote_arg(arg: str) -> str:
    """One Exec argument: ``%`` doubled; quoted when it holds a reserved character, with ``"`` ```` ` ```` ``$``
    and ``\\`` escaped inside; then backslashes doubled once more, the string escaping every value gets."""
    arg = arg.replace("%", "%%")
    if _RESERVED.search(arg):
        arg = '"' + re.sub(r'(["`$\\])', r"\\\1", arg) + '"'
    return _escape_string(arg)


def _escape_string(value: str) -> str:
    return value.replace("\\", "\\\\")
