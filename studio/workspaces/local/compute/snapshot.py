"""Copying a job's source folder into its run snapshot, honouring .amlignore / .gitignore and limits."""

from __future__ import annotations

import shutil
from pathlib import Path

from studio.core.errors import StudioError
from studio.core.snapshot import plan_snapshot

MAX_SNAPSHOT_BYTES = 300 * 1024 * 1024
MAX_SNAPSHOT_FILES = 2000


class SnapshotTooLarge(StudioError):
    """The source folder is over the snapshot limits."""


def snapshot_files(source: Path) -> list[tuple[Path, str]]:
    """(absolute path, relative POSIX name) of the files a snapshot takes, after the ignore rules.

    ``.amlignore`` is used if present, else ``.gitignore`` (both with git's pattern rules).
    Raises SnapshotTooLarge above 300 MB or 2,000 files.
    """
    plan = plan_snapshot(source, MAX_SNAPSHOT_BYTES, MAX_SNAPSHOT_FILES)
    if plan.problem:
        raise SnapshotTooLarge(plan.problem)
    return plan.files


def copy_snapshot(files: list[tuple[Path, str]], dest: Path) -> None:
    """Copy the chosen files into ``dest``."""
    for path, rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
