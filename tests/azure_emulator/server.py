"""The emulator's HTTPS server: routing by host and path, token check, request log, latency and faults.

One ``ThreadingHTTPServer`` with TLS (the test CA's certificate for every emulated name) answers every host
the proxy sends it; HTTP/1.1 with keep-alive, so pooled clients reuse connections as against Azure. Routes
are ``(method, host regex, path regex) → handler(request, match) → Response``; feature modules add theirs
(``arm``, ``run_history``, ``mlflow_front``) and so can others: ``emulator.mount("tests.azure_emulator.aad")``
imports the module and calls its ``register(emulator)``. A request no route answers gets a 404 and is
printed and kept in ``emulator.unknown``, so gaps show.
"""

from __future__ import annotations

import importlib
import json
import re
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.azure_emulator.certs import ServerCert
from tests.azure_emulator.faults import Fault, Faults

TOKEN_PREFIX = "studio-test-"
HANG_LIMIT_S = 300.0
"""A hung request is answered by a dropped connection after this long at most (or when faults are cleared)."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator answered (never its headers: they hold the token)."""

    method: str
    host: str
    path: str
    query: dict[str, str]
    status: int
    """The status sent; 0 for a dropped or hung connection."""
    at: float = 0.0
    """When the answer was sent (``time.time()``)."""
    elapsed_s: float = 0.0
    """Seconds from the request read to the answer ready (latency and faults included)."""


@dataclass
class Request:
    """An incoming request: ``host`` without port, ``path`` without query, ``query`` with the first value per key."""

    method: str
    host: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw_query: str = ""

    def json(self) -> Any:
        """The body as JSON (``{}`` when empty)."""
        return json.loads(self.body) if self.body else {}

    def header(self, name: str, default: str = "") -> str:
        """A header by case-insensitive name."""
        return self.headers.get(name.lower(), default)

    @property
    def base_url(self) -> str:
        """``https://<host>`` as the client addressed it."""
        return f"https://{self.host}"


@dataclass
class Response:
    """An answer: status, body bytes and headers (Content-Length is added)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer."""
    return Response(
        status, json.dumps(payload).encode(), {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    )


def now_iso() -> str:
    """The time now as Azure writes it (ISO 8601, UTC, 'Z' would be fine too; Azure sends +00:00)."""
    return datetime.now(UTC).isoformat()


def error_body(path: str, status: int, code: str, message: str) -> dict[str, Any]:
    """Azure's error shape for the service the path belongs to: MLflow's, run history's or ARM's."""
    correlation = {"operation": uuid.uuid4().hex, "request": uuid.uuid4().hex[:16]}
    if path.startswith("/mlflow/"):
        return {
            "Error": {"Code": code, "Severity": None, "Message": message, "MessageFormat": None, "ReferenceCode": None},
            "Correlation": correlation,
            "Environment": "eastus",
            "Location": "eastus",
            "Time": now_iso(),
            "ComponentName": "mlflow",
            "statusCode": status,
            "error_code": MLFLOW_ERROR_CODES.get(status, "INTERNAL_ERROR"),
        }
    if path.startswith("/history/") or path.startswith("/discovery"):
        return {
            "error": {"code": code, "message": message, "messageFormat": None, "details": [], "innerError": None},
            "correlation": correlation,
            "environment": "eastus",
            "location": "eastus",
            "time": now_iso(),
            "componentName": "run-history",
        }
    return {"error": {"code": code, "message": message, "details": [], "additionalInfo": []}}


MLFLOW_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_ALREADY_EXISTS",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}
STATUS_CODES = {
    400: "UserError",
    401: "AuthenticationFailed",
    403: "AuthorizationFailed",
    404: "ResourceNotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def error_response(request: Request, status: int, message: str, code: str = "") -> Response:
    """An error in the shape the caller's service uses."""
    return json_response(status, error_body(request.path, status, code or STATUS_CODES.get(status, "Error"), message))


Handler = Callable[[Request, "re.Match[str]"], Response]


@dataclass(frozen=True)
class Route:
    """A handler for one method, host pattern and path pattern (both matched in full)."""

    method: str
    host: re.Pattern[str]
    path: re.Pattern[str]
    handler: Handler
    auth: bool


class Emulator:
    """The HTTPS server and its controls (token check, latency, faults, request log)."""

    def __init__(self, cert: ServerCert) -> None:
        self.routes: list[Route] = []
        self.latency_s = 0.0
        self.faults = Faults()
        self.unknown: list[str] = []
        """``METHOD host path`` of every request no route answered."""
        self.tokens_revoked = False
        self._log: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._mounted: set[str] = set()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert.cert_path), str(cert.key_path))
        self._server = _TlsServer(("127.0.0.1", 0), _handler_class(self), context)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="azure-emulator", daemon=True)
        self._thread.start()

    # --- routes ---------------------------------------------------------------------------------------
    def route(self, method: str, host: str, path: str, handler: Handler, *, auth: bool = True) -> None:
        """Answer ``method`` requests to hosts matching ``host`` and paths matching ``path`` (regexes, full match).

        ``auth``: the request needs a bearer token the emulator accepts (else 401 in the service's shape).
        """
        self.routes.append(Route(method.upper(), re.compile(host, re.I), re.compile(path), handler, auth))

    def mount(self, module: str | ModuleType) -> None:
        """Add a module's routes: it has ``register(emulator)`` (called once per emulator)."""
        loaded = importlib.import_module(module) if isinstance(module, str) else module
        if loaded.__name__ in self._mounted:
            return
        self._mounted.add(loaded.__name__)
        loaded.register(self)

    # --- controls -------------------------------------------------------------------------------------
    def requests(self) -> list[RecordedRequest]:
        """Every request answered since the start or the last ``clear_log``, oldest first."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Forget the request log and the unknown routes."""
        with self._lock:
            self._log.clear()
            self.unknown.clear()

    def fail(
        self, path_pattern: str, status: int, *, times: int = 1, retry_after: float | None = None, message: str = ""
    ) -> None:
        """The next ``times`` requests whose path matches (regex search) get ``status`` in the service's error shape."""
        self.faults.add(Fault(re.compile(path_pattern), "status", times, status, retry_after, message))

    def hang(self, path_pattern: str, *, times: int = 1) -> None:
        """The next ``times`` matching requests are read and never answered (until the faults are cleared)."""
        self.faults.add(Fault(re.compile(path_pattern), "hang", times))

    def drop(self, path_pattern: str, *, times: int = 1) -> None:
        """The next ``times`` matching requests see their connection closed without an answer."""
        self.faults.add(Fault(re.compile(path_pattern), "drop", times))

    def accepts(self, request: Request) -> bool:
        """Whether the request carries a bearer token the emulator takes (``studio-test-…``, not revoked)."""
        value = request.header("authorization")
        return value.startswith("Bearer " + TOKEN_PREFIX) and not self.tokens_revoked

    def stop(self) -> None:
        """Stop serving and end hung requests."""
        self.faults.clear()
        self._server.shutdown()
        self._server.server_close()

    # --- serving --------------------------------------------------------------------------------------
    def record(self, request: Request, status: int, elapsed_s: float = 0.0) -> None:
        """Append to the request log."""
        with self._lock:
            self._log.append(
                RecordedRequest(
                    request.method, request.host, request.path, dict(request.query), status, time.time(), elapsed_s
                )
            )

    def dispatch(self, request: Request) -> Response:
        """The route's answer (401 without an accepted token; 404 and a loud note for no route)."""
        allowed: list[str] = []
        for route in self.routes:
            if not route.host.fullmatch(request.host):
                continue
            match = route.path.fullmatch(request.path)
            if match is None:
                continue
            if route.method != request.method:
                allowed.append(route.method)
                continue
            if route.auth and not self.accepts(request):
                return unauthorized(request)
            try:
                return route.handler(request, match)
            except Exception as error:  # a bug in the emulator: make it loud, answer 500
                print(
                    f"azure emulator: {request.method} {request.host}{request.path} raised {error!r}", file=sys.stderr
                )
                import traceback

                traceback.print_exc()
                return error_response(request, 500, f"emulator error: {error!r}", "InternalServerError")
        if allowed:
            return error_response(request, 405, f"{request.method} is not allowed here", "MethodNotAllowed")
        line = f"{request.method} {request.host}{request.path}?{request.raw_query}"
        with self._lock:
            self.unknown.append(line)
        print(f"azure emulator: NO ROUTE for {line}", file=sys.stderr)
        return error_response(request, 404, f"The emulator has no route for {request.method} {request.path}", "NoRoute")


def unauthorized(request: Request) -> Response:
    """401 in the service's shape, with the challenge header ARM sends (no claims: not a CAE challenge)."""
    response = error_response(
        request,
        401,
        "The access token is missing, invalid or expired.",
        "InvalidAuthenticationToken" if not request.path.startswith("/mlflow/") else "AuthenticationFailed",
    )
    response.headers["WWW-Authenticate"] = (
        'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", '
        'error_description="The access token is missing or invalid"'
    )
    return response


class _TlsServer(ThreadingHTTPServer):
    """Threads per connection; the TLS handshake happens in the connection's thread, not the accept loop."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext
    ) -> None:
        self._context = context
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay on small answers
        return self._context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(30)
            request.do_handshake()
        except (OSError, ssl.SSLError):
            return  # a client that gave up, or does not trust the CA: nothing to answer
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Dropped(Exception):
    """The connection was closed on purpose (a fault)."""


def _handler_class(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class EmulatorHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 120  # an idle keep-alive connection ends after this
        server_version = "AzureEmulator/1.0"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request log is emulator.requests()

        def _serve(self) -> None:
            request = self._read_request()
            started = time.perf_counter()
            try:
                answer = self._answer(request)
            except _Dropped:
                emulator.record(request, 0, time.perf_counter() - started)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            emulator.record(request, answer.status, time.perf_counter() - started)
            self.send_response(answer.status)
            headers = {"x-ms-request-id": uuid.uuid4().hex, **answer.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            # Head and body in one write: one TLS record burst instead of two small sends.
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD":
                self._headers_buffer.append(answer.body)
            self.wfile.write(b"".join(self._headers_buffer))
            self._headers_buffer = []

        def _answer(self, request: Request) -> Response:
            fault = emulator.faults.take(request.path)
            if emulator.latency_s:
                time.sleep(emulator.latency_s)
            if fault is not None:
                if fault.kind == "hang":
                    emulator.faults.wait_released(HANG_LIMIT_S)
                    raise _Dropped
                if fault.kind == "drop":
                    raise _Dropped
                return fault_response(request, fault)
            return emulator.dispatch(request)

        def _read_request(self) -> Request:
            parts = urlsplit(self.path)
            host = (self.headers.get("Host") or "").split(":")[0]  # IPv4 or a name: never IPv6 here
            body = b""
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = self._read_chunked()
            else:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    body = self.rfile.read(length)
            return Request(
                method=self.command,
                host=host.lower(),
                path=parts.path,
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                raw_query=parts.query,
            )

        def _read_chunked(self) -> bytes:
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    return EmulatorHandler


def fault_response(request: Request, fault: Fault) -> Response:
    """The answer of a status fault, with Retry-After (seconds) and retry-after-ms when asked."""
    message = fault.message or f"Injected fault: {fault.status}"
    response = error_response(request, fault.status, message)
    if fault.retry_after is not None:
        response.headers["Retry-After"] = f"{fault.retry_after:g}"
        response.headers["retry-after-ms"] = str(int(fault.retry_after * 1000))
    return response
