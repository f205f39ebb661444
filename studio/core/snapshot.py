"""What a script job's source folder uploads: the files left after ``.amlignore`` / ``.gitignore``, with totals.

The Submit script dialog shows the plan before anything is copied or uploaded, and every kind snapshots the
same files (Azure's SDK applies the same two ignore files, ``.amlignore`` first).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ALWAYS_IGNORED = (".git/", "__pycache__/", ".azureml/", ".ipynb_checkpoints/")


@dataclass(frozen=True)
class SnapshotPlan:
    """The files of a snapshot (absolute path, relative POSIX name), their total size, and what is wrong."""

    source: Path
    files: list[tuple[Path, str]] = field(default_factory=list)
    total_bytes: int = 0
    ignore_file: str = ""
    """``.amlignore`` or ``.gitignore`` when one was used, else ""."""
    problem: str = ""
    """Why the snapshot cannot be taken (over a limit, unreadable folder), or ""."""
    complete: bool = True
    """False when the walk stopped at a limit: the counts are a lower bound."""

    @property
    def summary(self) -> str:
        """ "12 files, 3.4 MB (after .amlignore)"."""
        count = len(self.files)
        more = "+" if not self.complete else ""
        rules = f" (after {self.ignore_file})" if self.ignore_file else ""
        return f"{count:,}{more} file{'s' if count != 1 else ''}, {_size(self.total_bytes)}{more}{rules}"


def plan_snapshot(source: Path, max_bytes: int | None = None, max_files: int | None = None) -> SnapshotPlan:
    """The files a snapshot of ``source`` takes; stops early (``complete`` False, ``problem`` set) at a limit.

    Links to files outside ``source`` are left out, so a snapshot never copies what lies elsewhere.
    """
    import pathspec

    source = Path(source).expanduser().absolute()
    if not source.is_dir():
        return SnapshotPlan(source, problem=f"The source folder {source} does not exist.")
    patterns = list(ALWAYS_IGNORED)
    used = ""
    for name in (".amlignore", ".gitignore"):
        rules = source / name
        if rules.is_file():
            patterns += rules.read_text(encoding="utf-8", errors="replace").splitlines()
            used = name
            break
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    chosen: list[tuple[Path, str]] = []
    total = 0
    root = source.resolve()
    try:
        for dirpath, dirnames, filenames in os.walk(source):
            rel_dir = Path(dirpath).relative_to(source).as_posix()
            prefix = "" if rel_dir == "." else rel_dir + "/"
            dirnames[:] = sorted(d for d in dirnames if not spec.match_file(prefix + d + "/"))
            for fname in sorted(filenames):
                rel = prefix + fname
                if spec.match_file(rel):
                    continue
                path = Path(dirpath) / fname
                if path.is_symlink() and not path.resolve().is_relative_to(root):
                    continue
                total += path.stat().st_size
                chosen.append((path, rel))
                if max_files is not None and len(chosen) > max_files:
                    problem = (
                        f"{source} has more than {max_files:,} files to upload; list what to leave out in "
                        ".amlignore (same syntax as .gitignore)."
                    )
                    return SnapshotPlan(source, chosen, total, used, problem, complete=False)
                if max_bytes is not None and total > max_bytes:
                    problem = (
                        f"{source} holds more than {_size(max_bytes)} to upload; move data out of the source "
                        "folder or list it in .amlignore."
                    )
                    return SnapshotPlan(source, chosen, total, used, problem, complete=False)
    except OSError as exc:
        return SnapshotPlan(source, chosen, total, used, f"Could not read {source}: {exc.strerror or exc}.", False)
    return SnapshotPlan(source, chosen, total, used)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
