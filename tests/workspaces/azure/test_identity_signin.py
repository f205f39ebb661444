"""Signing in as a user against the emulator's Microsoft Entra ID, through the real MSAL and azure-identity:
device code (consent for a plain-file token cache first, the prompt, the account saved, the next start silent,
cancel, expiry), the browser flow with a stand-in browser, sign-out, and a revoked sign-in seen as "expired"."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
import threading
import time
import webbrowser
from pathlib import Path

import pytest

from studio.core.accounts import AccountDirectory, ConsentRequired, DeviceCodePrompt
from studio.core.errors import AuthenticationError, CancelledError, NotFoundError
from studio.core.tasks import CancelToken
from studio.workspaces.azure import identity
from studio.workspaces.azure.directory import AzureAccountDirectory
from studio.workspaces.azure.settings_store import load_settings, settings_path
from tests.azure_fixtures import AzureService
from tests.workspaces.azure.identity_fixtures import USER, approving_prompt, cache_file, signin_env, wait_until

__all__ = ["signin_env"]  # the fixture, imported for pytest

LOGIN = "login.microsoftonline.com"


def _login_requests(service: AzureService) -> list[str]:
    return [f"{r.method} {r.path} {r.status}" for r in service.requests() if r.host == LOGIN]


def _signed_in(service: AzureService) -> tuple[AzureAccountDirectory, str]:
    directory = AzureAccountDirectory()
    directory.set_unencrypted_cache_allowed(True)
    info = directory.sign_in("device_code", {}, prompt=approving_prompt(service, []))
    return directory, info.account_id


def test_device_code_asks_consent_then_signs_in_and_the_next_start_is_silent(
    signin_env: AzureService, caplog: pytest.LogCaptureFixture
) -> None:
    aad = signin_env.emulator.aad  # type: ignore[attr-defined]
    directory = AzureAccountDirectory()
    assert isinstance(directory, AccountDirectory)
    assert directory.unencrypted_cache_allowed() is None

    with pytest.raises(ConsentRequired, match="no encrypted store"):
        directory.sign_in("device_code", {})
    assert _login_requests(signin_env) == []  # asked before any network call

    directory.set_unencrypted_cache_allowed(True)
    assert AzureAccountDirectory().unencrypted_cache_allowed() is True
    seen: list[DeviceCodePrompt] = []
    with caplog.at_level(logging.INFO):
        info = directory.sign_in("device_code", {}, prompt=approving_prompt(signin_env, seen))

    assert len(seen) == 1
    assert seen[0].verification_uri == "https://microsoft.com/devicelogin"
    assert seen[0].user_code == aad.prompts[0]
    assert seen[0].expires_on > time.time() + 60
    assert aad.grants.count("urn:ietf:params:oauth:grant-type:device_code") >= 3  # pending twice, then tokens
    assert (info.state, info.label, info.method_id) == ("signed-in", USER, "device_code")
    assert info.tenant_id == signin_env.tenant_id
    assert [a.account_id for a in directory.accounts()] == [info.account_id]

    saved = load_settings().account(info.account_id)
    assert saved is not None and saved.authentication_record is not None
    assert json.loads(saved.authentication_record)["username"] == USER
    assert cache_file().is_file()
    text = settings_path().read_text()
    assert "studio-test-" not in text  # no access, refresh or device-code token in the settings
    assert all("studio-test-" not in r.getMessage() for r in caplog.records)

    # The next start: a new directory, silent from the record and the token cache (no new code, no prompt),
    # refreshing the access token (lifetime under MSAL's 5-minute margin forces a refresh).
    aad.access_token_lifetime_s = 60
    again = AzureAccountDirectory()
    assert [a.state for a in again.accounts()] == ["unknown"]
    checked = again.check_account(info.account_id)
    assert (checked.state, checked.detail) == ("signed-in", "")
    assert len(aad.prompts) == 1
    credential = again.credential(info.account_id)
    assert credential.get_token("https://management.azure.com/.default").token.startswith("studio-test-")
    assert "refresh_token" in aad.grants
    assert USER in repr(credential) and "studio-test" not in repr(credential)


def test_refusing_the_plain_cache_still_signs_in_for_this_run(signin_env: AzureService) -> None:
    directory = AzureAccountDirectory()
    directory.set_unencrypted_cache_allowed(False)
    info = directory.sign_in("device_code", {}, prompt=approving_prompt(signin_env, []))
    assert info.state == "signed-in"
    assert not cache_file().exists()
    # Nothing kept across starts: the next start says so instead of prompting.
    checked = AzureAccountDirectory().check_account(info.account_id)
    assert checked.state == "expired"
    assert checked.detail == (
        f"The sign-in of {USER} is not kept between starts (you chose not to keep the token cache in a file): "
        "sign in again."
    )


def test_cancelling_a_device_code_returns_at_once_and_stops_polling(signin_env: AzureService) -> None:
    aad = signin_env.emulator.aad  # type: ignore[attr-defined]
    directory = AzureAccountDirectory()
    directory.set_unencrypted_cache_allowed(True)
    cancel = CancelToken()
    shown = threading.Event()

    def prompt(_: DeviceCodePrompt) -> None:
        shown.set()

    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            directory.sign_in("device_code", {}, prompt=prompt, cancel=cancel)
        except BaseException as exc:
            outcome["error"] = exc
        outcome["at"] = time.monotonic()

    worker = threading.Thread(target=run)
    worker.start()
    assert shown.wait(20)
    wait_until(lambda: aad.grants.count("urn:ietf:params:oauth:grant-type:device_code") >= 1)
    cancelled_at = time.monotonic()
    cancel.cancel()
    worker.join(5)
    assert isinstance(outcome.get("error"), CancelledError)
    assert float(outcome["at"]) - cancelled_at < 0.5  # type: ignore[arg-type]
    # MSAL's polling thread ends at its next check (≤ 1 s), so no token request is sent after that.
    wait_until(lambda: not any(t.name == "studio-azure-sign-in" for t in threading.enumerate()), timeout=3)
    assert directory.accounts() == []


def test_a_device_code_that_expires_or_is_declined_says_what_to_do(signin_env: AzureService) -> None:
    aad = signin_env.emulator.aad  # type: ignore[attr-defined]
    directory = AzureAccountDirectory()
    directory.set_unencrypted_cache_allowed(True)
    aad.expires_in_s = 1
    with pytest.raises(AuthenticationError, match="expired before the sign-in finished: sign in again"):
        directory.sign_in("device_code", {}, prompt=lambda shown: None)
    aad.expires_in_s = 900
    with pytest.raises(AuthenticationError, match="refused the sign-in: AADSTS") as caught:
        directory.sign_in("device_code", {}, prompt=lambda shown: aad.deny(shown.user_code))
    assert "studio-test-" not in str(caught.value)
    assert directory.accounts() == []


def test_a_revoked_sign_in_shows_as_expired_with_a_sentence(signin_env: AzureService) -> None:
    directory, account_id = _signed_in(signin_env)
    assert directory.check_account(account_id).state == "signed-in"
    signin_env.revoke_tokens()
    # The cached access token is refused by ARM.
    checked = directory.check_account(account_id)
    assert checked.state == "expired"
    assert "sign in again" in checked.detail.lower()
    # Once the service takes the token again, so does the check (it asks, it does not remember "expired").
    signin_env.restore_tokens()
    assert AzureAccountDirectory().check_account(account_id).state == "signed-in"


def test_a_refused_refresh_is_expired_sign_in_again(signin_env: AzureService) -> None:
    aad = signin_env.emulator.aad  # type: ignore[attr-defined]
    aad.access_token_lifetime_s = 60  # every silent call refreshes
    _, account_id = _signed_in(signin_env)
    aad.revoked = True
    checked = AzureAccountDirectory().check_account(account_id)
    assert checked.state == "expired"
    assert checked.detail == f"The sign-in of {USER} expired: sign in again."
    assert aad.grants[-1] == "refresh_token"


def test_sign_out_forgets_the_account_and_its_cached_tokens(signin_env: AzureService) -> None:
    directory, account_id = _signed_in(signin_env)
    record = load_settings().account(account_id)
    assert record is not None and record.authentication_record is not None
    home = json.loads(record.authentication_record)["homeAccountId"]
    cache = json.loads(cache_file().read_text())
    assert any(entry.get("home_account_id") == home for entry in cache["RefreshToken"].values())
    directory.remember_account_for(signin_env.location, account_id)

    directory.sign_out(account_id)

    assert directory.accounts() == []
    assert load_settings().workspace_accounts == {}
    cache = json.loads(cache_file().read_text())
    for section in ("RefreshToken", "AccessToken", "IdToken", "Account"):
        assert all(entry.get("home_account_id") != home for entry in cache.get(section, {}).values()), section
    with pytest.raises(NotFoundError):
        directory.check_account(account_id)
    # Even with the old record, nothing silent is left.
    from studio.workspaces.azure.cloud import load_cloud

    credential = identity.credential_for_account(record, load_cloud(), settings=load_settings())
    with pytest.raises(AuthenticationError, match="expired: sign in again"):
        credential.get_token("https://management.azure.com/.default")


BROWSER_SCRIPT = textwrap.dedent(
    """\
    #!{python}
    # A stand-in web browser: "signs in" at the page it is given and follows the redirect to localhost.
    import os, sys
    if os.fork():
        sys.exit(0)  # return at once, as a browser does; the child does the visit
    import requests
    url = sys.argv[1]
    answer = requests.get(url, allow_redirects=False, timeout=30)
    with open({log!r}, "a") as log:
        log.write(url.split("?")[0] + " " + str(answer.status_code) + "\\n")
    requests.get(answer.headers["Location"], timeout=30)
    """
)


def test_browser_sign_in_with_a_stand_in_browser(
    signin_env: AzureService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """InteractiveBrowserCredential end to end: the "browser" (a script in $BROWSER) opens the authorize URL,
    the emulator redirects to the credential's localhost server with a code, MSAL redeems it."""
    log = tmp_path / "browser.log"
    script = tmp_path / "browser"
    script.write_text(BROWSER_SCRIPT.format(python=sys.executable, log=str(log)))
    script.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(script))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(webbrowser, "_tryorder", None)
    monkeypatch.setattr(webbrowser, "_browsers", {})
    directory = AzureAccountDirectory()
    directory.set_unencrypted_cache_allowed(True)

    info = directory.sign_in("browser", {"tenant": signin_env.tenant_id}, cancel=CancelToken())

    assert (info.state, info.label, info.method_id) == ("signed-in", USER, "browser")
    assert log.read_text().split() == [f"https://{LOGIN}/{signin_env.tenant_id}/oauth2/v2.0/authorize", "302"]
    assert "authorization_code" in signin_env.emulator.aad.grants  # type: ignore[attr-defined]
    assert AzureAccountDirectory().check_account(info.account_id).state == "signed-in"
    assert os.environ["BROWSER"] == str(script)


def test_a_workspace_opens_with_the_account_remembered_for_it(signin_env: AzureService) -> None:
    """Without the window: the opener takes the remembered account's credential (silent, from the token cache)."""
    from studio.workspaces.azure.opener import AzureWorkspaceOpener

    directory, account_id = _signed_in(signin_env)
    signin_env.fake_az.sign_out()  # so only the saved account can work
    directory.remember_account_for(signin_env.location, account_id)
    prompts = len(signin_env.emulator.aad.prompts)  # type: ignore[attr-defined]
    backend = AzureWorkspaceOpener().open(signin_env.location)
    try:
        assert backend.info().kind == "azure"
    finally:
        backend.close()
    assert len(signin_env.emulator.aad.prompts) == prompts  # type: ignore[attr-defined]
    assert signin_env.fake_az.calls() == []
