"""A loopback HTTP proxy in front of a test server that counts requests and injects faults on demand.

    proxy = FaultProxy("http://127.0.0.1:5000")      # listens on a free 127.0.0.1 port: proxy.url
    proxy.fail_next(Status(429, retry_after="1"))    # the next request gets a 429; later ones pass
    proxy.fail_next(Drop(), times=2)                 # the two after that see the connection closed
    proxy.latency_s = 0.05                           # every forwarded request waits 50 ms first
    proxy.fail_all(Status(503))                      # every request fails so until fail_all(None): a server down
    proxy.fail_all(Drop(), path_contains="runs/search")   # ...or only those
    proxy.require_header("Authorization", "Basic ...")   # 401 without it
    proxy.count, proxy.paths                         # round trips seen (faulted ones included)

Faults: ``Status`` (any status, optional Retry-After and body), ``Html`` (a web page with 200), ``Drop`` (close
the connection without answering), ``Hang`` (accept and never answer, until ``stop``). The proxy speaks
HTTP/1.1 with keep-alive, so a pooled client reuses its connections as it would against the server. With
``tls=(certfile, keyfile)`` it listens with TLS. It only ever connects to its upstream on loopback.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host"}


@dataclass(frozen=True)
class Status:
    """Answer with this status instead of forwarding."""

    status: int
    retry_after: str | None = None
    body: bytes = b'{"error_code": "INTERNAL_ERROR", "message": "injected by the fault proxy"}'
    content_type: str = "application/json"


@dataclass(frozen=True)
class Html:
    """Answer 200 with a web page (a wrong URL: a portal, a login page)."""

    status: int = 200


@dataclass(frozen=True)
class Drop:
    """Close the connection without an answer."""


@dataclass(frozen=True)
class Hang:
    """Read the request and never answer (until the proxy stops)."""


Fault = Status | Html | Drop | Hang


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up mid-answer (a cancelled download, a timeout) are expected here: no traceback."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FaultProxy:
    """The proxy; start on construction, ``stop()`` (or use as a context manager) at the end."""

    def __init__(self, upstream: str, *, tls: tuple[str, str] | None = None) -> None:
        parts = urlsplit(upstream)
        assert parts.hostname in ("127.0.0.1", "localhost", "::1"), "the fault proxy forwards to loopback only"
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.latency_s = 0.0
        self.count = 0
        self.paths: list[str] = []
        self.headers_seen: list[dict[str, str]] = []
        self._faults: deque[Fault] = deque()
        self._always: Fault | None = None
        self._always_on = ""
        self._required: tuple[str, str] | None = None
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        # Polled every 50 ms, so that stop() (at the end of each test) takes that long, not half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fault-proxy", daemon=True
        )
        self._thread.start()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, fault: Fault, times: int = 1) -> None:
        """The next ``times`` requests get ``fault`` (after faults queued before)."""
        with self._lock:
            self._faults.extend([fault] * times)

    def fail_all(self, fault: Fault | None, path_contains: str = "") -> None:
        """Every request from now on (whose path has ``path_contains`` in it) gets ``fault``, after those queued by
        ``fail_next``; None: back to forwarding.

        ``fail_all(Hang())`` holds each request until the proxy stops or ``fail_all`` changes again.
        """
        with self._lock:
            self._always = fault
            self._always_on = path_contains
            self._released.set()  # requests hanging so far end (closed without an answer)
            self._released = threading.Event()

    def require_header(self, name: str, value: str | None) -> None:
        """Answer 401 to requests without ``name: value`` (None: stop checking)."""
        self._required = None if value is None else (name.lower(), value)

    def reset_counts(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self.count = 0
            self.paths.clear()
            self.headers_seen.clear()

    def stop(self) -> None:
        """Release hanging requests, stop listening and end the serving thread."""
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _take(self, path: str, headers: dict[str, str]) -> Fault | None:
        with self._lock:
            self.count += 1
            self.paths.append(path)
            self.headers_seen.append(headers)
            if self._faults:
                return self._faults.popleft()
            return self._always if self._always_on in path else None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet test output
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def do_PUT(self) -> None:
                self._handle()

            def do_DELETE(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                fault = proxy._take(self.path, headers)
                if proxy._required is not None and headers.get(proxy._required[0]) != proxy._required[1]:
                    self._answer(
                        401, b'{"error_code": "UNAUTHENTICATED", "message": "no credentials"}', "application/json"
                    )
                    return
                if isinstance(fault, Drop):
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if isinstance(fault, Hang):
                    released = proxy._released  # fail_all() and stop() set it
                    released.wait(60)
                    self.close_connection = True
                    return
                if isinstance(fault, Html):
                    page = b"<!DOCTYPE html><html><body><h1>Welcome to the portal</h1></body></html>"
                    self._answer(fault.status, page, "text/html; charset=utf-8")
                    return
                if isinstance(fault, Status):
                    extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                    self._answer(fault.status, fault.body, fault.content_type, extra)
                    return
                if proxy.latency_s:
                    proxy._released.wait(proxy.latency_s)
                self._forward(body)

            def _forward(self, body: bytes) -> None:
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=120)
                try:
                    forwarded = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body or None, headers=forwarded)
                    answer = upstream.getresponse()
                    data = answer.read()
                    extra = {k: v for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length"}}
                    self._answer(answer.status, data, None, extra)
                finally:
                    upstream.close()

            def _answer(
                self, status: int, data: bytes, content_type: str | None, extra: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                if content_type is not None:
                    self.send_header("Content-Type", content_type)
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
