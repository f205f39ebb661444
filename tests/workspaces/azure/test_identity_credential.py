"""AccountCredential (every failure a sentence, tokens kept until 5 minutes before expiry, nothing secret in a
repr), the cancellable wait, and signing in on a custom cloud whose authority MSAL must discover."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from studio.core.errors import AuthenticationError, CancelledError, WorkspaceError
from studio.core.tasks import CancelToken
from studio.workspaces.azure import identity
from studio.workspaces.azure.directory import AzureAccountDirectory
from tests.azure_fixtures import AzureService
from tests.workspaces.azure.identity_fixtures import USER, approving_prompt, signin_env

__all__ = ["signin_env"]

SCOPE = "https://management.azure.com/.default"


class _Inner:
    """A stand-in inner credential: raises ``error`` or hands out numbered tokens living ``lifetime`` seconds."""

    def __init__(self, error: BaseException | None = None, lifetime: int = 3600) -> None:
        self.error = error
        self.lifetime = lifetime
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls += 1
        if self.error is not None:
            raise self.error
        return AccessToken(f"studio-test-{self.calls}", int(time.time()) + self.lifetime)


def _wrap(inner: _Inner, method: str = "device_code", scrub: tuple[str, ...] = ()) -> identity.AccountCredential:
    return identity.AccountCredential(
        inner, label="bob@example.com", method_id=method, account_id="a", host="login.example", scrub=scrub
    )


def test_tokens_are_kept_until_five_minutes_before_expiry() -> None:
    inner = _Inner()
    credential = _wrap(inner)
    assert credential.get_token(SCOPE).token == credential.get_token(SCOPE).token == "studio-test-1"
    assert credential.get_token_info(SCOPE).token == "studio-test-1"  # through get_token: inner has no get_token_info
    assert credential.get_token("other/.default").token == "studio-test-2"
    assert credential.get_token(SCOPE, claims='{"x":1}').token == "studio-test-3"  # a claims challenge asks again
    short = _Inner(lifetime=200)
    wrapped = _wrap(short)
    wrapped.get_token(SCOPE)
    wrapped.get_token(SCOPE)
    assert short.calls == 2
    credential.close()
    assert credential.get_token(SCOPE).token == "studio-test-4"


def test_failures_become_sentences_without_secrets() -> None:
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
    from azure.identity import AuthenticationRequiredError, CredentialUnavailableError

    with pytest.raises(AuthenticationError, match=r"^The sign-in of bob@example\.com expired: sign in again\.$"):
        _wrap(_Inner(AuthenticationRequiredError(scopes=[SCOPE]))).get_token(SCOPE)
    with pytest.raises(AuthenticationError, match="run `az login`"):
        _wrap(_Inner(CredentialUnavailableError("Please run 'az login'")), method="cli").get_token(SCOPE)
    with pytest.raises(AuthenticationError) as caught:
        _wrap(
            _Inner(ClientAuthenticationError("bad secret s3cr3t-value\nsecond line")), scrub=("s3cr3t-value",)
        ).get_token(SCOPE)
    assert str(caught.value) == "Azure refused the sign-in of bob@example.com: bad secret ***"
    with pytest.raises(WorkspaceError, match=r"Cannot reach Azure's sign-in service \(login\.example\)") as network:
        _wrap(_Inner(ServiceRequestError("boom"))).get_token(SCOPE)
    assert not isinstance(network.value, AuthenticationError)  # not "sign in": the network is the problem
    assert repr(_wrap(_Inner(), scrub=("s3cr3t",))) == "AccountCredential('bob@example.com', method='device_code')"


def test_a_cancelled_wait_returns_at_once() -> None:
    cancel = CancelToken()
    release = threading.Event()
    stopped: list[bool] = []

    def work() -> int:
        release.wait(10)
        return 1

    threading.Timer(0.2, cancel.cancel).start()
    started = time.monotonic()
    with pytest.raises(CancelledError):
        identity._run_cancellable(work, cancel, lambda: stopped.append(True))
    assert time.monotonic() - started < 1.0
    assert stopped == [True]
    release.set()
    assert identity._run_cancellable(lambda: 7, CancelToken()) == 7
    with pytest.raises(KeyError):
        identity._run_cancellable(lambda: {}["x"], CancelToken())


def test_device_code_on_a_custom_cloud(signin_env: AzureService) -> None:
    """A cloud from an ARM metadata document: its login host is not one MSAL knows, so MSAL asks instance
    discovery first; tokens are for the custom cloud's ARM scope, and ARM calls go to its host."""
    from studio.workspaces.azure.cloud import load_cloud

    cloud = load_cloud(signin_env.custom_cloud_metadata_url)
    assert "studio-test-cloud.example" in cloud.authority_host
    directory = AzureAccountDirectory(cloud)
    directory.set_unencrypted_cache_allowed(True)
    info = directory.sign_in("device_code", {}, prompt=approving_prompt(signin_env, []))
    assert (info.state, info.label) == ("signed-in", USER)
    seen = [(r.host, r.path) for r in signin_env.requests()]
    assert ("login.microsoftonline.com", "/common/discovery/instance") in seen
    assert (cloud.arm_host, "/subscriptions") not in seen
    subscriptions = AzureAccountDirectory(cloud).subscriptions(info.account_id)
    assert subscriptions
    assert (cloud.arm_host, "/subscriptions") in [(r.host, r.path) for r in signin_env.requests()]
