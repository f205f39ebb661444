"""Credentials per sign-in method, each wrapped in an ``AccountCredential`` (see ``identity`` for the methods):
failures become Studio errors with one sentence, repr names the account only, no message carries a secret or a
token. ``azure-identity`` is imported inside the functions."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from studio.core.errors import AuthenticationError, WorkspaceError
from studio.workspaces.azure.keyring_secrets import load_secret
from studio.workspaces.azure.settings_store import AccountRecord, AzureSettings, load_settings

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions

    from studio.workspaces.azure.cloud import AzureCloud

CLI_TIMEOUT_S = 10
BROWSER_TIMEOUT_S = 300
TOKEN_MARGIN_S = 300
"""A token is used until this many seconds before it expires (MSAL's and azure-core's margin too)."""
USER_METHODS = ("browser", "device_code")

T = TypeVar("T")


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
    from studio.workspaces.azure.identity import cache_options  # the cache probe's state lives in identity

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
