"""A run's artifacts as the protocol's files: recursive listing, byte ranges through a block cache, downloads.

MLflow lists one folder per request (``artifacts/list``), so a listing walks the tree level by level with the
folders of a level asked concurrently, and starts at the deepest folder a prefix names. Listings of finished
runs are kept (their files no longer change); a running run's listing is kept for ``LIVE_LISTING_S``.

Reads go through aligned blocks of ``BLOCK`` bytes kept in an LRU cache keyed by run, path and size (a file
that grows gets a new size and so new blocks), so paging through a large log asks each block once. Each block
is one ranged request when the server honours ``Range``, else a streamed read that stops at the block's end.
"""

from __future__ import annotations

import os
import posixpath
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from studio.core.errors import NotFoundError, WorkspaceError
from studio.core.tasks import CancelToken, ProgressCallback
from studio.core.types import FileInfo
from studio.core.validation import relative_file_name
from studio.workspaces.mlflow.rest.client import MlflowRestClient
from studio.workspaces.mlflow.rest.types import ArtifactEntry
from studio.workspaces.mlflow.single_flight import SingleFlight

BLOCK = 1 << 20
CACHE_BYTES = 64 << 20
LIVE_LISTING_S = 2.0
MAX_LISTINGS = 512


class ArtifactFiles(Protocol):
    """What the backend and ``RunMetrics`` ask of a run's files: ``RunFiles`` here, the Azure kind's blob files."""

    def folder(self, run_id: str, folder: str, final: bool) -> list[ArtifactEntry]:
        """One folder's entries."""
        ...

    def listing(
        self, run_id: str, prefix: str, final: bool, modified_at: float, depth: int | None = None
    ) -> list[FileInfo]:
        """The run's files under ``prefix``, sorted by path."""
        ...

    def entry(self, run_id: str, path: str, final: bool) -> ArtifactEntry:
        """The file's entry; NotFoundError for a missing file or a folder."""
        ...

    def read(self, run_id: str, path: str, offset: int, length: int, final: bool) -> bytes:
        """Up to ``length`` bytes from ``offset``."""
        ...

    def download(
        self,
        run_id: str,
        paths: list[str],
        destination: Path,
        *,
        final: bool,
        strip_prefix: str,
        overwrite: bool,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> list[Path]:
        """Files into ``destination`` (each complete or absent)."""
        ...


class RunFiles:
    """Files of the runs of one MLflow server."""

    def __init__(self, client: MlflowRestClient, pool: ThreadPoolExecutor, flights: SingleFlight) -> None:
        self.client = client
        self.pool = pool  # only for single artifacts/list requests: nothing on it waits on it
        self.flights = flights
        self._lock = threading.Lock()
        # (run id, folder) -> (when fetched, final?, entries)
        self._folders: OrderedDict[tuple[str, str], tuple[float, bool, list[ArtifactEntry]]] = OrderedDict()
        self._blocks: OrderedDict[tuple[str, str, int, int], bytes] = OrderedDict()
        self._block_bytes = 0

    # -- listing ------------------------------------------------------------------------------

    def folder(self, run_id: str, folder: str, final: bool) -> list[ArtifactEntry]:
        """One folder's entries (cached; ``final`` when the run has ended and its files can no longer change)."""
        return self.flights.kept_or_fetched(
            ("folder", run_id, folder),
            lambda: self._kept_folder(run_id, folder),
            lambda: self._fetch_folder(run_id, folder, final),
        )

    def _kept_folder(self, run_id: str, folder: str) -> list[ArtifactEntry] | None:
        key = (run_id, folder)
        with self._lock:
            kept = self._folders.get(key)
            if kept is not None and (kept[1] or time.monotonic() - kept[0] < LIVE_LISTING_S):
                self._folders.move_to_end(key)
                return kept[2]
        return None

    def _fetch_folder(self, run_id: str, folder: str, final: bool) -> list[ArtifactEntry]:
        entries = self.client.list_artifacts(run_id, folder).entries
        with self._lock:
            self._folders[(run_id, folder)] = (time.monotonic(), final, entries)
            while len(self._folders) > MAX_LISTINGS:
                self._folders.popitem(last=False)
        return entries

    def listing(
        self, run_id: str, prefix: str, final: bool, modified_at: float, depth: int | None = None
    ) -> list[FileInfo]:
        """The run's files whose path starts with ``prefix``, sorted by path (``depth``: folder levels to go down)."""
        return walk_folders(lambda f: self.folder(run_id, f, final), self.pool, prefix, modified_at, depth)

    def entry(self, run_id: str, path: str, final: bool) -> ArtifactEntry:
        """The file's entry; NotFoundError for a missing file or a folder."""
        return find_entry(lambda f: self.folder(run_id, f, final), path)

    # -- reading ------------------------------------------------------------------------------

    def read(self, run_id: str, path: str, offset: int, length: int, final: bool) -> bytes:
        """Up to ``length`` bytes from ``offset`` of the file (fewer at its end), through the block cache."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be >= 0")
        entry = self.entry(run_id, path, final)
        size = entry.size or 0
        end = min(offset + length, size)
        if offset >= end:
            return b""
        parts = []
        for block in range(offset // BLOCK, (end - 1) // BLOCK + 1):
            data = self._block(run_id, entry.path, size, block)
            lo = max(offset - block * BLOCK, 0)
            hi = min(end - block * BLOCK, len(data))
            parts.append(data[lo:hi])
        return b"".join(parts)

    def _block(self, run_id: str, path: str, size: int, block: int) -> bytes:
        key = (run_id, path, size, block)
        with self._lock:
            data = self._blocks.get(key)
            if data is not None:
                self._blocks.move_to_end(key)
                return data
        start = block * BLOCK
        data = self.client.read_artifact_range(run_id, path, start, min(BLOCK, size - start))
        with self._lock:
            if key not in self._blocks:
                self._blocks[key] = data
                self._block_bytes += len(data)
            while self._block_bytes > CACHE_BYTES and self._blocks:
                _, old = self._blocks.popitem(last=False)
                self._block_bytes -= len(old)
        return data

    # -- downloading --------------------------------------------------------------------------

    def download(
        self,
        run_id: str,
        paths: list[str],
        destination: Path,
        *,
        final: bool,
        strip_prefix: str,
        overwrite: bool,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> list[Path]:
        """Stream files into ``destination``; every name, file and target is checked before anything is written."""
        clean = [relative_file_name(p) for p in paths]
        if cancel is not None:
            cancel.raise_if_cancelled()
        if not clean:
            return []
        entries = [self.entry(run_id, p, final) for p in clean]
        targets = download_targets(destination, clean, strip_prefix, overwrite)
        total = sum(e.size or 0 for e in entries)
        report = progress or (lambda done, whole: None)
        report(0, total)
        done = 0
        for entry, target in zip(entries, targets, strict=True):
            if cancel is not None:
                cancel.raise_if_cancelled()
            base = done
            try:
                self.client.download_artifact(
                    run_id,
                    entry.path,
                    target,
                    progress=lambda d, _t, base=base: report(min(base + d, total), total),  # type: ignore[misc]
                    cancel=cancel,
                )
            except OSError as exc:
                raise WorkspaceError(f"Cannot write {target}: {exc.strerror or exc}.") from exc
            done = base + (entry.size or 0)
        return targets


def walk_folders(
    folder: Callable[[str], list[ArtifactEntry]],
    pool: Executor,
    prefix: str,
    modified_at: float,
    depth: int | None = None,
) -> list[FileInfo]:
    """The files under ``prefix``, sorted by path, read folder by folder (each level's folders at once through
    ``pool``; ``depth``: levels to go down, None for all), from a store whose ``folder(path)`` lists one folder."""
    level = [posixpath.dirname(prefix) if prefix else ""]
    files: list[FileInfo] = []
    while level:
        if depth is not None:
            if depth < 0:
                break
            depth -= 1
        listed = list(pool.map(folder, level))
        level = []
        for entries in listed:
            for entry in entries:
                if entry.is_dir:
                    # Only folders that can hold a match: inside the prefix, or on the way to it.
                    if entry.path.startswith(prefix) or prefix.startswith(entry.path + "/"):
                        level.append(entry.path)
                elif entry.path.startswith(prefix):
                    files.append(FileInfo(entry.path, entry.size or 0, modified_at))
    return sorted(files, key=lambda f: f.path)


def find_entry(folder: Callable[[str], list[ArtifactEntry]], path: str) -> ArtifactEntry:
    """The entry of file ``path`` from its folder's listing; NotFoundError for a missing file or a folder."""
    clean = relative_file_name(path)
    for entry in folder(posixpath.dirname(clean)):
        if entry.path == clean and not entry.is_dir:
            return entry
    raise NotFoundError(f"The run has no file {path!r}.")


def download_targets(destination: Path, paths: list[str], strip_prefix: str, overwrite: bool) -> list[Path]:
    """Where each of ``paths`` lands under ``destination``; FileExistsError (nothing written) for files there
    already, unless ``overwrite``."""
    targets = [target_path(destination, p, strip_prefix) for p in paths]
    clashes = [t for t in targets if not overwrite and os.path.lexists(t)]
    if clashes:
        more = f" (and {len(clashes) - 1:,} more of these files)" if len(clashes) > 1 else ""
        raise FileExistsError(f"{clashes[0]} already exists{more}; nothing was written")
    return targets


def target_path(destination: Path, name: str, strip_prefix: str) -> Path:
    """Where ``name`` goes under ``destination`` once ``strip_prefix`` is taken off; never outside it."""
    relative = name
    if strip_prefix and relative.startswith(strip_prefix):
        relative = relative[len(strip_prefix) :].lstrip("/") or posixpath.basename(name)
    relative = relative_file_name(relative)
    target = destination / relative
    root = destination.resolve()
    if root not in target.resolve().parents:
        raise ValueError(f"invalid file name {name!r}: leads outside {destination}")
    return target
