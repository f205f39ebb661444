"""The offline Azure ML service for the tests (pytest plugin): ``azure_service`` (session) and ``azure_env``.

``azure_service`` starts, in parallel, a real ``mlflow server`` (the tracking store behind the emulator's
MLflow endpoint) and Azurite (the artifact store), then the HTTPS emulator (tests/azure_emulator) and the
loopback CONNECT proxy; it returns at once when Azurite listens (the mlflow server is waited for on first
use: ``mlflow_url`` or the first MLflow/job request). ``azure_env`` points a test's process at it the way
decision 1 of the brief says (proxy, CA bundle, fake ``az`` first on PATH, ``AZURE_*`` cleared) and resets
the service's faults, latency, log, job statuses and tokens afterwards.

    def test_x(azure_env):
        client = MLClient(azure_env.credential(), azure_env.subscription_id, azure_env.resource_group,
                          azure_env.workspace_name, cloud="AzureCloud")
        azure_env.fail(r"/jobs/", 503)          # the next jobs request gets a 503
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.azure_emulator.azurite import ACCOUNT_KEY, ACCOUNT_NAME, Azurite, launch_azurite
from tests.azure_emulator.certs import TestCertificates, make_certificates
from tests.azure_emulator.credentials import StaticTokenCredential
from tests.azure_emulator.fake_az import FakeAz
from tests.azure_emulator.proxy import ConnectProxy, blob_or_emulator
from tests.azure_emulator.server import Emulator, RecordedRequest
from tests.azure_emulator.state import EmulatorState, Subscription, Tenant, Workspace
from tests.azure_emulator.upstream import MlflowUpstream

TENANT_ID = "72f988bf-0000-4000-8000-0000000057d1"
SUBSCRIPTION_ID = "5f2c9a41-0000-4000-8000-00000000a0b1"
RESOURCE_GROUP = "studio-rg"
WORKSPACE_NAME = "studio-ws"
ARTIFACT_CONTAINER = "azureml"
ROUTE_MODULES = ("tests.azure_emulator.arm", "tests.azure_emulator.run_history", "tests.azure_emulator.mlflow_front")
# Mounted when the module exists: sign-in's AAD endpoints, compute instances and clusters, job submission.
OPTIONAL_ROUTE_MODULES = ("tests.azure_emulator.aad", "tests.azure_emulator.compute", "tests.azure_emulator.submit")
CLEARED_ENV_PREFIXES = ("AZURE_", "AZUREML_", "MSI_", "IDENTITY_")
CLEARED_ENV = ("ARM_CLOUD_METADATA_URL", "http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy")


class AzureService:
    """The running emulator, proxy, Azurite and mlflow server, and the controls tests use."""

    def __init__(
        self,
        certs: TestCertificates,
        emulator: Emulator,
        proxy: ConnectProxy,
        azurite: Azurite,
        upstream: MlflowUpstream,
        state: EmulatorState,
        fake_az: FakeAz,
    ) -> None:
        self.certs = certs
        self.emulator = emulator
        self.proxy = proxy
        self.azurite = azurite
        self.upstream = upstream
        self.state = state
        self.fake_az = fake_az
        self.ca_path: Path = certs.ca_path
        self.proxy_url: str = proxy.url
        self.tenant_id = TENANT_ID
        self.subscription_id = SUBSCRIPTION_ID
        self.resource_group = RESOURCE_GROUP
        self.workspace_name = WORKSPACE_NAME
        self.location = (
            f"azureml://subscriptions/{SUBSCRIPTION_ID}/resourcegroups/{RESOURCE_GROUP}/workspaces/{WORKSPACE_NAME}"
        )
        self.account_name = ACCOUNT_NAME
        self.account_key = ACCOUNT_KEY
        self.artifact_container = ARTIFACT_CONTAINER

    # --- where things are ----------------------------------------------------------------------------
    @property
    def mlflow_url(self) -> str:
        """The real mlflow server behind the emulator (``http://127.0.0.1:…``): fill it with ``MlflowClient``.

        Blocks until the server answers (it starts in the background with the session)."""
        self.upstream.wait_ready()
        return self.upstream.url

    @property
    def workspace_arm_id(self) -> str:
        """``/subscriptions/…/resourceGroups/…/providers/Microsoft.MachineLearningServices/workspaces/…``."""
        return self.state.main_workspace.arm_id

    @property
    def azure_mlflow_url(self) -> str:
        """The workspace's MLflow base as Azure serves it (through the proxy): ``https://eastus.api.azureml.ms/mlflow/v2.0{WS}``."""
        return f"https://eastus.api.azureml.ms/mlflow/v2.0{self.workspace_arm_id}"

    @property
    def blob_account_url(self) -> str:
        """The artifact store's account URL, as the SDK builds it (reached through the proxy)."""
        return f"https://{ACCOUNT_NAME}.blob.core.windows.net"

    @property
    def custom_cloud_metadata_url(self) -> str:
        """The ARM metadata document of the custom test cloud (hosts ``*.studio-test-cloud.example``)."""
        return "https://management.studio-test-cloud.example/metadata/endpoints?api-version=2019-05-01"

    def credential(self, token: str = "studio-test-static") -> StaticTokenCredential:
        """A static token credential the emulator accepts (it records the scopes asked for)."""
        return StaticTokenCredential(token)

    def container(self) -> Any:
        """Azurite's ``azureml`` container (account key, loopback path-style URL): upload run files here,
        under ``ExperimentRun/dcid.<job>/…``."""
        from azure.storage.blob import ContainerClient

        return ContainerClient(
            self.azurite.path_style_url,
            ARTIFACT_CONTAINER,
            credential={"account_name": ACCOUNT_NAME, "account_key": ACCOUNT_KEY},
            connection_verify=str(self.ca_path),
        )

    # --- log ------------------------------------------------------------------------------------------
    def requests(self) -> list[RecordedRequest]:
        """Every request the emulator answered (method, host, path, query, status), oldest first."""
        return self.emulator.requests()

    def clear_log(self) -> None:
        """Forget the request log (and the proxy's tunnel counts)."""
        self.emulator.clear_log()
        self.proxy.reset()

    # --- latency and faults ---------------------------------------------------------------------------
    @property
    def latency_s(self) -> float:
        """Seconds added before every answer (benchmarks: 0.05)."""
        return self.emulator.latency_s

    @latency_s.setter
    def latency_s(self, value: float) -> None:
        self.emulator.latency_s = value

    def fail(
        self, path_pattern: str, status: int, *, times: int = 1, retry_after: float | None = None, message: str = ""
    ) -> None:
        """The next ``times`` requests whose path matches the regex get ``status`` in the service's error shape
        (``Retry-After`` in seconds and ``retry-after-ms`` when ``retry_after`` is given)."""
        self.emulator.fail(path_pattern, status, times=times, retry_after=retry_after, message=message)

    def clear_faults(self) -> None:
        """Drop the faults still queued and end every hung request (the network answers again)."""
        self.emulator.faults.clear()

    def hang(self, path_pattern: str, *, times: int = 1) -> None:
        """The next ``times`` matching requests are never answered (released when the test ends)."""
        self.emulator.hang(path_pattern, times=times)

    def drop(self, path_pattern: str, *, times: int = 1) -> None:
        """The next ``times`` matching requests see their connection closed without an answer."""
        self.emulator.drop(path_pattern, times=times)

    # --- state ----------------------------------------------------------------------------------------
    def set_job_status(self, job: str, azure_status: str) -> None:
        """``jobs.get`` and run history report this Azure status for the job (MLflow's status is not changed)."""
        self.state.set_job_status(job, azure_status)

    def set_job_properties(self, job: str, properties: dict[str, Any]) -> None:
        """Merge fields into the job's ARM ``properties`` (``jobs.get``): another compute, command, inputs, or another
        type (``{"jobType": "Pipeline", "jobs": {}, ...}``: then only the fields every job has are kept, plus these)."""
        self.state.set_job_properties(job, properties)

    def revoke_tokens(self) -> None:
        """Every request needing a token gets 401 from now on (until ``restore_tokens``)."""
        self.emulator.tokens_revoked = True

    def restore_tokens(self) -> None:
        """Tokens are accepted again."""
        self.emulator.tokens_revoked = False

    def add_tenant(self, tenant_id: str, display_name: str = "", default_domain: str = "") -> Tenant:
        """One more tenant in ``GET /tenants``."""
        tenant = Tenant(
            tenant_id, display_name or f"Tenant {tenant_id[:8]}", default_domain or f"t{tenant_id[:8]}.onmicrosoft.com"
        )
        with self.state.lock:
            self.state.tenants.append(tenant)
        return tenant

    def add_subscription(
        self,
        subscription_id: str | None = None,
        display_name: str = "",
        *,
        tenant_id: str | None = None,
        state: str = "Enabled",
    ) -> Subscription:
        """One more subscription in ``GET /subscriptions``."""
        subscription_id = subscription_id or str(uuid.uuid4())
        subscription = Subscription(
            subscription_id, display_name or f"Subscription {subscription_id[:8]}", tenant_id or TENANT_ID, state
        )
        with self.state.lock:
            self.state.subscriptions.append(subscription)
        return subscription

    def add_workspace(
        self,
        name: str,
        *,
        subscription_id: str | None = None,
        resource_group: str = RESOURCE_GROUP,
        kind: str = "Default",
        location: str = "eastus",
        display_name: str = "",
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> Workspace:
        """One more workspace in a subscription's workspace list (``kind``: Default, Project or Hub)."""
        workspace = Workspace(
            subscription_id or SUBSCRIPTION_ID,
            resource_group,
            name,
            location,
            kind,
            display_name or name,
            description,
            dict(tags or {}),
        )
        with self.state.lock:
            self.state.workspaces.append(workspace)
        return workspace

    @property
    def compute(self) -> Any:
        """The emulated compute instances and clusters and their controls (``tests/azure_emulator/compute.py``)."""
        return self.emulator.compute  # type: ignore[attr-defined]

    @property
    def submissions(self) -> Any:
        """Submitted jobs, their code uploads and runner controls (``tests/azure_emulator/submit.py``)."""
        return self.emulator.submissions  # type: ignore[attr-defined]

    def reset(self) -> None:
        """Back to the session's start: the default directory (tenants, subscriptions, workspaces, page size),
        no faults, no latency, empty log, MLflow statuses, tokens accepted, ``az`` signed in, the default
        compute and no submitted jobs running."""
        for part in ("compute", "submissions"):
            if (controls := getattr(self.emulator, part, None)) is not None:
                controls.reset()
        self.emulator.faults.clear()
        self.emulator.latency_s = 0.0
        self.emulator.tokens_revoked = False
        self.state.restore()
        self.fake_az.reset()
        self.clear_log()

    def stop(self) -> None:
        """Stop everything the service started."""
        self.proxy.stop()
        self.emulator.stop()
        self.upstream.close()
        self.azurite.stop()


def _default_directory(service: AzureService) -> None:
    """Content for paging (page size 2): 3 tenants, 5 subscriptions (one disabled), 6 workspaces in the
    main subscription (one a hub, which ``kind=default,project`` leaves out), 2 in another."""
    second = service.add_tenant(
        "0b7e5a8c-0000-4000-8000-0000000000b2", "Contoso Research", "contosoresearch.onmicrosoft.com"
    )
    service.add_tenant("0c7e5a8c-0000-4000-8000-0000000000c3", "Fabrikam", "fabrikam.onmicrosoft.com")
    other = service.add_subscription("6a1d0000-0000-4000-8000-000000000002", "Research (dev)")
    service.add_subscription("6a1d0000-0000-4000-8000-000000000003", "Research (prod)")
    service.add_subscription("6a1d0000-0000-4000-8000-000000000004", "Contoso shared", tenant_id=second.tenant_id)
    service.add_subscription("6a1d0000-0000-4000-8000-000000000005", "Old trial", state="Disabled")
    for index, name in enumerate(("vision-ws", "nlp-ws", "tabular-ws")):
        service.add_workspace(
            name, resource_group=f"rg-{index}", description=f"The {name.split('-')[0]} team's workspace"
        )
    service.add_workspace("shared-project", kind="Project")
    service.add_workspace("shared-hub", kind="Hub")
    service.add_workspace("dev-ws", subscription_id=other.subscription_id, resource_group="dev-rg")
    service.add_workspace(
        "dev-ws-2", subscription_id=other.subscription_id, resource_group="dev-rg", location="westeurope"
    )


@pytest.fixture(scope="session")
def azure_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureService]:
    """The emulator, proxy, Azurite and a real mlflow server for the whole session (stopped at the end)."""
    for module in ("mlflow", "azure.ai.ml", "trustme"):  # looked up, not imported: importing mlflow costs seconds
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: pip install -e '.[test]'")
    from tests.azure_emulator.tracking import BackgroundMlflow
    from tests.mlflow_server import quiet_mlflow_environment

    quiet_mlflow_environment()
    root = tmp_path_factory.mktemp("azure")
    certs = make_certificates(root / "certs")
    mlflow = BackgroundMlflow(root / "mlflow")
    try:
        azurite = launch_azurite(root / "azurite", certs.azurite)
    except BaseException:
        mlflow.stop()
        raise
    state = EmulatorState(TENANT_ID, SUBSCRIPTION_ID, RESOURCE_GROUP, WORKSPACE_NAME)
    upstream = MlflowUpstream(mlflow.url)
    emulator = Emulator(certs.emulator)
    emulator.state = state  # type: ignore[attr-defined]  # the route modules read it
    emulator.upstream = upstream  # type: ignore[attr-defined]
    proxy = ConnectProxy(blob_or_emulator(emulator.port, azurite.port))
    fake_az = FakeAz.install(root / "az", tenant=TENANT_ID, subscription=SUBSCRIPTION_ID)
    service = AzureService(certs, emulator, proxy, azurite, upstream, state, fake_az)
    emulator.service = service  # type: ignore[attr-defined]
    try:
        for module in ROUTE_MODULES:
            emulator.mount(module)
        for module in OPTIONAL_ROUTE_MODULES:
            try:
                emulator.mount(module)
            except ModuleNotFoundError as error:
                if error.name != module:
                    raise
        _default_directory(service)
        state.snapshot()
        azurite.wait_until_ready()
        service.container().create_container()
        yield service
    finally:
        service.stop()
        mlflow.stop()


@pytest.fixture
def azure_env(azure_service: AzureService, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureService]:
    """This test's environment reaches the emulator (decision 1); the service is reset afterwards."""
    for name in list(os.environ):
        if name.startswith(CLEARED_ENV_PREFIXES) or name in CLEARED_ENV:
            monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, azure_service.proxy_url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azure_service.ca_path))
    monkeypatch.setenv("SSL_CERT_FILE", str(azure_service.ca_path))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(azure_service.ca_path))
    monkeypatch.setenv("PATH", azure_service.fake_az.path_with_az())
    # azure-ai-ml writes AZUREML_CURRENT_CLOUD into os.environ on every MLClient: monkeypatch restores it.
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD")
    azure_service.reset()
    try:
        yield azure_service
    finally:
        azure_service.reset()
