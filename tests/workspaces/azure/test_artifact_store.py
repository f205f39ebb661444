"""The artifact store: resolved from the workspace's datastore over ARM, its secret, and end to end on the emulator.

The stubbed tests check what ``ArtifactStore.resolve`` asks of ARM and what it builds. The end-to-end tests use the
shared Azure emulator (``azure_env``): the datastore and its secret from ARM, the real storage host name through the
CONNECT proxy, TLS checked against the test CA from ``REQUESTS_CA_BUNDLE``, Azurite behind it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from studio.core.errors import AuthenticationError
from studio.workspaces.azure.artifact_store import ArtifactStore
from studio.workspaces.azure.blob_files import BlobRunFiles
from studio.workspaces.azure.errors import AzureError, AzureServerError
from studio.workspaces.mlflow.single_flight import SingleFlight
from tests.azure_emulator.azurite import ACCOUNT_KEY, ACCOUNT_NAME
from tests.workspaces.azure.blob_helpers import CONTAINER, ODD, MiB, big_content, new_run, private_azurite

# -- resolving the store (ARM answers stubbed) -------------------------------------------------------------


class StubArm:
    """ARM's datastore answers for ``ArtifactStore.resolve``; records the calls."""

    def __init__(self, properties: dict[str, Any], secret: dict[str, Any] | Exception) -> None:
        self.properties = properties
        self.secret = secret
        self.calls: list[tuple[str, str, Any]] = []

    def get_json(self, path: str, params: Any = None, *, what: str = "") -> dict[str, Any]:
        self.calls.append(("GET", path, dict(params or {})))
        return {"name": "workspaceartifactstore", "properties": self.properties}

    def post_json(self, path: str, params: Any = None, body: Any = None, *, what: str = "") -> dict[str, Any]:
        self.calls.append(("POST", path, body))
        if isinstance(self.secret, Exception):
            raise self.secret
        return self.secret


class Token:
    """A token credential (storage would be asked with it)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("studio-test-x", int(time.time()) + 3600)


@dataclass
class Cloud:
    storage_suffix: str = "core.chinacloudapi.cn"


WS = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w"


def test_resolve_builds_the_account_url_from_the_datastore_and_asks_the_secret_at_first_use() -> None:
    arm = StubArm(
        {
            "accountName": "acct",
            "containerName": "box",
            "endpoint": "core.usgovcloudapi.net",
            "protocol": "https",
            "credentials": {"credentialsType": "AccountKey"},
        },
        {"secretsType": "AccountKey", "key": ACCOUNT_KEY},
    )
    store = ArtifactStore.resolve(arm, WS, credential=object(), cloud=Cloud())
    assert (store.account_url, store.container_name) == ("https://acct.blob.core.usgovcloudapi.net", "box")
    assert arm.calls == [("GET", WS + "/datastores/workspaceartifactstore", {"api-version": "2024-10-01-preview"})]
    client = store.container()
    assert arm.calls[1] == (
        "POST",
        WS + "/datastores/workspaceartifactstore/listSecrets",
        {"expirableSecret": True, "expireAfterHours": 1},
    )
    assert client.credential.account_key == ACCOUNT_KEY
    assert store.container() is client and store.secrets_asked == 1
    assert ACCOUNT_KEY not in repr(store)
    store.close()


def test_an_identity_based_datastore_uses_the_users_credential_and_the_clouds_suffix() -> None:
    arm = StubArm({"accountName": "acct", "containerName": "box", "credentials": {"credentialsType": "None"}}, {})
    token = Token()
    store = ArtifactStore.resolve(arm, WS, credential=token, cloud=Cloud())
    assert store.account_url == "https://acct.blob.core.chinacloudapi.cn"
    assert store.container().credential is token
    assert [c[0] for c in arm.calls] == ["GET"]  # no listSecrets for an identity-based store
    store.close()


def test_a_datastore_without_account_or_container_is_a_sentence() -> None:
    arm = StubArm({"accountName": "", "credentials": {"credentialsType": "AccountKey"}}, {})
    with pytest.raises(
        AzureError, match=r"datastore 'workspaceartifactstore' does not name a blob storage account and container"
    ):
        ArtifactStore.resolve(arm, WS, credential=None, cloud=Cloud())


def test_listsecrets_refused_uses_the_users_credential_other_errors_stay() -> None:
    from studio.workspaces.azure.errors import error_for_status

    refused = error_for_status(403, {"error": {"message": "no listSecrets"}}, host="management.azure.com")
    arm = StubArm({"accountName": "a", "containerName": "c", "credentials": {"credentialsType": "Sas"}}, refused)
    me = Token()
    store = ArtifactStore.resolve(arm, WS, credential=me, cloud=Cloud())
    assert store.container().credential is me
    store.close()
    failing = error_for_status(500, None, host="management.azure.com")
    arm = StubArm({"accountName": "a", "containerName": "c", "credentials": {"credentialsType": "Sas"}}, failing)
    with pytest.raises(AzureServerError):
        ArtifactStore.resolve(arm, WS, credential=me, cloud=Cloud()).container()


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


# -- through the Azure backend ----------------------------------------------------------------------------


@pytest.fixture
def backend_and_jobs(azure_env: Any) -> Iterator[tuple[Any, str, str]]:
    """An AzureBackend on the shared workspace, a finished job and a running one (MLflow runs with files)."""
    from mlflow import MlflowClient

    from studio.workspaces.azure.backend import AzureBackend
    from studio.workspaces.azure.cloud import load_cloud

    client = MlflowClient(azure_env.mlflow_url)
    name = f"blob-files-{time.time_ns()}"
    experiment = client.create_experiment(name)
    finished = client.create_run(experiment, run_name="finished").info.run_id
    client.set_terminated(finished, "FINISHED")
    running = client.create_run(experiment, run_name="running").info.run_id
    container = azure_env.container()
    for path, data in ODD.items():
        container.upload_blob(f"ExperimentRun/dcid.{finished}/{path}", data)
    log = container.get_blob_client(f"ExperimentRun/dcid.{running}/user_logs/std_log.txt")
    log.create_append_blob()
    log.append_block(b"step 1\n")
    backend = AzureBackend(
        azure_env.credential(),
        azure_env.subscription_id,
        azure_env.resource_group,
        azure_env.workspace_name,
        load_cloud("AzureCloud"),
        location=azure_env.location,
    )
    yield backend, finished, running
    backend.close()


def test_the_backend_lists_reads_follows_and_downloads_a_jobs_files(
    azure_env: Any, backend_and_jobs: tuple[Any, str, str], tmp_path: Path
) -> None:
    backend, finished, running = backend_and_jobs
    container = azure_env.container()
    assert [f.path for f in backend.list_files(finished)] == sorted(ODD)
    assert [f.path for f in backend.list_files(finished, "outputs/sub")] == ["outputs/sub dir/with space.txt"]
    assert backend.read_file_range(finished, "outputs/hash#and%25percent.txt", 1, 10) == b"dd"
    written = backend.download_files(
        finished, ["outputs/ünïcødé/名前.txt", "root.txt"], tmp_path, strip_prefix="outputs/"
    )
    assert [p.read_bytes() for p in written] == [b"unicode", b"root"]
    # The running job's log, followed from the size last seen; each new line costs one request, only its bytes.
    seen = backend.read_file_range(running, "user_logs/std_log.txt", 0, 65536)
    assert seen == b"step 1\n"
    container.get_blob_client(f"ExperimentRun/dcid.{running}/user_logs/std_log.txt").append_block(b"step 2\n")
    assert backend.read_file_range(running, "user_logs/std_log.txt", len(seen), 65536) == b"step 2\n"
    assert backend.read_file_range(running, "user_logs/std_log.txt", len(seen) + 7, 65536) == b""
    # The artifact store was resolved once, at the first use.
    assert len(emulator_calls(azure_env, r"/datastores/workspaceartifactstore$")) == 1
    assert len(emulator_calls(azure_env, r"/listSecrets$")) == 1


# -- an identity-based datastore: the user's own token for storage ---------------------------------------


class StorageTokens:
    """A token credential handing out unsigned JWTs (Azurite's ``--oauth basic`` checks audience, issuer, times)."""

    def __init__(self, audience: str = "https://storage.azure.com") -> None:
        self.audience = audience
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        now = int(time.time())
        claims = {
            "aud": self.audience,
            "iss": "https://sts.windows.net/72f988bf-0000-4000-8000-0000000057d1/",
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 3600,
            "oid": "studio-test",
        }

        def part(document: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

        return AccessToken(f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.", now + 3600)


def test_an_identity_based_store_reads_with_the_users_storage_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.storage.blob import ContainerClient

    from tests.azure_emulator.certs import make_certificates

    certs = make_certificates(tmp_path / "certs")
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(certs.ca_path))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with private_azurite(tmp_path / "azurite", cert=certs.azurite) as port:
        url = f"https://127.0.0.1:{port}/{ACCOUNT_NAME}"
        uploader = ContainerClient(
            url, CONTAINER, credential={"account_name": ACCOUNT_NAME, "account_key": ACCOUNT_KEY}
        )
        uploader.create_container()
        run = new_run(uploader, {"outputs/a.txt": b"read with my own identity"})
        tokens = StorageTokens()
        store = ArtifactStore(account_url=url, container_name=CONTAINER, credential=tokens, credentials_type="None")
        with ThreadPoolExecutor(2) as pool:
            files = BlobRunFiles(store, pool, SingleFlight())
            assert files.read(run, "outputs/a.txt", 10, 100, final=True) == b"my own identity"
            assert [f.path for f in files.listing(run, "", final=True, modified_at=0.0)] == ["outputs/a.txt"]
            assert set(tokens.scopes) == {("https://storage.azure.com/.default",)}
            store.close()
            # A token storage does not accept: sign in again (not a missing role).
            wrong = ArtifactStore(
                account_url=url,
                container_name=CONTAINER,
                credential=StorageTokens("https://management.azure.com"),
                credentials_type="None",
            )
            with pytest.raises(AuthenticationError, match=r"did not accept your sign-in; sign in again\.$"):
                BlobRunFiles(wrong, pool, SingleFlight()).read(run, "outputs/a.txt", 0, 1, final=True)
            wrong.close()
        uploader.close()
