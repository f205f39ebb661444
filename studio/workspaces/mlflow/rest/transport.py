"""One pooled HTTP session to one MLflow server: timeouts, retries under a deadline, readable errors.

``requests`` with a single ``HTTPAdapter`` keeps connections alive (one TCP + TLS handshake per pooled
connection, not per call); its pool holds at least as many connections as the client runs calls at once,
so concurrent metric fetches never open and drop extra sockets. urllib3's own ``Retry`` is switched off:
the loop here adds what it lacks, a deadline over all tries and waits, a cap on ``Retry-After``, and the
server's last error message when it gives up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from studio.workspaces.mlflow.rest.answers import (
    deadline_error,
    decode_json,
    error_for_exception,
    error_for_status,
    never_sent,
)
from studio.workspaces.mlflow.rest.auth import AuthHook, TlsSettings
from studio.workspaces.mlflow.rest.errors import MlflowRestError
from studio.workspaces.mlflow.rest.retry import Repeat, RetryPolicy, parse_retry_after

log = logging.getLogger(__name__)

USER_AGENT = "studio-mlflow-rest/1"


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection and, once connected, between bytes of the answer."""

    connect_s: float = 5.0
    read_s: float = 60.0


class Transport:
    """Sends requests to one server; thread-safe (one session, a connection pool of ``pool_size``)."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthHook | None = None,
        tls: TlsSettings | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        pool_size: int = 8,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("The MLflow server URL must start with http:// or https:// and name a host.")
        if parts.username or parts.password:
            # Never echo the URL: it carries the secret.
            raise ValueError("Put no user name or password in the MLflow server URL; pass them as authentication.")
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.tls = tls or TlsSettings()
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self.pool_size = pool_size
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = USER_AGENT
        self._sent_lock = threading.Lock()
        self._sent = 0

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r}, auth={self.auth!r})"

    @property
    def requests_sent(self) -> int:
        """Requests sent so far, retries included (benchmarks count round trips with it)."""
        return self._sent

    def close(self) -> None:
        """Close the pooled connections.

        Each pool is closed here: urllib3 (2.x) only drops its pools when the session closes, and a pool still
        referenced (by an answer an exception's traceback keeps) would keep its idle sockets open until the
        garbage collector ran.
        """
        for adapter in set(self._session.adapters.values()):
            manager = getattr(adapter, "poolmanager", None)
            if manager is None:
                continue
            for key in list(manager.pools.keys()):
                pool = manager.pools.get(key)
                if pool is not None:
                    pool.close()
        self._session.close()

    def url(self, path: str) -> str:
        """The absolute URL of an API path such as ``/api/2.0/mlflow/runs/get``."""
        return self.base_url + path

    def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, *, repeat: Repeat = Repeat.SAFE
    ) -> dict[str, Any]:
        """GET ``path`` with query ``params``; the answer's JSON object."""
        with self.send("GET", path, params=params, repeat=repeat) as response:
            return decode_json(response, self.base_url)

    def post_json(self, path: str, body: Mapping[str, Any], *, repeat: Repeat) -> dict[str, Any]:
        """POST a JSON ``body`` to ``path``; the answer's JSON object (``{}`` for MLflow's empty answers)."""
        with self.send("POST", path, json=body, repeat=repeat) as response:
            return decode_json(response, self.base_url)

    @contextmanager
    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        repeat: Repeat = Repeat.SAFE,
        stream: bool = False,
        ok: tuple[int, ...] = (200,),
    ) -> Iterator[requests.Response]:
        """Send with retries; yield the answer once its status is one of ``ok`` (else raise an MlflowRestError).

        With ``stream`` the body is read by the caller (artifact downloads); it is closed on leaving.
        """
        response = self._send_with_retries(method, path, params, json, headers, repeat, stream, ok)
        try:
            yield response
        finally:
            response.close()

    def _send_with_retries(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        repeat: Repeat,
        stream: bool,
        ok: tuple[int, ...],
    ) -> requests.Response:
        policy = self.retry
        started = time.monotonic()
        deadline = started + policy.deadline_s
        url = self.url(quote(path, safe="/-_.~"))
        tries = 0
        last: MlflowRestError | None = None
        while True:
            tries += 1
            remaining = deadline - time.monotonic()
            read_timeout = max(0.05, min(self.timeouts.read_s, remaining))
            retry_after: float | None = None
            try:
                response = self._send_once(method, url, params, body, headers, stream, read_timeout)
            except requests.RequestException as exc:
                last = error_for_exception(exc, self.base_url, read_timeout=read_timeout, tries=tries)
                retriable = not isinstance(exc, requests.exceptions.SSLError) and (
                    repeat is Repeat.SAFE or never_sent(exc)
                )
                if not retriable or tries >= policy.attempts:
                    raise last from exc
            else:
                if response.status_code in ok:
                    return response
                sent = self.auth is not None
                if not policy.status_is_retried(response.status_code, repeat) or tries >= policy.attempts:
                    error = error_for_status(response, self.base_url, tries, sent_credentials=sent)
                    response.close()
                    raise error
                last = error_for_status(response, self.base_url, tries, sent_credentials=sent)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                response.close()
            wait = policy.wait_s(tries, retry_after)
            if time.monotonic() + wait >= deadline - 0.05:
                raise deadline_error(self.base_url, policy.deadline_s, tries, last)
            log.debug("%s %s failed (%s); retry %d in %.2f s", method, path, last, tries, wait)
            time.sleep(wait)

    def _send_once(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        stream: bool,
        read_timeout: float,
    ) -> requests.Response:
        all_headers: dict[str, str] = {}
        if self.auth is not None:
            all_headers.update(self.auth())
        if headers:
            all_headers.update(headers)
        with self._sent_lock:
            self._sent += 1
        return self._session.request(
            method,
            url,
            params=params,
            json=body,
            headers=all_headers,
            stream=stream,
            timeout=(self.timeouts.connect_s, read_timeout),
            # Per request, as MLflow does: a session-level ``verify`` loses to $REQUESTS_CA_BUNDLE in requests.
            verify=self.tls.verify,
            cert=self.tls.client_cert,
        )
