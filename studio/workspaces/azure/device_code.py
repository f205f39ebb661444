"""Signing in with a device code: the flow is driven with MSAL directly over the same persistent token cache
azure-identity uses, so that cancel ends it at once; later starts use ``DeviceCodeCredential`` silently."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from studio.core.accounts import ConsentRequired, DeviceCodePrompt
from studio.core.errors import AuthenticationError, CancelledError
from studio.core.tasks import CancelToken
from studio.workspaces.azure.credentials import _authority
from studio.workspaces.azure.settings_store import AccountRecord
from studio.workspaces.azure.sign_in import _run_cancellable, _sign_in_failure, _signed_in_record

if TYPE_CHECKING:
    from studio.workspaces.azure.cloud import AzureCloud


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

    from studio.workspaces.azure.identity import _load_cache, cache_options  # the cache probe's state lives there

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


def _aad_reason(answer: Mapping[str, Any]) -> str:
    text = str(answer.get("error_description") or answer.get("error") or "no reason given").strip()
    return text.splitlines()[0][:300] if text else "no reason given"
