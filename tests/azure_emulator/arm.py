"""ARM routes: tenants, subscriptions, workspaces, jobs (from MLflow runs), cancel, datastores, cloud metadata.

Hosts: ``management.azure.com`` and the custom test cloud's ``management.studio-test-cloud.example``.
Lists page through absolute ``nextLink`` URLs, ``EmulatorState.arm_page_size`` items a page. Every ARM
request must carry ``api-version`` (400 ``MissingApiVersionParameter`` otherwise, as ARM does); the values
azure-ai-ml 1.35.2 sends are in AZURE-NOTES §4 and the shape test checks what it saw.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from tests.azure_emulator import jobs as job_model
from tests.azure_emulator.azurite import ACCOUNT_KEY, ACCOUNT_NAME
from tests.azure_emulator.server import Emulator, Request, Response, error_response, json_response
from tests.azure_emulator.state import ML_PROVIDER, EmulatorState, Workspace

ARM_HOST = r"management\.azure\.com|management\.studio-test-cloud\.example|127\.0\.0\.1|localhost"
SUB = r"/subscriptions/(?P<sub>[^/]+)"
WS = SUB + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
ARTIFACT_STORE = "workspaceartifactstore"
BLOB_STORE = "workspaceblobstore"


def register(emulator: Emulator) -> None:
    """Add the ARM routes."""
    arm = _Arm(emulator)
    route = emulator.route
    route("GET", ARM_HOST, r"/metadata/endpoints", arm.metadata, auth=False)
    route("GET", ARM_HOST, r"/tenants", arm.tenants)
    route("GET", ARM_HOST, r"/subscriptions", arm.subscriptions)
    route("GET", ARM_HOST, SUB, arm.subscription)
    route("GET", ARM_HOST, SUB + r"/providers/Microsoft\.MachineLearningServices/workspaces", arm.workspaces)
    route(
        "GET",
        ARM_HOST,
        SUB + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.MachineLearningServices/workspaces",
        arm.workspaces,
    )
    route("GET", ARM_HOST, WS, arm.workspace)
    route("GET", ARM_HOST, WS + r"/jobs", arm.jobs)
    route("GET", ARM_HOST, WS + r"/jobs/(?P<job>[^/]+)", arm.job)
    route("POST", ARM_HOST, WS + r"/jobs/(?P<job>[^/]+)/cancel", arm.cancel)
    route(
        "GET",
        ARM_HOST,
        SUB
        + r"/providers/Microsoft\.MachineLearningServices/locations/(?P<loc>[^/]+)/mfeOperationResults/(?P<op>[^/]+)",
        arm.operation,
    )
    route("GET", ARM_HOST, WS + r"/datastores", arm.datastores)
    route("GET", ARM_HOST, WS + r"/datastores/(?P<ds>[^/]+)", arm.datastore)
    route("POST", ARM_HOST, WS + r"/datastores/(?P<ds>[^/]+)/listSecrets", arm.list_secrets)


class _Arm:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.state: EmulatorState = emulator.state  # type: ignore[attr-defined]
        self.upstream = emulator.upstream  # type: ignore[attr-defined]
        self.names = job_model.ExperimentNames(self.upstream)

    # --- helpers --------------------------------------------------------------------------------------
    def _api_version(self, request: Request) -> Response | None:
        if not request.query.get("api-version"):
            return error_response(
                request,
                400,
                "The api-version query parameter (?api-version=) is required for all requests.",
                "MissingApiVersionParameter",
            )
        return None

    def _page(self, request: Request, items: list[dict[str, Any]], token_name: str = "$skiptoken") -> Response:
        """One page of ``items`` from the offset in ``token_name``, with an absolute nextLink when more remain."""
        size = max(1, self.state.arm_page_size)
        try:
            start = int(request.query.get(token_name, "0") or 0)
        except ValueError:
            return error_response(request, 400, f"Invalid {token_name}.", "InvalidSkipToken")
        page: dict[str, Any] = {"value": items[start : start + size]}
        if start + size < len(items):
            query = {k: v for k, v in request.query.items() if k != token_name}
            query[token_name] = str(start + size)
            page["nextLink"] = f"{request.base_url}{request.path}?{urlencode(query)}"
        return json_response(200, page)

    def _workspace(self, request: Request, match: re.Match[str]) -> Workspace | Response:
        missing = self._api_version(request)
        if missing:
            return missing
        workspace = self.state.find_workspace(match["sub"], match["rg"], match["ws"])
        if workspace is None:
            return error_response(
                request,
                404,
                f"The Resource '{ML_PROVIDER}/workspaces/{match['ws']}' under resource group '{match['rg']}' was not found.",
                "ResourceNotFound",
            )
        return workspace

    # --- directory ------------------------------------------------------------------------------------
    def metadata(self, request: Request, match: re.Match[str]) -> Response:
        return json_response(200, [cloud_metadata(request.host)])

    def tenants(self, request: Request, match: re.Match[str]) -> Response:
        missing = self._api_version(request)
        if missing:
            return missing
        with self.state.lock:
            items = [
                {
                    "id": f"/tenants/{t.tenant_id}",
                    "tenantId": t.tenant_id,
                    "countryCode": "US",
                    "displayName": t.display_name,
                    "domains": [t.default_domain],
                    "tenantCategory": "Home",
                    "defaultDomain": t.default_domain,
                    "tenantType": "AAD",
                    "tenantBrandingLogoUrl": None,
                }
                for t in self.state.tenants
            ]
        return self._page(request, items)

    def subscriptions(self, request: Request, match: re.Match[str]) -> Response:
        missing = self._api_version(request)
        if missing:
            return missing
        with self.state.lock:
            items = [subscription_json(s) for s in self.state.subscriptions]
        return self._page(request, items)

    def subscription(self, request: Request, match: re.Match[str]) -> Response:
        missing = self._api_version(request)
        if missing:
            return missing
        with self.state.lock:
            found = [s for s in self.state.subscriptions if s.subscription_id == match["sub"]]
        if not found:
            return error_response(
                request, 404, f"The subscription '{match['sub']}' could not be found.", "SubscriptionNotFound"
            )
        return json_response(200, subscription_json(found[0]))

    def workspaces(self, request: Request, match: re.Match[str]) -> Response:
        missing = self._api_version(request)
        if missing:
            return missing
        kinds = {k.strip().lower() for k in request.query.get("kind", "").split(",") if k.strip()}
        group = match.groupdict().get("rg")
        with self.state.lock:
            known = any(s.subscription_id == match["sub"] for s in self.state.subscriptions)
            found = [
                w
                for w in self.state.workspaces
                if w.subscription_id == match["sub"]
                and (group is None or w.resource_group.lower() == group.lower())
                and (not kinds or w.kind.lower() in kinds)
            ]
        if not known:
            return error_response(
                request, 404, f"The subscription '{match['sub']}' could not be found.", "SubscriptionNotFound"
            )
        return self._page(request, [workspace_json(w, request.host) for w in found], "$skip")

    def workspace(self, request: Request, match: re.Match[str]) -> Response:
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        return json_response(200, workspace_json(found, request.host))

    # --- jobs -----------------------------------------------------------------------------------------
    def _job_not_found(self, request: Request, name: str) -> Response:
        return error_response(request, 404, f"Could not find job with name: {name}", "UserError")

    def jobs(self, request: Request, match: re.Match[str]) -> Response:
        """Every job of the workspace, newest first, ``jobs_page_size`` a page (``$skipToken`` = MLflow's page
        token). Archived jobs (MLflow's deleted runs) only with ``listViewType=All``/``ArchivedOnly``."""
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        view = {"all": "ALL", "archivedonly": "DELETED_ONLY"}.get(
            request.query.get("listViewType", "").lower(), "ACTIVE_ONLY"
        )
        experiments = self.upstream.post("experiments/search", {"max_results": 1000, "view_type": "ALL"}).get(
            "experiments", []
        )
        if not experiments:
            return json_response(200, {"value": []})
        body: dict[str, Any] = {
            "experiment_ids": [e["experiment_id"] for e in experiments],
            "order_by": ["attributes.start_time DESC"],
            "max_results": self.state.jobs_page_size,
            "run_view_type": view,
        }
        if request.query.get("$skipToken"):
            body["page_token"] = request.query["$skipToken"]
        answer = self.upstream.post("runs/search", body)
        tenant = self.state.tenants[0].tenant_id
        names = {e["experiment_id"]: e["name"] for e in experiments}
        page: dict[str, Any] = {
            "value": [
                job_model.job_resource(
                    self.state, found, run, names.get(run["info"]["experiment_id"], ""), request.host, tenant
                )
                for run in answer.get("runs", [])
            ]
        }
        if answer.get("next_page_token"):
            query = {k: v for k, v in request.query.items() if k != "$skipToken"}
            query["$skipToken"] = answer["next_page_token"]
            page["nextLink"] = f"{request.base_url}{request.path}?{urlencode(query)}"
        return json_response(200, page)

    def job(self, request: Request, match: re.Match[str]) -> Response:
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        run = job_model.mlflow_run(self.upstream, match["job"])
        if run is None:
            return self._job_not_found(request, match["job"])
        experiment = self.names.name(run["info"]["experiment_id"])
        tenant = self.state.tenants[0].tenant_id
        return json_response(200, job_model.job_resource(self.state, found, run, experiment, request.host, tenant))

    def cancel(self, request: Request, match: re.Match[str]) -> Response:
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        name = match["job"]
        run = job_model.mlflow_run(self.upstream, name)
        if run is None:
            return self._job_not_found(request, name)
        status = job_model.azure_status(self.state, run)
        if status in job_model.TERMINAL:
            return error_response(
                request,
                400,
                f"Cannot cancel job {name}: the job is already in a terminal state ({status}).",
                "UserError",
            )
        self.state.request_cancel(name)
        self.state.later(self.state.cancel_after_s, lambda: self._kill(name))
        location = (
            f"{request.base_url}/subscriptions/{match['sub']}/providers/{ML_PROVIDER}/locations/{found.location}"
            f"/mfeOperationResults/jc:{found.workspace_id}:{name}?api-version={request.query['api-version']}"
        )
        # retry-after-ms: azure-core reads a missing or zero Retry-After as "wait the default 30 s".
        return Response(
            202, b"", {"Location": location, "retry-after-ms": "10", "x-ms-async-operation-timeout": "PT1H"}
        )

    def _kill(self, name: str) -> None:
        """The cancel took effect: the MLflow run ends as KILLED (unless a test reset the job meanwhile)."""
        if self.state.job_status(name) != "Canceled":
            return
        try:
            self.upstream.post(
                "runs/update", {"run_id": name, "run_uuid": name, "status": "KILLED", "end_time": _now_ms()}
            )
        except Exception:  # the run may be gone with its test: nothing to update
            pass

    def operation(self, request: Request, match: re.Match[str]) -> Response:
        op = match["op"]
        if not op.startswith("jc:"):
            return error_response(request, 404, f"Unknown operation {op}", "ResourceNotFound")
        name = op.rsplit(":", 1)[-1]
        if self.state.job_status(name) == "CancelRequested":
            return Response(
                202, b"", {"Location": f"{request.base_url}{request.path}?{request.raw_query}", "retry-after-ms": "50"}
            )
        return Response(200, b"", {})

    # --- datastores -----------------------------------------------------------------------------------
    def datastores(self, request: Request, match: re.Match[str]) -> Response:
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        stores = [datastore_json(found, ARTIFACT_STORE), datastore_json(found, BLOB_STORE)]
        if request.query.get("isDefault", "").lower() == "true":
            stores = [s for s in stores if s["properties"]["isDefault"]]
        return json_response(200, {"value": stores})

    def datastore(self, request: Request, match: re.Match[str]) -> Response:
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        if match["ds"] not in (ARTIFACT_STORE, BLOB_STORE):
            return error_response(request, 404, f"DataStore {match['ds']} was not found", "UserError")
        return json_response(200, datastore_json(found, match["ds"]))

    def list_secrets(self, request: Request, match: re.Match[str]) -> Response:
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        if match["ds"] not in (ARTIFACT_STORE, BLOB_STORE):
            return error_response(request, 404, f"DataStore {match['ds']} was not found", "UserError")
        return json_response(200, {"secretsType": "AccountKey", "key": ACCOUNT_KEY})


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def subscription_json(s: Any) -> dict[str, Any]:
    """A subscription as ``GET /subscriptions`` lists it."""
    return {
        "id": f"/subscriptions/{s.subscription_id}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "tags": {},
        "subscriptionId": s.subscription_id,
        "tenantId": s.tenant_id,
        "displayName": s.display_name,
        "state": s.state,
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    }


def workspace_json(w: Workspace, request_host: str) -> dict[str, Any]:
    """A workspace as ARM answers it (``Workspace`` of arm_ml_service)."""
    host = job_model.api_host(request_host)
    rg_id = f"/subscriptions/{w.subscription_id}/resourceGroups/{w.resource_group}/providers"
    return {
        "id": w.arm_id,
        "name": w.name,
        "type": f"{ML_PROVIDER}/workspaces",
        "location": w.location,
        "tags": dict(w.tags),
        "kind": w.kind,
        "sku": {"name": "Basic", "tier": "Basic"},
        "identity": {
            "type": "SystemAssigned",
            "principalId": "0e2a7a3c-0000-4000-8000-00000000000a",
            "tenantId": "72f988bf-0000-4000-8000-0000000057d1",
        },
        "systemData": {
            "createdAt": "2026-01-15T09:30:00.0000000Z",
            "createdBy": "ada@studio-test.example",
            "createdByType": "User",
            "lastModifiedAt": "2026-11-02T10:00:00.0000000Z",
            "lastModifiedBy": "ada@studio-test.example",
            "lastModifiedByType": "User",
        },
        "properties": {
            "friendlyName": w.display_name or w.name,
            "description": w.description,
            "storageAccount": f"{rg_id}/Microsoft.Storage/storageAccounts/{ACCOUNT_NAME}",
            "keyVault": f"{rg_id}/Microsoft.Keyvault/vaults/kv{w.workspace_id[:8]}",
            "applicationInsights": f"{rg_id}/Microsoft.insights/components/ai{w.workspace_id[:8]}",
            "containerRegistry": None,
            "hbiWorkspace": False,
            "provisioningState": "Succeeded",
            "workspaceId": w.workspace_id,
            "tenantId": "72f988bf-0000-4000-8000-0000000057d1",
            "discoveryUrl": f"https://{host}/discovery",
            "mlFlowTrackingUri": f"azureml://{host}/mlflow/v1.0{w.arm_id}",
            "publicNetworkAccess": "Enabled",
            "privateLinkCount": 0,
            "storageHnsEnabled": False,
            "enableDataIsolation": False,
            "v1LegacyMode": False,
            "notebookInfo": None,
            "systemDatastoresAuthMode": None,
        },
    }


def datastore_json(w: Workspace, name: str) -> dict[str, Any]:
    """The artifact store (container ``azureml``) or the default blob store (``azureml-blobstore-<guid>``)."""
    container = "azureml" if name == ARTIFACT_STORE else f"azureml-blobstore-{w.workspace_id}"
    return {
        "id": f"{w.arm_id}/datastores/{name}",
        "name": name,
        "type": f"{ML_PROVIDER}/workspaces/datastores",
        "systemData": {
            "createdAt": "2026-01-15T09:31:00.0000000Z",
            "createdBy": "ada@studio-test.example",
            "createdByType": "User",
            "lastModifiedAt": "2026-01-15T09:31:00.0000000Z",
            "lastModifiedBy": "ada@studio-test.example",
            "lastModifiedByType": "User",
        },
        "properties": {
            "description": None,
            "tags": {},
            "properties": {},
            "isDefault": name == BLOB_STORE,
            "credentials": {"credentialsType": "AccountKey", "secrets": None},
            "datastoreType": "AzureBlob",
            "accountName": ACCOUNT_NAME,
            "containerName": container,
            "endpoint": "core.windows.net",
            "protocol": "https",
            "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
            "subscriptionId": w.subscription_id,
            "resourceGroup": w.resource_group,
        },
    }


def cloud_metadata(request_host: str) -> dict[str, Any]:
    """The ARM metadata document (2019-05-01 shape) of the cloud whose management host was asked.

    The custom test cloud keeps storage on ``core.windows.net`` (Azurite through the proxy)."""
    if request_host.endswith("studio-test-cloud.example"):
        name, manager, login, portal = (
            "StudioTestCloud",
            "https://management.studio-test-cloud.example/",
            "https://login.studio-test-cloud.example/",
            "https://portal.studio-test-cloud.example/",
        )
        discovery = "https://eastus.api.studio-test-cloud.example/registrymanagement/v1.0/registries/"
    else:
        name, manager, login, portal = (
            "AzureCloud",
            "https://management.azure.com/",
            "https://login.microsoftonline.com/",
            "https://portal.azure.com",
        )
        discovery = "https://eastus.api.azureml.ms/registrymanagement/v1.0/registries/"
    return {
        "portal": portal,
        "authentication": {
            "loginEndpoint": login,
            "audiences": [manager.replace("management.", "management.core.", 1), manager],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "media": "https://rest.media.azure.net",
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "name": name,
        "suffixes": {
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "acrLoginServer": "azurecr.io",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "keyVaultDns": "vault.azure.net",
            "storage": "core.windows.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
        },
        "batch": "https://batch.core.windows.net/",
        "resourceManager": manager,
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "gallery": "https://gallery.azure.com/",
        "registryDiscoveryEndpoint": discovery,
    }
