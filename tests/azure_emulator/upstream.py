"""A pooled plain-HTTP client to the real ``mlflow server`` behind the emulator (no process work per request)."""

from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

POOL_SIZE = 16


class UpstreamError(Exception):
    """The mlflow server answered with an error status."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"mlflow server answered {status}")
        self.status = status
        self.body = body

    def payload(self) -> dict[str, Any]:
        """The OSS error body (``error_code``, ``message``) or an empty dict."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


class MlflowUpstream:
    """Keep-alive connections to an ``http://127.0.0.1:port`` mlflow server, reused across threads.

    ``start`` is the server's URL, or a callable that blocks until the server answers and returns its URL
    (the session fixture starts the server in the background, so tests that need no MLflow do not wait).
    """

    def __init__(self, start: Callable[[], str] | str) -> None:
        self._start = start if callable(start) else (lambda: start)
        self._url = ""
        self._host = "127.0.0.1"
        self._port = 80
        self._ready_lock = threading.Lock()
        self._pool: queue.LifoQueue[http.client.HTTPConnection] = queue.LifoQueue()

    @property
    def url(self) -> str:
        """The server's base URL (waits until it answers)."""
        self.wait_ready()
        return self._url

    def wait_ready(self) -> None:
        """Block until the server is up (``start`` returns its URL once it answers; asked once)."""
        if self._url:
            return
        with self._ready_lock:
            if not self._url:
                url = self._start()
                parts = urlsplit(url)
                self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
                self._url = url

    def request(
        self, method: str, path: str, *, query: str = "", body: bytes = b"", content_type: str = "application/json"
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request (``path`` from the server root, ``query`` already encoded); return status, headers, body."""
        self.wait_ready()
        target = path + (f"?{query}" if query else "")
        headers = {"Content-Type": content_type} if body or method in {"POST", "PATCH", "PUT"} else {}
        for attempt in range(2):
            connection = self._take(fresh=attempt > 0)  # a retry never takes another pooled (maybe closed) one
            try:
                connection.request(method, target, body=body or None, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                if attempt:
                    raise
                continue  # a pooled connection the server had closed: once more on a fresh one
            result_headers = {k.lower(): v for k, v in answer.getheaders()}
            if answer.will_close:
                connection.close()
            else:
                self._give(connection)
            return answer.status, result_headers, data
        raise AssertionError("unreachable")

    def get(self, op: str, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /api/2.0/mlflow/<op>?params`` as JSON; UpstreamError on an error status."""
        status, _, data = self.request("GET", f"/api/2.0/mlflow/{op}", query=urlencode(params, doseq=True))
        return _json_or_raise(status, data)

    def post(self, op: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/2.0/mlflow/<op>`` with a JSON body; UpstreamError on an error status."""
        status, _, data = self.request("POST", f"/api/2.0/mlflow/{op}", body=json.dumps(body).encode())
        return _json_or_raise(status, data)

    def close(self) -> None:
        """Close every pooled connection."""
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    def _take(self, fresh: bool = False) -> http.client.HTTPConnection:
        if not fresh:
            try:
                return self._pool.get_nowait()
            except queue.Empty:
                pass
        connection = http.client.HTTPConnection(self._host, self._port, timeout=120)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def _give(self, connection: http.client.HTTPConnection) -> None:
        if self._pool.qsize() < POOL_SIZE:
            self._pool.put(connection)
        else:
            connection.close()


def _json_or_raise(status: int, data: bytes) -> dict[str, Any]:
    if status >= 400:
        raise UpstreamError(status, data)
    value = json.loads(data) if data else {}
    return value if isinstance(value, dict) else {}
