"""AzureAccountDirectory: the Azure kind's accounts, their subscriptions and workspaces (``studio.core.accounts``).

Cheap calls (``sign_in_methods``, ``accounts``, consent, ``remember_account_for``, ``workspace_from_config``)
read only ``azure.json``, PATH and local files; the rest reach the network and load azure-identity /
azure-ai-ml on first use, so the window calls them on worker threads. Credentials are built once per account
and reused until it signs out or signs in again.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.accounts import (
    AccountInfo,
    DeviceCodePrompt,
    RemoteWorkspaceInfo,
    SignInField,
    SignInMethod,
    SubscriptionInfo,
)
from studio.core.errors import AuthenticationError, NotFoundError, StudioError, UnknownLocationError
from studio.core.tasks import CancelToken
from studio.workspaces.azure import identity
from studio.workspaces.azure.opener import parse_location
from studio.workspaces.azure.settings_store import AccountRecord, AzureSettings, load_settings, update_settings

if TYPE_CHECKING:
    from studio.workspaces.azure.arm_directory import TenantInfo
    from studio.workspaces.azure.cloud import AzureCloud

_TENANT = SignInField(
    "tenant", "Tenant (directory)", optional=True, placeholder="organizations, a tenant id or a domain"
)
# An ARM id as config.json's "Scope" (and the portal's "Download config.json") spells it.
_ARM_ID = re.compile(
    r"^/?subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)/?$",
    re.IGNORECASE,
)
CONFIG_FOLDERS = (".azureml", "aml_config", "")


class AzureAccountDirectory:
    """Accounts of the Azure kind (``studio.core.accounts.AccountDirectory``)."""

    def __init__(self, cloud: AzureCloud | None = None) -> None:
        self._cloud = cloud
        self._lock = threading.Lock()
        self._credentials: dict[str, identity.AccountCredential] = {}

    def __repr__(self) -> str:
        return "AzureAccountDirectory()"

    # --- cheap ------------------------------------------------------------------------------------------------

    def sign_in_methods(self) -> list[SignInMethod]:
        """Browser, device code, Azure CLI (available only with ``az`` on PATH), service principal."""
        has_az = shutil.which("az") is not None
        return [
            SignInMethod("browser", "Web browser", (_TENANT,), note="Opens the sign-in page in your web browser."),
            SignInMethod(
                "device_code",
                "Device code",
                (_TENANT,),
                note="Shows a code to enter on Microsoft's sign-in page, in any browser or on another device.",
            ),
            SignInMethod(
                "cli",
                "Azure CLI",
                (_TENANT,),
                available=has_az,
                note=(
                    "Uses the account of `az login`."
                    if has_az
                    else "The Azure CLI (az) is not on PATH: install it and run `az login`."
                ),
            ),
            SignInMethod(
                "service_principal",
                "Service principal",
                (
                    SignInField("tenant", "Tenant id", placeholder="00000000-0000-0000-0000-000000000000"),
                    SignInField("client_id", "Client (application) id"),
                    SignInField("secret", "Client secret", secret=True, optional=True),
                    SignInField(
                        "certificate", "Certificate file", optional=True, kind="file", placeholder="PEM or PKCS12"
                    ),
                ),
                note="A client secret, or a certificate file (its password, if any, as the secret). "
                "The secret is kept in the system keyring only.",
            ),
        ]

    def accounts(self) -> list[AccountInfo]:
        """The saved accounts (state "unknown": not checked)."""
        return [_info(record) for record in load_settings().accounts]

    def unencrypted_cache_allowed(self) -> bool | None:
        """The user's answer to keeping the token cache in a plain file (None: never asked)."""
        return load_settings().allow_unencrypted_cache

    def set_unencrypted_cache_allowed(self, allowed: bool) -> None:
        """Remember the answer (credentials built before are dropped: they used the old answer)."""

        def change(settings: AzureSettings) -> None:
            settings.allow_unencrypted_cache = bool(allowed)

        update_settings(change)
        with self._lock:
            self._credentials.clear()

    def remember_account_for(self, location: str, account_id: str) -> None:
        """Open ``location`` with ``account_id`` from now on (the window and ``credential_for_location``)."""
        key = str(parse_location(location))

        def change(settings: AzureSettings) -> None:
            if settings.account(account_id) is None:
                raise NotFoundError(f"No saved Azure account {account_id!r}: sign in first.")
            settings.workspace_accounts[key] = account_id

        update_settings(change)

    def workspace_from_config(self, path: Path) -> RemoteWorkspaceInfo:
        """The workspace a ``config.json`` names (a file, or a folder holding ``config.json`` directly or in
        ``.azureml/`` or ``aml_config/``, as ``Workspace.from_config`` looks): ``subscription_id``,
        ``resource_group`` and ``workspace_name``, or an ARM id in ``Scope``. ValueError with a sentence otherwise."""
        file = _config_file(Path(path))
        try:
            document = json.loads(file.read_text(encoding="utf-8-sig"))
        except OSError as exc:
            raise ValueError(f"Cannot read {file} ({exc.strerror or type(exc).__name__}).") from None
        except ValueError:
            raise ValueError(f"{file} is not a JSON file.") from None
        if not isinstance(document, dict):
            raise ValueError(f"{file} does not hold a JSON object.")
        sub, rg, ws = _config_names(document, file)
        try:
            location = parse_location(f"azureml://subscriptions/{sub}/resourcegroups/{rg}/workspaces/{ws}")
        except UnknownLocationError as exc:
            raise ValueError(f"{file} names no valid workspace: {exc}") from None
        return RemoteWorkspaceInfo(
            location=str(location),
            name=location.workspace_name,
            resource_group=location.resource_group,
            subscription_id=location.subscription_id,
        )

    # --- network ----------------------------------------------------------------------------------------------

    def sign_in(
        self,
        method_id: str,
        values: Mapping[str, str],
        *,
        prompt: Callable[[DeviceCodePrompt], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> AccountInfo:
        """Sign in with ``method_id`` and save the account (replacing one with the same id). ``values`` holds
        the method's fields ("tenant"; for a service principal "client_id", "secret", "certificate").
        ConsentRequired (browser, device code) before any network call when the token cache needs consent;
        CancelledError when ``cancel`` is set; AuthenticationError / WorkspaceError with a sentence otherwise."""
        cloud = self.cloud()
        tenant = (values.get("tenant") or "").strip()
        allowed = load_settings().allow_unencrypted_cache
        if method_id == "device_code":
            record = identity.sign_in_device_code(
                cloud, tenant_id=tenant, allowed=allowed, prompt=prompt, cancel=cancel
            )
        elif method_id == "browser":
            record = identity.sign_in_browser(cloud, tenant_id=tenant, allowed=allowed, cancel=cancel)
        elif method_id == "cli":
            record = identity.sign_in_cli(cloud, tenant_id=tenant, cancel=cancel)
        elif method_id == "service_principal":
            record = identity.sign_in_service_principal(
                cloud,
                tenant_id=tenant,
                client_id=values.get("client_id", ""),
                secret=values.get("secret", ""),
                certificate_path=values.get("certificate", ""),
                cancel=cancel,
            )
        else:
            raise ValueError(f"Unknown sign-in method {method_id!r}.")

        def change(settings: AzureSettings) -> None:
            settings.put_account(record)

        update_settings(change)
        with self._lock:
            self._credentials.pop(record.account_id, None)
        return _info(record, "signed-in")

    def sign_out(self, account_id: str) -> None:
        """Forget the account: its entry in ``azure.json`` (and the workspaces remembered for it), every entry of
        its home account in the persistent token cache (refresh, access and id tokens, the account: removed from
        the cache directly, as MSAL's ``remove_account`` does), its keyring secret (service principals).

        What stays: the Azure CLI's own sign-in (``az logout`` ends it); the browser's session cookie at the
        sign-in page (the next browser sign-in may not ask for the password); tokens already held in memory by
        workspaces open with this account, until they close."""
        holder: dict[str, AccountRecord | None] = {}

        def change(settings: AzureSettings) -> None:
            holder["record"] = settings.remove_account(account_id)

        settings = update_settings(change)
        with self._lock:
            credential = self._credentials.pop(account_id, None)
        if credential is not None:
            credential.close()
        record = holder.get("record")
        if record is not None:
            identity.sign_out_account(record, settings)

    def check_account(self, account_id: str) -> AccountInfo:
        """A silent token and one cheap ARM call (``GET /tenants``, first page): "signed-in", or "expired" with
        a sentence (the refresh token is gone or the service refuses the token). "unknown" with the reason when
        Azure cannot be reached."""
        record = self._record(account_id)
        try:
            arm = self._arm(account_id)
            try:
                arm.get_json("/tenants", {"api-version": "2022-12-01"}, what="the account's directories")
            finally:
                arm.close()
        except AuthenticationError as exc:
            if record.method_id in identity.USER_METHODS and _cache_kept_in_memory():
                detail = (
                    f"The sign-in of {record.label} is not kept between starts (you chose not to keep the token "
                    "cache in a file): sign in again."
                )
                return _info(record, "expired", detail)
            return _info(record, "expired", _expired_sentence(record, exc))
        except StudioError as exc:
            return _info(record, "unknown", str(exc))
        return _info(record, "signed-in")

    def tenants(self, account_id: str) -> list[TenantInfo]:
        """The tenants (directories) the account belongs to, every page (network)."""
        from studio.workspaces.azure.arm_directory import list_tenants

        arm = self._arm(account_id)
        try:
            return list_tenants(arm)
        finally:
            arm.close()

    def subscriptions(self, account_id: str) -> list[SubscriptionInfo]:
        """The subscriptions the account sees, every page (network)."""
        from studio.workspaces.azure.arm_directory import list_subscriptions

        arm = self._arm(account_id)
        try:
            return list_subscriptions(arm)
        finally:
            arm.close()

    def workspaces(self, account_id: str, subscription_ids: Sequence[str]) -> list[RemoteWorkspaceInfo]:
        """The Azure ML workspaces of those subscriptions, four subscriptions at a time (network)."""
        from studio.workspaces.azure.arm_directory import list_workspaces

        return list_workspaces(self.credential(account_id), self.cloud(), subscription_ids)

    # --- helpers ----------------------------------------------------------------------------------------------

    def cloud(self) -> AzureCloud:
        """The cloud of these accounts (the settings' cloud unless one was given)."""
        if self._cloud is None:
            from studio.workspaces.azure.cloud import load_cloud

            self._cloud = load_cloud()
        return self._cloud

    def credential(self, account_id: str) -> identity.AccountCredential:
        """The account's credential (built once, reused)."""
        with self._lock:
            credential = self._credentials.get(account_id)
        if credential is not None:
            return credential
        record = self._record(account_id)
        credential = identity.credential_for_account(record, self.cloud())
        with self._lock:
            return self._credentials.setdefault(account_id, credential)

    def _record(self, account_id: str) -> AccountRecord:
        record = load_settings().account(account_id)
        if record is None:
            raise NotFoundError(f"No saved Azure account {account_id!r}: sign in first.")
        return record

    def _arm(self, account_id: str) -> Any:
        from studio.workspaces.azure.arm_client import ArmClient

        return ArmClient(self.credential(account_id), self.cloud())


def _info(record: AccountRecord, state: str = "unknown", detail: str = "") -> AccountInfo:
    return AccountInfo(
        account_id=record.account_id,
        label=record.label,
        method_id=record.method_id,
        tenant_id=record.tenant_id or _record_tenant(record),
        state=state,
        detail=detail,
    )


def _record_tenant(record: AccountRecord) -> str:
    if not record.authentication_record:
        return ""
    try:
        tenant = json.loads(record.authentication_record).get("tenantId", "")
    except (ValueError, AttributeError):
        return ""
    return tenant if isinstance(tenant, str) else ""


def _cache_kept_in_memory() -> bool:
    """True when user sign-ins live only for the run: no encrypted store, and the user refused a plain file."""
    return load_settings().allow_unencrypted_cache is False and not identity.encrypted_cache_available()


def _expired_sentence(record: AccountRecord, exc: AuthenticationError) -> str:
    text = str(exc)
    if "sign in again" in text.lower() or "az login" in text:
        return text
    return f"The sign-in of {record.label} expired or was refused: sign in again."


def _config_file(path: Path) -> Path:
    if path.is_dir():
        for folder in CONFIG_FOLDERS:
            candidate = path / folder / "config.json" if folder else path / "config.json"
            if candidate.is_file():
                return candidate
        raise ValueError(f"{path} holds no config.json (nor .azureml/config.json).")
    return path


def _config_names(document: Mapping[str, Any], file: Path) -> tuple[str, str, str]:
    scope = document.get("Scope") or document.get("scope")
    if isinstance(scope, str) and scope.strip():
        match = _ARM_ID.match(scope.strip())
        if not match:
            raise ValueError(f"{file}: its Scope is not an Azure ML workspace's resource id.")
        return match["sub"], match["rg"], match["ws"]
    names = []
    for key in ("subscription_id", "resource_group", "workspace_name"):
        value = document.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(
                f"{file} does not name a workspace: it needs subscription_id, resource_group and workspace_name."
            )
        names.append(value.strip())
    return names[0], names[1], names[2]
