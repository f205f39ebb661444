"""AzureWorkspaceOpener: ``azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<name>`` locations.

This module imports no ``azure`` package: the SDK (about a second to import) loads only
when an Azure workspace is opened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio.core.backend import WorkspaceBackend
from studio.core.errors import UnknownLocationError
from studio.core.opener import RemoteLocationOpener

if TYPE_CHECKING:
    from studio.core.accounts import AccountDirectory

SCHEME = "azureml://"
_FORM = "azureml://subscriptions/<subscription id>/resourcegroups/<resource group>/workspaces/<name>"
# Azure ML's own URI form; the segment names are case-insensitive as in ARM resource ids.
_LOCATION = re.compile(
    r"^azureml://subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/workspaces/(?P<ws>[^/]+)/?$",
    re.IGNORECASE,
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.()-]{0,89}$")


@dataclass(frozen=True)
class AzureLocation:
    """A parsed Azure ML workspace location."""

    subscription_id: str
    resource_group: str
    workspace_name: str

    def __str__(self) -> str:
        return (
            f"{SCHEME}subscriptions/{self.subscription_id}/resourcegroups/{self.resource_group}"
            f"/workspaces/{self.workspace_name}"
        )


def parse_location(location: str) -> AzureLocation:
    """Split an ``azureml://`` location; UnknownLocationError (one line) if malformed."""
    text = location.strip()
    match = _LOCATION.match(text)
    if not match:
        raise UnknownLocationError(f"{text!r} is not an Azure ML workspace location ({_FORM}).")
    sub, rg, ws = match["sub"], match["rg"], match["ws"]
    if not _GUID.match(sub):
        raise UnknownLocationError(
            f"{sub!r} is not a subscription id (a GUID such as 00000000-0000-0000-0000-000000000000)."
        )
    for what, value in (("resource group", rg), ("workspace", ws)):
        if not _NAME.match(value):
            raise UnknownLocationError(f"{value!r} is not a valid {what} name.")
    return AzureLocation(sub.lower(), rg, ws)


class AzureWorkspaceOpener(RemoteLocationOpener):
    """The opener of Azure Machine Learning workspaces: ``open`` signs in and connects (``backend.py``)."""

    kind = "azure"
    label = "Azure Machine Learning"
    location_form = _FORM

    def owns(self, location: str) -> bool:
        """True for ``azureml://`` locations."""
        return location.strip().lower().startswith(SCHEME)

    def canonical_location(self, location: str) -> str:
        """``azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<name>`` spelled one way."""
        return str(parse_location(location))

    def short_name(self, location: str) -> str:
        """The workspace's name."""
        return parse_location(location).workspace_name

    def preload(self) -> None:
        """Import what ``open`` needs (azure-ai-ml, about a second) and parse one job with it (``jobs.warm_sdk``),
        before a window waits on it."""
        import azure.ai.ml  # noqa: F401

        import studio.workspaces.azure.backend
        import studio.workspaces.azure.identity  # noqa: F401
        from studio.workspaces.azure.jobs import warm_sdk

        warm_sdk()

    paint_from_cache = False
    """Whether ``open`` answers listings from the offline cache first (marked as cached, refreshed behind them).

    False here, so the command line, the SDK and scripts never get a stale listing (the cache then answers only
    without a network, and spares what never changes); the window sets it True on the opener it is handed
    (``studio.cli``), since it shows the "Cached …" and "Offline …" marks."""

    def open(self, location: str, create: bool = False) -> WorkspaceBackend:
        """The workspace behind its offline cache (``offline_cache.open_cached``, in the user cache folder).

        A workspace cached before opens at once when ``paint_from_cache`` (the sign-in and first call go on in
        the background), and opens without a network either way; otherwise as ``open_uncached``, whose failures
        (one sentence each) it raises. ``create`` is meaningless for Azure and ignored.
        """
        from studio.workspaces.azure.offline_cache import open_cached

        canonical = self.canonical_location(location)
        return open_cached(canonical, lambda: self.open_uncached(canonical), paint_from_cache=self.paint_from_cache)

    def open_uncached(self, location: str) -> WorkspaceBackend:
        """Sign in silently and connect, without the offline cache; checked with one cheap call (one
        ``experiments/search``).

        The credential: the account remembered for the location, else the first saved account, else the
        environment's service principal, else the Azure CLI, else AuthenticationError saying how to sign in
        (``identity.credential_for_location``). The cloud is the Azure kind's setting (``cloud.load_cloud``).
        Failures are studio errors with one sentence.
        """
        from studio.workspaces.azure.backend import AzureBackend
        from studio.workspaces.azure.cloud import load_cloud
        from studio.workspaces.azure.identity import credential_for_location

        parsed = parse_location(location)
        cloud = load_cloud()
        credential = credential_for_location(parsed, cloud)
        backend = AzureBackend(
            credential,
            parsed.subscription_id,
            parsed.resource_group,
            parsed.workspace_name,
            cloud,
            location=str(parsed),
        )
        try:
            backend.check()
        except BaseException:
            backend.close()
            raise
        return backend

    def account_directory(self) -> AccountDirectory:
        """The Azure kind's accounts (``SignsIn``): cheap; azure loads on the first network call."""
        from studio.workspaces.azure.directory import AzureAccountDirectory

        return AzureAccountDirectory()
