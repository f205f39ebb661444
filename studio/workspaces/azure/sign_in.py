"""Signing in (the device code aside, see ``device_code``): in the browser, with the Azure CLI, as a service
principal; each can be cancelled at once (``_run_cancellable``) and fails with one sentence."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from studio.core.errors import AuthenticationError, CancelledError, WorkspaceError
from studio.core.tasks import CancelToken
from studio.workspaces.azure.credentials import (
    BROWSER_TIMEOUT_S,
    CLI_TIMEOUT_S,
    AccountCredential,
    _authority,
    _certificate_credential,
    _cli_credential,
    _host,
    _secret_credential,
)
from studio.workspaces.azure.keyring_secrets import forget_secret, save_secret
from studio.workspaces.azure.settings_store import AccountRecord

if TYPE_CHECKING:
    from studio.workspaces.azure.cloud import AzureCloud

log = logging.getLogger(__name__)

T = TypeVar("T")


def _run_cancellable(
    work: Callable[[], T], cancel: CancelToken | None, on_cancel: Callable[[], None] = lambda: None
) -> T:
    """Run ``work`` on a daemon thread and wait for it; when ``cancel`` is set, call ``on_cancel`` (which should
    make the work end soon) and raise CancelledError at once, without waiting for the thread."""
    if cancel is None:
        return work()
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="studio-azure-sign-in", daemon=True).start()
    while not done.wait(0.05):
        if cancel.cancelled:
            on_cancel()
            raise CancelledError("The sign-in was cancelled.")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def _signed_in_record(method_id: str, auth_record: Any, tenant_hint: str) -> AccountRecord:
    tenant = auth_record.tenant_id or tenant_hint
    return AccountRecord(
        account_id=f"{method_id}:{tenant}:{auth_record.username}",
        method_id=method_id,
        label=auth_record.username,
        tenant_id=tenant_hint,
        client_id=auth_record.client_id,
        authentication_record=auth_record.serialize(),
    )


def sign_in_browser(
    cloud: AzureCloud, *, tenant_id: str = "", allowed: bool | None, cancel: CancelToken | None = None
) -> AccountRecord:
    """Sign in in the system's web browser (``InteractiveBrowserCredential.authenticate``; a localhost redirect).

    Cancelling returns at once with CancelledError; the credential's wait cannot be interrupted, so its thread
    is abandoned and ends when the browser flow times out (``BROWSER_TIMEOUT_S``) — its result, if the user
    still finishes in the browser, only lands in the token cache and is not saved as an account."""
    from azure.identity import InteractiveBrowserCredential

    from studio.workspaces.azure.identity import cache_options  # the cache probe's state lives there

    options = cache_options(allowed)
    kwargs: dict[str, Any] = {"authority": _authority(cloud), "timeout": BROWSER_TIMEOUT_S}
    if tenant_id:
        kwargs["tenant_id"] = tenant_id
    if options is not None:
        kwargs["cache_persistence_options"] = options
    credential = InteractiveBrowserCredential(**kwargs)
    try:
        auth_record = _run_cancellable(lambda: credential.authenticate(scopes=[cloud.arm_scope]), cancel)
    except (CancelledError, AuthenticationError):
        raise
    except Exception as exc:
        raise _sign_in_failure(exc, cloud) from None
    return _signed_in_record("browser", auth_record, tenant_id)


def sign_in_cli(cloud: AzureCloud, *, tenant_id: str = "", cancel: CancelToken | None = None) -> AccountRecord:
    """Use the Azure CLI's sign-in (``az login`` done outside Studio): checked with one token request; labelled
    with the CLI's user name when ``az account show`` tells it."""
    inner = _cli_credential(tenant_id)
    credential = AccountCredential(
        inner, label="Azure CLI", method_id="cli", account_id="cli", host=_host(cloud.authority_host)
    )
    _run_cancellable(lambda: credential.get_token(cloud.arm_scope), cancel)
    user = _cli_user_name()
    label = f"Azure CLI ({user})" if user else "Azure CLI"
    account_id = f"cli:{tenant_id}" if tenant_id else "cli"
    return AccountRecord(account_id=account_id, method_id="cli", label=label, tenant_id=tenant_id)


def _cli_user_name() -> str:
    az = shutil.which("az")
    if az is None:
        return ""
    try:
        done = subprocess.run(
            [az, "account", "show", "--output", "json"],
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
        data = json.loads(done.stdout) if done.returncode == 0 else {}
        user = data.get("user") if isinstance(data, dict) else None
        name = user.get("name") if isinstance(user, dict) else None
        return name if isinstance(name, str) else ""
    except (OSError, ValueError, subprocess.SubprocessError):
        return ""


def sign_in_service_principal(
    cloud: AzureCloud,
    *,
    tenant_id: str,
    client_id: str,
    secret: str = "",
    certificate_path: str = "",
    cancel: CancelToken | None = None,
) -> AccountRecord:
    """Sign in as a service principal with a secret or a certificate file (``secret`` is then the certificate's
    password, if any): one token request checks it, then the secret goes to the system keyring (WorkspaceError
    when there is none) and never anywhere else."""
    tenant_id, client_id, certificate_path = tenant_id.strip(), client_id.strip(), certificate_path.strip()
    if not tenant_id or not client_id:
        raise AuthenticationError("A service principal needs its tenant and its client (application) id.")
    if not secret and not certificate_path:
        raise AuthenticationError("A service principal needs a client secret or a certificate file.")
    label = f"service principal {client_id}"
    try:
        if certificate_path:
            inner = _certificate_credential(cloud, tenant_id, client_id, certificate_path, secret or None)
        else:
            inner = _secret_credential(cloud, tenant_id, client_id, secret)
    except ValueError:  # azure-identity's checks of the tenant id
        raise AuthenticationError(f"{tenant_id!r} is not a valid tenant id.") from None
    credential = AccountCredential(
        inner,
        label=label,
        method_id="service_principal",
        account_id=f"service_principal:{tenant_id}:{client_id}",
        host=_host(cloud.authority_host),
        scrub=[secret],
    )
    _run_cancellable(lambda: credential.get_token(cloud.arm_scope), cancel)
    if secret:
        save_secret(tenant_id, client_id, secret)
    else:
        forget_secret(tenant_id, client_id)
    return AccountRecord(
        account_id=credential.account_id,
        method_id="service_principal",
        label=label,
        tenant_id=tenant_id,
        client_id=client_id,
        certificate_path=certificate_path or None,
    )


def _sign_in_failure(exc: Exception, cloud: AzureCloud) -> WorkspaceError:
    """One sentence for an unexpected failure while signing in (network, TLS, a refused request)."""
    import requests
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout | ServiceRequestError):
        return WorkspaceError(
            f"Cannot reach Azure's sign-in service ({_host(cloud.authority_host)}): check the network or proxy."
        )
    if isinstance(exc, ClientAuthenticationError):
        reason = str(getattr(exc, "message", None) or exc).strip().splitlines()
        return AuthenticationError(f"Azure refused the sign-in: {(reason[0] if reason else '')[:300]}")
    if isinstance(exc, ValueError):
        return AuthenticationError(f"The sign-in could not start: {str(exc).splitlines()[0][:300]}")
    log.warning("Azure sign-in failed (%s)", type(exc).__name__)
    return WorkspaceError(f"The sign-in failed ({type(exc).__name__}): try again.")
