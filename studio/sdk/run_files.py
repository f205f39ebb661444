"""The file half of Run: upload_file, upload_folder, get_file_names, download_file(s)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from studio.core.validation import relative_file_name
from studio.workspaces.local import files_store

if TYPE_CHECKING:
    from studio.sdk.workspace import Workspace


class RunFilesMixin:
    """File methods of Run; expects ``id`` and ``_ws`` on the instance."""

    id: str
    _ws: Workspace

    @property
    def _run_root(self) -> Path:
        return self._ws._local.run_dir(self.id)

    def upload_file(self, name: str, path_or_stream: str | os.PathLike[str] | BinaryIO, **_ignored: Any) -> str:
        """Store a file (a path or a binary stream) as ``name`` in the run, e.g. ``outputs/model.pkl``."""
        dest = files_store.safe_path(self._run_root, name)
        if dest.exists():
            raise FileExistsError(f"run {self.id} already has a file named {relative_file_name(name)!r}")
        if isinstance(path_or_stream, (str, os.PathLike)):
            files_store.write_file(dest, Path(path_or_stream))
        elif isinstance(path_or_stream, io.TextIOBase):
            raise TypeError("upload_file needs a binary stream (open the file with 'rb')")
        elif hasattr(path_or_stream, "read"):
            files_store.write_stream(dest, path_or_stream)
        else:
            raise TypeError(f"path_or_stream must be a path or a binary stream, not {type(path_or_stream).__name__}")
        return relative_file_name(name)

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
            if files_store.safe_path(self._run_root, n).exists():
                raise FileExistsError(f"run {self.id} already has a file named {relative_file_name(n)!r}")

    def get_file_names(self) -> list[str]:
        """Paths of the run's files (``outputs/...``, ``logs/...``, ``images/...``)."""
        return [f.path for f in self._ws._backend.list_files(self.id)]

    def download_file(self, name: str, output_file_path: str | os.PathLike[str] | None = None, **_ignored: Any) -> str:
        """Copy one run file to ``output_file_path`` (a file or an existing folder; default: here)."""
        clean = relative_file_name(name)
        target = Path(output_file_path) if output_file_path is not None else Path.cwd() / Path(clean).name
        if target.is_dir():
            target = target / Path(clean).name
        src = files_store.safe_path(self._run_root, clean)
        if not src.is_file():
            from studio.core.errors import NotFoundError

            raise NotFoundError(f"run {self.id} has no file named {clean!r}")
        with src.open("rb") as f:
            files_store.write_stream(target.absolute(), f, overwrite=True)
        return str(target)

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
        written = self._ws._backend.download_files(
            self.id, names, out, strip_prefix="" if append_prefix else clean, overwrite=True
        )
        return [str(p) for p in written]
