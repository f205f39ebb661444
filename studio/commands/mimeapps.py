"""The default application of a MIME type in a user's ``mimeapps.list`` (no Qt).

The file belongs to the user and to every other application that registers a handler, so it is edited line by
line: only the one ``type=…`` line of ``[Default Applications]`` changes, every other line, comment and section
stays as it was (configparser would lowercase keys, drop comments and reorder nothing but still rewrite it all).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULTS_SECTION = "[Default Applications]"


def default_handlers(path: Path, mime_type: str) -> list[str]:
    """The desktop ids ``path`` names as default for ``mime_type``, first choice first (empty when none)."""
    lines = _read_lines(path)
    index = _find_key(lines, mime_type)
    return [] if index is None else _entries(lines[index])


def set_default(path: Path, mime_type: str, desktop_id: str) -> bool:
    """Make ``desktop_id`` the only default for ``mime_type``; False when it already was (the file is untouched)."""
    lines = _read_lines(path)
    index = _find_key(lines, mime_type)
    new_line = f"{mime_type}={desktop_id}\n"
    if index is not None:
        if _entries(lines[index]) == [desktop_id]:
            return False
        lines[index] = new_line
    else:
        section = _find_section(lines)
        if section is None:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            if lines and lines[-1].strip():
                lines.append("\n")  # a blank line between sections, as desktops write them
            lines += [f"{DEFAULTS_SECTION}\n", new_line]
        else:
            end = _section_end(lines, section)
            while end > section + 1 and not lines[end - 1].strip():
                end -= 1  # after the section's last entry, before the blank lines that separate it
            if not lines[end - 1].endswith("\n"):
                lines[end - 1] += "\n"
            lines.insert(end, new_line)
    _write(path, lines)
    return True


def remove_default(path: Path, mime_type: str, desktop_id: str) -> bool:
    """Take ``desktop_id`` out of ``mime_type``'s defaults; False when it is not among them (nothing changes).

    The line goes when no other id is left on it; the section header goes when it is left empty, the file when
    nothing is left in it, so that an install then an uninstall leaves the folder as it was."""
    lines = _read_lines(path)
    index = _find_key(lines, mime_type)
    if index is None:
        return False
    entries = _entries(lines[index])
    if desktop_id not in entries:
        return False
    rest = [e for e in entries if e != desktop_id]
    if rest:
        lines[index] = f"{mime_type}={';'.join(rest)};\n"
    else:
        del lines[index]
        section = _find_section(lines)
        if section is not None and not any(line.strip() for line in lines[section + 1 : _section_end(lines, section)]):
            del lines[section : _section_end(lines, section)]
            if section == len(lines):  # it was the last section: drop the blank line set_default put before it
                while lines and not lines[-1].strip():
                    del lines[-1]
    if not any(line.strip() for line in lines):
        path.unlink()
        return True
    _write(path, lines)
    return True


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        return []


def _find_section(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if line.strip() == DEFAULTS_SECTION:
            return i
    return None


def _section_end(lines: list[str], section: int) -> int:
    """The index of the next section's header (or the end of the file)."""
    for i in range(section + 1, len(lines)):
        if lines[i].lstrip().startswith("["):
            return i
    return len(lines)


def _find_key(lines: list[str], key: str) -> int | None:
    section = _find_section(lines)
    if section is None:
        return None
    for i in range(section + 1, _section_end(lines, section)):
        name, sep, _ = lines[i].partition("=")
        if sep and not lines[i].lstrip().startswith("#") and name.strip() == key:
            return i
    return None


def _entries(line: str) -> list[str]:
    return [e.strip() for e in line.partition("=")[2].strip().split(";") if e.strip()]


def _write(path: Path, lines: list[str]) -> None:
    """Replace the file in one rename, so a desktop reading it meanwhile never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_text("".join(lines), encoding="utf-8")
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o777)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
