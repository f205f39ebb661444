"""ArtifactStore: the workspace's artifact store (``workspaceartifactstore``) as a blob container client.

Resolved once per workspace from ARM (``GET {WS}/datastores/workspaceartifactstore``): the storage account, its
container (never written in the code), the storage endpoint suffix and how the datastore holds its credentials.
A datastore with an account key or a SAS hands out a short-lived secret (``POST …/listSecrets`` with
``expirableSecret``), asked at the first use, kept at most ``SECRET_TTL_S`` and asked again after that, or at
once when storage refuses it; an identity-based datastore (``None``), or an account without the right to read
the secret (403), uses the user's own credential (the Storage Blob Data Reader role then applies).

Every storage call goes through one requests session that keeps ``trust_env`` (``HTTPS_PROXY``, ``NO_PROXY``,
``REQUESTS_CA_BUNDLE`` apply), with connect and read timeouts so a hang ends, a pool large enough for the
parallel downloads, and short retries of 5xx (storage's own policy waits 15 s and more between tries).
Failures become studio errors with sentences (``ArtifactStore.error``), never holding a key or a SAS signature. Imported only when an Azure workspace opens;
``azure.storage.blob`` itself is imported inside functions.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from studio.core.errors import StudioError
from studio.workspaces.azure.errors import (
    AzureAuthError,
    AzureError,
    AzureNotFoundError,
    AzureServerError,
    AzureUnreachableError,
    from_azure_exception,
)

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

DATASTORE = "workspaceartifactstore"
API_VERSION = "2024-10-01-preview"
SECRET_TTL_S = 50 * 60.0
"""How long a listed secret is used: it is asked to expire after an hour, so it is renewed ahead of that."""
SECRET_TYPES = ("AccountKey", "Sas")
READER_ROLE = "Storage Blob Data Reader"
BLOCK_GET = 4 << 20
"""Bytes per GET of a download (the SDK's first GET defaults to 32 MiB in one piece, too coarse to cancel)."""
_SIGNATURE = re.compile(r"\b((?:sig|skoid|sktid)=)[^&\s'\"]+", re.IGNORECASE)
POOL_SIZE = 40
"""Pooled connections per host: 8 files at a time, 4 ranges of each, and the listings beside them."""


class ArmCalls(Protocol):
    """What ArtifactStore needs of ``arm_client.ArmClient``."""

    def get_json(self, path: str, params: Mapping[str, Any] | None = None, *, what: str = "") -> dict[str, Any]:
        """GET a JSON object."""
        ...

    def post_json(
        self, path: str, params: Mapping[str, Any] | None = None, body: Any = None, *, what: str = ""
    ) -> dict[str, Any]:
        """POST JSON, get a JSON object."""
        ...


class HasStorageSuffix(Protocol):
    """What ArtifactStore needs of ``cloud.AzureCloud``."""

    @property
    def storage_suffix(self) -> str:
        """The cloud's storage endpoint suffix (``core.windows.net`` for the public cloud)."""
        ...


@dataclass(frozen=True)
class StorageTimeouts:
    """Seconds to connect and between bytes of an answer; tries and backoff of storage's retry policy."""

    connect_s: float = 10.0
    read_s: float = 30.0
    retry_total: int = 3
    backoff_s: float = 0.5
    backoff_base: float = 2.0


@dataclass(frozen=True)
class Secret:
    """A listed datastore secret: an account key or a SAS token (never logged, never in a repr)."""

    kind: str
    value: str = ""

    def __repr__(self) -> str:
        return f"Secret({self.kind!r}, <hidden>)"


class ArtifactStore:
    """The container of a workspace's artifact store, with the credential that reads it."""

    def __init__(
        self,
        *,
        account_url: str,
        container_name: str,
        credential: Any,
        credentials_type: str = "None",
        list_secret: Callable[[], Secret | None] | None = None,
        timeouts: StorageTimeouts | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``list_secret`` asks the service for a fresh secret (None: use ``credential``, the user's own)."""
        self.account_url = account_url.rstrip("/")
        self.container_name = container_name
        self.credentials_type = credentials_type
        self.timeouts = timeouts or StorageTimeouts()
        self.host = urlsplit(self.account_url).hostname or self.account_url
        self._credential = credential
        self._list_secret = list_secret
        self._clock = clock
        self._lock = threading.Lock()
        self._client: ContainerClient | None = None
        self._client_secret: Secret | None = None
        self._asked_at = 0.0
        self._uses_secret = list_secret is not None
        self._retired: list[ContainerClient] = []
        self._session: Any = None
        self._transport: Any = None
        self.secrets_asked = 0
        """How many times a secret was listed (a test and a benchmark count them)."""

    def __repr__(self) -> str:
        return f"ArtifactStore({self.account_url!r}, {self.container_name!r}, {self.credentials_type!r})"

    @classmethod
    def resolve(
        cls,
        arm: ArmCalls,
        ws_arm_path: str,
        credential: Any,
        cloud: HasStorageSuffix,
        *,
        timeouts: StorageTimeouts | None = None,
        datastore: str = DATASTORE,
    ) -> ArtifactStore:
        """Read the workspace's artifact store (or another blob ``datastore`` of it, e.g. where a named output
        went) from ARM: one GET; the secret is asked at the first use."""
        path = f"{ws_arm_path.rstrip('/')}/datastores/{datastore}"
        document = arm.get_json(path, {"api-version": API_VERSION}, what=f"the workspace's datastore {datastore!r}")
        props = document.get("properties") or {}
        account = str(props.get("accountName") or "")
        container = str(props.get("containerName") or "")
        if not account or not container:
            raise AzureError(
                f"The workspace's datastore {datastore!r} does not name a blob storage account and container: "
                "it may be another kind of datastore, or damaged; check it in Azure ML studio."
            )
        endpoint = str(props.get("endpoint") or cloud.storage_suffix).strip(".")
        protocol = str(props.get("protocol") or "https")
        credentials = props.get("credentials") or {}
        kind = str(credentials.get("credentialsType") or "None")
        list_secret = None
        if kind in SECRET_TYPES:

            def list_secret() -> Secret | None:
                return _list_secret(arm, path)

        return cls(
            account_url=f"{protocol}://{account}.blob.{endpoint}",
            container_name=container,
            credential=credential,
            credentials_type=kind,
            list_secret=list_secret,
            timeouts=timeouts,
        )

    # -- clients ------------------------------------------------------------------------------

    def container(self) -> ContainerClient:
        """The container client, built at the first use and again once its secret is due for renewal."""
        with self._lock:
            due = self._uses_secret and self._clock() - self._asked_at >= SECRET_TTL_S
            if self._client is None or due:
                self._build(renew=True)
            assert self._client is not None
            return self._client

    def renew_secret(self, refused: ContainerClient) -> bool:
        """After storage refused ``refused``'s secret: ask a new one (once per client). False if nothing changed."""
        with self._lock:
            if not self._uses_secret:
                return False
            if self._client is not refused:
                return True  # another thread renewed it meanwhile
            self._build(renew=True)
            return True

    def _build(self, *, renew: bool) -> None:
        from azure.core.credentials import AzureSasCredential

        secret: Secret | None = None
        if self._uses_secret and renew and self._list_secret is not None:
            self.secrets_asked += 1
            secret = self._list_secret()
            self._asked_at = self._clock()
            if secret is None:
                self._uses_secret = False  # the account may not read secrets: its own identity reads the blobs
        credential: Any
        if secret is None:
            credential = self._credential
        elif secret.kind == "Sas":
            credential = AzureSasCredential(secret.value.lstrip("?"))
        else:
            credential = {"account_name": self.account_name, "account_key": secret.value}
        if self._client is not None:
            self._retired.append(self._client)  # a download may still use it; closed with the store
        self._client = self._new_client(credential)
        self._client_secret = secret

    @property
    def account_name(self) -> str:
        """The storage account: the first label of the account URL's host, or its path's first segment when the
        host is an address (Azurite's path-style URLs)."""
        if self.host.replace(".", "").isdigit() or ":" in self.host:
            return urlsplit(self.account_url).path.strip("/").split("/", 1)[0]
        return self.host.split(".", 1)[0]

    def _new_client(self, credential: Any) -> ContainerClient:
        from azure.storage.blob import ContainerClient, ExponentialRetry

        timeouts = self.timeouts
        return ContainerClient(
            self.account_url,
            self.container_name,
            credential=credential,
            transport=self._shared_transport(),
            retry_policy=ExponentialRetry(
                initial_backoff=timeouts.backoff_s,  # type: ignore[arg-type]  # seconds, fractions work
                increment_base=timeouts.backoff_base,  # type: ignore[arg-type]
                retry_total=timeouts.retry_total,
                random_jitter_range=0,
            ),
            max_single_get_size=BLOCK_GET,
            max_chunk_get_size=BLOCK_GET,
        )

    def _shared_transport(self) -> Any:
        """One requests session for every client of the store: env proxy and CA, timeouts, a pool of POOL_SIZE."""
        if self._transport is None:
            import requests
            from azure.core.pipeline.transport import RequestsTransport
            from urllib3.util.retry import Retry

            session = requests.Session()
            session.trust_env = True
            adapter = requests.adapters.HTTPAdapter(
                pool_connections=4,
                pool_maxsize=POOL_SIZE,
                max_retries=Retry(total=False, redirect=False, raise_on_status=False),
            )
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._session = session
            self._transport = RequestsTransport(
                session=session,
                session_owner=False,
                connection_timeout=self.timeouts.connect_s,
                read_timeout=self.timeouts.read_s,
            )
        return self._transport

    def close(self) -> None:
        """Close the clients and their pooled connections."""
        with self._lock:
            clients = [*self._retired, *([self._client] if self._client is not None else [])]
            self._retired, self._client = [], None
            session, self._session, self._transport = self._session, None, None
        for client in clients:
            client.close()
        if session is not None:
            session.close()

    # -- errors -------------------------------------------------------------------------------

    def error(self, exc: BaseException, what: str = "") -> StudioError:
        """A studio error, with a sentence, for a storage failure about ``what`` ("the file 'x' of run y")."""
        if isinstance(exc, StudioError):
            return exc
        status = getattr(exc, "status_code", None)
        code = getattr(exc, "error_code", None)
        code = str(code.value if hasattr(code, "value") else code) if code else None
        about = f" {what}" if what else ""
        where = f"the workspace's artifact store (storage account {self.account_name})"
        if status == 404:
            if code == "ContainerNotFound":
                return AzureNotFoundError(
                    f"{where[0].upper()}{where[1:]} has no container {self.container_name!r}: "
                    "the workspace's datastore 'workspaceartifactstore' may point at a deleted container.",
                    status=404,
                    code=code,
                )
            subject = what[:1].upper() + what[1:] if what else "The file"
            return AzureNotFoundError(f"{subject} is not in {where}.", status=404, code=code)
        if status == 403:
            if self._uses_secret:
                reason = (
                    "the access key or SAS the workspace gave was refused; try again, and if it keeps failing "
                    "ask an owner to check the datastore's credentials"
                )
            elif code in ("AuthenticationFailed", "InvalidAuthenticationInfo"):
                reason = "it did not accept your sign-in; sign in again"
            else:
                reason = (
                    f"your account needs the {READER_ROLE} role on the storage account (or its firewall "
                    "does not admit this network)"
                )
            return AzureAuthError(
                f"Access to{about or ' files'} in {where} was refused (HTTP 403): {reason}.", status=403, code=code
            )
        if status == 401:
            return AzureAuthError(
                f"Azure storage ({self.host}) refused the sign-in (HTTP 401): sign in again.", status=401, code=code
            )
        if isinstance(status, int) and status >= 500:
            return AzureServerError(
                f"Azure storage ({self.host}) failed{' reading' + about if about else ''} (HTTP {status}, "
                f"after {self.timeouts.retry_total + 1} tries): try again later.",
                status=status,
                code=code,
            )
        if code in ("ConditionNotMet", "BlobOverwritten") or status == 412:
            return AzureError(
                f"{what[:1].upper() + what[1:] if what else 'A file'} changed while it was read: try again.",
                status=status,
                code=code,
            )
        if status is None and _broke_off(exc):
            return AzureUnreachableError(
                f"The connection to Azure storage ({self.host}) broke off while reading{about or ' a file'}: "
                "check the network and try again."
            )
        error = from_azure_exception(exc, host=self.host, what=what)
        scrubbed = _SIGNATURE.sub(r"\1<hidden>", str(error))
        if scrubbed != str(error):  # a SAS signature in a URL the exception quoted: never in a message
            error.args = (scrubbed,)
        return error


def _list_secret(arm: ArmCalls, datastore_path: str) -> Secret | None:
    """A fresh secret of the datastore; None when the account may not list it (403: use its own identity)."""
    try:
        document = arm.post_json(
            f"{datastore_path}/listSecrets",
            {"api-version": API_VERSION},
            {"expirableSecret": True, "expireAfterHours": 1},
            what="the artifact store's access key",
        )
    except AzureError as exc:
        if exc.status == 403:
            return None
        raise
    kind = str(document.get("secretsType") or "")
    if kind == "AccountKey" and document.get("key"):
        return Secret("AccountKey", str(document["key"]))
    if kind == "Sas" and document.get("sasToken"):
        return Secret("Sas", str(document["sasToken"]))
    return None


def _broke_off(exc: BaseException) -> bool:
    """The answer stopped mid-body (a dropped connection, an incomplete read), however the SDK wrapped it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names = {cls.__name__ for cls in type(current).__mro__}
        if names & {"IncompleteReadError", "IncompleteRead", "ProtocolError", "ChunkedEncodingError"}:
            return True
        text = str(current).lower()
        timed_out = "Timeout" in " ".join(names) or "timed out" in text or "timeout" in text
        if "connection broken" in text or ("ServiceResponseError" in names and not timed_out):
            return True
        inner = getattr(current, "inner_exception", None) or getattr(current, "error", None)
        current = inner if isinstance(inner, BaseException) else (current.__cause__ or current.__context__)
    return False


def is_auth_refusal(exc: BaseException) -> bool:
    """Storage refused the credential itself (a secret expired or rotated), not the account's rights."""
    code = getattr(exc, "error_code", None)
    code = str(code.value if hasattr(code, "value") else code) if code else ""
    return getattr(exc, "status_code", None) == 403 and code in (
        "AuthenticationFailed",
        "InvalidAuthenticationInfo",
        "AuthorizationFailure",
    )
