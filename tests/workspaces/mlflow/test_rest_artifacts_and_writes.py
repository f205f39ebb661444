"""Artifacts (list, download, byte ranges) and the write calls (set-tag, delete-tag, run name) round trip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.core.errors import NotFoundError, UnsupportedOperation
from studio.core.tasks import CancelToken
from studio.workspaces.mlflow.rest import MlflowRequestError, MlflowRestClient
from studio.workspaces.mlflow.rest.artifacts import proxy_path
from tests.fault_proxy import FaultProxy
from tests.workspaces.mlflow.content import LOG_BYTES, Filled


@pytest.fixture
def client(proxy: FaultProxy) -> Iterator[MlflowRestClient]:
    with MlflowRestClient(proxy.url) as rest:
        yield rest


def test_artifacts_are_listed_by_folder_with_sizes(client: MlflowRestClient, filled: Filled) -> None:
    root = client.list_artifacts(filled.run_ids["parent"])
    entries = {e.path: e for e in root.entries}
    assert {"plots", "tables", "logs", "notes", "table.json"} <= set(entries)
    assert entries["plots"].is_dir and entries["plots"].size is None
    logs = client.list_artifacts(filled.run_ids["parent"], "logs")
    assert [(e.path, e.size) for e in logs.entries] == [("logs/train.log", LOG_BYTES)]


def test_an_image_downloads_whole_and_no_part_file_is_left(
    client: MlflowRestClient, filled: Filled, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    target = client.download_artifact(
        filled.run_ids["parent"], "plots/curve.png", tmp_path / "curve.png", progress=lambda d, t: seen.append((d, t))
    )
    assert target.read_bytes() == filled.png
    assert seen[-1] == (len(filled.png), len(filled.png))
    assert [p.name for p in tmp_path.iterdir()] == ["curve.png"]


def test_a_cancelled_download_leaves_nothing(client: MlflowRestClient, filled: Filled, tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Exception, match="cancelled"):
        client.download_artifact(filled.run_ids["parent"], "logs/train.log", tmp_path / "train.log", cancel=token)
    assert list(tmp_path.iterdir()) == []


def test_a_byte_range_is_one_request_and_the_server_honours_range(
    client: MlflowRestClient, filled: Filled, proxy: FaultProxy
) -> None:
    client.get_run(filled.run_ids["parent"])  # the run's artifact root is known from now on
    proxy.reset_counts()
    assert (
        client.read_artifact_range(filled.run_ids["parent"], "logs/train.log", 1000, 500) == filled.log_text[1000:1500]
    )
    assert proxy.count == 1 and proxy.headers_seen[0]["range"] == "bytes=1000-1499"
    assert client.ranges_honoured is True
    tail = client.read_artifact_range(filled.run_ids["parent"], "logs/train.log", LOG_BYTES - 10, 100)
    assert tail == filled.log_text[-10:]
    assert client.read_artifact_range(filled.run_ids["parent"], "logs/train.log", LOG_BYTES + 5, 10) == b""


def test_csv_and_json_artifacts_read_back(client: MlflowRestClient, filled: Filled) -> None:
    run = filled.run_ids["parent"]
    assert client.read_artifact_range(run, "tables/data.csv", 0, 1 << 20).startswith(b"epoch,loss\n")
    assert b'"columns"' in client.read_artifact_range(run, "table.json", 0, 1 << 20)


def test_a_missing_artifact_is_not_found(client: MlflowRestClient, filled: Filled, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        client.download_artifact(filled.run_ids["parent"], "plots/none.png", tmp_path / "none.png")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../b", "c:/x"])
def test_paths_leaving_the_runs_artifacts_are_refused(client: MlflowRestClient, filled: Filled, path: str) -> None:
    with pytest.raises(MlflowRequestError, match="not a path inside"):
        client.read_artifact_range(filled.run_ids["parent"], path, 0, 10)


def test_artifacts_the_server_does_not_proxy_are_unsupported_with_a_reason() -> None:
    with pytest.raises(UnsupportedOperation, match="--serve-artifacts"):
        proxy_path("s3://bucket/1/abc/artifacts", "a.txt")
    assert (
        proxy_path("mlflow-artifacts:/1/abc/artifacts", "a/b.txt")
        == "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/a/b.txt"
    )
    assert (
        proxy_path("mlflow-artifacts://host:5000/1/abc/artifacts", "b")
        == "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/b"
    )


def test_tags_are_set_and_deleted_and_a_run_renamed(client: MlflowRestClient, filled: Filled) -> None:
    run_id = filled.run_ids["child-b"]
    client.set_tag(run_id, "reviewed", "yes")
    assert client.get_run(run_id).tags["reviewed"] == "yes"
    client.delete_tag(run_id, "reviewed")
    assert "reviewed" not in client.get_run(run_id).tags
    client.update_run_name(run_id, "child-b renamed")
    assert client.get_run(run_id).run_name == "child-b renamed"
    client.update_run_name(run_id, "child-b")
    with pytest.raises(NotFoundError):
        client.delete_tag(run_id, "never-set")
