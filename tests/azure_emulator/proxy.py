"""A loopback HTTP CONNECT proxy: the real Azure host names reach the emulator and Azurite, and nothing else.

``HTTPS_PROXY=http://127.0.0.1:<port>`` makes azure-core, requests and azure-storage-blob open a tunnel per
host with ``CONNECT host:443``; the proxy picks the loopback port from the host name (``*.blob.*`` → Azurite,
everything else → the emulator) and pipes bytes both ways. TLS stays end to end (the servers present the
test CA's certificates for the public names). It only ever connects to 127.0.0.1.
"""

from __future__ import annotations

import select
import socket
import threading
from collections import Counter
from collections.abc import Callable
from socketserver import BaseRequestHandler, ThreadingTCPServer

MAX_HEADER_BYTES = 64 * 1024


def blob_or_emulator(emulator_port: int, azurite_port: int) -> Callable[[str], int]:
    """The routing of decision 1: storage hosts to Azurite, every other host to the emulator."""

    def route(host: str) -> int:
        return azurite_port if ".blob." in host else emulator_port

    return route


class ConnectProxy:
    """A threaded CONNECT proxy on 127.0.0.1 that counts the tunnels it opened, per host."""

    def __init__(self, route: Callable[[str], int]) -> None:
        self._route = route
        self._lock = threading.Lock()
        self.tunnels: Counter[str] = Counter()
        """Tunnels opened so far, by requested host (``host:port``)."""
        self.refused: list[str] = []
        """Request lines the proxy did not tunnel (not a CONNECT)."""
        proxy = self

        class Handler(BaseRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.request)

        self._server = ThreadingTCPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self._server.daemon_threads = True
        self._server.allow_reuse_address = True
        self._server.server_bind()
        self._server.server_activate()
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="azure-connect-proxy", daemon=True)
        self._thread.start()

    @property
    def tunnel_count(self) -> int:
        """All tunnels opened since the start or the last ``reset``."""
        with self._lock:
            return sum(self.tunnels.values())

    def reset(self) -> None:
        """Forget the counts."""
        with self._lock:
            self.tunnels.clear()
            self.refused.clear()

    def stop(self) -> None:
        """Stop listening (open tunnels end when either side closes)."""
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, client: socket.socket) -> None:
        head = _read_head(client)
        if head is None:
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or parts[0].upper() != "CONNECT":
            with self._lock:
                self.refused.append(request_line)
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        target = parts[1]
        host = target.rsplit(":", 1)[0].strip("[]").lower()
        try:
            upstream = socket.create_connection(("127.0.0.1", self._route(host)), timeout=10)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        with self._lock:
            self.tunnels[target] += 1
        upstream.settimeout(None)
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # pass small TLS records on at once
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        _pipe(client, upstream)


def _read_head(client: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = client.recv(4096)
        except OSError:
            return None
        if not chunk or len(data) > MAX_HEADER_BYTES:
            return None
        data += chunk
    return data


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until one side closes; then close both."""
    sockets = [a, b]
    try:
        while True:
            readable, _, broken = select.select(sockets, [], sockets, 300)
            if broken or not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (b if sock is a else a).sendall(data)
    except OSError:
        return
    finally:
        for sock in sockets:
            try:
                sock.close()
            except OSError:
                pass
