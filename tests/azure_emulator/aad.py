"""Microsoft Entra ID (AAD) as MSAL sees it, for the sign-in tests: device code, refresh, client credentials,
authorization code (the browser flow), on ``login.microsoftonline.com`` (and any ``login.*`` host, for a custom
cloud's authority).

Routes (no bearer token needed):

- ``GET /common/discovery/instance`` (instance discovery, asked for authorities MSAL does not know),
- ``GET /{tenant}/v2.0/.well-known/openid-configuration``,
- ``POST /{tenant}/oauth2/v2.0/devicecode`` → a user code; the test approves it with ``aad.approve(code)`` (or
  ``GET https://microsoft.com/devicelogin?code=…``, the verification URL), and until then, and for at least
  ``pending_polls`` polls, the token endpoint answers ``authorization_pending``,
- ``POST /{tenant}/oauth2/v2.0/token``: grants ``device_code``, ``refresh_token`` (``invalid_grant`` once the
  service's tokens are revoked or the refresh token was never issued), ``client_credentials`` (registered
  service principals: secret compared, a certificate's assertion accepted unsigned), ``authorization_code``,
- ``GET /{tenant}/oauth2/v2.0/authorize`` → 302 to the ``redirect_uri`` with a code (the user is signed in at once).

Access and refresh tokens start with ``studio-test-`` (the emulator accepts them); user sign-ins get an unsigned
id_token and ``client_info`` so MSAL builds an account and azure-identity an ``AuthenticationRecord``.
The controls are ``emulator.aad`` (an ``Aad``); ``reset()`` runs with the service's reset.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.azure_emulator.server import Emulator, Request, Response, json_response

LOGIN_HOST = r"login\.[a-z0-9.-]+"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
RESERVED_SCOPES = {"openid", "profile", "offline_access"}
DEFAULT_USER = "alice@studiotest.onmicrosoft.com"
DEFAULT_SP_CLIENT = "1d0c0000-0000-4000-8000-0000000051c1"
DEFAULT_SP_SECRET = "studio-secret-Zq8~sp.K3yV4lu3"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@dataclass
class DeviceCode:
    """One device-code sign-in in progress."""

    device_code: str
    user_code: str
    client_id: str
    tenant: str
    scope: str
    expires_at: float
    approved_as: str | None = None
    denied: bool = False
    polls: int = 0


@dataclass
class Aad:
    """The emulated directory's sign-in state and the tests' controls."""

    tenant_id: str
    users: dict[str, str] = field(default_factory=dict)
    """User name → object id (home account uid)."""
    service_principals: dict[str, str | None] = field(default_factory=dict)
    """Client id → secret (None: a certificate, whose assertion is accepted without checking its signature)."""
    pending_polls: int = 2
    """The token endpoint answers ``authorization_pending`` at least this many times per device code."""
    interval_s: int = 1
    expires_in_s: int = 900
    access_token_lifetime_s: int = 3599
    """MSAL refreshes a token 5 minutes before it expires: below 300 every silent call refreshes."""
    auto_approve_user: str | None = None
    """When set, every device code is approved as this user as soon as it is issued."""
    lock: threading.RLock = field(default_factory=threading.RLock)
    device_codes: dict[str, DeviceCode] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    """Refresh token → (user, client id, tenant)."""
    auth_codes: dict[str, tuple[str, str, str, str, str]] = field(default_factory=dict)
    """Authorization code → (user, client id, tenant, scope, nonce)."""
    prompts: list[str] = field(default_factory=list)
    """User codes issued, oldest first."""
    grants: list[str] = field(default_factory=list)
    """grant_type of every token request, oldest first."""
    revoked: bool = False
    """Refresh tokens refused (``invalid_grant``); the emulator's ``tokens_revoked`` counts as well."""

    def __post_init__(self) -> None:
        self._defaults = (self.pending_polls, self.interval_s, self.expires_in_s, self.access_token_lifetime_s)
        self.add_user(DEFAULT_USER)
        self.add_service_principal(DEFAULT_SP_CLIENT, DEFAULT_SP_SECRET)

    # --- controls -------------------------------------------------------------------------------------
    def add_user(self, username: str) -> str:
        """A user who can sign in; their object id."""
        with self.lock:
            return self.users.setdefault(username, str(uuid.uuid5(uuid.NAMESPACE_URL, f"user:{username}")))

    def add_service_principal(self, client_id: str, secret: str | None) -> None:
        """A service principal (``secret`` None: signs in with a certificate)."""
        with self.lock:
            self.service_principals[client_id] = secret

    def approve(self, user_code: str, username: str = DEFAULT_USER) -> None:
        """The user entered ``user_code`` and signed in as ``username``."""
        self.add_user(username)
        with self.lock:
            for code in self.device_codes.values():
                if code.user_code == user_code:
                    code.approved_as = username
                    return
        raise KeyError(f"no device code {user_code!r}")

    def deny(self, user_code: str) -> None:
        """The user declined the sign-in."""
        with self.lock:
            for code in self.device_codes.values():
                if code.user_code == user_code:
                    code.denied = True

    def reset(self) -> None:
        """Forget every code and token; the defaults come back."""
        with self.lock:
            self.device_codes.clear()
            self.refresh_tokens.clear()
            self.auth_codes.clear()
            self.prompts.clear()
            self.grants.clear()
            self.revoked = False
            self.auto_approve_user = None
            self.pending_polls, self.interval_s, self.expires_in_s, self.access_token_lifetime_s = self._defaults


def register(emulator: Emulator) -> None:
    """Add the sign-in routes and ``emulator.aad``."""
    state = getattr(emulator, "state", None)
    tenant_id = state.tenants[0].tenant_id if state is not None and state.tenants else str(uuid.uuid4())
    aad = Aad(tenant_id)
    emulator.aad = aad  # type: ignore[attr-defined]
    service = getattr(emulator, "service", None)
    if service is not None and not hasattr(service, "aad"):
        service.aad = aad
    _chain_reset(emulator, aad)

    def revoked() -> bool:
        return aad.revoked or bool(getattr(emulator, "tokens_revoked", False))

    emulator.route("GET", LOGIN_HOST, r"/common/discovery/instance", lambda r, m: _instance_discovery(r), auth=False)
    emulator.route(
        "GET",
        LOGIN_HOST,
        r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration",
        lambda r, m: _openid_configuration(r, m["tenant"], aad),
        auth=False,
    )
    emulator.route(
        "POST",
        LOGIN_HOST,
        r"/(?P<tenant>[^/]+)/oauth2/v2\.0/devicecode",
        lambda r, m: _device_code(r, m["tenant"], aad),
        auth=False,
    )
    emulator.route(
        "POST",
        LOGIN_HOST,
        r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token",
        lambda r, m: _token(r, m["tenant"], aad, revoked()),
        auth=False,
    )
    emulator.route(
        "GET",
        LOGIN_HOST,
        r"/(?P<tenant>[^/]+)/oauth2/v2\.0/authorize",
        lambda r, m: _authorize(r, m["tenant"], aad),
        auth=False,
    )
    emulator.route("GET", r"(www\.)?microsoft\.com", r"/devicelogin", lambda r, m: _device_login(r, aad), auth=False)


def _chain_reset(emulator: Emulator, aad: Aad) -> None:
    """Reset the sign-in state with the service's ``reset`` (the fixture calls it around every test)."""
    service = getattr(emulator, "service", None)
    if service is None or getattr(service, "_aad_reset_chained", False):
        return
    before = service.reset

    def reset() -> None:
        before()
        aad.reset()

    service.reset = reset
    service._aad_reset_chained = True


# --- answers --------------------------------------------------------------------------------------------


def _form(request: Request) -> dict[str, str]:
    return dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response(
        status,
        {
            "error": error,
            "error_description": f"AADSTS00000: {description}",
            "error_codes": [0],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
    )


def _tenant_of(aad: Aad, tenant: str) -> str:
    return tenant.lower() if _GUID.match(tenant) else aad.tenant_id


def _instance_discovery(request: Request) -> Response:
    endpoint = request.query.get("authorization_endpoint", "")
    parts = urlsplit(endpoint)
    instance = parts.hostname or request.host
    tenant = parts.path.strip("/").split("/")[0] or "common"
    return json_response(
        200,
        {
            "tenant_discovery_endpoint": f"https://{instance}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": instance, "preferred_cache": instance, "aliases": [instance]}],
        },
    )


def _openid_configuration(request: Request, tenant: str, aad: Aad) -> Response:
    base = f"https://{request.host}/{tenant}"
    issuer_tenant = tenant if _GUID.match(tenant) else "{tenantid}"
    return json_response(
        200,
        {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"https://{request.host}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"https://{request.host}/{issuer_tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
        },
    )


def _device_code(request: Request, tenant: str, aad: Aad) -> Response:
    form = _form(request)
    client_id = form.get("client_id", "")
    if not client_id:
        return _oauth_error("invalid_request", "The request body must contain client_id.")
    user_code = "".join(uuid.uuid4().hex.upper()[:9])
    code = DeviceCode(
        device_code="studio-test-dc-" + uuid.uuid4().hex,
        user_code=user_code,
        client_id=client_id,
        tenant=_tenant_of(aad, tenant),
        scope=form.get("scope", ""),
        expires_at=time.time() + aad.expires_in_s,
    )
    with aad.lock:
        if aad.auto_approve_user:
            code.approved_as = aad.auto_approve_user
            aad.add_user(aad.auto_approve_user)
        aad.device_codes[code.device_code] = code
        aad.prompts.append(user_code)
    uri = "https://microsoft.com/devicelogin"
    return json_response(
        200,
        {
            "user_code": user_code,
            "device_code": code.device_code,
            "verification_uri": uri,
            "expires_in": aad.expires_in_s,
            "interval": aad.interval_s,
            "message": f"To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate.",
        },
    )


def _device_login(request: Request, aad: Aad) -> Response:
    code = request.query.get("code", "")
    try:
        aad.approve(code, request.query.get("user", DEFAULT_USER))
    except KeyError:
        return Response(404, b"unknown code", {"Content-Type": "text/plain"})
    return Response(200, b"<html><body>You have signed in.</body></html>", {"Content-Type": "text/html"})


def _token(request: Request, tenant: str, aad: Aad, revoked: bool) -> Response:
    form = _form(request)
    grant = form.get("grant_type", "")
    with aad.lock:
        aad.grants.append(grant)
    if grant == DEVICE_GRANT:
        return _device_grant(request, form, aad)
    if grant == "refresh_token":
        with aad.lock:
            owner = aad.refresh_tokens.get(form.get("refresh_token", ""))
        if owner is None or revoked:
            return _oauth_error(
                "invalid_grant",
                "The refresh token has expired or was revoked. The user must sign in again.",
            )
        user, client_id, user_tenant = owner
        return _user_tokens(request, aad, user, client_id, user_tenant, form.get("scope", ""))
    if grant == "client_credentials":
        return _client_credentials(form, aad, _tenant_of(aad, tenant))
    if grant == "authorization_code":
        with aad.lock:
            issued = aad.auth_codes.pop(form.get("code", ""), None)
        if issued is None:
            return _oauth_error("invalid_grant", "The authorization code is invalid or was already used.")
        user, client_id, user_tenant, scope, nonce = issued
        return _user_tokens(request, aad, user, client_id, user_tenant, form.get("scope", "") or scope, nonce)
    return _oauth_error("unsupported_grant_type", f"The grant type {grant!r} is not supported here.")


def _device_grant(request: Request, form: dict[str, str], aad: Aad) -> Response:
    with aad.lock:
        code = aad.device_codes.get(form.get("device_code", ""))
        if code is None:
            return _oauth_error("invalid_grant", "The device code is unknown.")
        code.polls += 1
        if time.time() > code.expires_at:
            return _oauth_error("expired_token", "The device code expired.")
        if code.denied:
            return _oauth_error("authorization_declined", "The user declined the sign-in.")
        if code.approved_as is None or code.polls <= aad.pending_polls:
            return _oauth_error("authorization_pending", "The user has not yet finished signing in.")
        del aad.device_codes[code.device_code]
        user = code.approved_as
    return _user_tokens(request, aad, user, code.client_id, code.tenant, form.get("scope", "") or code.scope)


def _client_credentials(form: dict[str, str], aad: Aad, tenant: str) -> Response:
    client_id = form.get("client_id", "")
    with aad.lock:
        known = client_id in aad.service_principals
        secret = aad.service_principals.get(client_id)
    if not known:
        return _oauth_error(
            "unauthorized_client", f"Application with identifier '{client_id}' was not found in the directory.", 400
        )
    if secret is None:
        if not form.get("client_assertion"):
            return _oauth_error("invalid_client", "The client must authenticate with its certificate.", 401)
    elif form.get("client_secret") != secret:
        return _oauth_error("invalid_client", "Invalid client secret provided.", 401)
    return json_response(
        200,
        {
            "token_type": "Bearer",
            "expires_in": aad.access_token_lifetime_s,
            "ext_expires_in": aad.access_token_lifetime_s,
            "access_token": "studio-test-sp-" + uuid.uuid4().hex,
        },
    )


def _authorize(request: Request, tenant: str, aad: Aad) -> Response:
    redirect = request.query.get("redirect_uri", "")
    if not redirect.startswith("http://localhost") and not redirect.startswith("http://127.0.0.1"):
        return _oauth_error("invalid_request", "The redirect URI must be a loopback address.")
    user = aad.auto_approve_user or DEFAULT_USER
    aad.add_user(user)
    code = "studio-test-ac-" + uuid.uuid4().hex
    with aad.lock:
        aad.auth_codes[code] = (
            user,
            request.query.get("client_id", ""),
            _tenant_of(aad, tenant),
            request.query.get("scope", ""),
            request.query.get("nonce", ""),
        )
    params = {"code": code, "state": request.query.get("state", ""), "session_state": str(uuid.uuid4())}
    joiner = "&" if "?" in redirect else "?"
    return Response(302, b"", {"Location": f"{redirect}{joiner}{urlencode(params)}"})


def _user_tokens(
    request: Request, aad: Aad, user: str, client_id: str, tenant: str, scope: str, nonce: str = ""
) -> Response:
    oid = aad.add_user(user)
    now = int(time.time())
    claims = {
        "aud": client_id,
        "iss": f"https://{request.host}/{tenant}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "name": user.split("@")[0].title(),
        "oid": oid,
        "preferred_username": user,
        "sub": uuid.uuid5(uuid.NAMESPACE_URL, f"sub:{user}:{client_id}").hex,
        "tid": tenant,
        "ver": "2.0",
    }
    if nonce:
        claims["nonce"] = nonce  # the authorize request's, as MSAL checks in the browser flow
    refresh = "studio-test-rt-" + uuid.uuid4().hex
    with aad.lock:
        aad.refresh_tokens[refresh] = (user, client_id, tenant)
    granted = " ".join(s for s in scope.split() if s not in RESERVED_SCOPES)
    return json_response(
        200,
        {
            "token_type": "Bearer",
            "scope": granted,
            "expires_in": aad.access_token_lifetime_s,
            "ext_expires_in": aad.access_token_lifetime_s,
            "access_token": "studio-test-aad-" + uuid.uuid4().hex,
            "refresh_token": refresh,
            "id_token": _unsigned_jwt(claims),
            "client_info": _b64({"uid": oid, "utid": tenant}),
        },
    )


def _b64(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    return f"{_b64({'typ': 'JWT', 'alg': 'none'})}.{_b64(claims)}."
