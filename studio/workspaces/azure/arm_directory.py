"""Tenants, subscriptions and Azure ML workspaces an account can see.

Tenants and subscriptions come from ARM REST (``GET /tenants``, ``GET /subscriptions``, api-version
2022-12-01, every page through ``nextLink``) over ``ArmClient``; workspaces from azure-ai-ml's
``MLClient.workspaces.list(scope="subscription")`` (kinds ``default`` and ``project``: hubs are left out),
several subscriptions at once on a small pool. Imported only when accounts are listed (it imports azure-core).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from studio.core.accounts import RemoteWorkspaceInfo, SubscriptionInfo
from studio.core.errors import StudioError
from studio.workspaces.azure.arm_client import ArmClient
from studio.workspaces.azure.cloud import AzureCloud
from studio.workspaces.azure.errors import from_azure_exception

API_VERSION = "2022-12-01"
WORKSPACE_KINDS = ["default", "project"]
PARALLEL_SUBSCRIPTIONS = 4


@dataclass(frozen=True)
class TenantInfo:
    """A Microsoft Entra tenant (directory) the account belongs to."""

    tenant_id: str
    display_name: str = ""
    default_domain: str = ""


def list_tenants(arm: ArmClient) -> list[TenantInfo]:
    """Every tenant the account's token can see (``GET /tenants``, all pages)."""
    tenants: list[TenantInfo] = []
    for item in arm.items("/tenants", {"api-version": API_VERSION}, what="the account's directories"):
        tenant_id = item.get("tenantId")
        if isinstance(tenant_id, str) and tenant_id:
            tenants.append(
                TenantInfo(tenant_id, str(item.get("displayName") or ""), str(item.get("defaultDomain") or ""))
            )
    return tenants


def list_subscriptions(arm: ArmClient) -> list[SubscriptionInfo]:
    """Every subscription the account sees (``GET /subscriptions``, all pages), sorted by name."""
    subscriptions: list[SubscriptionInfo] = []
    for item in arm.items("/subscriptions", {"api-version": API_VERSION}, what="the account's subscriptions"):
        sub = item.get("subscriptionId")
        if not isinstance(sub, str) or not sub:
            continue
        subscriptions.append(
            SubscriptionInfo(
                subscription_id=sub,
                name=str(item.get("displayName") or sub),
                tenant_id=str(item.get("tenantId") or ""),
                state=str(item.get("state") or "Enabled"),
            )
        )
    subscriptions.sort(key=lambda s: (s.name.lower(), s.subscription_id))
    return subscriptions


def list_workspaces(
    credential: Any, cloud: AzureCloud, subscription_ids: Sequence[str], *, parallel: int = PARALLEL_SUBSCRIPTIONS
) -> list[RemoteWorkspaceInfo]:
    """The Azure ML workspaces of those subscriptions, asked ``parallel`` subscriptions at a time, sorted by
    subscription then name. A subscription that fails makes the whole call fail with its sentence, unless other
    subscriptions answered: then its workspaces are left out (the account may lack a role on one subscription)."""
    subs = list(dict.fromkeys(s for s in subscription_ids if s))
    if not subs:
        return []
    results: dict[str, list[RemoteWorkspaceInfo]] = {}
    failures: dict[str, StudioError] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(subs))), thread_name_prefix="azure-ws") as pool:
        futures = {sub: pool.submit(_subscription_workspaces, credential, cloud, sub) for sub in subs}
        for sub, future in futures.items():
            try:
                results[sub] = future.result()
            except StudioError as exc:
                failures[sub] = exc
    if failures and not results:
        raise next(iter(failures.values()))
    found = [ws for sub in subs for ws in results.get(sub, [])]
    return found


def _subscription_workspaces(credential: Any, cloud: AzureCloud, subscription_id: str) -> list[RemoteWorkspaceInfo]:
    from azure.ai.ml import MLClient

    host = cloud.arm_host
    try:
        client = MLClient(credential, subscription_id=subscription_id, **cloud.ml_client_kwargs())  # type: ignore[arg-type]
        workspaces = list(client.workspaces.list(scope="subscription", filtered_kinds=WORKSPACE_KINDS))
    except StudioError:
        raise  # the credential's own sentence (expired sign-in…)
    except Exception as exc:  # azure-core and azure-ai-ml errors: one sentence, no traceback
        raise from_azure_exception(exc, host=host, what=f"the workspaces of subscription {subscription_id}") from None
    found = []
    for ws in workspaces:
        name = str(getattr(ws, "name", "") or "")
        rg = str(getattr(ws, "resource_group", "") or "")
        if not name or not rg:
            continue
        found.append(
            RemoteWorkspaceInfo(
                location=f"azureml://subscriptions/{subscription_id}/resourcegroups/{rg}/workspaces/{name}",
                name=name,
                resource_group=rg,
                subscription_id=subscription_id,
                region=str(getattr(ws, "location", "") or ""),
                display_name=str(getattr(ws, "display_name", "") or ""),
                description=str(getattr(ws, "description", "") or ""),
                tags={str(k): str(v) for k, v in (getattr(ws, "tags", None) or {}).items()},
            )
        )
    found.sort(key=lambda w: (w.name.lower(), w.resource_group.lower()))
    return found
