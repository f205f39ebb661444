"""ArmClient: JSON calls to Azure Resource Manager (and Azure ML's other REST endpoints) over azure-mgmt-core.

One ``ARMPipelineClient`` with the credential's bearer token for the cloud's ARM scope
(``ARMChallengeAuthenticationPolicy``, which also answers ARM's claims challenges), azure-core's retry policy
(408, 429, 5xx retried with backoff; ``Retry-After`` honoured but capped, so a 429 asking for an hour does not
hold a call for an hour), and a requests transport with connect and read timeouts, so a hang ends. The
transport keeps ``trust_env``: ``HTTPS_PROXY``, ``NO_PROXY`` and ``REQUESTS_CA_BUNDLE`` apply as in ``requests``.
Failures are studio errors with sentences (``errors.py``).

Imported only when an Azure workspace opens or accounts are listed (it imports azure-core at module level).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError as CoreAzureError
from azure.core.pipeline.policies import (
    ContentDecodePolicy,
    HeadersPolicy,
    NetworkTraceLoggingPolicy,
    ProxyPolicy,
    RedirectPolicy,
    RetryPolicy,
    UserAgentPolicy,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.mgmt.core import ARMPipelineClient
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

from studio.workspaces.azure.cloud import AzureCloud
from studio.workspaces.azure.errors import error_for_status, from_azure_exception

USER_AGENT = "studio-azure/1"
MAX_PAGES = 10_000


@dataclass(frozen=True)
class ArmTimeouts:
    """Seconds to connect, to wait between bytes of an answer, and for one call with its retries."""

    connect_s: float = 10.0
    read_s: float = 30.0
    retry_total: int = 3
    retry_read: int = 1
    """Retries after a read timeout (a hung service): one, so a hang ends after about two read timeouts."""
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    retry_after_max_s: float = 30.0
    deadline_s: float = 90.0
    """A call with its retries and waits ends by then."""


class CappedRetryPolicy(RetryPolicy):
    """azure-core's retry policy with ``Retry-After`` cut to ``retry_after_max_s``."""

    def __init__(self, *, retry_after_max_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_after_max_s = retry_after_max_s

    def get_retry_after(self, response: Any) -> float | None:
        """The service's ``Retry-After``, at most ``retry_after_max_s`` seconds."""
        value = super().get_retry_after(response)
        return None if value is None else min(float(value), self.retry_after_max_s)


def arm_pipeline(credential: Any, cloud: AzureCloud, timeouts: ArmTimeouts | None = None) -> ARMPipelineClient:
    """An ARM pipeline for ``cloud`` authenticated with ``credential`` (also used for Azure ML's data plane:
    one token scope serves ARM, run history and MLflow)."""
    timeouts = timeouts or ArmTimeouts()
    policies = [
        HeadersPolicy(),
        UserAgentPolicy(base_user_agent=USER_AGENT),
        ProxyPolicy(),
        ContentDecodePolicy(),
        RedirectPolicy(),
        CappedRetryPolicy(
            retry_total=timeouts.retry_total,
            retry_read=min(timeouts.retry_read, timeouts.retry_total),
            timeout=timeouts.deadline_s,
            retry_backoff_factor=timeouts.backoff_s,
            retry_backoff_max=timeouts.backoff_max_s,
            retry_after_max_s=timeouts.retry_after_max_s,
        ),
        ARMChallengeAuthenticationPolicy(credential, cloud.arm_scope),
        NetworkTraceLoggingPolicy(),
    ]
    transport = RequestsTransport(connection_timeout=timeouts.connect_s, read_timeout=timeouts.read_s)
    return ARMPipelineClient(base_url=cloud.resource_manager, policies=policies, transport=transport)


class ArmClient:
    """GET / POST JSON on ARM (paths relative to the cloud's resource manager, or absolute URLs)."""

    def __init__(self, credential: Any, cloud: AzureCloud, *, timeouts: ArmTimeouts | None = None) -> None:
        self.cloud = cloud
        self.timeouts = timeouts or ArmTimeouts()
        self._pipeline = arm_pipeline(credential, cloud, self.timeouts)
        self._lock = threading.Lock()
        self._sent = 0

    def __repr__(self) -> str:
        return f"ArmClient({self.cloud.name!r})"

    @property
    def requests_sent(self) -> int:
        """Calls made so far (not counting azure-core's retries)."""
        return self._sent

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (a path on ARM, or already absolute)."""
        if "://" in path:
            return path
        return self.cloud.resource_manager.rstrip("/") + "/" + path.lstrip("/")

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        *,
        what: str = "",
        ok: tuple[int, ...] = (200, 201, 202, 204),
    ) -> Any:
        """Send one request; the answer's JSON (None for an empty body). Studio errors for every failure."""
        url = self.url(path)
        host = urlsplit(url).hostname or self.cloud.arm_host
        request = HttpRequest(method, url, params=dict(params or {}), json=body)
        with self._lock:
            self._sent += 1
        try:
            response = self._pipeline.send_request(request)
        except CoreAzureError as exc:
            raise from_azure_exception(exc, host=host, what=what, method=method) from None
        if response.status_code not in ok:
            raise error_for_status(response.status_code, response.text(), host=host, what=what, method=method)
        text = response.text()
        if not text.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise error_for_status(
                502, {"error": {"message": "the answer is not JSON"}}, host=host, what=what, method=method
            ) from None

    def get_json(self, path: str, params: Mapping[str, Any] | None = None, *, what: str = "") -> dict[str, Any]:
        """GET ``path``; its JSON object."""
        document = self.request("GET", path, params, what=what)
        return document if isinstance(document, dict) else {}

    def post_json(
        self, path: str, params: Mapping[str, Any] | None = None, body: Any = None, *, what: str = ""
    ) -> dict[str, Any]:
        """POST a JSON ``body`` to ``path``; the answer's JSON object ({} for an empty answer)."""
        document = self.request("POST", path, params, body if body is not None else {}, what=what)
        return document if isinstance(document, dict) else {}

    def pages(self, path: str, params: Mapping[str, Any] | None = None, *, what: str = "") -> Iterator[dict[str, Any]]:
        """Each page (a JSON object with ``value``) of a listing, following ``nextLink`` (absolute, with its own query)."""
        document = self.get_json(path, params, what=what)
        for _ in range(MAX_PAGES):
            yield document
            link = document.get("nextLink") or document.get("@odata.nextLink")
            if not link:
                return
            document = self.get_json(str(link), None, what=what)

    def items(self, path: str, params: Mapping[str, Any] | None = None, *, what: str = "") -> Iterator[dict[str, Any]]:
        """Every item of a listing (``value`` of each page, following ``nextLink``)."""
        for page in self.pages(path, params, what=what):
            for item in page.get("value") or ():
                if isinstance(item, dict):
                    yield item

    def close(self) -> None:
        """Close the pooled connections."""
        self._pipeline.close()
