"""MlflowServerOpener: locations ``mlflow+http(s)://host[:port][/prefix]`` name MLflow tracking servers."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from studio.core.backend import WorkspaceBackend
from studio.core.errors import UnknownLocationError
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


def canonical(parsed: MlflowLocation) -> str:
    """The one spelling of a server's location (lower-case scheme and host, no trailing slash)."""
    return "mlflow+" + parsed.base_url


class MlflowServerOpener(RemoteLocationOpener):
    """The opener of MLflow tracking servers: ``open`` connects through the REST client (``backend.py``)."""

    kind = "mlflow"
    label = "MLflow servers"
    location_form = "mlflow+http(s)://host[:port][/prefix]"

    def owns(self, location: str) -> bool:
        """True for ``mlflow+http://`` and ``mlflow+https://`` locations."""
        return location.strip().lower().startswith(("mlflow+http://", "mlflow+https://"))

    def canonical_location(self, location: str) -> str:
        """``mlflow+http(s)://host[:port][/prefix]`` spelled one way (UnknownLocationError if malformed)."""
        return canonical(parse_location(location))

    def short_name(self, location: str) -> str:
        """``host:port/prefix``."""
        return parse_location(location).base_url.split("://", 1)[1]

    def open(self, location: str, create: bool = False) -> WorkspaceBackend:
        """Connect to the server and check that it answers as MLflow (one ``experiments/search``).

        Credentials: the ones saved for this location in the system keyring, else MLflow's environment variables
        and ``~/.mlflow/credentials``. ``create`` is meaningless for a server and ignored. Raises a
        ``WorkspaceError`` sentence when the server is down, is not MLflow, refuses the credentials or fails.
        """
        from studio.workspaces.mlflow.backend import MlflowBackend
        from studio.workspaces.mlflow.rest.auth import auth_from_saved_or_environment, tls_from_environment
        from studio.workspaces.mlflow.rest.client import MlflowRestClient

        parsed = parse_location(location)
        location = canonical(parsed)
        client = MlflowRestClient(
            parsed.base_url, auth=auth_from_saved_or_environment(location), tls=tls_from_environment()
        )
        try:
            client.search_experiments(max_results=1)
        except BaseException:
            client.close()
            raise
        return MlflowBackend(client, location, self.short_name(location))
