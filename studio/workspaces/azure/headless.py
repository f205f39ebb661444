"""The headless order of the Azure kind: the credential to open a location without asking anything (the
window's opener, the CLI, the SDK)."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

from studio.core.errors import AuthenticationError
from studio.workspaces.azure.credentials import (
    AccountCredential,
    _certificate_credential,
    _cli_credential,
    _host,
    _secret_credential,
    credential_for_account,
)
from studio.workspaces.azure.settings_store import AzureSettings, load_settings

if TYPE_CHECKING:
    from studio.workspaces.azure.cloud import AzureCloud
    from studio.workspaces.azure.opener import AzureLocation

HOW_TO_SIGN_IN = (
    "No Azure account is signed in: sign in in the Workspaces pane (Azure Machine Learning → Sign in…), "
    "run `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET."
)


def credential_for_location(
    location: AzureLocation, cloud: AzureCloud, *, settings: AzureSettings | None = None
) -> AccountCredential:
    """The credential to open ``location`` without asking anything (also from the CLI and the SDK): the account
    remembered for the location, else the first saved account, else AZURE_TENANT_ID / AZURE_CLIENT_ID /
    AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH), else the Azure CLI when ``az`` is on PATH, else
    AuthenticationError with one line saying how to sign in. No managed-identity probe (it would wait on a
    network timeout on every machine that is not in Azure)."""
    settings = settings if settings is not None else load_settings()
    remembered = settings.workspace_accounts.get(str(location))
    record = settings.account(remembered) if remembered else None
    if record is None and settings.accounts:
        record = settings.accounts[0]
    if record is not None:
        return credential_for_account(record, cloud, settings=settings)
    env = environment_credential(cloud)
    if env is not None:
        return env
    if shutil.which("az") is not None:
        return AccountCredential(
            _cli_credential(), label="Azure CLI", method_id="cli", account_id="cli", host=_host(cloud.authority_host)
        )
    raise AuthenticationError(HOW_TO_SIGN_IN)


def environment_credential(cloud: AzureCloud) -> AccountCredential | None:
    """A service principal from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or
    AZURE_CLIENT_CERTIFICATE_PATH and optionally AZURE_CLIENT_CERTIFICATE_PASSWORD); None when they are not set."""
    tenant = os.environ.get("AZURE_TENANT_ID", "").strip()
    client = os.environ.get("AZURE_CLIENT_ID", "").strip()
    secret = os.environ.get("AZURE_CLIENT_SECRET", "")
    cert = os.environ.get("AZURE_CLIENT_CERTIFICATE_PATH", "").strip()
    if not (tenant and client and (secret or cert)):
        return None
    label = f"service principal {client} (environment)"
    host = _host(cloud.authority_host)
    if secret:
        inner = _secret_credential(cloud, tenant, client, secret)
        return AccountCredential(
            inner, label=label, method_id="environment", account_id="environment", host=host, scrub=[secret]
        )
    password = os.environ.get("AZURE_CLIENT_CERTIFICATE_PASSWORD") or None
    inner = _certificate_credential(cloud, tenant, client, cert, password)
    return AccountCredential(
        inner, label=label, method_id="environment", account_id="environment", host=host, scrub=[password or ""]
    )
