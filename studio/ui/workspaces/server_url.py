"""What the Add server dialog makes of the URL typed in it (no Qt).

Users paste a server's address as their browser shows it (``http://host:5000``); the workspace
location is the same with ``mlflow+`` in front. The rules follow the MLflow kind's own location
parser (the window may not import ``studio.workspaces``), so that a URL accepted here opens there.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

SCHEMES = ("http", "https", "mlflow+http", "mlflow+https")
FORM = "http(s)://host[:port][/prefix]"
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$")
_IPV6 = re.compile(r"^[0-9a-f:.]+$")


class ServerUrlError(ValueError):
    """A URL the dialog cannot take; the message is one sentence for the line under the field."""


def server_location(text: str) -> str:
    """The ``mlflow+http(s)://host[:port][/prefix]`` location of a typed URL; ServerUrlError if malformed.

    Scheme and host go to lower case, a trailing slash goes, the path keeps its case.
    """
    url = text.strip()
    if not url:
        raise ServerUrlError(f"Type the server's URL: {FORM}.")
    if "://" not in url:
        raise ServerUrlError(f"Start the URL with http:// or https://, e.g. http://{url.rstrip('/')}.")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ServerUrlError(f"{parts.scheme}:// is not a server URL: start it with http:// or https://.")
    if parts.username is not None or parts.password is not None:
        raise ServerUrlError("Put no user name or password in the URL: choose “User name and password” below.")
    host = parts.hostname or ""
    if not host:
        raise ServerUrlError(f"The URL names no server: {FORM}.")
    if not (_IPV6.match(host) and ":" in host) and not _HOST.match(host):
        raise ServerUrlError(f"“{host}” is not a host name.")
    try:
        port = parts.port
    except ValueError:
        raise ServerUrlError("The port is not a number from 1 to 65535.") from None
    if port == 0:
        raise ServerUrlError("The port is not a number from 1 to 65535.")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ServerUrlError("A server URL takes no ?query or #fragment.")
    if any(c.isspace() for c in parts.path):
        raise ServerUrlError("The URL's path has a space in it: write it as %20.")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"mlflow+{scheme.removeprefix('mlflow+')}://{netloc}{parts.path.rstrip('/')}"
