"""A run's files on disk: safe names, atomic writes, listing, range reads and downloads."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path
from typing import BinaryIO

from studio.core.errors import NotFoundError, WorkspaceError
from studio.core.tasks import CancelToken, ProgressCallback
from studio.core.types import FileInfo
from studio.core.validation import relative_file_name

TEMP_MARK = ".studio-tmp-"
COPY_BLOCK = 1 << 20
SENDFILE_STEP = 64 << 20  # cancel and progress are checked between steps


def safe_path(root: Path, name: str) -> Path:
    """``root / name`` after checking that ``name`` is relative and stays inside ``root``."""
    clean = relative_file_name(name)
    path = root / clean
    resolved_root = root.resolve()
    if resolved_root not in path.resolve().parents:
        raise ValueError(f"invalid file name {name!r}: leads outside the run's folder")
    return path


def temp_name(final: Path) -> Path:
    """A hidden temporary name next to ``final`` that listings skip."""
    return final.with_name(f".{final.name}{TEMP_MARK}{secrets.token_hex(4)}")


def write_stream(dest: Path, source: BinaryIO, *, overwrite: bool = False) -> int:
    """Copy ``source`` to ``dest`` through a temporary file and an atomic rename; returns bytes."""
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest.name} already exists")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(exc, dest) from exc
    tmp = temp_name(dest)
    written = 0
    try:
        with tmp.open("wb") as out:
            while block := source.read(COPY_BLOCK):
                out.write(block)
                written += len(block)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _os_error(exc, dest) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written


def write_file(dest: Path, source: Path, *, overwrite: bool = False) -> int:
    """Copy a file into a run (see write_stream)."""
    if not source.is_file():
        raise FileNotFoundError(f"{source} is not a file")
    with source.open("rb") as f:
        return write_stream(dest, f, overwrite=overwrite)


def _os_error(exc: OSError, where: Path) -> Exception:
    if exc.errno == errno.ENOSPC:
        return WorkspaceError(f"The disk is full; could not write {where}.")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return WorkspaceError(f"Cannot write {where}: {exc.strerror}.")
    return exc


def list_files(run_root: Path, prefix: str = "") -> list[FileInfo]:
    """Files under a run's folder (relative POSIX paths) starting with ``prefix``, sorted."""
    out: list[FileInfo] = []
    if not run_root.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(run_root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, run_root)
        for fname in filenames:
            if TEMP_MARK in fname:
                continue
            rel = fname if rel_dir == "." else f"{rel_dir}/{fname}".replace(os.sep, "/")
            if prefix and not rel.startswith(prefix):
                continue
            try:
                st = os.stat(os.path.join(dirpath, fname))
            except OSError:
                continue  # removed while listing
            out.append(FileInfo(path=rel, size=st.st_size, modified_at=st.st_mtime))
    out.sort(key=lambda f: f.path)
    return out


def read_range(run_root: Path, name: str, offset: int, length: int) -> bytes:
    """Up to ``length`` bytes from ``offset`` of a run's file."""
    if offset < 0 or length < 0:
        raise ValueError("offset and length must be >= 0")
    path = safe_path(run_root, name)
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read(length)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):  # a folder, or a file used as one
        raise NotFoundError(f"The run has no file {name!r}.") from None


def download(
    run_root: Path,
    names: list[str],
    destination: Path,
    *,
    strip_prefix: str = "",
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[Path]:
    """Copy run files into ``destination`` (see WorkspaceBackend.download_files).

    Every name is checked (and every target, for collisions) before anything is written.
    """
    checker_src, checker_dest = _Confined(run_root), _Confined(destination)
    plan: list[tuple[Path, Path]] = []
    clashes: list[Path] = []
    total = 0
    for name in names:
        src = checker_src.path(name)
        try:
            st = os.stat(src)
        except FileNotFoundError:
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            raise NotFoundError(f"The run has no file {name!r}.")
        rel = relative_file_name(name)
        if strip_prefix and rel.startswith(strip_prefix):
            rel = rel[len(strip_prefix) :].lstrip("/") or Path(rel).name
        dest = checker_dest.path(rel)
        if not overwrite and os.path.lexists(dest):
            clashes.append(dest)
        plan.append((src, dest))
        total += st.st_size
    if clashes:
        more = f" (and {len(clashes) - 1:,} more of these files)" if len(clashes) > 1 else ""
        raise FileExistsError(f"{clashes[0]} already exists{more}; nothing was written")
    done = 0
    report = progress or (lambda d, t: None)
    report(0, total)
    made: set[Path] = set()
    for src, dest in plan:
        if dest.parent not in made:
            dest.parent.mkdir(parents=True, exist_ok=True)
            made.add(dest.parent)
        done = _copy_one(src, dest, done, total, report, cancel)
    return [dest for _, dest in plan]


class _Confined:
    """safe_path for many names under one root, resolving each folder once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.resolved_root = root.resolve()
        self._folders: dict[Path, Path] = {}

    def path(self, name: str) -> Path:
        clean = relative_file_name(name)
        path = self.root / clean
        folder = self._folders.get(path.parent)
        if folder is None:
            folder = self._folders[path.parent] = path.parent.resolve()
        real = folder / path.name
        if real.is_symlink():
            real = real.resolve()
        if self.resolved_root not in real.parents:
            raise ValueError(f"invalid file name {name!r}: leads outside {self.root}")
        return path


def _copy_one(
    src: Path, dest: Path, done: int, total: int, report: ProgressCallback, cancel: CancelToken | None
) -> int:
    tmp = temp_name(dest)
    # Plain descriptors, not Python file objects: open() also asks fstat and isatty, and for a
    # download of 1,000 small files that was as slow as the copying itself.
    binary = getattr(os, "O_BINARY", 0)
    try:
        fin = os.open(src, os.O_RDONLY | binary)
        try:
            fout = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | binary, 0o666)
            try:
                done = _pump(fin, fout, done, total, report, cancel)
            finally:
                os.close(fout)
        finally:
            os.close(fin)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _os_error(exc, dest) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return done


def _pump(fin: int, fout: int, done: int, total: int, report: ProgressCallback, cancel: CancelToken | None) -> int:
    """Copy in the kernel (sendfile) where it can, in steps that let cancel and progress through."""
    if hasattr(os, "sendfile"):
        try:
            while True:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                sent = os.sendfile(fout, fin, None, SENDFILE_STEP)
                if not sent:
                    return done
                done += sent
                report(done, total)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            os.lseek(fin, os.lseek(fout, 0, os.SEEK_CUR), os.SEEK_SET)  # go on from where sendfile stopped
    while block := os.read(fin, COPY_BLOCK):
        if cancel is not None:
            cancel.raise_if_cancelled()
        view = memoryview(block)
        while view:
            view = view[os.write(fout, view) :]
        done += len(block)
        report(done, total)
    return done
