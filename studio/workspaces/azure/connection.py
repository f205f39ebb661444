"""One Azure ML workspace's endpoints and clients, from a credential, subscription, resource group, name and cloud.

- ``ml_client``: azure-ai-ml's ``MLClient`` (built on first use, with ``cloud=`` always passed: an MLClient
  without it uses whichever cloud the last one set process-wide), for ``workspaces.get`` and the jobs calls;
- ``details()``: ``workspaces.get`` once: the MLflow base URL (``mlflow_tracking_uri`` in either of its forms,
  ``azureml://<host>/mlflow/v1.0/<WS>`` or ``https://<host>/mlflow/v2.0/<WS>``, normalised to
  ``https://<host>/mlflow/v2.0<WS>``) and the discovery URL;
- ``api_base()``: the discovery document's ``api`` (run history's base), fetched once;
- ``arm``: an ``ArmClient`` for raw calls on ARM and on Azure ML's data plane (same token scope);
- ``mlflow_client()``: the MLflow REST client at the workspace's MLflow base URL with a bearer-token hook.

Every HTTP call honours the environment's proxy and CA settings (requests' ``trust_env``; nothing passes
``connection_verify``). Imported only when an Azure workspace opens.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from studio.core.errors import StudioError
from studio.workspaces.azure.arm_client import ArmClient, ArmTimeouts
from studio.workspaces.azure.cloud import AzureCloud
from studio.workspaces.azure.errors import AzureError, error_for_status, from_azure_exception, unreachable

PROVIDER = "Microsoft.MachineLearningServices"
REFRESH_MARGIN_S = 300.0
"""A cached token is replaced this long before it expires."""

_history_page_sizes: dict[str, int] = {}
"""The metric-history page size each MLflow endpoint accepted, for this process (Azure refused 25,000)."""
_history_lock = threading.Lock()


def workspace_path(subscription_id: str, resource_group: str, workspace_name: str) -> str:
    """``WS``: the workspace's ARM resource path."""
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{PROVIDER}"
        f"/workspaces/{workspace_name}"
    )


def mlflow_base_url(tracking_uri: str, ws_path: str) -> str:
    """The MLflow REST base ``https://<host>/mlflow/v2.0<WS>`` from a workspace's ``mlflow_tracking_uri``.

    Accepts ``azureml://<host>/mlflow/v1.0/<WS>`` (what the service returns) and ``https://<host>/mlflow/v2.0/<WS>``
    (what azure-ai-ml returns when azureml-mlflow is installed); a URI naming no workspace path gets ``ws_path``.
    AzureError when the URI names no host.
    """
    parts = urlsplit(tracking_uri.strip())
    host = parts.netloc
    if not host or parts.scheme.lower() not in ("azureml", "https", "http"):
        raise AzureError(f"The workspace's MLflow tracking URI {tracking_uri!r} names no host.")
    path = parts.path
    lowered = path.lower()
    for marker in ("/mlflow/v1.0", "/mlflow/v2.0"):
        at = lowered.find(marker)
        if at >= 0:
            path = path[at + len(marker) :]
            break
    path = path.rstrip("/")
    if "/workspaces/" not in path.lower():
        path = ws_path
    scheme = "http" if parts.scheme.lower() == "http" else "https"
    return f"{scheme}://{host}/mlflow/v2.0{path}"


class BearerTokenHook:
    """The MLflow REST client's auth hook: ``Authorization: Bearer …`` for ``scope``, cached until
    ``REFRESH_MARGIN_S`` before it expires. Thread-safe; the token shows in no repr or message."""

    def __init__(self, credential: Any, scope: str) -> None:
        self._credential = credential
        self.scope = scope
        self._lock = threading.Lock()
        self._header: dict[str, str] | None = None
        self._expires_on = 0.0
        self.fetches = 0

    def __call__(self) -> dict[str, str]:
        """The header, fetching a token when none is cached or the cached one is about to expire."""
        with self._lock:
            if self._header is None or time.time() >= self._expires_on - REFRESH_MARGIN_S:
                token = self._get_token()
                self._header = {"Authorization": f"Bearer {token.token}"}
                self._expires_on = float(token.expires_on)
                self.fetches += 1
            return self._header

    def _get_token(self) -> Any:
        try:
            return self._credential.get_token(self.scope)
        except StudioError:
            raise
        except Exception as exc:  # azure-identity's errors: say them as sign-in failures
            raise from_azure_exception(exc, host="sign-in") from None

    def invalidate(self) -> None:
        """Forget the cached token (the service refused it): the next request gets a new one."""
        with self._lock:
            self._header = None
            self._expires_on = 0.0

    def __repr__(self) -> str:
        return f"BearerTokenHook(scope={self.scope!r}, token=<hidden>)"


@dataclass(frozen=True)
class WorkspaceDetails:
    """What ``workspaces.get`` says of the workspace that the backend needs."""

    name: str
    mlflow_base: str
    discovery_url: str
    workspace_id: str = ""
    location: str = ""
    display_name: str = ""


class AzureConnection:
    """The endpoints and clients of one workspace (see the module docstring). Thread-safe."""

    def __init__(
        self,
        credential: Any,
        subscription_id: str,
        resource_group: str,
        workspace_name: str,
        cloud: AzureCloud,
        *,
        timeouts: ArmTimeouts | None = None,
    ) -> None:
        self.credential = credential
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.workspace_name = workspace_name
        self.cloud = cloud
        self.timeouts = timeouts or ArmTimeouts()
        self.ws_path = workspace_path(subscription_id, resource_group, workspace_name)
        self.arm = ArmClient(credential, cloud, timeouts=self.timeouts)
        self.token_hook = BearerTokenHook(credential, cloud.arm_scope)
        self._lock = threading.Lock()
        self._ml_client: Any = None
        self._details: WorkspaceDetails | None = None
        self._api_base: str | None = None

    def __repr__(self) -> str:
        return f"AzureConnection({self.ws_path!r}, cloud={self.cloud.name!r})"

    # -- azure-ai-ml --------------------------------------------------------------------------

    @property
    def ml_client(self) -> Any:
        """azure-ai-ml's MLClient for the workspace (built on first use; construction does no I/O)."""
        with self._lock:
            if self._ml_client is None:
                from azure.ai.ml import MLClient

                kwargs: dict[str, Any] = dict(self.cloud.ml_client_kwargs())
                self._ml_client = MLClient(
                    self.credential,
                    self.subscription_id,
                    self.resource_group,
                    self.workspace_name,
                    connection_timeout=self.timeouts.connect_s,
                    read_timeout=self.timeouts.read_s,
                    retry_total=self.timeouts.retry_total,
                    retry_read=min(self.timeouts.retry_read, self.timeouts.retry_total),
                    # No console progress bars (tqdm) for code uploads and waits: nobody reads a GUI's stderr,
                    # and their monitor thread outlives the call.
                    show_progress=False,
                    **kwargs,
                )
            return self._ml_client

    def sdk_call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        """``call(*args, **kwargs)`` with azure-core's exceptions said as studio errors about ``what``."""
        try:
            return call(*args, **kwargs)
        except StudioError:
            raise
        except Exception as exc:
            error = from_azure_exception(exc, host=self.cloud.arm_host, what=what)
            if type(error) is AzureError and not _is_azure(exc):
                raise  # not a service failure: a bug, keep its traceback
            raise error from None

    # -- endpoints ----------------------------------------------------------------------------

    def details(self) -> WorkspaceDetails:
        """``workspaces.get`` (once): the MLflow base URL and the discovery URL."""
        with self._lock:
            if self._details is not None:
                return self._details
        workspace = self.sdk_call(
            f"the workspace {self.workspace_name!r}", self.ml_client.workspaces.get, self.workspace_name
        )
        tracking = getattr(workspace, "mlflow_tracking_uri", None) or ""
        if not tracking:
            raise AzureError(f"Azure did not say where the workspace {self.workspace_name!r} keeps its MLflow runs.")
        details = WorkspaceDetails(
            name=str(getattr(workspace, "name", None) or self.workspace_name),
            mlflow_base=mlflow_base_url(tracking, self.ws_path),
            discovery_url=str(getattr(workspace, "discovery_url", None) or ""),
            workspace_id=str(getattr(workspace, "_workspace_id", None) or getattr(workspace, "workspace_id", "") or ""),
            location=str(getattr(workspace, "location", None) or ""),
            display_name=str(getattr(workspace, "display_name", None) or ""),
        )
        with self._lock:
            self._details = details
        return details

    def api_base(self) -> str:
        """The data plane's base URL (discovery's ``api``), e.g. ``https://<region>.api.azureml.ms``."""
        with self._lock:
            if self._api_base is not None:
                return self._api_base
        details = self.details()
        if details.discovery_url:
            api = self._discover(details.discovery_url)
        else:  # no discovery URL: the MLflow host serves the data plane too
            parts = urlsplit(details.mlflow_base)
            api = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            self._api_base = api.rstrip("/")
            return self._api_base

    def _discover(self, url: str) -> str:
        import requests

        host = urlsplit(url).hostname or url
        try:
            response = requests.get(url, timeout=(self.timeouts.connect_s, self.timeouts.read_s))
        except requests.Timeout:
            raise AzureError(f"Azure ({host}) did not answer the discovery request in time: try again.") from None
        except requests.RequestException:
            raise unreachable(host) from None
        if response.status_code != 200:
            raise error_for_status(response.status_code, response.content, host=host, what="the workspace's endpoints")
        try:
            document = response.json()
        except ValueError:
            raise AzureError(f"Azure ({host}) answered the discovery request with something other than JSON.") from None
        api = document.get("api") if isinstance(document, dict) else None
        if not isinstance(api, str) or not api:
            raise AzureError(f"Azure ({host}) did not name the workspace's data-plane endpoint.")
        return api

    def run_history_base(self) -> str:
        """``{api}/history/v1.0{WS}``."""
        return f"{self.api_base()}/history/v1.0{self.ws_path}"

    def mlflow_client(self) -> Any:
        """The MLflow REST client at the workspace's MLflow endpoint, authenticated with the bearer-token hook."""
        from studio.workspaces.mlflow.rest.client import MlflowRestClient
        from studio.workspaces.mlflow.rest.history import DEFAULT_PAGE_SIZE
        from studio.workspaces.mlflow.rest.transport import Timeouts

        base = self.details().mlflow_base
        with _history_lock:
            page_size = _history_page_sizes.get(base, DEFAULT_PAGE_SIZE)
        return MlflowRestClient(
            base,
            auth=self.token_hook,
            timeouts=Timeouts(connect_s=self.timeouts.connect_s, read_s=self.timeouts.read_s),
            history_page_size=page_size,
        )

    def remember_history_page_size(self, page_size: int) -> None:
        """Keep the page size the workspace's MLflow endpoint accepted, so the next opening asks it at once."""
        base = self.details().mlflow_base
        with _history_lock:
            _history_page_sizes[base] = page_size

    def refused_token(self) -> None:
        """A service answered 401: drop the cached token so the next request asks the credential again."""
        self.token_hook.invalidate()

    def close(self) -> None:
        """Close the ARM pipeline and the MLClient's pipelines."""
        self.arm.close()
        with self._lock:
            client, self._ml_client = self._ml_client, None
        if client is not None:
            close = getattr(client, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # closing is best effort: the process goes on
                    pass


def _is_azure(exc: BaseException) -> bool:
    return any(cls.__module__.startswith("azure.") for cls in type(exc).__mro__)
