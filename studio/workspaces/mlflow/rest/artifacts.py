"""A run's artifacts: listing (``artifacts/list``) and reading through the server's artifact proxy.

Files come from ``GET /api/2.0/mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/<path>``, which a server
started with ``--serve-artifacts`` (the default since MLflow 2) answers for runs whose artifact URI is
``mlflow-artifacts:``. Reads of part of a file send ``Range``; a server that answers 206 is remembered as
honouring ranges; one that sends the whole file (200) is read only up to the end of the wanted range, and the
connection closed there. Downloads stream to ``<name>.part`` and are renamed when complete, so a failed or
cancelled download never leaves a file that looks whole.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import requests

from studio.core.errors import UnsupportedOperation
from studio.core.tasks import CancelToken, ProgressCallback
from studio.workspaces.mlflow.rest.errors import MlflowRequestError, MlflowUnreachableError
from studio.workspaces.mlflow.rest.parse import artifact_from_json
from studio.workspaces.mlflow.rest.transport import Transport
from studio.workspaces.mlflow.rest.types import ArtifactEntry, ArtifactListing

LIST_ARTIFACTS = "/api/2.0/mlflow/artifacts/list"
PROXY_PREFIX = "/api/2.0/mlflow-artifacts/artifacts/"
CHUNK = 1 << 16


def clean_artifact_path(path: str) -> str:
    """``path`` relative to the run's artifact root, with ``/`` separators; MlflowRequestError if it leaves it."""
    text = path.replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if text.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
        raise MlflowRequestError(f"{path!r} is not a path inside the run's artifacts.")
    return "/".join(parts)


def proxy_path(artifact_uri: str, path: str) -> str:
    """The API path that serves ``path`` of a run whose artifact root is ``artifact_uri``.

    UnsupportedOperation for roots the server does not proxy (``s3://``, a local folder: the server was started
    with ``--no-serve-artifacts`` or an explicit ``--default-artifact-root``).
    """
    parts = urlsplit(artifact_uri)
    if parts.scheme == "mlflow-artifacts":
        root = parts.path
    elif parts.scheme in ("http", "https") and PROXY_PREFIX.rstrip("/") in parts.path:
        root = parts.path.split(PROXY_PREFIX.rstrip("/"), 1)[1]
    else:
        raise UnsupportedOperation(
            f"This MLflow server does not serve the run's files (they are stored at {artifact_uri}): "
            "start it with --serve-artifacts to read them here."
        )
    relative = clean_artifact_path(path)
    return PROXY_PREFIX + posixpath.join(root.strip("/"), relative)


class Artifacts:
    """Listing and reading one server's artifacts; knows whether the server honours ``Range``."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.ranges_honoured: bool | None = None
        """None until a partial read tells; then whether the server answered 206 to ``Range``."""

    def list(self, run_id: str, path: str = "") -> ArtifactListing:
        """The entries of one folder of the run's artifacts (``path`` "" for the root), following pages."""
        params: dict[str, str] = {"run_id": run_id}
        relative = clean_artifact_path(path)
        if relative:
            params["path"] = relative
        entries: list[ArtifactEntry] = []
        root_uri = ""
        while True:
            document = self.transport.get_json(LIST_ARTIFACTS, params)
            root_uri = str(document.get("root_uri", root_uri))
            entries.extend(artifact_from_json(item) for item in document.get("files") or ())
            token = document.get("next_page_token")
            if not token:
                return ArtifactListing(root_uri, entries)
            params["page_token"] = str(token)

    def read_range(self, artifact_uri: str, path: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes of the file from ``offset`` (fewer at its end; ``b""`` past it)."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must not be negative")
        if length == 0:
            return b""
        headers = {"Range": f"bytes={offset}-{offset + length - 1}", "Accept-Encoding": "identity"}
        with self.transport.send(
            "GET", proxy_path(artifact_uri, path), headers=headers, stream=True, ok=(200, 206, 416)
        ) as response:
            if response.status_code == 416:
                self.ranges_honoured = True
                return b""
            if response.status_code == 206:
                self.ranges_honoured = True
                return _read_up_to(response, self.transport.base_url, length)
            self.ranges_honoured = False
            skipped = 0
            kept = bytearray()
            for chunk in _chunks(response, self.transport.base_url):
                if skipped < offset:
                    take_from = min(len(chunk), offset - skipped)
                    skipped += take_from
                    chunk = chunk[take_from:]
                kept += chunk[: length - len(kept)]
                if len(kept) >= length:
                    break  # leaving the block closes the connection: the rest is never read
            return bytes(kept)

    def download(
        self,
        artifact_uri: str,
        path: str,
        destination: Path,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Path:
        """Stream the file to ``destination`` (written as ``<name>.part``, renamed when complete)."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")
        try:
            with self.transport.send("GET", proxy_path(artifact_uri, path), stream=True) as response:
                total = int(response.headers.get("Content-Length") or 0)
                done = 0
                with open(partial, "wb") as out:
                    for chunk in _chunks(response, self.transport.base_url):
                        if cancel is not None:
                            cancel.raise_if_cancelled()
                        out.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, max(total, done))
                if total and done != total:
                    raise MlflowUnreachableError(
                        f"The download of {path} from {self.transport.base_url} stopped at {done} of {total} bytes: try again."
                    )
            os.replace(partial, destination)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return destination


def _chunks(response: requests.Response, base_url: str) -> Iterator[bytes]:
    """The body in chunks; a connection dropped (or stalled past the read timeout) mid-body becomes a readable error."""
    try:
        yield from response.iter_content(CHUNK)
    except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise MlflowUnreachableError(
            f"The connection to the MLflow server at {base_url} broke off during a file transfer: try again."
        ) from exc


def _read_up_to(response: requests.Response, base_url: str, length: int) -> bytes:
    kept = bytearray()
    for chunk in _chunks(response, base_url):
        kept += chunk[: length - len(kept)]
        if len(kept) >= length:
            break
    return bytes(kept)
