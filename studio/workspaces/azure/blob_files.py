"""A job's files in the workspace's artifact store, with the methods and meaning of MLflow's ``RunFiles``.

A run's files are the blobs under ``ExperimentRun/dcid.<run id>/`` of the artifact store's container
(``artifact_store.py``). A folder is one ``walk_blobs`` with ``delimiter="/"`` (lazy: a job with 7,000 files
under ``outputs/`` lists its root in one request), a prefix one flat ``list_blobs`` (5,000 names a page).
Listings of finished runs are kept (their files no longer change); a running run's for ``LIVE_LISTING_S``.

Reads are ranged GETs. A finished run's file is read through aligned ``BLOCK`` blocks in an LRU cache keyed by
run, path, ETag and block, so a preview costs one request and paging through a large log asks each block once
(the size and ETag come with the first block; nothing else is asked). A running run's file is read directly
for the range asked and never cached: its ``user_logs/std_log.txt`` grows, and the follower asks from the
size it last saw; a read at or past the end is ``b""`` (storage answers 416 InvalidRange).

Downloads (``blob_download.py``): up to ``PARALLEL_FILES`` files at a time, each a ``download_blob(max_concurrency=4)`` of 4 MiB
ranges written into ``<name>.part`` and renamed when complete. The cancel token is checked before every range
request and every write, progress counts bytes over all files, and a failure or cancel leaves no ``.part``
and no partial file (files already complete stay, as with the other kinds). A file that changes between two of
its ranges (a running job's log: storage refuses the later range with 412) is started again, and progress only
grows.
"""

from __future__ import annotations

import posixpath
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from studio.core.errors import NotFoundError, StudioError
from studio.core.tasks import CancelToken, ProgressCallback
from studio.core.types import FileInfo
from studio.core.validation import check_run_id, relative_file_name
from studio.workspaces.azure.artifact_store import ArtifactStore, is_auth_refusal
from studio.workspaces.azure.blob_download import RANGES_PER_FILE, Download, changed_meanwhile, refuse_shared_targets
from studio.workspaces.mlflow.rest.types import ArtifactEntry
from studio.workspaces.mlflow.run_files import download_targets, find_entry, walk_folders
from studio.workspaces.mlflow.single_flight import SingleFlight

BLOCK = 1 << 20
CACHE_BYTES = 64 << 20
BIG_READ = 8 << 20
"""A finished run's read longer than this goes straight to storage in parallel ranges, not block by block."""
LIVE_LISTING_S = 2.0
MAX_LISTINGS = 512
MAX_KEPT_ENTRIES = 200_000
"""Files and folders kept over all listings of one kind (about 200 bytes each)."""
MAX_PROPERTIES = 4096
PAGE = 5000
"""Tries of a file that changes while it downloads (a running job's log growing between two ranges)."""
RUN_ROOT = "ExperimentRun/dcid.{run_id}/"


def run_root(run_id: str) -> str:
    """The blob-name prefix of a run's files."""
    return RUN_ROOT.format(run_id=check_run_id(run_id))


class BlobRunFiles:
    """Files of the runs of one Azure ML workspace (its artifact store)."""

    def __init__(self, store: ArtifactStore, pool: ThreadPoolExecutor, flights: SingleFlight) -> None:
        self.store = store
        self.pool = pool  # single listings only: nothing on it waits on it
        self.flights = flights
        self._lock = threading.Lock()
        # (run id, folder) -> (when fetched, final?, entries); (run id, prefix) -> (when, final?, files)
        self._folders: OrderedDict[tuple[str, str], tuple[float, bool, list[ArtifactEntry]]] = OrderedDict()
        self._listings: OrderedDict[tuple[str, str], tuple[float, bool, list[FileInfo]]] = OrderedDict()
        # (run id, path) -> (size, etag) of a finished run's file, learnt from a listing or a first block
        self._properties: OrderedDict[tuple[str, str], tuple[int, str]] = OrderedDict()
        self._blocks: OrderedDict[tuple[str, str, str, int], bytes] = OrderedDict()
        self._block_bytes = 0
        self.requests = 0
        """Storage requests started by reads and listings (not downloads): tests and benchmarks count them."""

    # -- storage calls ------------------------------------------------------------------------

    def _call(self, what: str, action: Callable[[Any], Any]) -> Any:
        """``action(container)``, with the secret asked again once if storage refused it; errors as sentences."""
        container = self.store.container()
        try:
            return action(container)
        except StudioError:
            raise
        except Exception as exc:
            if is_auth_refusal(exc) and self.store.renew_secret(container):
                try:
                    return action(self.store.container())
                except StudioError:
                    raise
                except Exception as again:
                    raise self.store.error(again, what) from None
            raise self.store.error(exc, what) from None

    def _count(self, n: int = 1) -> None:
        with self._lock:
            self.requests += n

    # -- listing ------------------------------------------------------------------------------

    def folder(self, run_id: str, folder: str, final: bool) -> list[ArtifactEntry]:
        """One folder's entries (cached; ``final`` when the run has ended and its files can no longer change)."""
        folder = folder.strip("/")
        return self.flights.kept_or_fetched(
            ("blob-folder", run_id, folder),
            lambda: _kept(self._lock, self._folders, (run_id, folder)),
            lambda: self._fetch_folder(run_id, folder, final),
        )

    def _fetch_folder(self, run_id: str, folder: str, final: bool) -> list[ArtifactEntry]:
        root = run_root(run_id)
        start = root + (relative_file_name(folder) + "/" if folder else "")

        def walk(container: Any) -> list[ArtifactEntry]:
            entries = []
            pages = container.walk_blobs(name_starts_with=start, delimiter="/", results_per_page=PAGE)
            for item in _counted(pages, self._count):
                name = str(item.name)
                if name.endswith("/"):
                    entries.append(ArtifactEntry(name[len(root) :].rstrip("/"), True, None))
                else:
                    entries.append(ArtifactEntry(name[len(root) :], False, int(item.size or 0)))
                    if final:
                        self._remember(run_id, name[len(root) :], int(item.size or 0), _etag(item))
            # A hierarchical-namespace account also lists a folder as an empty blob of the folder's name.
            folders = {e.path for e in entries if e.is_dir}
            return [e for e in entries if e.is_dir or e.path not in folders]

        entries: list[ArtifactEntry] = self._call(f"the folder {folder or '/'!r} of run {run_id}", walk)
        _keep(self._lock, self._folders, (run_id, folder), final, entries)
        return entries

    def listing(
        self, run_id: str, prefix: str, final: bool, modified_at: float, depth: int | None = None
    ) -> list[FileInfo]:
        """The run's files whose path starts with ``prefix``, sorted by path (``depth``: folder levels to go down).

        ``modified_at`` is used for a file whose blob has no time; blobs say when they were last written.
        """
        if depth is not None:
            return walk_folders(lambda f: self.folder(run_id, f, final), self.pool, prefix, modified_at, depth)
        return self.flights.kept_or_fetched(
            ("blob-listing", run_id, prefix),
            lambda: _kept(self._lock, self._listings, (run_id, prefix)),
            lambda: self._fetch_listing(run_id, prefix, final, modified_at),
        )

    def _fetch_listing(self, run_id: str, prefix: str, final: bool, modified_at: float) -> list[FileInfo]:
        root = run_root(run_id)

        def flat(container: Any) -> list[FileInfo]:
            files = []
            pages = container.list_blobs(name_starts_with=root + prefix, results_per_page=PAGE)
            for blob in _counted(pages, self._count):
                name = str(blob.name)
                if name.endswith("/"):
                    continue  # a folder marker (hierarchical namespace), not a file
                when = blob.last_modified.timestamp() if blob.last_modified else modified_at
                files.append(FileInfo(name[len(root) :], int(blob.size or 0), when))
            return files

        files: list[FileInfo] = self._call(f"the files of run {run_id}", flat)
        files.sort(key=lambda f: f.path)
        # A hierarchical-namespace account lists each folder as an empty blob too: drop an empty "file" that
        # other files are inside of (sorted, such a file's contents follow it: "a" < "a/b").
        files = [
            f
            for i, f in enumerate(files)
            if not (f.size == 0 and i + 1 < len(files) and files[i + 1].path.startswith(f.path + "/"))
        ]
        _keep(self._lock, self._listings, (run_id, prefix), final, files)
        return files

    def entry(self, run_id: str, path: str, final: bool) -> ArtifactEntry:
        """The file's entry; NotFoundError for a missing file or a folder."""
        return find_entry(lambda f: self.folder(run_id, f, final), path)

    # -- reading ------------------------------------------------------------------------------

    def read(self, run_id: str, path: str, offset: int, length: int, final: bool) -> bytes:
        """Up to ``length`` bytes from ``offset`` of the file (fewer at its end; ``b""`` at or past it)."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be >= 0")
        clean = relative_file_name(path)
        if length == 0:
            return b""
        if not final or length > BIG_READ:
            # A running run's file changes (never kept); a big read goes in parallel ranges past the cache.
            data, _size, _etag = self._range(run_id, clean, offset, length)
            return data
        end = offset + length
        parts = []
        block = offset // BLOCK
        while True:
            known = self._known(run_id, clean)
            if known is not None:
                end = min(end, known[0])
            if block * BLOCK >= end:
                break
            data = self._block(run_id, clean, block)
            lo = max(offset - block * BLOCK, 0)
            hi = min(end - block * BLOCK, len(data))
            parts.append(data[lo:hi])
            if len(data) < BLOCK:
                break  # the file's last block
            block += 1
        return b"".join(parts)

    def _known(self, run_id: str, path: str) -> tuple[int, str] | None:
        with self._lock:
            return self._properties.get((run_id, path))

    def _remember(self, run_id: str, path: str, size: int, etag: str) -> None:
        with self._lock:
            self._properties[(run_id, path)] = (size, etag)
            self._properties.move_to_end((run_id, path))
            while len(self._properties) > MAX_PROPERTIES:
                self._properties.popitem(last=False)

    def _block(self, run_id: str, path: str, block: int) -> bytes:
        """One aligned block of a finished run's file (``b""`` past its end), cached by ETag."""

        def kept() -> bytes | None:
            known = self._known(run_id, path)
            if known is None:
                return None
            key = (run_id, path, known[1], block)
            with self._lock:
                data = self._blocks.get(key)
                if data is not None:
                    self._blocks.move_to_end(key)
                return data

        def fetch() -> bytes:
            data, size, etag = self._range(run_id, path, block * BLOCK, BLOCK)
            if size is not None:
                self._remember(run_id, path, size, etag)
                self._cache_block((run_id, path, etag, block), data)
            return data

        return self.flights.kept_or_fetched(("blob-block", run_id, path, block), kept, fetch)

    def _cache_block(self, key: tuple[str, str, str, int], data: bytes) -> None:
        with self._lock:
            if key not in self._blocks:
                self._blocks[key] = data
                self._block_bytes += len(data)
            while self._block_bytes > CACHE_BYTES and self._blocks:
                _, old = self._blocks.popitem(last=False)
                self._block_bytes -= len(old)

    def _range(self, run_id: str, path: str, offset: int, length: int) -> tuple[bytes, int | None, str]:
        """One ranged GET: (bytes, the blob's whole size, its ETag); ``(b"", None, "")`` at or past the end."""
        name = run_root(run_id) + path

        def get(container: Any) -> tuple[bytes, int | None, str]:
            self._count()
            try:
                downloader = container.get_blob_client(name).download_blob(
                    offset=offset, length=length, max_concurrency=RANGES_PER_FILE
                )
            except Exception as exc:
                if getattr(exc, "status_code", None) == 416:
                    return b"", None, ""
                raise
            try:
                data = downloader.readall()
            except Exception as exc:
                if changed_meanwhile(exc):  # it grew between two 4 MiB pieces of this read: read again, once
                    downloader = container.get_blob_client(name).download_blob(
                        offset=offset, length=length, max_concurrency=RANGES_PER_FILE
                    )
                    data = downloader.readall()
                else:
                    raise
            props = downloader.properties
            return data, _whole_size(props, offset + len(data)), _etag(props)

        result: tuple[bytes, int | None, str] = self._call(f"the file {path!r} of run {run_id}", get)
        return result

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
        """Files into ``destination``, in parallel; every name, file and target is checked before anything is written."""
        clean = [relative_file_name(p) for p in paths]
        if cancel is not None:
            cancel.raise_if_cancelled()
        if not clean:
            return []
        sizes = self._sizes(run_id, clean, final)
        targets = download_targets(destination, clean, strip_prefix, overwrite)
        jobs = list(dict.fromkeys(zip(clean, targets, strict=True)))  # a file asked twice is fetched once
        refuse_shared_targets(jobs)
        Download(self.store, run_root(run_id), run_id, jobs, sizes, progress, cancel).run()
        return targets

    def _sizes(self, run_id: str, paths: list[str], final: bool) -> dict[str, int]:
        """Each file's size from its folder's listing (one request per folder, folders asked concurrently)."""
        folders = sorted({posixpath.dirname(p) for p in paths})
        listed = dict(zip(folders, self.pool.map(lambda f: self.folder(run_id, f, final), folders), strict=True))
        sizes = {}
        for path in paths:
            found = [e for e in listed[posixpath.dirname(path)] if e.path == path and not e.is_dir]
            if not found:
                raise NotFoundError(f"The run has no file {path!r}; nothing was written.")
            sizes[path] = found[0].size or 0
        return sizes


def _etag(props: Any) -> str:
    """The ETag as one spelling (listings and downloads may differ in quotes)."""
    return str(getattr(props, "etag", "") or "").strip('"')


def _whole_size(props: Any, fallback: int) -> int:
    """The blob's size from a ranged answer's ``Content-Range: bytes a-b/size``."""
    content_range = str(getattr(props, "content_range", "") or "")
    tail = content_range.rpartition("/")[2]
    return int(tail) if tail.isdigit() else int(getattr(props, "size", 0) or fallback)


def _counted(pages: Any, count: Callable[[int], None]) -> Iterable[Any]:
    """The items of a listing, counting one request per page."""
    by_page = pages.by_page() if hasattr(pages, "by_page") else None
    if by_page is None:
        count(1)
        yield from pages
        return
    for page in by_page:
        count(1)
        yield from page


def _kept(
    lock: threading.Lock, cache: OrderedDict[tuple[str, str], tuple[float, bool, Any]], key: tuple[str, str]
) -> Any:
    with lock:
        kept = cache.get(key)
        if kept is not None and (kept[1] or time.monotonic() - kept[0] < LIVE_LISTING_S):
            cache.move_to_end(key)
            return kept[2]
    return None


def _keep(
    lock: threading.Lock,
    cache: OrderedDict[tuple[str, str], tuple[float, bool, Any]],
    key: tuple[str, str],
    final: bool,
    value: Any,
) -> None:
    with lock:
        cache[key] = (time.monotonic(), final, value)
        cache.move_to_end(key)
        # Bounded in listings and in entries (one job may hold 100,000 files); the newest is always kept.
        while len(cache) > 1 and (
            len(cache) > MAX_LISTINGS or sum(len(kept[2]) for kept in cache.values()) > MAX_KEPT_ENTRIES
        ):
            cache.popitem(last=False)
