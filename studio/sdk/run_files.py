"""The file half of Run: upload_file, upload_folder, get_file_names, download_file(s)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from studio.core.errors import NotFoundError
from studio.core.validation import relative_file_name

if TYPE_CHECKING:
    from studio.core.tracking import TrackingBackend
    from studio.sdk.workspace import Workspace

_CHUNK = 1 << 20


class RunFilesMixin:
    """File methods of Run; expects ``id``, ``_ws`` and ``_tracking`` on the instance."""

    id: str
    _ws: Workspace
    _tracking: TrackingBackend

    def upload_file(self, name: str, path_or_stream: str | os.PathLike[str] | BinaryIO, **_ignored: Any) -> str:
        """Store a file (a path or a binary stream) as ``name`` in the run, e.g. ``outputs/model.pkl``."""
        if isinstance(path_or_stream, (str, os.PathLike)):
            return self._tracking.upload_file(self.id, name, Path(path_or_stream))
        if isinstance(path_or_stream, io.TextIOBase):
            raise TypeError("upload_file needs a binary stream (open the file with 'rb')")
        if hasattr(path_or_stream, "read"):
            return self._tracking.upload_file(self.id, name, path_or_stream)
        raise TypeError(f"path_or_stream must be a path or a binary stream, not {type(path_or_stream).__name__}")

    def upload_files(self, names: list[str], paths: list[str | os.PathLike[str]], **_ignored: Any) -> list[str]:
        """Upload several files; names are checked before anything is written."""
        if len(names) != len(paths):
            raise ValueError("names and paths must have the same length")
        self._check_new(names)
        return [self.upload_file(n, p) for n, p in zip(names, paths, strict=False)]

    def upload_folder(self, name: str, path: str | os.PathLike[str], **_ignored: Any) -> list[str]:
        """Upload every file under folder ``path`` as ``name/<relative path>``."""
        base = Path(path)
        if not base.is_dir():
            raise NotADirectoryError(f"{base} is not a folder")
        prefix = relative_file_name(name)
        sources = sorted(p for p in base.rglob("*") if p.is_file())
        names = [f"{prefix}/{p.relative_to(base).as_posix()}" for p in sources]
        return self.upload_files(names, list(sources))

    def _check_new(self, names: list[str]) -> None:
        for n in names:
            if self._tracking.file_exists(self.id, n):
                raise FileExistsError(f"run {self.id} already has a file named {relative_file_name(n)!r}")

    def get_file_names(self) -> list[str]:
        """Paths of the run's files (``outputs/...``, ``logs/...``, ``images/...``)."""
        return [f.path for f in self._ws.backend.list_files(self.id)]

    def download_file(self, name: str, output_file_path: str | os.PathLike[str] | None = None, **_ignored: Any) -> str:
        """Copy one run file to ``output_file_path`` (a file or an existing folder; default: here)."""
        clean = relative_file_name(name)
        target = Path(output_file_path) if output_file_path is not None else Path.cwd() / Path(clean).name
        if target.is_dir():
            target = target / Path(clean).name
        if not self._tracking.file_exists(self.id, clean):
            raise NotFoundError(f"run {self.id} has no file named {clean!r}")
        target = target.absolute()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")  # a reader never sees half a file
        try:
            with partial.open("wb") as out:
                for chunk in self._file_chunks(clean):
                    out.write(chunk)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return str(target)

    def _file_chunks(self, name: str) -> Iterator[bytes]:
        """One run file in pieces, read through the backend."""
        offset = 0
        while chunk := self._ws.backend.read_file_range(self.id, name, offset, _CHUNK):
            yield chunk
            offset += len(chunk)

    def _read_file(self, name: str) -> bytes:
        """The whole of one (small) run file, e.g. a log."""
        return b"".join(self._file_chunks(name))

    def download_files(
        self,
        prefix: str | None = None,
        output_directory: str | os.PathLike[str] | None = None,
        output_paths: list[str] | None = None,
        append_prefix: bool = True,
        **_ignored: Any,
    ) -> list[str]:
        """Download files under ``prefix`` into ``output_directory`` (default: here), keeping their paths.

        ``append_prefix=False`` drops the prefix from the downloaded paths.
        """
        clean = relative_file_name(prefix) if prefix else ""
        names = [n for n in self.get_file_names() if not clean or n == clean or n.startswith(clean.rstrip("/") + "/")]
        out = Path(output_directory) if output_directory is not None else Path.cwd()
        if output_paths is not None:
            if len(output_paths) != len(names):
                raise ValueError("output_paths must name one path per downloaded file")
            return [self.download_file(n, p) for n, p in zip(names, output_paths, strict=False)]
        written = self._ws.backend.download_files(
            self.id, names, out, strip_prefix="" if append_prefix else clean, overwrite=True
        )
        return [str(p) for p in written]
