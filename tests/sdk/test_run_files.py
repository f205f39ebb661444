"""Uploading, listing, reading and downloading run files; unsafe names never write anything."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from studio.core.errors import CancelledError, NotFoundError
from studio.core.tasks import CancelToken


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_upload_file_stream_and_folder(exp: Any, tmp_path: Path) -> None:
    src = tmp_path / "sample.csv"
    src.write_text("a,b\n1,2\n")
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01")
    (folder / "sub" / "meta.json").write_text("{}")
    run = exp.start_logging()
    assert run.upload_file(name="outputs/sample.csv", path_or_stream=str(src)) == "outputs/sample.csv"
    run.upload_file("outputs/stream.txt", io.BytesIO(b"from a stream"))
    run.upload_folder("outputs/model", folder)
    assert run.get_file_names() == [
        "outputs/model/sub/meta.json",
        "outputs/model/weights.bin",
        "outputs/sample.csv",
        "outputs/stream.txt",
    ]


def test_upload_refuses_overwrite_and_text_streams(exp: Any, tmp_path: Path) -> None:
    run = exp.start_logging()
    run.upload_file("outputs/a.txt", io.BytesIO(b"first"))
    with pytest.raises(FileExistsError, match="already has a file"):
        run.upload_file("outputs/a.txt", io.BytesIO(b"second"))
    with pytest.raises(TypeError, match="binary"):
        run.upload_file("outputs/b.txt", io.StringIO("text"))
    with pytest.raises(FileNotFoundError):
        run.upload_file("outputs/c.txt", str(tmp_path / "missing"))
    run.download_file("outputs/a.txt", tmp_path / "a.txt")
    assert (tmp_path / "a.txt").read_bytes() == b"first"
    assert run.get_file_names() == ["outputs/a.txt"]


@pytest.mark.parametrize("bad", ["../escape.txt", "outputs/../../x", "/etc/passwd", "C:\\x", "a\x00b", "", "./"])
def test_unsafe_names_are_rejected_and_nothing_is_written(exp: Any, ws: Any, bad: str, tmp_path: Path) -> None:
    run = exp.start_logging()
    before = _tree(ws.path.parent)
    with pytest.raises(ValueError):
        run.upload_file(bad, io.BytesIO(b"x"))
    with pytest.raises(ValueError):
        run.download_file(bad, tmp_path / "out")
    assert _tree(ws.path.parent) == before


def test_symlink_out_of_the_run_folder_is_rejected(exp: Any, ws: Any, tmp_path: Path) -> None:
    run = exp.start_logging()
    run.upload_file("outputs/a.txt", io.BytesIO(b"x"))
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, ws.path / "runs" / run.id / "outputs" / "link")
    with pytest.raises(ValueError, match="outside"):
        run.upload_file("outputs/link/evil.txt", io.BytesIO(b"x"))
    assert list(outside.iterdir()) == []


def test_download_file_and_files_with_prefixes(exp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = exp.start_logging()
    run.upload_file("outputs/a.txt", io.BytesIO(b"A"))
    run.upload_file("outputs/deep/b.txt", io.BytesIO(b"B"))
    run.upload_file("logs/run.log", io.BytesIO(b"L"))
    monkeypatch.chdir(tmp_path)
    assert Path(run.download_file("outputs/a.txt")).name == "a.txt"
    assert (tmp_path / "a.txt").read_bytes() == b"A"
    target_dir = tmp_path / "into"
    target_dir.mkdir()
    run.download_file("outputs/deep/b.txt", target_dir)
    assert (target_dir / "b.txt").read_bytes() == b"B"
    run.download_files(prefix="outputs", output_directory=tmp_path / "kept")
    assert _tree(tmp_path / "kept") == ["outputs/a.txt", "outputs/deep/b.txt"]
    run.download_files(prefix="outputs", output_directory=tmp_path / "flat", append_prefix=False)
    assert _tree(tmp_path / "flat") == ["a.txt", "deep/b.txt"]
    run.download_files(output_directory=tmp_path / "all")
    assert _tree(tmp_path / "all") == ["logs/run.log", "outputs/a.txt", "outputs/deep/b.txt"]
    with pytest.raises(NotFoundError):
        run.download_file("outputs/missing.txt", tmp_path / "m")


def test_backend_range_reads(exp: Any, ws: Any) -> None:
    run = exp.start_logging()
    run.upload_file("logs/big.log", io.BytesIO(bytes(range(256)) * 100))
    backend = ws.backend
    assert backend.read_file_range(run.id, "logs/big.log", 0, 4) == b"\x00\x01\x02\x03"
    assert backend.read_file_range(run.id, "logs/big.log", 25_598, 100) == b"\xfe\xff"
    assert backend.read_file_range(run.id, "logs/big.log", 10**9, 10) == b""
    info = backend.list_files(run.id, prefix="logs/")
    assert [(f.path, f.size) for f in info] == [("logs/big.log", 25_600)]
    with pytest.raises(NotFoundError):
        backend.read_file_range(run.id, "logs/none.log", 0, 1)
    with pytest.raises(ValueError):
        backend.read_file_range(run.id, "../workspace.db", 0, 1)


def test_backend_download_progress_collision_and_cancel(exp: Any, ws: Any, tmp_path: Path) -> None:
    run = exp.start_logging()
    payload = os.urandom(3 << 20)
    run.upload_file("outputs/big.bin", io.BytesIO(payload))
    run.upload_file("outputs/small.txt", io.BytesIO(b"small"))
    backend = ws.backend
    seen: list[tuple[int, int]] = []
    dest = tmp_path / "dl"
    paths = backend.download_files(
        run.id, ["outputs/big.bin", "outputs/small.txt"], dest, progress=lambda d, t: seen.append((d, t))
    )
    assert [p.read_bytes() for p in paths] == [payload, b"small"]
    assert seen[0] == (0, len(payload) + 5) and seen[-1] == (len(payload) + 5, len(payload) + 5)
    with pytest.raises(FileExistsError):
        backend.download_files(run.id, ["outputs/small.txt"], dest)
    backend.download_files(run.id, ["outputs/small.txt"], dest, overwrite=True)

    token = CancelToken()

    def cancel_midway(done: int, total: int) -> None:
        if done > 1 << 20:
            token.cancel()

    other = tmp_path / "cancelled"
    with pytest.raises(CancelledError):
        backend.download_files(run.id, ["outputs/big.bin"], other, progress=cancel_midway, cancel=token)
    assert _tree(other) == []  # no partial file that looks complete, no temporary left
