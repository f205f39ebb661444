"""MlflowServerOpener: locations ``mlflow+http(s)://host[:port][/prefix]`` name MLflow tracking servers."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from studio.core.backend import WorkspaceBackend
from studio.core.errors import UnknownLocationError, WorkspaceError
from studio.core.opener import RemoteLocationOpener

SCHEMES = ("mlflow+http", "mlflow+https")


@dataclass(frozen=True)
class MlflowLocation:
    """A parsed MLflow server location."""

    base_url: str
    """The server's URL without the ``mlflow+`` prefix and without a trailing slash."""
    host: str
    port: int | None


def parse_location(location: str) -> MlflowLocation:
    """Split ``mlflow+http(s)://host[:port][/prefix]``; UnknownLocationError (one line) if malformed."""
    text = location.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in SCHEMES:
        raise UnknownLocationError(
            f"{text!r} is not an MLflow server location (mlflow+http(s)://host[:port][/prefix])."
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise UnknownLocationError(f"{text!r}: the port is not a number from 1 to 65535.") from exc
    if not parts.hostname:
        raise UnknownLocationError(f"{text!r} names no server: mlflow+http(s)://host[:port][/prefix].")
    if parts.query or parts.fragment:
        raise UnknownLocationError(f"{text!r}: a server location takes no ?query or #fragment.")
    if parts.username or parts.password:
        raise UnknownLocationError(
            f"{parts.scheme}://{parts.hostname}: put no user name or password in the location; "
            "credentials are asked for and kept in the system keyring."
        )
    scheme = parts.scheme.lower().removeprefix("mlflow+")
    netloc = parts.hostname if port is None else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # IPv6 literal
        netloc = f"[{parts.hostname}]" + ("" if port is None else f":{port}")
    return MlflowLocation(f"{scheme}://{netloc}{parts.path.rstrip('/')}", parts.hostname, port)


class MlflowServerOpener(RemoteLocationOpener):
    """The opener of MLflow tracking servers (the REST backend comes with its own issue)."""

    kind = "mlflow"
    label = "MLflow servers"
    location_form = "mlflow+http(s)://host[:port][/prefix]"

    def owns(self, location: str) -> bool:
        """True for ``mlflow+http://`` and ``mlflow+https://`` locations."""
        return location.strip().lower().startswith(("mlflow+http://", "mlflow+https://"))

    def short_name(self, location: str) -> str:
        """``host:port/prefix``."""
        return parse_location(location).base_url.split("://", 1)[1]

    def open(self, location: str, create: bool = False) -> WorkspaceBackend:
        """Not yet: this version opens local workspaces only."""
        parsed = parse_location(location)
        raise WorkspaceError(
            f"Cannot open the MLflow server {parsed.base_url}: this version of Studio opens local workspaces only."
        )
