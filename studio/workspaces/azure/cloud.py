"""Azure clouds: every endpoint the Azure kind calls comes from here, never from a host name in the code.

The cloud is one setting (``cloud`` in the Azure kind's settings file, else ``$ARM_CLOUD_METADATA_URL``, else
the public cloud): a built-in cloud's name (``AzureCloud``, ``AzureChinaCloud``, ``AzureUSGovernment``), whose
endpoints come from azure-ai-ml's own table, or the URL of an ARM metadata document
(``https://management.<host>/metadata/endpoints?api-version=2019-05-01``) for a custom cloud, read once per
process through ``requests`` (so the environment's proxy and CA bundle apply).

This module imports no ``azure`` package at module level; ``load_cloud`` imports azure-ai-ml's cloud table (and
with it ``azure.ai.ml``, about a second) only when a built-in cloud is asked for.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from studio.core.errors import WorkspaceError

DEFAULT_CLOUD = "AzureCloud"
BUILT_IN = ("AzureCloud", "AzureChinaCloud", "AzureUSGovernment")
METADATA_URL_ENV = "ARM_CLOUD_METADATA_URL"
_ALIASES = {
    "public": "AzureCloud",
    "azurecloud": "AzureCloud",
    "china": "AzureChinaCloud",
    "azurechinacloud": "AzureChinaCloud",
    "usgov": "AzureUSGovernment",
    "azureusgovernment": "AzureUSGovernment",
}
METADATA_TIMEOUT_S = (5.0, 20.0)

_lock = threading.Lock()
_loaded: dict[str, AzureCloud] = {}


@dataclass(frozen=True)
class AzureCloud:
    """The endpoints of one Azure cloud, as its metadata gives them."""

    name: str
    """``AzureCloud``, ``AzureChinaCloud``, ``AzureUSGovernment`` or ``Custom-<8 hex of the metadata URL>``."""
    resource_manager: str
    """ARM's base URL with a trailing slash (the public cloud's management endpoint)."""
    authority_host: str
    """Microsoft Entra ID's login endpoint, with a trailing slash."""
    storage_suffix: str
    """What follows ``<account>.blob.`` in a storage account's host name."""
    portal: str
    aml_resource_id: str
    registry_discovery: str
    metadata: dict[str, str] = field(default_factory=dict, compare=False)
    """What ``MLClient(cloud_metadata=…)`` takes for a custom cloud (empty for built-in clouds)."""

    @property
    def arm_scope(self) -> str:
        """The one token scope for ARM, run history and MLflow: ``<resource manager>/.default``."""
        return f"{self.resource_manager.rstrip('/')}/.default"

    @property
    def arm_host(self) -> str:
        """ARM's host name (for messages such as "cannot reach Azure (<host>)")."""
        return urlsplit(self.resource_manager).hostname or self.resource_manager

    @property
    def is_custom(self) -> bool:
        """Whether the cloud came from a metadata document (not azure-ai-ml's built-in table)."""
        return bool(self.metadata)

    def ml_client_kwargs(self) -> dict[str, object]:
        """The ``cloud=`` (and for a custom cloud ``cloud_metadata=``) every ``MLClient`` is given.

        Always passed: an MLClient without ``cloud=`` uses whichever cloud the last one set process-wide.
        """
        kwargs: dict[str, object] = {"cloud": self.name}
        if self.metadata:
            kwargs["cloud_metadata"] = dict(self.metadata)
        return kwargs

    def blob_account_url(self, account: str) -> str:
        """``https://<account>.blob.<storage suffix>``, the URL the SDK builds for a storage account."""
        return f"https://{account}.blob.{self.storage_suffix}"


def _saved_cloud() -> str | None:
    from studio.workspaces.azure.settings_store import load_settings

    try:
        value = load_settings().cloud
    except Exception:  # an unreadable settings file is reported where it is edited, not here
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None


def cloud_setting() -> str:
    """The cloud to use: the settings' ``cloud``, else ``$ARM_CLOUD_METADATA_URL``, else ``AzureCloud``."""
    return _saved_cloud() or os.environ.get(METADATA_URL_ENV, "").strip() or DEFAULT_CLOUD


def load_cloud(setting: str | None = None) -> AzureCloud:
    """The cloud named by ``setting`` (default: ``cloud_setting()``), kept per process.

    WorkspaceError (one sentence) for an unknown name or a metadata document that cannot be read.
    """
    text = (setting if setting is not None else cloud_setting()).strip() or DEFAULT_CLOUD
    with _lock:
        kept = _loaded.get(text)
    if kept is not None:
        return kept
    cloud = _from_url(text) if "://" in text else _built_in(text)
    with _lock:
        _loaded[text] = cloud
    return cloud


def forget_loaded_clouds() -> None:
    """Drop the clouds kept by ``load_cloud`` (a setting changed; tests)."""
    with _lock:
        _loaded.clear()


def _built_in(name: str) -> AzureCloud:
    canonical = _ALIASES.get(name.lower().replace("-", "").replace("_", ""), name)
    if canonical not in BUILT_IN:
        raise WorkspaceError(
            f"Unknown Azure cloud {name!r}: use AzureCloud, AzureChinaCloud, AzureUSGovernment "
            "or the URL of a cloud's metadata document."
        )
    from azure.ai.ml._azure_environments import _environments

    table = _environments[canonical]
    return AzureCloud(
        name=canonical,
        resource_manager=table["resource_manager"],
        authority_host=table["active_directory"],
        storage_suffix=table["storage_endpoint"],
        portal=table["azure_portal"],
        aml_resource_id=table["aml_resource_id"],
        registry_discovery=table["registry_discovery_endpoint"],
    )


def _from_url(url: str) -> AzureCloud:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise WorkspaceError(f"The cloud metadata URL {url!r} must be an https:// URL naming a host.")
    document = _fetch_metadata(url, parts.hostname)
    return cloud_from_metadata(document, url)


def _fetch_metadata(url: str, host: str) -> Any:
    import requests

    try:
        response = requests.get(url, timeout=METADATA_TIMEOUT_S, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise WorkspaceError(
            f"Cannot reach Azure ({host}) to read the cloud's metadata: check the network or proxy ({type(exc).__name__})."
        ) from None
    if response.status_code != 200:
        raise WorkspaceError(f"The cloud metadata at {url} could not be read (HTTP {response.status_code}).")
    try:
        return response.json()
    except ValueError:
        raise WorkspaceError(f"The cloud metadata at {url} is not JSON: check the URL.") from None


def cloud_from_metadata(document: Any, url: str) -> AzureCloud:
    """A custom cloud from an ARM metadata document (one cloud, or a list: the one whose ARM host is ``url``'s)."""
    host = urlsplit(url).hostname or ""
    entries = document if isinstance(document, list) else [document]
    entries = [e for e in entries if isinstance(e, dict)]
    chosen = next((e for e in entries if urlsplit(str(e.get("resourceManager", ""))).hostname == host), None)
    if chosen is None and entries:
        chosen = entries[0]
    try:
        assert chosen is not None
        portal = str(chosen["portal"])
        resource_manager = _slash(str(chosen["resourceManager"]))
        authority = _slash(str(chosen["authentication"]["loginEndpoint"]))
        storage = str(chosen["suffixes"]["storage"]).lstrip(".")
    except (AssertionError, KeyError, TypeError):
        raise WorkspaceError(
            f"The cloud metadata at {url} lacks the portal, resource manager, login or storage endpoint."
        ) from None
    # ML's resource id and the registry discovery endpoint are derived from the same document as azure-ai-ml
    # derives them (``_convert_arm_to_cli``), so the MLClient and this backend agree.
    from azure.ai.ml._azure_environments import _convert_arm_to_cli

    derived = next(iter(_convert_arm_to_cli(chosen).values()), {})
    aml_resource_id = str(derived.get("aml_resource_id") or _slash(portal))
    registry = str(derived.get("registry_discovery_endpoint") or resource_manager)
    name = "Custom-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]
    metadata = {
        "azure_portal": portal,
        "resource_manager": resource_manager,
        "active_directory": authority,
        "aml_resource_id": aml_resource_id,
        "storage_endpoint": storage,
        "registry_discovery_endpoint": registry,
    }
    return AzureCloud(
        name=name,
        resource_manager=resource_manager,
        authority_host=authority,
        storage_suffix=storage,
        portal=portal,
        aml_resource_id=aml_resource_id,
        registry_discovery=registry,
        metadata=metadata,
    )


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
