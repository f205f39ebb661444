"""Test helpers for the artifact store: a private Azurite, a counting and failing proxy in front of it, content.

``StorageProxy`` is a plain-HTTP reverse proxy to Azurite that records every request (method, path, range, status,
body bytes) and fails, stalls or runs a callback before the requests whose path matches a pattern. The shared
CONNECT proxy of the Azure emulator tunnels TLS and cannot see a blob's path, so the tests that count a preview's
requests or break a download in the middle use this one.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from studio.workspaces.azure.artifact_store import StorageTimeouts
from tests.azure_emulator.azurite import ACCOUNT_NAME, _free_port, azurite_executable
from tests.azure_emulator.certs import ServerCert

CONTAINER = "artifacts-under-test"  # any name: the code never assumes one
FAST = StorageTimeouts(connect_s=5.0, read_s=10.0, retry_total=2, backoff_s=0.01, backoff_base=0)
MiB = 1 << 20
CUT = -1  # a Fault's status meaning "answer, but stop halfway through the body"


@dataclass
class Seen:
    """One request the proxy forwarded (or failed)."""

    method: str
    path: str
    range: str
    status: int
    body_bytes: int


@dataclass
class Fault:
    pattern: str
    status: int
    times: int
    after: int  # matching requests let through first
    code: str
    hang_s: float = 0.0


@dataclass
class StorageProxy:
    """HTTP reverse proxy to Azurite: records requests, fails or stalls the ones whose path matches a pattern."""

    upstream_port: int
    seen: list[Seen] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    hooks: list[list[Any]] = field(default_factory=list)  # [pattern, matching requests to let by, callback]
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def account_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/{ACCOUNT_NAME}"

    def fail(self, pattern: str, status: int, *, times: int = 1, after: int = 0, code: str = "InternalError") -> None:
        with self.lock:
            self.faults.append(Fault(pattern, status, times, after, code))

    def hang(self, pattern: str, seconds: float, *, times: int = 1) -> None:
        with self.lock:
            self.faults.append(Fault(pattern, 0, times, 0, "", hang_s=seconds))

    def cut(self, pattern: str, *, times: int = 1, after: int = 0) -> None:
        """The matching answers stop halfway through their body and the connection closes (a dropped network)."""
        with self.lock:
            self.faults.append(Fault(pattern, CUT, times, after, ""))

    def before(self, pattern: str, callback: Any, *, after: int = 0) -> None:
        """Call ``callback()`` once, before forwarding the matching request that comes after ``after`` others."""
        with self.lock:
            self.hooks.append([pattern, after, callback])

    def reset(self) -> None:
        with self.lock:
            self.seen.clear()
            self.faults.clear()
            self.hooks.clear()

    def _hook_for(self, path: str) -> Any:
        with self.lock:
            for hook in self.hooks:
                if hook[0] in path:
                    if hook[1] > 0:
                        hook[1] -= 1
                        return None
                    self.hooks.remove(hook)
                    return hook[2]
        return None

    def gets(self, pattern: str = "") -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.method == "GET" and pattern in s.path]

    def _fault_for(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.pattern in path and fault.times > 0:
                    if fault.after > 0:
                        fault.after -= 1
                        return None
                    fault.times -= 1
                    return fault
        return None

    def start(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            upstream: http.client.HTTPConnection | None = None

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                hook = proxy._hook_for(self.path)
                if hook is not None:
                    hook()
                fault = proxy._fault_for(self.path)
                if fault is not None and fault.hang_s:
                    time.sleep(fault.hang_s)
                    self.close_connection = True
                    return
                if fault is not None and fault.status != CUT:
                    payload = (
                        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{fault.code}</Code>'
                        f"<Message>injected by the test</Message></Error>"
                    ).encode()
                    self.send_response(fault.status)
                    self.send_header("x-ms-error-code", fault.code)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    proxy._record(self, fault.status, 0)
                    return
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                self.upstream.request(self.command, self.path, body=body, headers=headers)
                answer = self.upstream.getresponse()
                self.send_response(answer.status)
                hop = ("connection", "keep-alive", "transfer-encoding", "content-length")
                for key, value in answer.getheaders():
                    if key.lower() not in hop:
                        self.send_header(key, value)
                sent = 0
                # Each answer is recorded before its last bytes leave: a reader holding them then sees the record.
                recorded = False
                if answer.getheader("Content-Length") is not None and self.command != "HEAD":
                    size = int(answer.getheader("Content-Length") or 0)
                    self.send_header("Content-Length", str(size))
                    self.end_headers()
                    limit = size // 2 if fault is not None else size
                    while sent < limit:
                        chunk = answer.read(min(256 * 1024, limit - sent))
                        if not chunk:
                            break
                        if fault is None and sent + len(chunk) >= limit:
                            proxy._record(self, answer.status, sent + len(chunk))
                            recorded = True
                        self.wfile.write(chunk)
                        sent += len(chunk)
                    if fault is not None:  # cut: drop both connections mid-body
                        self.upstream.close()
                        self.upstream = None
                        self.close_connection = True
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        proxy._record(self, -answer.status, sent)
                        return
                else:
                    data = answer.read()
                    sent = len(data) if self.command != "HEAD" else 0
                    proxy._record(self, answer.status, sent)
                    recorded = True
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                if not recorded:
                    proxy._record(self, answer.status, sent)

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _forward

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _record(self, handler: BaseHTTPRequestHandler, status: int, sent: int) -> None:
        with self.lock:
            self.seen.append(Seen(handler.command, handler.path, handler.headers.get("x-ms-range", ""), status, sent))

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up (a cancelled download closes its connections)


@contextmanager
def private_azurite(folder: Path, *, cert: ServerCert | None = None) -> Iterator[int]:
    """A private Azurite blob service on loopback, in memory; its port. Plain HTTP, or with ``cert`` HTTPS and
    bearer tokens checked the basic way (an unsigned JWT for storage's audience from a Microsoft issuer)."""
    secure = ("--cert", str(cert.cert_path), "--key", str(cert.key_path), "--oauth", "basic") if cert else ()
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    with open(folder / "azurite.log", "wb") as log:
        process = subprocess.Popen(
            [
                azurite_executable(),
                *("--blobHost", "127.0.0.1", "--blobPort", str(port)),
                *("--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent"),
                *secure,
            ],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((folder / "azurite.log").read_text()[-2000:]) from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


_runs = iter(range(10**6))


def new_run(uploader: Any, files: dict[str, bytes]) -> str:
    """A run id of its own with ``files`` uploaded under its ``ExperimentRun/dcid.<id>/``."""
    run_id = f"job_{next(_runs)}_{os.getpid()}"
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda item: uploader.upload_blob(f"ExperimentRun/dcid.{run_id}/{item[0]}", item[1], max_concurrency=4),
                files.items(),
            )
        )
    return run_id


ODD = {
    "outputs/model.bin": b"m" * 10,
    "outputs/sub dir/with space.txt": b"space",
    "outputs/ünïcødé/名前.txt": b"unicode",
    "outputs/hash#and%25percent.txt": b"odd",
    "outputs/deep/a/b/c/leaf.txt": b"leaf",
    "user_logs/std_log.txt": b"log line\n",
    "system_logs/cs_capability/cs-capability.log": b"sys",
    "root.txt": b"root",
}


def big_content(size: int) -> bytes:
    """``size`` bytes fast: a random MiB repeated, each copy stamped with its index (so a misplaced range shows)."""
    block = bytearray(os.urandom(MiB))
    parts = []
    for i in range(size // MiB + 1):
        block[:8] = i.to_bytes(8, "big")
        parts.append(bytes(block))
    return b"".join(parts)[:size]
