"""Downloads of a job's files from blob storage: several files at a time, each in ranges into ``<name>.part``.

Up to ``PARALLEL_FILES`` files at a time, each a ``download_blob(max_concurrency=RANGES_PER_FILE)`` written into
``<name>.part`` and renamed when complete. The cancel token is checked before every range request and every
write, progress counts bytes over all files, and the first failure stops the other files; a failure or cancel
leaves no ``.part`` and no partial file. A file that changes between two of its ranges (a running job's log:
storage refuses the later range with 412) is started again, and progress only grows.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from studio.core.errors import CancelledError, StudioError, WorkspaceError
from studio.core.tasks import CancelToken, ProgressCallback
from studio.workspaces.azure.artifact_store import ArtifactStore, is_auth_refusal

PARALLEL_FILES = 8
RANGES_PER_FILE = 4
CHANGED_TRIES = 3


def refuse_shared_targets(jobs: list[tuple[str, Path]]) -> None:
    """Two files that would land on one target (after ``strip_prefix``) are refused: in parallel they would clash."""
    first: dict[Path, str] = {}
    for path, target in jobs:
        other = first.setdefault(target, path)
        if other != path:
            raise ValueError(f"{other!r} and {path!r} would both be written to {target}; nothing was written")


class Download:
    """One ``download`` call: its files on a pool of their own, shared progress, the first failure stops the rest."""

    def __init__(
        self,
        store: ArtifactStore,
        root: str,
        run_id: str,
        jobs: list[tuple[str, Path]],
        sizes: dict[str, int],
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> None:
        self.store = store
        self.root = root
        self.run_id = run_id
        self.jobs = jobs
        self.cancel = cancel
        self.stop = threading.Event()  # set by the first failure: the other files stop at their next check
        self.report = progress or (lambda done, total: None)
        self.total = sum(sizes[path] for path, _ in jobs)
        self.done = 0
        self.lock = threading.Lock()

    def check(self) -> None:
        """Raise CancelledError once the user cancelled or another file failed."""
        if self.stop.is_set() or (self.cancel is not None and self.cancel.cancelled):
            raise CancelledError("cancelled")

    def add(self, n: int) -> None:
        """Count ``n`` more bytes done."""
        with self.lock:
            self.done += n
            self.report(min(self.done, self.total), self.total)

    def run(self) -> None:
        """Every file, in parallel; the first real failure (else the cancel) is raised once all have stopped."""
        with self.lock:
            self.report(0, self.total)
        errors: list[BaseException] = []
        workers = min(PARALLEL_FILES, len(self.jobs))
        with ThreadPoolExecutor(workers, thread_name_prefix="blob-download") as pool:
            futures = [pool.submit(self.guarded, path, target) for path, target in self.jobs]
            for future in futures:
                error = future.exception()
                if error is not None:
                    errors.append(error)
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        real = [e for e in errors if not isinstance(e, CancelledError)]
        if real:
            raise real[0]
        if errors:
            raise errors[0]

    def guarded(self, path: str, target: Path) -> None:
        """``one``; its failure stops the other files at their next check."""
        try:
            self.one(path, target)
        except BaseException:
            self.stop.set()
            raise

    def one(self, path: str, target: Path) -> None:
        """One file into ``target.part``, renamed when complete; the secret asked again once if it was refused."""
        self.check()
        store = self.store
        what = f"the file {path!r} of run {self.run_id}"
        name = self.root + path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"Cannot write {target}: {exc.strerror or exc}.") from exc
        partial = target.with_name(target.name + ".part")
        renewed = False
        credited = [0]  # bytes of this file already counted in the progress: a second try counts only beyond them
        for attempt in range(1, CHANGED_TRIES + 1):
            container = store.container()
            try:
                self._fetch(container, name, partial, credited)
                self.check()  # cancelled as its last bytes came: the file is not kept
                os.replace(partial, target)
                return
            except BaseException as exc:
                partial.unlink(missing_ok=True)
                if isinstance(exc, StudioError):
                    raise
                if isinstance(exc, OSError) and not is_storage_error(exc):
                    raise WorkspaceError(f"Cannot write {target}: {exc.strerror or exc}.") from exc
                if not renewed and is_auth_refusal(exc) and store.renew_secret(container):
                    renewed = True
                    continue
                if attempt < CHANGED_TRIES and changed_meanwhile(exc):
                    continue  # a running job's log grew between two ranges: start the file again
                if isinstance(exc, Exception):
                    raise store.error(exc, what) from None
                raise

    def _fetch(self, container: Any, name: str, partial: Path, credited: list[int]) -> None:
        def before_request(_request: Any) -> None:
            self.check()  # between the ranges of a file: a cancel stops at once, not after the whole file

        downloader = container.get_blob_client(name).download_blob(
            max_concurrency=RANGES_PER_FILE, raw_request_hook=before_request
        )
        with open(partial, "wb") as out:
            sink = _Sink(out, self, credited)
            downloader.readinto(sink)
        if sink.written != downloader.size:
            raise WorkspaceError(
                f"The download of {name} stopped at {sink.written:,} of {downloader.size:,} bytes: try again."
            )


class _Sink:
    """The file a download writes into: checks the cancel token and counts progress at every write.

    Progress only grows: a file started again (it changed, or its secret was renewed) counts its bytes again only
    past what its earlier try already counted (``credited``).
    """

    def __init__(self, out: BinaryIO, download: Download, credited: list[int]) -> None:
        self.out = out
        self.download = download
        self.credited = credited
        self.written = 0

    def write(self, data: bytes) -> int:
        self.download.check()
        n = self.out.write(data)
        self.written += n
        if self.written > self.credited[0]:
            self.download.add(self.written - self.credited[0])
            self.credited[0] = self.written
        return n

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.out.seek(offset, whence)

    def tell(self) -> int:
        return self.out.tell()

    def seekable(self) -> bool:
        return True


def changed_meanwhile(exc: BaseException) -> bool:
    """Storage refused a range because the blob changed since the first one (412 ConditionNotMet)."""
    return getattr(exc, "status_code", None) == 412


def is_storage_error(exc: BaseException) -> bool:
    """True for an exception of the storage SDK (azure-core's family), not one of the local file system."""
    return type(exc).__module__.startswith("azure.")
