"""A job's files in the artifact store: listings, range reads, downloads, faults, secrets.

Most tests run against a private Azurite (plain HTTP on loopback) behind ``StorageProxy``, a small reverse proxy
that counts every request and the body bytes it carried and injects failures (the shared CONNECT proxy tunnels
TLS and cannot see a blob's path). The end-to-end tests at the bottom go through the shared Azure emulator
(``azure_env``): the datastore and its secret from ARM, the real host names through the CONNECT proxy, TLS
checked against the test CA from ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from studio.core.errors import AuthenticationError, CancelledError, NotFoundError
from studio.core.tasks import CancelToken
from studio.workspaces.azure.artifact_store import ArtifactStore, Secret, StorageTimeouts
from studio.workspaces.azure.blob_files import BLOCK, BlobRunFiles
from studio.workspaces.azure.errors import AzureError, AzureServerError, AzureTimeoutError, AzureUnreachableError
from studio.workspaces.mlflow.single_flight import SingleFlight
from tests.azure_emulator.azurite import ACCOUNT_KEY, ACCOUNT_NAME, _free_port, azurite_executable

CONTAINER = "artifacts-under-test"  # any name: the code never assumes one
FAST = StorageTimeouts(connect_s=5.0, read_s=10.0, retry_total=2, backoff_s=0.01, backoff_base=0)
MiB = 1 << 20


# -- a private Azurite and a counting, failing reverse proxy in front of it --------------------------------


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

    def reset(self) -> None:
        with self.lock:
            self.seen.clear()
            self.faults.clear()

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
                fault = proxy._fault_for(self.path)
                if fault is not None and fault.hang_s:
                    time.sleep(fault.hang_s)
                    self.close_connection = True
                    return
                if fault is not None:
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
                if answer.getheader("Content-Length") is not None and self.command != "HEAD":
                    size = int(answer.getheader("Content-Length") or 0)
                    self.send_header("Content-Length", str(size))
                    self.end_headers()
                    while sent < size:
                        chunk = answer.read(min(256 * 1024, size - sent))
                        if not chunk:
                            break
                        self.wfile.write(chunk)
                        sent += len(chunk)
                else:
                    data = answer.read()
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                    sent = len(data)
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


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A private Azurite blob service (plain HTTP on loopback, in memory) for this module; its port."""
    folder = tmp_path_factory.mktemp("azurite")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    with open(folder / "azurite.log", "wb") as log:
        process = subprocess.Popen(
            [
                azurite_executable(),
                *("--blobHost", "127.0.0.1", "--blobPort", str(port)),
                *("--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent"),
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


@pytest.fixture(scope="module")
def uploader(azurite: int) -> Any:
    """A container client straight to Azurite (not through the proxy): the test's own writes."""
    from azure.storage.blob import ContainerClient

    client = ContainerClient(
        f"http://127.0.0.1:{azurite}/{ACCOUNT_NAME}",
        CONTAINER,
        credential={"account_name": ACCOUNT_NAME, "account_key": ACCOUNT_KEY},
    )
    client.create_container()
    yield client
    client.close()


@pytest.fixture(scope="module")
def storage_proxy(azurite: int) -> Iterator[StorageProxy]:
    proxy = StorageProxy(azurite)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def proxy(storage_proxy: StorageProxy, monkeypatch: pytest.MonkeyPatch) -> Iterator[StorageProxy]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    storage_proxy.reset()
    yield storage_proxy
    storage_proxy.reset()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    files: BlobRunFiles
    store: ArtifactStore
    asked: list[str]
    clock: Clock


@pytest.fixture
def blob(proxy: StorageProxy) -> Iterator[Setup]:
    """BlobRunFiles on the private Azurite through the proxy, the account key handed out like listSecrets does."""
    asked: list[str] = []
    clock = Clock()

    def list_secret() -> Secret:
        asked.append("key")
        return Secret("AccountKey", ACCOUNT_KEY)

    store = ArtifactStore(
        account_url=proxy.account_url,
        container_name=CONTAINER,
        credential=None,
        credentials_type="AccountKey",
        list_secret=list_secret,
        timeouts=FAST,
        clock=clock,
    )
    pool = ThreadPoolExecutor(4)
    yield Setup(BlobRunFiles(store, pool, SingleFlight()), store, asked, clock)
    pool.shutdown()
    store.close()


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


# -- listings ---------------------------------------------------------------------------------------------


def test_folders_list_one_level_with_odd_names(blob: Setup, uploader: Any, proxy: StorageProxy) -> None:
    run = new_run(uploader, ODD)
    root = blob.files.folder(run, "", final=True)
    assert sorted((e.path, e.is_dir, e.size) for e in root) == [
        ("outputs", True, None),
        ("root.txt", False, 4),
        ("system_logs", True, None),
        ("user_logs", True, None),
    ]
    outputs = blob.files.folder(run, "outputs", final=True)
    assert sorted((e.path, e.is_dir) for e in outputs) == [
        ("outputs/deep", True),
        ("outputs/hash#and%25percent.txt", False),
        ("outputs/model.bin", False),
        ("outputs/sub dir", True),
        ("outputs/ünïcødé", True),
    ]
    assert [e.path for e in blob.files.folder(run, "outputs/ünïcødé", final=True)] == ["outputs/ünïcødé/名前.txt"]
    assert blob.files.entry(run, "outputs/sub dir/with space.txt", final=True).size == 5
    with pytest.raises(NotFoundError):
        blob.files.entry(run, "outputs/deep", final=True)  # a folder is not a file
    with pytest.raises(NotFoundError):
        blob.files.entry(run, "outputs/missing.txt", final=True)
    # A finished run's folders are kept: asking again sends nothing.
    before = len(proxy.gets())
    blob.files.folder(run, "outputs", final=True)
    blob.files.entry(run, "outputs/model.bin", final=True)
    assert len(proxy.gets()) == before


def test_listing_by_prefix_is_flat_sorted_and_cached_when_final(
    blob: Setup, uploader: Any, proxy: StorageProxy
) -> None:
    run = new_run(uploader, ODD)
    everything = blob.files.listing(run, "", final=True, modified_at=0.0)
    assert [f.path for f in everything] == sorted(ODD)
    assert {f.path: f.size for f in everything} == {k: len(v) for k, v in ODD.items()}
    assert all(f.modified_at > 1.6e9 for f in everything)  # the blob's own time
    outputs = blob.files.listing(run, "outputs/", final=True, modified_at=0.0)
    assert [f.path for f in outputs] == sorted(p for p in ODD if p.startswith("outputs/"))
    # A prefix is a string prefix, not a folder: "outputs/s" matches "outputs/sub dir/…" only.
    assert [f.path for f in blob.files.listing(run, "outputs/s", final=True, modified_at=0.0)] == [
        "outputs/sub dir/with space.txt"
    ]
    # Depth-limited listings walk folders: the root and one level down.
    shallow = blob.files.listing(run, "", final=True, modified_at=5.0, depth=1)
    assert [f.path for f in shallow] == [
        "outputs/hash#and%25percent.txt",
        "outputs/model.bin",
        "root.txt",
        "user_logs/std_log.txt",
    ]
    before = len(proxy.gets())
    assert blob.files.listing(run, "", final=True, modified_at=0.0) == everything
    assert len(proxy.gets()) == before
    # Another run's files never show, even when its id starts with this one's.
    assert blob.files.listing(run + "0", "", final=True, modified_at=0.0) == []


def test_a_running_runs_listing_is_asked_again(
    blob: Setup, uploader: Any, proxy: StorageProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    import studio.workspaces.azure.blob_files as blob_files

    monkeypatch.setattr(blob_files, "LIVE_LISTING_S", 0.0)
    run = new_run(uploader, {"outputs/a.txt": b"a"})
    assert [f.path for f in blob.files.listing(run, "", final=False, modified_at=0.0)] == ["outputs/a.txt"]
    uploader.upload_blob(f"ExperimentRun/dcid.{run}/outputs/b.txt", b"b")
    assert [f.path for f in blob.files.listing(run, "", final=False, modified_at=0.0)] == [
        "outputs/a.txt",
        "outputs/b.txt",
    ]
    assert [e.path for e in blob.files.folder(run, "outputs", final=False)] == ["outputs/a.txt", "outputs/b.txt"]


def test_big_folders_are_paged(
    blob: Setup, uploader: Any, proxy: StorageProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    import studio.workspaces.azure.blob_files as blob_files

    monkeypatch.setattr(blob_files, "PAGE", 7)
    run = new_run(uploader, {f"outputs/f{i:02}.txt": b"x" for i in range(20)})
    assert len(blob.files.listing(run, "outputs/", final=True, modified_at=0.0)) == 20
    assert len(blob.files.folder(run, "outputs", final=True)) == 20
    assert len([s for s in proxy.gets() if "comp=list" in s.path]) == 6  # 3 pages each


# -- range reads ------------------------------------------------------------------------------------------


def test_range_reads_fetch_only_the_blocks_asked(blob: Setup, uploader: Any, proxy: StorageProxy) -> None:
    content = os.urandom(5 * MiB + 123)
    run = new_run(uploader, {"outputs/big.bin": content})
    proxy.reset()

    assert blob.files.read(run, "outputs/big.bin", 0, 100, final=True) == content[:100]
    first = proxy.gets("big.bin")
    assert len(first) == 1  # a preview is one request: the size comes with the first block
    assert sum(s.body_bytes for s in first) == BLOCK

    middle = 3 * MiB + 10
    assert blob.files.read(run, "outputs/big.bin", middle, 1000, final=True) == content[middle : middle + 1000]
    assert len(proxy.gets("big.bin")) == 2
    # The same screen again, and a read inside the same block: from the cache.
    assert (
        blob.files.read(run, "outputs/big.bin", middle + 500, 100, final=True) == content[middle + 500 : middle + 600]
    )
    assert len(proxy.gets("big.bin")) == 2
    # Across the end: the last, short block; at and past the end: nothing, and no request once the size is known.
    tail = blob.files.read(run, "outputs/big.bin", len(content) - 50, 4096, final=True)
    assert tail == content[-50:]
    assert blob.files.read(run, "outputs/big.bin", len(content), 10, final=True) == b""
    assert blob.files.read(run, "outputs/big.bin", len(content) + MiB * 3, 10, final=True) == b""
    assert blob.files.read(run, "outputs/big.bin", 10, 0, final=True) == b""
    gets = proxy.gets("big.bin")
    assert len(gets) == 3
    assert sum(s.body_bytes for s in gets) < 3 * MiB + 200  # never the whole 5 MiB file
    # Spanning blocks: joined right.
    assert blob.files.read(run, "outputs/big.bin", BLOCK - 3, 6, final=True) == content[BLOCK - 3 : BLOCK + 3]


def test_a_listed_file_is_previewed_in_one_request_then_from_the_cache(
    blob: Setup, uploader: Any, proxy: StorageProxy
) -> None:
    content = os.urandom(2 * MiB)
    run = new_run(uploader, {"outputs/log.txt": content})
    blob.files.folder(run, "outputs", final=True)  # the Outputs tab lists the folder first
    proxy.reset()
    assert blob.files.read(run, "outputs/log.txt", 0, 4096, final=True) == content[:4096]
    assert blob.files.read(run, "outputs/log.txt", 4096, 4096, final=True) == content[4096:8192]
    assert len(proxy.gets()) == 1  # the listing's ETag and the download's are the same key


def test_read_past_the_end_of_an_unknown_file_is_empty(blob: Setup, uploader: Any, proxy: StorageProxy) -> None:
    run = new_run(uploader, {"outputs/small.txt": b"hello", "outputs/empty.txt": b""})
    assert blob.files.read(run, "outputs/small.txt", 5 * MiB, 10, final=True) == b""  # 416 InvalidRange
    assert blob.files.read(run, "outputs/small.txt", 10, 10, final=False) == b""
    assert blob.files.read(run, "outputs/empty.txt", 0, 10, final=True) == b""
    assert blob.files.read(run, "outputs/empty.txt", 0, 10, final=False) == b""
    assert blob.files.read(run, "outputs/small.txt", 1, 100, final=True) == b"ello"
    with pytest.raises(NotFoundError):
        blob.files.read(run, "outputs/nothing.txt", 0, 10, final=True)
    with pytest.raises(NotFoundError):
        blob.files.read(run, "outputs", 0, 10, final=False)
    with pytest.raises(ValueError):
        blob.files.read(run, "../escape.txt", 0, 10, final=True)


def test_a_growing_log_is_followed_from_the_last_size(blob: Setup, uploader: Any, proxy: StorageProxy) -> None:
    run = new_run(uploader, {})
    log = uploader.get_blob_client(f"ExperimentRun/dcid.{run}/user_logs/std_log.txt")
    log.create_append_blob()
    log.append_block(b"epoch 1\n")
    path = "user_logs/std_log.txt"
    seen = blob.files.read(run, path, 0, 64 * 1024, final=False)
    assert seen == b"epoch 1\n"
    assert blob.files.read(run, path, len(seen), 64 * 1024, final=False) == b""  # nothing new yet
    for n in range(2, 5):
        log.append_block(f"epoch {n}\n".encode())
        proxy.reset()
        new = blob.files.read(run, path, len(seen), 64 * 1024, final=False)
        assert new == f"epoch {n}\n".encode()
        assert [s.body_bytes for s in proxy.gets("std_log")] == [len(new)]  # only the new bytes travel
        seen += new
    # A running run's bytes are never kept as final: the whole log read again shows every line.
    assert blob.files.read(run, path, 0, 64 * 1024, final=False) == b"epoch 1\nepoch 2\nepoch 3\nepoch 4\n"


# -- downloads --------------------------------------------------------------------------------------------


def big_content(size: int) -> bytes:
    """``size`` bytes fast: a random MiB repeated, each copy stamped with its index (so a misplaced range shows)."""
    block = bytearray(os.urandom(MiB))
    parts = []
    for i in range(size // MiB + 1):
        block[:8] = i.to_bytes(8, "big")
        parts.append(bytes(block))
    return b"".join(parts)[:size]


@pytest.fixture(scope="module")
def big_run(uploader: Any) -> tuple[str, bytes]:
    content = big_content(100 * MiB + 4321)
    return new_run(uploader, {"outputs/model/weights.bin": content, "outputs/small.txt": b"small"}), content


@pytest.mark.slow
def test_a_100_mb_file_downloads_in_parallel_ranges_with_progress(
    blob: Setup, big_run: tuple[str, bytes], proxy: StorageProxy, tmp_path: Path
) -> None:
    run, content = big_run
    progress: list[tuple[int, int]] = []
    started = time.perf_counter()
    written = blob.files.download(
        run,
        ["outputs/model/weights.bin", "outputs/small.txt"],
        tmp_path,
        final=True,
        strip_prefix="outputs/",
        overwrite=False,
        progress=lambda done, total: progress.append((done, total)),
        cancel=None,
    )
    seconds = time.perf_counter() - started
    assert written == [tmp_path / "model" / "weights.bin", tmp_path / "small.txt"]
    assert hashlib.sha256(written[0].read_bytes()).digest() == hashlib.sha256(content).digest()
    assert written[1].read_bytes() == b"small"
    total = len(content) + 5
    assert progress[0] == (0, total) and progress[-1] == (total, total)
    assert all(t == total for _, t in progress) and len(progress) > 20
    assert [p.name for p in tmp_path.rglob("*.part")] == []
    ranges = proxy.gets("weights.bin")
    assert len(ranges) == 26 and all(r.range for r in ranges)  # 4 MiB ranges, 4 at a time
    print(f"\n100 MB download: {len(content) / MiB / seconds:.0f} MiB/s through the test proxy ({seconds:.2f} s)")


@pytest.mark.slow
def test_a_thousand_small_files_download_in_parallel(
    blob: Setup, uploader: Any, proxy: StorageProxy, tmp_path: Path
) -> None:
    files = {f"outputs/part-{i // 100}/file-{i:04}.txt": f"file {i}\n".encode() * (i % 7 + 1) for i in range(1000)}
    run = new_run(uploader, files)
    proxy.reset()
    progress: list[tuple[int, int]] = []
    started = time.perf_counter()
    written = blob.files.download(
        run,
        sorted(files),
        tmp_path,
        final=True,
        strip_prefix="",
        overwrite=False,
        progress=lambda d, t: progress.append((d, t)),
        cancel=None,
    )
    seconds = time.perf_counter() - started
    assert len(written) == 1000
    assert all((tmp_path / p).read_bytes() == data for p, data in files.items())
    total = sum(len(v) for v in files.values())
    assert progress[-1] == (total, total)
    gets = proxy.gets()
    assert len([g for g in gets if "comp=list" in g.path]) == 10  # one listing per folder, for the sizes
    assert len(gets) == 1010
    print(f"\n1,000 files: {seconds:.2f} s")


@pytest.mark.slow
def test_cancel_midway_leaves_nothing(
    blob: Setup, big_run: tuple[str, bytes], proxy: StorageProxy, tmp_path: Path
) -> None:
    run, _ = big_run
    cancel = CancelToken()

    def progress(done: int, total: int) -> None:
        if done > 20 * MiB:
            cancel.cancel()

    with pytest.raises(CancelledError):
        blob.files.download(
            run,
            ["outputs/model/weights.bin"],
            tmp_path,
            final=True,
            strip_prefix="",
            overwrite=False,
            progress=progress,
            cancel=cancel,
        )
    assert list(tmp_path.rglob("*")) == [tmp_path / "outputs", tmp_path / "outputs" / "model"]
    assert len(proxy.gets("weights.bin")) <= 12  # stopped soon after, not the 26 ranges of the whole file


def test_existing_files_and_escaping_names_refused_before_anything_is_written(
    blob: Setup, uploader: Any, proxy: StorageProxy, tmp_path: Path
) -> None:
    run = new_run(uploader, {"outputs/a.txt": b"a", "outputs/b.txt": b"b"})
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "b.txt").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match=r"b\.txt already exists"):
        blob.files.download(
            run,
            ["outputs/a.txt", "outputs/b.txt"],
            tmp_path,
            final=True,
            strip_prefix="",
            overwrite=False,
            progress=None,
            cancel=None,
        )
    assert not (tmp_path / "outputs" / "a.txt").exists()
    assert (tmp_path / "outputs" / "b.txt").read_bytes() == b"mine"
    for bad in ("../evil.txt", "/etc/passwd", "outputs/../../evil.txt"):
        with pytest.raises(ValueError):
            blob.files.download(
                run, [bad], tmp_path, final=True, strip_prefix="", overwrite=False, progress=None, cancel=None
            )
    with pytest.raises(NotFoundError, match=r"missing\.txt"):
        blob.files.download(
            run,
            ["outputs/a.txt", "outputs/missing.txt"],
            tmp_path,
            final=True,
            strip_prefix="",
            overwrite=False,
            progress=None,
            cancel=None,
        )
    assert not (tmp_path / "outputs" / "a.txt").exists()
    assert not [g for g in proxy.gets() if "a.txt" in g.path]  # checked, not fetched
    blob.files.download(
        run,
        ["outputs/a.txt", "outputs/b.txt"],
        tmp_path,
        final=True,
        strip_prefix="",
        overwrite=True,
        progress=None,
        cancel=None,
    )
    assert (tmp_path / "outputs" / "b.txt").read_bytes() == b"b"


@pytest.mark.slow
def test_a_500_mid_download_is_one_sentence_leaves_no_partial_file_and_a_retry_works(
    blob: Setup, big_run: tuple[str, bytes], proxy: StorageProxy, tmp_path: Path
) -> None:
    run, content = big_run
    proxy.fail("weights.bin", 500, times=100, after=6)  # six ranges arrive, then storage keeps failing
    with pytest.raises(AzureServerError) as caught:
        blob.files.download(
            run,
            ["outputs/model/weights.bin"],
            tmp_path,
            final=True,
            strip_prefix="outputs/",
            overwrite=False,
            progress=None,
            cancel=None,
        )
    message = str(caught.value)
    assert "HTTP 500" in message and "try again" in message and "\n" not in message
    assert list(tmp_path.rglob("*.*")) == []  # neither weights.bin nor weights.bin.part
    proxy.reset()
    proxy.fail("weights.bin", 500, times=1, after=3)  # one transient 500 is retried, unnoticed
    [path] = blob.files.download(
        run,
        ["outputs/model/weights.bin"],
        tmp_path,
        final=True,
        strip_prefix="outputs/",
        overwrite=False,
        progress=None,
        cancel=None,
    )
    assert path.stat().st_size == len(content)
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(content).digest()


# -- secrets and failures ---------------------------------------------------------------------------------


def test_the_secret_is_asked_once_then_again_after_it_expires(blob: Setup, uploader: Any) -> None:
    run = new_run(uploader, {"outputs/a.txt": b"a"})
    blob.files.read(run, "outputs/a.txt", 0, 1, final=False)
    blob.files.listing(run, "", final=False, modified_at=0.0)
    assert blob.asked == ["key"]
    blob.clock.now += 49 * 60
    blob.files.read(run, "outputs/a.txt", 0, 1, final=False)
    assert blob.asked == ["key"]
    blob.clock.now += 2 * 60  # 51 minutes: the one-hour secret is renewed ahead of its end
    assert blob.files.read(run, "outputs/a.txt", 0, 1, final=False) == b"a"
    assert blob.asked == ["key", "key"]


def test_a_refused_secret_is_asked_again_once(proxy: StorageProxy, uploader: Any, tmp_path: Path) -> None:
    run = new_run(uploader, {"outputs/a.txt": b"abc"})
    old = base64.b64encode(os.urandom(64)).decode()
    keys = iter([old, ACCOUNT_KEY, old, old])  # a rotated key, then the new one; then refused twice
    store = ArtifactStore(
        account_url=proxy.account_url,
        container_name=CONTAINER,
        credential=None,
        credentials_type="AccountKey",
        list_secret=lambda: Secret("AccountKey", next(keys)),
        timeouts=FAST,
    )
    with ThreadPoolExecutor(2) as pool:
        files = BlobRunFiles(store, pool, SingleFlight())
        assert files.read(run, "outputs/a.txt", 0, 10, final=False) == b"abc"
        assert store.secrets_asked == 2
        store.close()
        store = ArtifactStore(
            account_url=proxy.account_url,
            container_name=CONTAINER,
            credential=None,
            credentials_type="AccountKey",
            list_secret=lambda: Secret("AccountKey", next(keys)),
            timeouts=FAST,
        )
        files = BlobRunFiles(store, pool, SingleFlight())
        with pytest.raises(AuthenticationError) as caught:  # refused twice: a sentence, no key in it
            files.read(run, "outputs/a.txt", 0, 10, final=False)
        assert "HTTP 403" in str(caught.value) and old not in str(caught.value)
        assert store.secrets_asked == 2
        store.close()


def test_storage_failures_are_sentences(blob: Setup, uploader: Any, proxy: StorageProxy) -> None:
    run = new_run(uploader, {"outputs/a.txt": b"a"})
    proxy.fail("a.txt", 403, code="AuthorizationPermissionMismatch")
    store = ArtifactStore(
        account_url=proxy.account_url,
        container_name=CONTAINER,
        credential={"account_name": ACCOUNT_NAME, "account_key": ACCOUNT_KEY},
        timeouts=FAST,
    )
    files = BlobRunFiles(store, ThreadPoolExecutor(1), SingleFlight())
    with pytest.raises(AuthenticationError, match="Storage Blob Data Reader"):
        files.read(run, "outputs/a.txt", 0, 1, final=True)
    store.close()

    proxy.fail("comp=list", 503, times=10)
    with pytest.raises(AzureServerError, match=r"HTTP 503, after 3 tries\): try again later\.$"):
        blob.files.listing(run, "", final=True, modified_at=0.0)
    proxy.reset()

    missing = ArtifactStore(
        account_url=proxy.account_url,
        container_name="no-such-container",
        credential=None,
        list_secret=lambda: Secret("AccountKey", ACCOUNT_KEY),
        timeouts=FAST,
    )
    with pytest.raises(NotFoundError, match="has no container 'no-such-container'"):
        BlobRunFiles(missing, ThreadPoolExecutor(1), SingleFlight()).read(run, "outputs/a.txt", 0, 1, final=True)
    missing.close()

    closed_port = _free_port()
    down = ArtifactStore(
        account_url=f"http://127.0.0.1:{closed_port}/{ACCOUNT_NAME}",
        container_name=CONTAINER,
        credential=None,
        list_secret=lambda: Secret("AccountKey", ACCOUNT_KEY),
        timeouts=FAST,
    )
    with pytest.raises(
        AzureUnreachableError, match=r"^Cannot reach Azure \(127\.0\.0\.1\).*check the network or proxy\.$"
    ):
        BlobRunFiles(down, ThreadPoolExecutor(1), SingleFlight()).listing(run, "", final=True, modified_at=0.0)
    down.close()


def test_a_hang_ends_with_a_timeout(uploader: Any, proxy: StorageProxy) -> None:
    run = new_run(uploader, {"outputs/a.txt": b"a"})
    proxy.hang("a.txt", 3.0, times=10)
    store = ArtifactStore(
        account_url=proxy.account_url,
        container_name=CONTAINER,
        credential=None,
        list_secret=lambda: Secret("AccountKey", ACCOUNT_KEY),
        timeouts=StorageTimeouts(connect_s=2, read_s=0.5, retry_total=1, backoff_s=0.01, backoff_base=0),
    )
    started = time.monotonic()
    with pytest.raises((AzureTimeoutError, AzureUnreachableError, AzureError)) as caught:
        BlobRunFiles(store, ThreadPoolExecutor(1), SingleFlight()).read(run, "outputs/a.txt", 0, 1, final=False)
    assert time.monotonic() - started < 8
    assert re.search(r"(did not answer|Cannot reach)", str(caught.value))
    store.close()


# -- end to end: the shared Azure emulator, the real host names, TLS through the CONNECT proxy -------------


@dataclass
class Workspace:
    files: BlobRunFiles
    store: ArtifactStore
    arm: Any
    pool: ThreadPoolExecutor


@pytest.fixture
def workspace_files(azure_env: Any) -> Iterator[Workspace]:
    """BlobRunFiles as the Azure backend builds it: the artifact store resolved over ARM with a test token."""
    from studio.workspaces.azure.arm_client import ArmClient
    from studio.workspaces.azure.cloud import load_cloud

    cloud = load_cloud("AzureCloud")
    credential = azure_env.credential()
    arm = ArmClient(credential, cloud)
    store = ArtifactStore.resolve(arm, azure_env.workspace_arm_id, credential, cloud)
    pool = ThreadPoolExecutor(4)
    yield Workspace(BlobRunFiles(store, pool, SingleFlight()), store, arm, pool)
    pool.shutdown()
    store.close()
    arm.close()


def azure_job(azure_env: Any, files: dict[str, bytes]) -> str:
    """A job id with ``files`` in the shared Azurite's artifact container."""
    return new_run(azure_env.container(), files)


def emulator_calls(azure_env: Any, pattern: str) -> list[Any]:
    return [r for r in azure_env.requests() if re.search(pattern, r.path)]


def test_the_artifact_store_is_resolved_once_from_the_workspace(azure_env: Any, workspace_files: Workspace) -> None:
    store = workspace_files.store
    assert store.account_url == azure_env.blob_account_url  # https://devstoreaccount1.blob.core.windows.net
    assert store.container_name == azure_env.artifact_container
    assert store.credentials_type == "AccountKey"
    run = azure_job(azure_env, ODD)
    files = workspace_files.files
    assert [f.path for f in files.listing(run, "", final=True, modified_at=0.0)] == sorted(ODD)
    assert files.read(run, "outputs/ünïcødé/名前.txt", 0, 100, final=True) == b"unicode"
    assert files.read(run, "user_logs/std_log.txt", 4, 100, final=False) == b"line\n"
    assert len(emulator_calls(azure_env, r"/datastores/workspaceartifactstore$")) == 1
    assert len(emulator_calls(azure_env, r"/listSecrets$")) == 1
    assert "devstoreaccount1.blob.core.windows.net:443" in azure_env.proxy.tunnels  # the real host, via the proxy
    assert repr(store).count("Eby8") == 0


def test_an_expired_secret_is_listed_again_from_arm(
    azure_env: Any, workspace_files: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import studio.workspaces.azure.artifact_store as artifact_store

    run = azure_job(azure_env, {"outputs/a.txt": b"abc"})
    files = workspace_files.files
    files.read(run, "outputs/a.txt", 0, 3, final=False)
    files.read(run, "outputs/a.txt", 0, 3, final=False)
    assert len(emulator_calls(azure_env, r"/listSecrets$")) == 1
    monkeypatch.setattr(artifact_store, "SECRET_TTL_S", 0.0)  # every use finds the secret due
    assert files.read(run, "outputs/a.txt", 1, 3, final=False) == b"bc"
    assert len(emulator_calls(azure_env, r"/listSecrets$")) == 2


def test_no_right_to_list_secrets_falls_back_to_the_users_identity(azure_env: Any) -> None:
    from studio.workspaces.azure.arm_client import ArmClient
    from studio.workspaces.azure.cloud import load_cloud

    cloud = load_cloud("AzureCloud")
    arm = ArmClient(azure_env.credential(), cloud)
    azure_env.fail(
        r"/listSecrets$",
        403,
        message="The client does not have authorization to perform action "
        "'Microsoft.MachineLearningServices/workspaces/datastores/listSecrets/action'",
    )
    store = ArtifactStore.resolve(arm, azure_env.workspace_arm_id, azure_env.credential(), cloud)
    run = azure_job(azure_env, {"outputs/a.txt": b"abc"})
    files = BlobRunFiles(store, ThreadPoolExecutor(1), SingleFlight())
    # Azurite (without --oauth) does not accept the test's token: the refusal names the role to ask for.
    with pytest.raises(AuthenticationError, match="Storage Blob Data Reader") as caught:
        files.read(run, "outputs/a.txt", 0, 3, final=True)
    assert "studio-test" not in str(caught.value)
    assert store.secrets_asked == 1
    store.close()
    arm.close()


@pytest.mark.slow
def test_a_100_mb_download_over_tls_through_the_proxy(
    azure_env: Any, workspace_files: Workspace, tmp_path: Path
) -> None:
    content = big_content(100 * MiB)
    run = azure_job(azure_env, {"outputs/checkpoint.pt": content})
    progress: list[int] = []
    started = time.perf_counter()
    [path] = workspace_files.files.download(
        run,
        ["outputs/checkpoint.pt"],
        tmp_path,
        final=True,
        strip_prefix="outputs/",
        overwrite=False,
        progress=lambda done, total: progress.append(done),
        cancel=None,
    )
    seconds = time.perf_counter() - started
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(content).digest()
    assert progress[-1] == len(content) and progress == sorted(progress)
    print(f"\n100 MiB over TLS through the CONNECT proxy: {len(content) / MiB / seconds:.0f} MiB/s ({seconds:.2f} s)")
    azure_env.container().delete_blob(f"ExperimentRun/dcid.{run}/outputs/checkpoint.pt")
