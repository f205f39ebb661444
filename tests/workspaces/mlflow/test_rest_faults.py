"""Every failure a user meets gives a readable sentence or a working retry; hangs are cut by the timeout."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from email.utils import format_datetime
from pathlib import Path

import pytest

from studio.workspaces.mlflow.rest import (
    MlflowAuthError,
    MlflowNotApiError,
    MlflowRestClient,
    MlflowServerError,
    MlflowTimeoutError,
    MlflowTlsError,
    MlflowUnreachableError,
    RetryPolicy,
    Timeouts,
)
from studio.workspaces.mlflow.rest.auth import BasicAuth, auth_from_environment, tls_from_environment
from studio.workspaces.mlflow.rest.retry import parse_retry_after
from tests.fault_proxy import Drop, FaultProxy, Hang, Html, Status
from tests.mlflow_server import free_port
from tests.workspaces.mlflow.content import Filled

QUICK = RetryPolicy(attempts=4, backoff_s=0.01, backoff_max_s=0.05, deadline_s=10)


@pytest.fixture
def client(proxy: FaultProxy) -> Iterator[MlflowRestClient]:
    with MlflowRestClient(proxy.url, retry=QUICK) as rest:
        yield rest


def test_a_server_that_is_not_running_is_named_with_a_question() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with MlflowRestClient(url, retry=QUICK) as client, pytest.raises(MlflowUnreachableError) as caught:
        client.search_experiments()
    assert str(caught.value).startswith(f"Could not reach the MLflow server at {url}: connection refused")
    assert str(caught.value).endswith("Is it running?")


def test_429_with_retry_after_is_waited_for_and_retried(client: MlflowRestClient, proxy: FaultProxy) -> None:
    proxy.fail_next(Status(429, retry_after="0.3"))
    started = time.monotonic()
    assert client.search_experiments().items
    assert time.monotonic() - started >= 0.3
    assert proxy.count == 2


def test_500s_are_retried_then_reported_with_mlflows_message(client: MlflowRestClient, proxy: FaultProxy) -> None:
    proxy.fail_next(Status(500), times=2)
    assert client.search_experiments().items
    assert proxy.count == 3
    proxy.fail_next(Status(503), times=10)
    with pytest.raises(MlflowServerError) as caught:
        client.search_experiments()
    message = str(caught.value)
    assert "HTTP 503, INTERNAL_ERROR" in message and "after 4 tries" in message
    assert "injected by the fault proxy" in message


def test_a_dropped_connection_is_retried_for_reads(client: MlflowRestClient, proxy: FaultProxy, filled: Filled) -> None:
    proxy.fail_next(Drop())
    assert client.get_run(filled.run_ids["parent"]).run_name == "parent"
    assert proxy.count == 2


def test_a_dropped_delete_tag_is_not_sent_twice(client: MlflowRestClient, proxy: FaultProxy, filled: Filled) -> None:
    proxy.fail_next(Drop())
    with pytest.raises(MlflowUnreachableError, match="dropped before it answered"):
        client.delete_tag(filled.run_ids["child-a"], "whatever")
    assert proxy.count == 1


def test_a_hang_is_cut_by_the_read_timeout_and_the_deadline(proxy: FaultProxy) -> None:
    proxy.fail_next(Hang(), times=10)
    policy = RetryPolicy(attempts=5, backoff_s=0.05, deadline_s=1.5)
    with MlflowRestClient(proxy.url, retry=policy, timeouts=Timeouts(connect_s=2, read_s=0.4)) as client:
        started = time.monotonic()
        with pytest.raises(MlflowTimeoutError) as caught:
            client.search_experiments()
        elapsed = time.monotonic() - started
    assert elapsed < 3
    assert "did not answer within 0.4 s" in str(caught.value) and "Gave up" in str(caught.value)


def test_latency_only_slows_calls_down(client: MlflowRestClient, proxy: FaultProxy) -> None:
    proxy.latency_s = 0.05
    assert client.search_experiments().items
    assert proxy.count == 1


def test_a_web_page_instead_of_the_api_says_check_the_url(client: MlflowRestClient, proxy: FaultProxy) -> None:
    proxy.fail_next(Html())
    with pytest.raises(MlflowNotApiError) as caught:
        client.search_experiments()
    assert "answered with a web page, not the MLflow API" in str(caught.value)
    assert "check the URL and its path prefix" in str(caught.value)


def test_a_wrong_path_prefix_is_not_mistaken_for_a_missing_run(mlflow_server: object, proxy: FaultProxy) -> None:
    with MlflowRestClient(proxy.url + "/wrong/prefix", retry=QUICK) as client, pytest.raises(MlflowNotApiError):
        client.get_run("0" * 32)


def test_basic_auth_from_the_environment_is_sent_and_the_password_never_shown(
    proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = BasicAuth("alice", "s3cret-pw")()["Authorization"]
    proxy.require_header("Authorization", expected)
    with MlflowRestClient.from_environment(proxy.url, retry=QUICK) as client:
        assert client.search_experiments().items
        assert proxy.headers_seen[0]["authorization"] == expected
        assert "s3cret-pw" not in repr(client) and "alice" in repr(client)
        proxy.require_header("Authorization", "Basic something-else")
        with pytest.raises(MlflowAuthError) as caught:
            client.search_experiments()
    message = str(caught.value)
    assert "refused the credentials (HTTP 401)" in message and "MLFLOW_TRACKING_PASSWORD" in message
    assert "s3cret-pw" not in message and expected.split()[1] not in message
    assert "s3cret-pw" not in repr(caught.value)


def test_a_token_is_a_bearer_header_and_user_and_password_win_over_it(tmp_path: Path) -> None:
    no_file = tmp_path / "none"
    hook = auth_from_environment({"MLFLOW_TRACKING_TOKEN": "tok"}, file=no_file)
    assert hook is not None and hook()["Authorization"] == "Bearer tok" and "tok" not in repr(hook)
    both = auth_from_environment(
        {"MLFLOW_TRACKING_TOKEN": "tok", "MLFLOW_TRACKING_USERNAME": "u", "MLFLOW_TRACKING_PASSWORD": "p"}, file=no_file
    )
    assert both is not None and both()["Authorization"].startswith("Basic ")
    credentials = tmp_path / "credentials"
    credentials.write_text("[mlflow]\nmlflow_tracking_username = bob\nmlflow_tracking_password = pw\n")
    from_file = auth_from_environment({}, file=credentials)
    assert isinstance(from_file, BasicAuth) and from_file.username == "bob"
    assert auth_from_environment({}, file=no_file) is None


def test_tls_settings_follow_mlflows_variables() -> None:
    assert tls_from_environment({}).verify is True
    assert tls_from_environment({"MLFLOW_TRACKING_INSECURE_TLS": "true"}).verify is False
    assert tls_from_environment({"MLFLOW_TRACKING_SERVER_CERT_PATH": "/ca.pem"}).verify == "/ca.pem"
    with pytest.raises(Exception, match="both set"):
        tls_from_environment({"MLFLOW_TRACKING_INSECURE_TLS": "1", "MLFLOW_TRACKING_SERVER_CERT_PATH": "/ca.pem"})
    with pytest.raises(Exception, match="must be true, false, 1 or 0"):
        tls_from_environment({"MLFLOW_TRACKING_INSECURE_TLS": "yes"})


def test_an_untrusted_certificate_is_a_tls_error_and_a_given_ca_bundle_works(
    mlflow_server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _self_signed(tmp_path)
    with FaultProxy(mlflow_server.url, tls=(str(cert), str(key))) as tls_proxy:  # type: ignore[attr-defined]
        with MlflowRestClient(tls_proxy.url, retry=QUICK) as client, pytest.raises(MlflowTlsError) as caught:
            client.search_experiments()
        assert "certificate is not trusted" in str(caught.value)
        monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(cert))
        with MlflowRestClient.from_environment(tls_proxy.url, retry=QUICK) as client:
            assert client.search_experiments().items


def test_plain_http_on_a_tls_client_is_a_tls_error(proxy: FaultProxy) -> None:
    with (
        MlflowRestClient(proxy.url.replace("http://", "https://"), retry=QUICK) as client,
        pytest.raises(MlflowTlsError) as caught,
    ):
        client.search_experiments()
    assert "answered in plain HTTP, not TLS. Open it with http:// instead of https://" in str(caught.value)


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError) as caught:
        MlflowRestClient("http://alice:s3cret@127.0.0.1:1")
    assert "s3cret" not in str(caught.value)


def test_retry_after_takes_seconds_and_http_dates() -> None:
    assert parse_retry_after("2") == 2.0
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    assert 25 < (parse_retry_after(format_datetime(soon, usegmt=True)) or 0) <= 31
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself (so it is its own CA bundle)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "studio test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
