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

Here: the persistent token cache (the probe of an encrypted store, the consent, sign-out's cache editing) and
``sign_out_account``; the rest lives beside it and is re-exported here: ``keyring_secrets`` (service-principal
secrets), ``credentials`` (``AccountCredential``, a credential per method), ``headless``
(``credential_for_location``), ``sign_in`` and ``device_code`` (signing in, cancellable).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from studio.core.accounts import ConsentRequired
from studio.workspaces.azure.credentials import (
    BROWSER_TIMEOUT_S,
    CLI_TIMEOUT_S,
    TOKEN_MARGIN_S,
    USER_METHODS,
    AccountCredential,
    credential_for_account,
)
from studio.workspaces.azure.device_code import auth_record_from_result, sign_in_device_code
from studio.workspaces.azure.headless import HOW_TO_SIGN_IN, credential_for_location, environment_credential
from studio.workspaces.azure.keyring_secrets import (
    KEYRING_SERVICE,
    NO_KEYRING,
    forget_secret,
    keyring_key,
    load_secret,
    save_secret,
)
from studio.workspaces.azure.settings_store import AccountRecord, AzureSettings
from studio.workspaces.azure.sign_in import (
    _run_cancellable,
    sign_in_browser,
    sign_in_cli,
    sign_in_service_principal,
)

if TYPE_CHECKING:
    from azure.identity import TokenCachePersistenceOptions

__all__ = [
    "BROWSER_TIMEOUT_S",
    "CACHE_NAME",
    "CLI_TIMEOUT_S",
    "CONSENT_QUESTION",
    "HOW_TO_SIGN_IN",
    "KEYRING_SERVICE",
    "NO_KEYRING",
    "TOKEN_MARGIN_S",
    "USER_METHODS",
    "AccountCredential",
    "_run_cancellable",
    "auth_record_from_result",
    "cache_options",
    "credential_for_account",
    "credential_for_location",
    "encrypted_cache_available",
    "environment_credential",
    "forget_cached_account",
    "forget_secret",
    "keyring_key",
    "load_secret",
    "save_secret",
    "sign_in_browser",
    "sign_in_cli",
    "sign_in_device_code",
    "sign_in_service_principal",
    "sign_out_account",
]

log = logging.getLogger(__name__)

CACHE_NAME = "studio"
CONSENT_QUESTION = (
    "This system has no encrypted store for the Azure token cache: keeping it in a plain file readable by "
    "you only needs your consent (otherwise you sign in again at each start)."
)


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


# --- signing out ----------------------------------------------------------------------------------------------


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
