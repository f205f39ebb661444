"""The emulator's plumbing: the proxy reaches it and Azurite by their public names over TLS with the test CA,
unknown routes are loud 404s, faults fire as asked, the fake ``az`` answers like the real one."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import requests

from tests.azure_fixtures import AzureService

ARM = "https://management.azure.com"


def test_unknown_route_is_a_logged_404(azure_env: AzureService) -> None:
    answer = requests.get(f"{ARM}/nowhere/at/all?api-version=1", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "NoRoute"
    assert any("/nowhere/at/all" in line for line in azure_env.emulator.unknown)
    assert azure_env.requests()[-1].path == "/nowhere/at/all"
    assert azure_env.proxy.tunnel_count >= 1


def test_status_fault_with_retry_after_then_normal_answers(azure_env: AzureService) -> None:
    azure_env.fail("/nowhere", 429, retry_after=0.5, message="slow down")
    first = requests.get(f"{ARM}/nowhere", timeout=10)
    second = requests.get(f"{ARM}/nowhere", timeout=10)
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "0.5"
    assert first.headers["retry-after-ms"] == "500"
    assert first.json()["error"]["message"] == "slow down"
    assert second.status_code == 404


def test_dropped_connection(azure_env: AzureService) -> None:
    azure_env.drop("/nowhere")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{ARM}/nowhere", timeout=10)
    assert azure_env.requests()[-1].status == 0


def test_hang_ends_by_the_client_timeout(azure_env: AzureService) -> None:
    azure_env.hang("/nowhere")
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        requests.get(f"{ARM}/nowhere", timeout=0.5)
    assert time.monotonic() - started < 5


def test_missing_token_is_401_and_latency_applies(azure_env: AzureService) -> None:
    azure_env.latency_s = 0.2
    started = time.monotonic()
    answer = requests.get(f"{ARM}/subscriptions?api-version=2022-12-01", timeout=10)
    assert time.monotonic() - started >= 0.2
    assert answer.status_code == 401
    assert "WWW-Authenticate" in answer.headers


def test_azurite_through_the_proxy_by_its_public_name(azure_env: AzureService) -> None:
    from azure.storage.blob import BlobServiceClient

    azure_env.container().upload_blob("ExperimentRun/dcid.smoke/hello.txt", b"hello", overwrite=True)
    service = BlobServiceClient(
        azure_env.blob_account_url,
        credential={"account_name": azure_env.account_name, "account_key": azure_env.account_key},
    )
    blob = service.get_blob_client("azureml", "ExperimentRun/dcid.smoke/hello.txt")
    assert blob.download_blob(offset=1, length=3).readall() == b"ell"
    assert any("blob.core.windows.net" in host for host in azure_env.proxy.tunnels)


def test_fake_az_hands_out_tokens_and_records_calls(azure_env: AzureService) -> None:
    from azure.identity import AzureCliCredential

    token = AzureCliCredential(process_timeout=30).get_token("https://management.azure.com/.default")
    assert token.token.startswith("studio-test-")
    assert azure_env.fake_az.resources() == ["https://management.azure.com"]
    shown = json.loads(subprocess.run(["az", "account", "show"], capture_output=True, text=True, check=True).stdout)
    assert shown["tenantId"] == azure_env.tenant_id


def test_fake_az_signed_out_is_credential_unavailable(azure_env: AzureService) -> None:
    from azure.identity import AzureCliCredential, CredentialUnavailableError

    azure_env.fake_az.sign_out()
    with pytest.raises(CredentialUnavailableError):
        AzureCliCredential(process_timeout=30).get_token("https://management.azure.com/.default")
