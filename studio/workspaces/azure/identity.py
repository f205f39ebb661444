"""Credentials of the Azure kind: one per sign-in method, built with ``azure-identity`` (imported lazily).

Methods (``AccountRecord.method_id``):

- ``browser``: ``InteractiveBrowserCredential`` (azure-identity's public client id, a localhost redirect).
- ``device_code``: the device-code flow, driven with MSAL directly over the same persistent token cache
  azure-identity uses (so that cancel ends it at once, see ``sign_in_device_code``); later starts use
  ``DeviceCodeCredential`` silently.
- ``cli``: ``AzureCliCredential`` (only when ``az`` is on PATH; ``process_timeout`` 10 s).
- ``service_principal``: ``ClientSecretCredential`` or ``CertificateCredential``; the secret (or the
  certificate's password) lives only in the system keyring, key ``("studio-azure", "<tenant>/<client id>")``.

User sign-ins keep their tokens in MSAL's persistent cache (``TokenCachePersistenceOptions(name="studio")``)
and their ``AuthenticationRecord`` JSON in ``azure.json``: the next start builds the credential with
``authentication_record=…, disable_automatic_authentication=True`` and gets tokens silently, or an
``AuthenticationError`` "sign in again" when the refresh token is gone. Where the system has no encrypted
store (Linux without libsecret) the cache could only be a plain file: that needs the user's consent
(``ConsentRequired`` until ``AzureSettings.allow_unencrypted_cache`` is set); with consent refused tokens are
kept in memory only, for this run.

Every credential handed out is an ``AccountCredential``: its failures are Studio errors with one sentence
(``AuthenticationError`` for a refused or expired sign-in, ``WorkspaceError`` when the sign-in service cannot
be reached), its repr names the account only, and no message carries a secret or a token.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from studio.core.accounts import ConsentRequired, DeviceCodePrompt
from studio.core.errors import AuthenticationError, CancelledError, WorkspaceError
from studio.core.tasks import CancelToken
from studio.workspaces.azure.settings_store import AccountRecord, AzureSettings, load_settings

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
    from azure.identity import TokenCachePersistenceOptions

    from studio.workspaces.azure.cloud import AzureCloud
    from studio.workspaces.azure.opener import AzureLocation

log = logging.getLogger(__name__)

KEYRING_SERVICE = "studio-azure"
CACHE_NAME = "studio"
CLI_TIMEOUT_S = 10
BROWSER_TIMEOUT_S = 300
TOKEN_MARGIN_S = 300
"""A token is used until this many seconds before it expires (MSAL's and azure-core's margin too)."""
USER_METHODS = ("browser", "device_code")

HOW_TO_SIGN_IN = (
    "No Azure account is signed in: sign in in the Workspaces pane (Azure Machine Learning → Sign in…), "
    "run `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET."
)
CONSENT_QUESTION = (
    "This system has no encrypted store for the Azure token cache: keeping it in a plain file readable by "
    "you only needs your consent (otherwise you sign in again at each start)."
)
NO_KEYRING = (
    "No system keyring is available to keep the service principal's secret: install and unlock one "
    "(GNOME Keyring or KWallet on Linux), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET instead."
)

T = TypeVar("T")


# --- the keyring (service-principal secrets only) -------------------------------------------------------------


def keyring_key(tenant_id: str, client_id: str) -> str:
    """The keyring user name of a service principal's secret."""
    return f"{tenant_id}/{client_id}"


def _keyring_backend() -> Any:
    """The system keyring backend, or None when there is none that keeps anything."""
    import keyring
    from keyring.backends import chainer, fail, null

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyring configuration counts as none
        log.info("No system keyring (%s)", type(exc).__name__)
        return None
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


def save_secret(tenant_id: str, client_id: str, secret: str) -> None:
    """Keep a service principal's secret in the system keyring; WorkspaceError (a sentence) when it cannot."""
    backend = _keyring_backend()
    if backend is None:
        raise WorkspaceError(NO_KEYRING)
    try:
        backend.set_password(KEYRING_SERVICE, keyring_key(tenant_id, client_id), secret)
    except Exception as exc:  # locked, D-Bus errors…: the message must not carry the secret
        raise WorkspaceError(
            f"The system keyring did not keep the secret ({type(exc).__name__}): unlock it and sign in again."
        ) from None


def load_secret(tenant_id: str, client_id: str) -> str | None:
    """The saved secret, or None (none saved, no keyring, or a locked one: logged without the secret)."""
    backend = _keyring_backend()
    if backend is None:
        return None
    try:
        value = backend.get_password(KEYRING_SERVICE, keyring_key(tenant_id, client_id))
    except Exception as exc:
        log.info("Could not read a service principal's secret from the keyring (%s)", type(exc).__name__)
        return None
    return value if isinstance(value, str) else None


def forget_secret(tenant_id: str, client_id: str) -> None:
    """Delete the saved secret; nothing happens when none is saved. WorkspaceError when the keyring refuses."""
    backend = _keyring_backend()
    if backend is None:
        return
    key = keyring_key(tenant_id, client_id)
    try:
        if backend.get_password(KEYRING_SERVICE, key) is None:
            return
        backend.delete_password(KEYRING_SERVICE, key)
    except Exception as exc:
        from keyring.errors import PasswordDeleteError

        if isinstance(exc, PasswordDeleteError):
            return
        raise WorkspaceError(
            f"The system keyring did not forget the secret ({type(exc).__name__}): unlock it and sign out again."
        ) from None


# --- the persistent token cache -------------------------------------------------------------------------------

_encryption_lock = threading.Lock()
_encryption_available: bool | None = None


def encrypted_cache_available() -> bool:
    """True when the system can keep an encrypted token cache (DPAPI, Keychain, libsecret); probed once."""
    global _encryption_available
    with _encryption_lock:
        if _encryption_available is None:
            from azure.identity import TokenCachePersistenceOptions

            try:
                _load_cache(TokenCachePersistenceOptions(name=CACHE_NAME))
                _encryption_available = True
            except (ValueError, NotImplementedError, ImportError) as exc:
                log.info("No encrypted store for the Azure token cache (%s)", type(exc).__name__)
                _encryption_available = False
        return _encryption_available


def cache_options(allowed: bool | None) -> TokenCachePersistenceOptions | None:
    """The persistence options for user sign-ins: encrypted when the system can; a plain file when it cannot
    and ``allowed`` is True; None (memory only, this run) when ``allowed`` is False. ConsentRequired when it
    cannot and the user was never asked (``allowed`` None)."""
    from azure.identity import TokenCachePersistenceOptions

    if encrypted_cache_available():
        return TokenCachePersistenceOptions(name=CACHE_NAME)
    if allowed is None:
        raise ConsentRequired(CONSENT_QUESTION)
    if not allowed:
        return None
    return TokenCachePersistenceOptions(name=CACHE_NAME, allow_unencrypted_storage=True)


def _load_cache(options: TokenCachePersistenceOptions, is_cae: bool = False) -> Any:
    """azure-identity's own persistent cache object for ``options`` (same file, same libsecret item), so what MSAL
    writes here the credentials read. Uses azure-identity's private loader (one function, stable since 1.6)
    rather than copying its per-platform paths."""
    from azure.identity._persistent_cache import _load_persistent_cache

    return _load_persistent_cache(options, is_cae)


def forget_cached_account(home_account_id: str, allowed: bool | None) -> int:
    """Remove every entry of ``home_account_id`` (refresh, access and id tokens, the account) from the
    persistent caches (normal and CAE); the number removed. Works on the cache directly (what MSAL's
    ``remove_account`` does, without building an application, which would reach the network)."""
    from msal import TokenCache

    try:
        options = cache_options(allowed)
    except ConsentRequired:
        return 0  # never consented: nothing of ours can be in a plain file
    if options is None:
        return 0
    removed = 0
    kinds = (
        (TokenCache.CredentialType.REFRESH_TOKEN, "remove_rt"),
        (TokenCache.CredentialType.ACCESS_TOKEN, "remove_at"),
        (TokenCache.CredentialType.ID_TOKEN, "remove_idt"),
        (TokenCache.CredentialType.ACCOUNT, "remove_account"),
    )
    for is_cae in (False, True):
        try:
            cache = _load_cache(options, is_cae)
        except Exception as exc:
            log.warning("Could not open the Azure token cache to sign out (%s)", type(exc).__name__)
            continue
        for credential_type, remove in kinds:
            for entry in list(cache.search(credential_type, query={"home_account_id": home_account_id})):
                getattr(cache, remove)(entry)
                removed += 1
    return removed


# --- credentials ----------------------------------------------------------------------------------------------


class AccountCredential:
    """A ``TokenCredential`` for one account. Failures become Studio errors with a sentence: an expired or
    refused sign-in is an ``AuthenticationError`` (the window offers "Sign in…"), an unreachable sign-in
    service a ``WorkspaceError``. Its repr names the account; no secret or token is ever in a message."""

    def __init__(
        self, inner: Any, *, label: str, method_id: str, account_id: str, host: str, scrub: Iterable[str] = ()
    ):
        self._inner = inner
        self.label = label
        self.method_id = method_id
        self.account_id = account_id
        self._host = host
        self._scrub = tuple(s for s in scrub if s)
        # Tokens handed out, kept until 5 minutes before they expire: every ARM pipeline and MLClient asks its
        # credential once, and the Azure CLI answers each ask with a new `az` process (about a second).
        self._tokens: dict[tuple[object, ...], Any] = {}
        self._tokens_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AccountCredential({self.label!r}, method={self.method_id!r})"

    __str__ = __repr__

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """A token for ``scopes`` (azure-core's ``TokenCredential``)."""
        key = ("token", scopes, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
        return self._cached(key, not kwargs.get("claims"), lambda: self._inner.get_token(*scopes, **kwargs))

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        """A token for ``scopes`` (azure-core's ``SupportsTokenInfo``)."""
        if hasattr(self._inner, "get_token_info"):
            key = ("info", scopes, tuple(sorted((k, repr(v)) for k, v in (options or {}).items())))
            reuse = not (options or {}).get("claims")
            return self._cached(key, reuse, lambda: self._inner.get_token_info(*scopes, options=options))
        from azure.core.credentials import AccessTokenInfo

        token = self.get_token(*scopes)
        return AccessTokenInfo(token.token, token.expires_on)

    def forget_tokens(self) -> None:
        """Drop the tokens kept here (the next ask goes to the inner credential)."""
        with self._tokens_lock:
            self._tokens.clear()

    def _cached(self, key: tuple[object, ...], reuse: bool, fetch: Callable[[], T]) -> T:
        if reuse:
            with self._tokens_lock:
                kept = self._tokens.get(key)
            if kept is not None and kept.expires_on - time.time() > TOKEN_MARGIN_S:
                return kept  # type: ignore[no-any-return]
        token = self._call(fetch)
        if reuse:
            with self._tokens_lock:
                self._tokens[key] = token
        return token

    def close(self) -> None:
        """Close the inner credential's HTTP client and drop the tokens kept."""
        self.forget_tokens()
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> AccountCredential:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def _call(self, fetch: Callable[[], T]) -> T:
        from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
        from azure.identity import AuthenticationRequiredError, CredentialUnavailableError

        try:
            return fetch()
        except AuthenticationRequiredError:
            raise AuthenticationError(f"The sign-in of {self.label} expired: sign in again.") from None
        except CredentialUnavailableError as exc:
            if self.method_id == "cli":
                raise AuthenticationError(
                    "The Azure CLI gave no token: run `az login` (or check that `az` works), then try again."
                ) from None
            raise AuthenticationError(f"{self.label} cannot sign in ({self._reason(exc)}): sign in again.") from None
        except ClientAuthenticationError as exc:
            raise AuthenticationError(f"Azure refused the sign-in of {self.label}: {self._reason(exc)}") from None
        except ServiceRequestError:
            raise WorkspaceError(
                f"Cannot reach Azure's sign-in service ({self._host}): check the network or proxy."
            ) from None

    def _reason(self, exc: BaseException) -> str:
        text = str(getattr(exc, "message", None) or exc).strip().splitlines()
        reason = (text[0] if text else type(exc).__name__)[:300]
        for secret in self._scrub:
            reason = reason.replace(secret, "***")
        return reason


def _host(url: str) -> str:
    return urlsplit(url if "//" in url else f"https://{url}").hostname or url


def _authority(cloud: AzureCloud) -> str:
    return cloud.authority_host.rstrip("/")


def credential_for_account(
    record: AccountRecord, cloud: AzureCloud, *, settings: AzureSettings | None = None
) -> AccountCredential:
    """The credential of a saved account; silent (no prompt ever): an expired sign-in raises AuthenticationError
    "sign in again" at the first token. AuthenticationError at once when the account cannot work any more (a
    secret gone from the keyring, ``az`` gone from PATH, a record that does not parse)."""
    settings = settings if settings is not None else load_settings()
    host = _host(cloud.authority_host)

    def wrap(inner: Any, scrub: Iterable[str] = ()) -> AccountCredential:
        return AccountCredential(
            inner, label=record.label, method_id=record.method_id, account_id=record.account_id, host=host, scrub=scrub
        )

    if record.method_id in USER_METHODS:
        from azure.identity import AuthenticationRecord, DeviceCodeCredential, InteractiveBrowserCredential

        if not record.authentication_record:
            raise AuthenticationError(f"The sign-in of {record.label} is incomplete: sign in again.")
        try:
            auth_record = AuthenticationRecord.deserialize(record.authentication_record)
        except (ValueError, KeyError, TypeError):
            raise AuthenticationError(f"The saved sign-in of {record.label} is unreadable: sign in again.") from None
        options = cache_options(settings.allow_unencrypted_cache)
        kwargs: dict[str, Any] = {
            "authentication_record": auth_record,
            "disable_automatic_authentication": True,
        }
        if record.tenant_id:
            kwargs["tenant_id"] = record.tenant_id
        if options is not None:
            kwargs["cache_persistence_options"] = options
        if record.method_id == "browser":
            return wrap(InteractiveBrowserCredential(timeout=BROWSER_TIMEOUT_S, **kwargs))
        return wrap(DeviceCodeCredential(**kwargs))
    if record.method_id == "cli":
        return wrap(_cli_credential(record.tenant_id))
    if record.method_id == "service_principal":
        secret = load_secret(record.tenant_id, record.client_id)
        if record.certificate_path:
            return wrap(
                _certificate_credential(cloud, record.tenant_id, record.client_id, record.certificate_path, secret),
                scrub=[secret or ""],
            )
        if not secret:
            raise AuthenticationError(
                f"The secret of {record.label} is not in the system keyring any more: sign in again."
            )
        return wrap(_secret_credential(cloud, record.tenant_id, record.client_id, secret), scrub=[secret])
    raise AuthenticationError(
        f"{record.label} was signed in with an unknown method ({record.method_id}): sign in again."
    )


def _cli_credential(tenant_id: str = "") -> Any:
    from azure.identity import AzureCliCredential

    if shutil.which("az") is None:
        raise AuthenticationError("The Azure CLI (az) is not on PATH: install it, or sign in another way.")
    return AzureCliCredential(tenant_id=tenant_id, process_timeout=CLI_TIMEOUT_S)


def _secret_credential(cloud: AzureCloud, tenant_id: str, client_id: str, secret: str) -> Any:
    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(tenant_id, client_id, secret, authority=_authority(cloud))


def _certificate_credential(cloud: AzureCloud, tenant_id: str, client_id: str, path: str, password: str | None) -> Any:
    from azure.identity import CertificateCredential

    try:
        return CertificateCredential(tenant_id, client_id, path, password=password or None, authority=_authority(cloud))
    except OSError as exc:
        raise AuthenticationError(
            f"Cannot read the certificate {path} ({exc.strerror or type(exc).__name__}): choose it again."
        ) from None
    except ValueError as exc:  # azure-identity's reasons name the file's problem, never the password
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        hint = reason if "RSA" in reason else "not a PEM or PKCS12 file with its private key, or a wrong password"
        raise AuthenticationError(f"The certificate {path} could not be loaded ({hint}).") from None


def credential_for_location(
    location: AzureLocation, cloud: AzureCloud, *, settings: AzureSettings | None = None
) -> AccountCredential:
    """The credential to open ``location`` without asking anything (also from the CLI and the SDK): the account
    remembered for the location, else the first saved account, else AZURE_TENANT_ID / AZURE_CLIENT_ID /
    AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH), else the Azure CLI when ``az`` is on PATH, else
    AuthenticationError with one line saying how to sign in. No managed-identity probe (it would wait on a
    network timeout on every machine that is not in Azure)."""
    settings = settings if settings is not None else load_settings()
    remembered = settings.workspace_accounts.get(str(location))
    record = settings.account(remembered) if remembered else None
    if record is None and settings.accounts:
        record = settings.accounts[0]
    if record is not None:
        return credential_for_account(record, cloud, settings=settings)
    env = environment_credential(cloud)
    if env is not None:
        return env
    if shutil.which("az") is not None:
        return AccountCredential(
            _cli_credential(), label="Azure CLI", method_id="cli", account_id="cli", host=_host(cloud.authority_host)
        )
    raise AuthenticationError(HOW_TO_SIGN_IN)


def environment_credential(cloud: AzureCloud) -> AccountCredential | None:
    """A service principal from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or
    AZURE_CLIENT_CERTIFICATE_PATH and optionally AZURE_CLIENT_CERTIFICATE_PASSWORD); None when they are not set."""
    tenant = os.environ.get("AZURE_TENANT_ID", "").strip()
    client = os.environ.get("AZURE_CLIENT_ID", "").strip()
    secret = os.environ.get("AZURE_CLIENT_SECRET", "")
    cert = os.environ.get("AZURE_CLIENT_CERTIFICATE_PATH", "").strip()
    if not (tenant and client and (secret or cert)):
        return None
    label = f"service principal {client} (environment)"
    host = _host(cloud.authority_host)
    if secret:
        inner = _secret_credential(cloud, tenant, client, secret)
        return AccountCredential(
            inner, label=label, method_id="environment", account_id="environment", host=host, scrub=[secret]
        )
    password = os.environ.get("AZURE_CLIENT_CERTIFICATE_PASSWORD") or None
    inner = _certificate_credential(cloud, tenant, client, cert, password)
    return AccountCredential(
        inner, label=label, method_id="environment", account_id="environment", host=host, scrub=[password or ""]
    )


# --- signing in -----------------------------------------------------------------------------------------------


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


def auth_record_from_result(result: Mapping[str, Any]) -> Any:
    """The ``AuthenticationRecord`` of an MSAL token response (what azure-identity's ``authenticate`` returns;
    same rules: ``client_info`` → home account id, else the ``sub`` claim)."""
    import base64

    from azure.identity import AuthenticationRecord

    claims = result.get("id_token_claims") or {}
    try:
        if "client_info" in result:
            raw = str(result["client_info"])
            info = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8"))
            home_account_id = f"{info['uid']}.{info['utid']}"
        else:
            home_account_id = claims["sub"]
        issuer = urlsplit(claims["iss"])
        return AuthenticationRecord(
            authority=issuer.netloc,
            client_id=claims["aud"],
            home_account_id=home_account_id,
            tenant_id=claims.get("tid") or issuer.path.strip("/").split("/")[0],
            username=claims.get("preferred_username") or claims["upn"],
        )
    except (KeyError, ValueError, TypeError):
        raise AuthenticationError("Azure's answer to the sign-in named no account: sign in again.") from None


def sign_in_device_code(
    cloud: AzureCloud,
    *,
    tenant_id: str = "",
    allowed: bool | None,
    prompt: Callable[[DeviceCodePrompt], None] | None,
    cancel: CancelToken | None = None,
) -> AccountRecord:
    """Sign in with a device code: ``prompt`` gets the code and URL (called on this worker thread), then this
    waits until the user signs in or the code expires. The account's tokens go to the persistent cache.

    Cancelling: MSAL's ``acquire_token_by_device_flow`` is driven here (not through ``DeviceCodeCredential``,
    whose wait cannot be interrupted) on a helper thread with an ``exit_condition`` that sees the cancel; on
    cancel this returns at once with CancelledError and the helper thread ends at MSAL's next poll (≤ 1 s),
    sending no further request. ConsentRequired before any network call when the cache needs consent."""
    import msal
    from azure.identity._constants import DEVELOPER_SIGN_ON_CLIENT_ID

    options = cache_options(allowed)
    stop = threading.Event()
    flow_box: dict[str, Any] = {}

    def work() -> AccountRecord:
        cache = _load_cache(options) if options is not None else msal.TokenCache()
        app = msal.PublicClientApplication(
            DEVELOPER_SIGN_ON_CLIENT_ID,
            authority=f"{_authority(cloud)}/{tenant_id or 'organizations'}",
            token_cache=cache,
        )
        if stop.is_set():
            raise CancelledError("The sign-in was cancelled.")
        flow = app.initiate_device_flow(scopes=[cloud.arm_scope])
        if "user_code" not in flow:
            raise AuthenticationError(f"Azure did not start the device-code sign-in: {_aad_reason(flow)}")
        flow_box["flow"] = flow
        if prompt is not None:
            prompt(
                DeviceCodePrompt(
                    verification_uri=flow["verification_uri"],
                    user_code=flow["user_code"],
                    expires_on=float(flow.get("expires_at") or time.time() + int(flow.get("expires_in", 900))),
                    message=str(flow.get("message", "")),
                )
            )
        result = app.acquire_token_by_device_flow(
            flow, exit_condition=lambda f: stop.is_set() or f.get("expires_at", 0) < time.time()
        )
        if stop.is_set():
            raise CancelledError("The sign-in was cancelled.")
        if "access_token" not in result:
            if result.get("error") in ("authorization_pending", "slow_down", "expired_token"):
                raise AuthenticationError("The device code expired before the sign-in finished: sign in again.")
            raise AuthenticationError(f"Azure refused the sign-in: {_aad_reason(result)}")
        return _signed_in_record("device_code", auth_record_from_result(result), tenant_id)

    def on_cancel() -> None:
        stop.set()
        flow = flow_box.get("flow")
        if flow is not None:
            flow["expires_at"] = 0  # MSAL's own documented way to end its polling loop

    try:
        return _run_cancellable(work, cancel, on_cancel)
    except (CancelledError, AuthenticationError, ConsentRequired):
        raise
    except Exception as exc:
        raise _sign_in_failure(exc, cloud) from None


def sign_in_browser(
    cloud: AzureCloud, *, tenant_id: str = "", allowed: bool | None, cancel: CancelToken | None = None
) -> AccountRecord:
    """Sign in in the system's web browser (``InteractiveBrowserCredential.authenticate``; a localhost redirect).

    Cancelling returns at once with CancelledError; the credential's wait cannot be interrupted, so its thread
    is abandoned and ends when the browser flow times out (``BROWSER_TIMEOUT_S``) — its result, if the user
    still finishes in the browser, only lands in the token cache and is not saved as an account."""
    from azure.identity import InteractiveBrowserCredential

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


def sign_out_account(record: AccountRecord, settings: AzureSettings) -> None:
    """Forget what an account left outside ``azure.json``: a service principal's keyring secret; a user's
    entries in the persistent token cache (refresh, access and id tokens, account). The Azure CLI's own sign-in
    is left alone (Studio did not make it: `az logout` ends it)."""
    if record.method_id == "service_principal":
        forget_secret(record.tenant_id, record.client_id)
    if record.method_id in USER_METHODS and record.authentication_record:
        try:
            home = json.loads(record.authentication_record).get("homeAccountId", "")
        except (ValueError, AttributeError):
            home = ""
        if home:
            forget_cached_account(home, settings.allow_unencrypted_cache)


def _aad_reason(answer: Mapping[str, Any]) -> str:
    text = str(answer.get("error_description") or answer.get("error") or "no reason given").strip()
    return text.splitlines()[0][:300] if text else "no reason given"


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
