"""Copying a job's source folder into its run snapshot, honouring .amlignore / .gitignore and limits."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from studio.core.errors import StudioError

MAX_SNAPSHOT_BYTES = 300 * 1024 * 1024
MAX_SNAPSHOT_FILES = 2000
_ALWAYS_IGNORED = (".git/", "__pycache__/", ".azureml/", ".ipynb_checkpoints/")


class SnapshotTooLarge(StudioError):
    """The source folder is over the snapshot limits."""


def snapshot_files(source: Path) -> list[tuple[Path, str]]:
    """(absolute path, relative POSIX name) of the files a snapshot takes, after the ignore rules.

    ``.amlignore`` is used if present, else ``.gitignore`` (both with git's pattern rules).
    Raises SnapshotTooLarge above 300 MB or 2,000 files.
    """
    import pathspec

    patterns = list(_ALWAYS_IGNORED)
    for name in (".amlignore", ".gitignore"):
        rules = source / name
        if rules.is_file():
            patterns += rules.read_text(encoding="utf-8", errors="replace").splitlines()
            break
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    chosen: list[tuple[Path, str]] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(source):
        rel_dir = Path(dirpath).relative_to(source).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not spec.match_file(prefix + d + "/"))
        for fname in sorted(filenames):
            rel = prefix + fname
            if spec.match_file(rel):
                continue
            path = Path(dirpath) / fname
            if path.is_symlink() and not path.resolve().is_relative_to(source.resolve()):
                continue  # never copy what a link outside the project points at
            total += path.stat().st_size
            chosen.append((path, rel))
            if len(chosen) > MAX_SNAPSHOT_FILES:
                raise SnapshotTooLarge(
                    f"{source} has more than {MAX_SNAPSHOT_FILES} files to snapshot; list what to leave out in "
                    ".amlignore (same syntax as .gitignore)."
                )
            if total > MAX_SNAPSHOT_BYTES:
                raise SnapshotTooLarge(
                    f"{source} holds more than {MAX_SNAPSHOT_BYTES // (1024 * 1024)} MB to snapshot; move data out "
                    "of the source folder or list it in .amlignore."
                )
    return chosen


def copy_snapshot(files: list[tuple[Path, str]], dest: Path) -> None:
    """Copy the chosen files into ``dest``."""
    for path, rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
