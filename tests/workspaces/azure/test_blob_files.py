"""A job's files in the artifact store: listings, range reads, downloads, faults, secrets, failures.

The tests run against a private Azurite (plain HTTP on loopback) behind ``StorageProxy`` (``blob_helpers.py``),
which counts every request and the bytes it carried and injects failures. ``test_artifact_store.py`` resolves the
store from the Azure emulator and reads through the real host names, the CONNECT proxy and TLS.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from studio.core.errors import AuthenticationError, CancelledError, NotFoundError
from studio.core.tasks import CancelToken
from studio.workspaces.azure.artifact_store import ArtifactStore, Secret, StorageTimeouts
from studio.workspaces.azure.blob_files import BLOCK, BlobRunFiles
from studio.workspaces.azure.errors import AzureError, AzureServerError, AzureTimeoutError, AzureUnreachableError
from studio.workspaces.mlflow.single_flight import SingleFlight
from tests.azure_emulator.azurite import ACCOUNT_KEY, ACCOUNT_NAME, _free_port
from tests.workspaces.azure.blob_helpers import (
    CONTAINER,
    FAST,
    ODD,
    MiB,
    StorageProxy,
    big_content,
    new_run,
    private_azurite,
)


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A private Azurite for this module; its port."""
    with private_azurite(tmp_path_factory.mktemp("azurite")) as port:
        yield port


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


def test_a_big_read_goes_in_parallel_ranges(blob: Setup, uploader: Any, proxy: StorageProxy) -> None:
    content = os.urandom(20 * MiB + 5)
    run = new_run(uploader, {"outputs/large.bin": content})
    proxy.reset()
    assert blob.files.read(run, "outputs/large.bin", 3, 30 * MiB, final=True) == content[3:]
    ranges = proxy.gets("large.bin")
    assert len(ranges) == 6 and sum(r.body_bytes for r in ranges) == len(content) - 3  # 4 MiB ranges, once each


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
    with pytest.raises(NotFoundError, match=r"^The file 'outputs/nothing\.txt' of run \S+ is not in the workspace's "):
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


def test_a_file_whose_bytes_were_all_written_when_cancelled_is_not_kept(
    blob: Setup, uploader: Any, tmp_path: Path
) -> None:
    run = new_run(uploader, {"outputs/one.txt": b"1" * 100})
    cancel = CancelToken()
    with pytest.raises(CancelledError):
        blob.files.download(
            run,
            ["outputs/one.txt"],
            tmp_path,
            final=True,
            strip_prefix="",
            overwrite=False,
            progress=lambda done, total: cancel.cancel() if done else None,
            cancel=cancel,
        )
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_existing_files_and_escaping_names_refused_before_anything_is_written(
    blob: Setup, uploader: Any, proxy: StorageProxy, tmp_path: Path
) -> None:
    run = new_run(uploader, {"outputs/a.txt": b"a", "outputs/b.txt": b"b", "a.txt": b"root a"})
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
    with pytest.raises(ValueError, match="would both be written to"):
        blob.files.download(
            run,
            ["outputs/a.txt", "a.txt"],
            tmp_path / "flat",
            final=True,
            strip_prefix="outputs/",
            overwrite=False,
            progress=None,
            cancel=None,
        )
    assert not (tmp_path / "flat").exists()
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


def test_a_file_growing_during_its_download_is_fetched_again_whole(
    blob: Setup, uploader: Any, proxy: StorageProxy, tmp_path: Path
) -> None:
    run = new_run(uploader, {})
    log = uploader.get_blob_client(f"ExperimentRun/dcid.{run}/user_logs/std_log.txt")
    log.create_append_blob()
    first = os.urandom(4 * MiB)
    log.append_block(first[: 2 * MiB])
    log.append_block(first[2 * MiB :])
    log.append_block(b"x" * 1000)
    grown = b"more lines\n"
    # After the first 4 MiB range, the job appends: the next range is refused (412) and the file starts over.
    proxy.before("std_log.txt", lambda: log.append_block(grown), after=1)
    progress: list[int] = []
    [path] = blob.files.download(
        run,
        ["user_logs/std_log.txt"],
        tmp_path,
        final=False,
        strip_prefix="",
        overwrite=False,
        progress=lambda done, total: progress.append(done),
        cancel=None,
    )
    assert path.read_bytes() == first + b"x" * 1000 + grown
    assert progress == sorted(progress)  # the second try does not take the progress back
    assert 412 in [s.status for s in proxy.gets("std_log.txt")]
    assert [p.name for p in tmp_path.rglob("*.part")] == []


def test_folder_markers_of_a_hierarchical_account_are_not_files(blob: Setup, uploader: Any) -> None:
    run = new_run(uploader, {"outputs/deep": b"", "outputs/deep/leaf.txt": b"leaf", "outputs/empty.txt": b""})
    assert [(e.path, e.is_dir) for e in blob.files.folder(run, "outputs", final=True)] == [
        ("outputs/deep", True),
        ("outputs/empty.txt", False),
    ]
    assert [f.path for f in blob.files.listing(run, "", final=True, modified_at=0.0)] == [
        "outputs/deep/leaf.txt",
        "outputs/empty.txt",
    ]


@pytest.mark.slow
def test_a_connection_dropped_mid_body_is_retried_then_a_sentence(
    blob: Setup, big_run: tuple[str, bytes], proxy: StorageProxy, tmp_path: Path
) -> None:
    run, content = big_run
    proxy.cut("weights.bin", times=1, after=5)  # one range's body stops halfway: fetched again, unnoticed
    [path] = blob.files.download(
        run,
        ["outputs/model/weights.bin"],
        tmp_path / "once",
        final=True,
        strip_prefix="",
        overwrite=False,
        progress=None,
        cancel=None,
    )
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(content).digest()
    assert len([s for s in proxy.seen if s.status < 0]) == 1
    proxy.reset()
    proxy.cut("small.txt", times=100)  # the network keeps dropping: one sentence, nothing left behind
    with pytest.raises(AzureError) as caught:
        blob.files.download(
            run,
            ["outputs/small.txt"],
            tmp_path / "always",
            final=True,
            strip_prefix="",
            overwrite=False,
            progress=None,
            cancel=None,
        )
    message = str(caught.value)
    assert "\n" not in message and "small.txt" in message and "try again" in message, message
    assert [p for p in (tmp_path / "always").rglob("*") if p.is_file()] == []


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


def test_a_sas_secret_reads_and_never_shows_in_a_message(proxy: StorageProxy, uploader: Any) -> None:
    from datetime import datetime, timedelta

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    run = new_run(uploader, {"outputs/a.txt": b"sas"})
    sas = generate_container_sas(
        ACCOUNT_NAME,
        CONTAINER,
        account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    store = ArtifactStore(
        account_url=proxy.account_url,
        container_name=CONTAINER,
        credential=None,
        credentials_type="Sas",
        list_secret=lambda: Secret("Sas", "?" + sas),
        timeouts=FAST,
    )
    files = BlobRunFiles(store, ThreadPoolExecutor(1), SingleFlight())
    assert files.read(run, "outputs/a.txt", 0, 10, final=True) == b"sas"
    assert [f.path for f in files.listing(run, "", final=True, modified_at=0.0)] == ["outputs/a.txt"]
    assert "sig=" in proxy.gets()[-1].path
    store.close()
    signature = re.search(r"sig=([^&]+)", sas)
    assert signature is not None
    down = ArtifactStore(
        account_url=f"http://127.0.0.1:{_free_port()}/{ACCOUNT_NAME}",
        container_name=CONTAINER,
        credential=None,
        credentials_type="Sas",
        list_secret=lambda: Secret("Sas", sas),
        timeouts=FAST,
    )
    with pytest.raises(AzureError) as caught:
        BlobRunFiles(down, ThreadPoolExecutor(1), SingleFlight()).read(run, "outputs/a.txt", 0, 1, final=True)
    assert signature.group(1) not in str(caught.value) and "sig=" not in str(caught.value)
    down.close()


def test_kept_listings_are_bounded_by_their_entries(
    blob: Setup, uploader: Any, proxy: StorageProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    import studio.workspaces.azure.blob_files as blob_files

    monkeypatch.setattr(blob_files, "MAX_KEPT_ENTRIES", 5)
    first = new_run(uploader, {f"f{i}.txt": b"x" for i in range(3)})
    second = new_run(uploader, {f"f{i}.txt": b"x" for i in range(3)})
    blob.files.listing(first, "", final=True, modified_at=0.0)
    blob.files.listing(second, "", final=True, modified_at=0.0)  # 6 entries kept > 5: the first listing goes
    proxy.reset()
    blob.files.listing(second, "", final=True, modified_at=0.0)
    assert proxy.gets() == []
    assert len(blob.files.listing(first, "", final=True, modified_at=0.0)) == 3
    assert len(proxy.gets()) == 1


def test_readers_of_the_same_block_at_once_share_one_request(blob: Setup, uploader: Any, proxy: StorageProxy) -> None:
    content = os.urandom(MiB + 10)
    run = new_run(uploader, {"outputs/shared.bin": content})
    proxy.reset()
    proxy.before("shared.bin", lambda: time.sleep(0.3))  # the first request is slow: the others arrive meanwhile
    with ThreadPoolExecutor(8) as pool:
        reads = list(pool.map(lambda i: blob.files.read(run, "outputs/shared.bin", i * 100, 50, final=True), range(8)))
    assert reads == [content[i * 100 : i * 100 + 50] for i in range(8)]
    assert len(proxy.gets("shared.bin")) == 1
