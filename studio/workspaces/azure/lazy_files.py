"""The workspace's blob files behind a lazy front: the artifact store is resolved at first use, not at open
(``blob_files`` and azure-storage are imported only then, by the ``build`` the backend gives)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from studio.core.tasks import CancelToken, ProgressCallback
from studio.core.types import FileInfo
from studio.workspaces.mlflow.rest.types import ArtifactEntry
from studio.workspaces.mlflow.run_files import ArtifactFiles


class LazyBlobFiles:
    """The workspace's blob files, with the artifact store resolved (one ARM GET) at the first use, not at open."""

    def __init__(self, build: Callable[[], ArtifactFiles]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._files: ArtifactFiles | None = None

    @property
    def files(self) -> ArtifactFiles:
        """The real files object (built on first use)."""
        with self._lock:
            if self._files is None:
                self._files = self._build()
            return self._files

    def folder(self, run_id: str, folder: str, final: bool) -> list[ArtifactEntry]:
        """See ``BlobRunFiles.folder``."""
        return self.files.folder(run_id, folder, final)

    def listing(
        self, run_id: str, prefix: str, final: bool, modified_at: float, depth: int | None = None
    ) -> list[FileInfo]:
        """See ``BlobRunFiles.listing``."""
        return self.files.listing(run_id, prefix, final, modified_at, depth)

    def entry(self, run_id: str, path: str, final: bool) -> ArtifactEntry:
        """See ``BlobRunFiles.entry``."""
        return self.files.entry(run_id, path, final)

    def read(self, run_id: str, path: str, offset: int, length: int, final: bool) -> bytes:
        """See ``BlobRunFiles.read``."""
        return self.files.read(run_id, path, offset, length, final)

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
        """See ``BlobRunFiles.download``."""
        return self.files.download(
            run_id,
            paths,
            destination,
            final=final,
            strip_prefix=strip_prefix,
            overwrite=overwrite,
            progress=progress,
            cancel=cancel,
        )

    def close(self) -> None:
        """Close the store's clients, if they were built."""
        with self._lock:
            files = self._files
        close = getattr(files, "close", None)
        if close is not None:
            close()
        store = getattr(files, "store", None)
        close_store = getattr(store, "close", None)
        if close_store is not None:
            close_store()
