"""Job submission as azure-ai-ml 1.35.2 performs it: code snapshot upload, environments, ``PUT jobs/{name}``, and a
runner that really runs the submitted command.

Wire sequence of ``ml_client.jobs.create_or_update(command(code=DIR, environment=…, compute=…))`` (seen against this
emulator; shapes from the SDK's recordings and ``_restclient`` models):

1. ``GET {WS}/codes/{uuid}/versions?hash=<sha256>&hashVersion=202208`` (2023-04-01): a code version already uploaded
   with that content hash (then the SDK reuses it and nothing is uploaded), else an empty list.
2. ``POST {WS}/codes/{uuid}/versions/1/startPendingUpload`` ``{"pendingUploadType": "TemporaryBlobReference"}`` →
   ``blobReferenceForConsumption.{blobUri (with :443), storageAccountArmId, credential.{credentialType: SAS,
   sasUri}}``, ``pendingUploadId``, ``pendingUploadType: "None"`` (recording ``test_download_directory_code.json``):
   a container SAS (``sr=c``, ``sp=rcwl``) for a fresh container of the storage account (Azurite), named as the
   service names them (``86530095-7-<uuid>``); the SDK opens it with ``ContainerClient.from_container_url`` and
   uploads the folder under ``<folder name>/…`` (then sets the confirmation metadata on a blob).
3. ``PUT {WS}/codes/{uuid}/versions/1`` ``{"properties": {"codeUri", "isAnonymous", "properties": {"hash_sha256",
   "hash_version"}}}`` → 201 with the code version.
4. Environment: the SDK sends a reference without asking anything (``azureml:AzureML-sklearn-1.5@latest`` and
   ``azureml:AzureML-…:V`` as given, ``azureml:NAME:V`` of a workspace environment as its ARM id) and the
   service resolves it when the job is created; an ``Environment(conda_file=…, image=…)`` is first
   ``PUT {WS}/environments/CliV2AnonymousEnvironment/versions/<hash>`` (2023-04-01-preview). The curated
   ``AzureML-*`` environments and the ones tests register (``add_environment``) are in
   ``Submissions.environments``: ``environments.list()`` is ``GET {WS}/environments?listViewType=ActiveOnly``
   (containers, the anonymous one left out), ``environments.get(NAME, label="latest")``
   ``GET {WS}/environments/NAME/versions?$orderBy=createdtime desc&$top=1``, ``get(NAME, version=V)``
   ``GET …/versions/V``.
5. ``PUT {WS}/jobs/{name}`` (2025-01-01-preview) with ``jobType: Command``, ``command``, ``codeId``, ``computeId``
   (full ARM id), ``environmentId``, ``experimentName``, ``displayName``, ``tags`` → 201 with the job, status
   ``Starting`` and a ``Location`` header (recording ``test_command_job_builder.json``). The service validates: an
   unknown compute is 400 ``UserError`` in ARM's shape (the sentence is ours; Azure's exact words are
   unverified), so is an unknown environment version or code.

The job then IS a job everywhere the emulator shows jobs: its MLflow run is created in the real mlflow server
with the job's name as run id (the run is created through the REST API, then its id is renamed in the server's
SQLite store, the only way to choose an OSS run id), so ARM ``GET jobs/{name}`` and the job list, MLflow
``runs/get``/``runs/search`` and run history all see it; the submitted fields are merged into its ARM properties
(``EmulatorState.set_job_properties``) and its Azure status is the runner's (``set_job_status``).

The runner (one thread per job) follows Azure's documented run lifecycle: Starting (the PUT's answer) → Preparing
(the environment; here the code is downloaded from Azurite) → Queued (waiting for the compute: held by the test,
or an instance that is not Running) → Running (the command runs with ``python`` → ``sys.executable`` in a
temporary folder holding the code, ``MLFLOW_TRACKING_URI``/``MLFLOW_RUN_ID`` pointing at the mlflow server and the
job's run) → Finalizing → Completed, or Failed on a non-zero exit (run history's error: "Execution failed. User
process 'python' exited with status code N."). MLflow reads SCHEDULED until Running, then RUNNING, then
FINISHED/FAILED/KILLED with the start time of Running and the end time. Output (stdout and stderr, merged) is
appended while it runs to the append blob ``ExperimentRun/dcid.<name>/user_logs/std_log.txt`` of the artifact
store, where the studio reads it (``jobs.stream``'s run-history log URLs are not emulated). The existing cancel route (``POST jobs/{name}/cancel``) makes
the job CancelRequested: the runner kills the process (or stops waiting) and the job becomes Canceled (MLflow
KILLED).

Compute: the compute name is checked against ``emulator.compute`` (``state_of(name, workspace) -> str | None``;
None means no such compute) when that controller is mounted, else against the default names. A job on a compute
instance that is not Running stays Queued (``Submission.status_message`` "Waiting for compute instance X to be
Running") until the instance runs: Azure queues a job for a stopped instance rather than refusing it, and does not
start the instance for it (the user starts it). While a job runs on an instance, the instance reads JobRunning
(Running again after its last job); an instance that leaves Running/JobRunning under a running job (stopped,
restarted) fails the job. A cluster always runs the job (it scales from 0 nodes; node allocation is not modelled).
A ``PUT jobs/{name}`` repeated with the same body (azure-core retrying) answers 200 with the job; another body for an
existing name is 400.

Not emulated: environment image builds (the environment is only resolved, the command runs with the test
interpreter), inputs/outputs other than the default output, distribution, resources, sweeps and pipelines,
the snapshot service (``ContentSnapshotId`` is a fixed-shape id), registries.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import select
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.azure_emulator import jobs as job_model
from tests.azure_emulator.arm import ARM_HOST, WS
from tests.azure_emulator.azurite import ACCOUNT_KEY, ACCOUNT_NAME
from tests.azure_emulator.server import Emulator, Request, Response, error_response, json_response, now_iso
from tests.azure_emulator.state import ML_PROVIDER, EmulatorState, Workspace

DEFAULT_INSTANCES = {"ci1": "Stopped", "ci-running": "Running"}
DEFAULT_CLUSTERS = ("cpu-cluster",)
"""The computes assumed when ``emulator.compute`` is absent (the compute module's default content)."""
RUNNING_INSTANCE_STATES = {"Running", "JobRunning"}
CURATED_ENVIRONMENTS = {
    "AzureML-sklearn-1.5": ("19", "Scikit-learn 1.5 on Ubuntu 22.04, Python 3.10 (CPU)"),
    "AzureML-acpt-pytorch-2.2-cuda12.1": ("30", "PyTorch 2.2 with CUDA 12.1 (ACPT)"),
    "AzureML-tensorflow-2.12-cuda11": ("15", "TensorFlow 2.12 with CUDA 11"),
    "AzureML-lightgbm-3.3": ("52", "LightGBM 3.3 (CPU)"),
    "AzureML-minimal-ubuntu22.04-py39-cpu-inference": ("7", "Minimal inference image"),
}
"""Curated environments (name → latest version, description): the ``azureml`` registry's, which a workspace
resolves by name (``azureml:AzureML-sklearn-1.5@latest``) but does not list among its own environments."""
CURATED_IMAGE = "mcr.microsoft.com/azureml/curated/{name}:{version}"
DEFAULT_REGISTERED = (("studio-train-env", "1", "Team training environment"), ("studio-train-env", "2", ""))
"""Environments the workspace has registered by default (``environments.list()`` shows them)."""
LOG_PATH = "user_logs/std_log.txt"
LOG_FLUSH_S = 0.1
"""The runner appends new output to the log blob at most this often."""
POLL_S = 0.05
ANONYMOUS_ENV = "CliV2AnonymousEnvironment"
CONDA_FILE = (
    "name: train\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.10\n  - pip\n  - pip:\n    - scikit-learn\n"
)


@dataclass
class Submission:
    """One submitted job: its name, the ``PUT`` body, and what the runner did."""

    name: str
    body: dict[str, Any]
    compute: str
    command: str
    code_id: str | None
    experiment: str
    workspace: Workspace
    status: str = "Starting"
    statuses: list[str] = field(default_factory=lambda: ["Starting"])
    """Every Azure status the job went through, in order (a cancel's CancelRequested/Canceled excepted)."""
    exit_code: int | None = None
    status_message: str | None = None
    workdir: str | None = None
    """The temporary folder the command runs in (the code, downloaded from Azurite)."""
    running: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    abandoned: threading.Event = field(default_factory=threading.Event, repr=False)
    """Set by ``reset``: the runner stops (the process is killed, the MLflow run ends KILLED)."""


@dataclass
class CodeVersion:
    """A code asset version (``PUT codes/{name}/versions/{v}``) and where its files are."""

    name: str
    version: str
    body: dict[str, Any]
    container: str
    prefix: str
    created_at: str = field(default_factory=now_iso)
    content_hash: str = ""
    """The hash ``GET codes/…/versions?hash=`` finds it by (the service computes it from the uploaded files)."""


class Submissions:
    """The emulator's submitted jobs, code uploads and environments, and the tests' controls over the runner."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._state: EmulatorState = emulator.state  # type: ignore[attr-defined]
        self._upstream = emulator.upstream  # type: ignore[attr-defined]
        self._names = job_model.ExperimentNames(self._upstream)
        self._lock = threading.RLock()
        self._held = False
        self._release = threading.Condition(self._lock)
        self.jobs: dict[str, Submission] = {}
        """Submitted jobs by name, in submission order."""
        self.codes: dict[tuple[str, str], CodeVersion] = {}
        self.pending_uploads: dict[str, str] = {}
        """Container of each ``startPendingUpload`` → the code ``name/version`` it was for."""
        self.environments: dict[tuple[str, str], dict[str, Any]] = {}
        """Registered environment versions (name, version) → ARM resource (curated ones included)."""
        self._reset_environments()

    # --- controls -------------------------------------------------------------------------------------
    @property
    def uploads(self) -> dict[str, dict[str, bytes]]:
        """Code blobs uploaded through ``startPendingUpload`` SAS URIs: container → {blob name: bytes} (read now)."""
        result: dict[str, dict[str, bytes]] = {}
        for container in list(self.pending_uploads):
            client = self._blob_service().get_container_client(container)
            blobs: dict[str, bytes] = {}
            with contextlib.suppress(Exception):
                for item in client.list_blobs():
                    blobs[item.name] = client.download_blob(item.name).readall()
            result[container] = blobs
        return result

    def hold(self, held: bool = True) -> None:
        """Keep new (and not yet started) jobs Queued while ``held``; ``hold(False)`` lets them run."""
        with self._lock:
            self._held = held
            self._release.notify_all()

    def wait_done(self, name: str, timeout: float = 60.0) -> str:
        """Wait until the job's runner ended; return its Azure status (AssertionError at the timeout)."""
        submission = self.jobs.get(name)
        if submission is None:
            raise AssertionError(f"no job {name!r} was submitted (submitted: {sorted(self.jobs)})")
        if not submission.done.wait(timeout):
            raise AssertionError(f"job {name} did not end within {timeout} s (status {submission.status})")
        return submission.status

    def add_environment(
        self,
        name: str,
        version: str = "1",
        *,
        image: str = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04",
        description: str = "",
        conda_file: str | None = None,
    ) -> dict[str, Any]:
        """Register an environment version (what ``environments.create_or_update`` would do)."""
        resource = _environment_json(self._state.main_workspace, name, version, image, description, conda_file)
        with self._lock:
            self.environments[(name, version)] = resource
        return resource

    def reset(self) -> None:
        """Kill running jobs, forget holds, submissions, uploads and registered environments."""
        with self._lock:
            self._held = False
            self._release.notify_all()
            jobs = list(self.jobs.values())
            self.jobs.clear()
            self.codes.clear()
            self.pending_uploads.clear()
            self._reset_environments()
        for submission in jobs:
            submission.abandoned.set()
        for submission in jobs:
            submission.done.wait(10)

    def _reset_environments(self) -> None:
        workspace = self._state.main_workspace
        self.environments = {
            (name, version): _environment_json(
                workspace,
                name,
                version,
                CURATED_IMAGE.format(name=name.lower(), version=version),
                text,
                None,
                curated=True,
            )
            for name, (version, text) in CURATED_ENVIRONMENTS.items()
        }
        for name, version, text in DEFAULT_REGISTERED:
            self.environments[(name, version)] = _environment_json(
                workspace, name, version, "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04", text, CONDA_FILE
            )

    # --- helpers --------------------------------------------------------------------------------------
    def _workspace(self, request: Request, match: re.Match[str]) -> Workspace | Response:
        if not request.query.get("api-version"):
            return error_response(
                request,
                400,
                "The api-version query parameter (?api-version=) is required for all requests.",
                "MissingApiVersionParameter",
            )
        workspace = self._state.find_workspace(match["sub"], match["rg"], match["ws"])
        if workspace is None:
            return error_response(
                request,
                404,
                f"The Resource '{ML_PROVIDER}/workspaces/{match['ws']}' under resource group '{match['rg']}' "
                "was not found.",
                "ResourceNotFound",
            )
        return workspace

    def _blob_service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        service = self._emulator.service  # type: ignore[attr-defined]
        return BlobServiceClient(
            service.azurite.path_style_url,
            credential={"account_name": ACCOUNT_NAME, "account_key": ACCOUNT_KEY},
            connection_verify=str(service.ca_path),
        )

    def _artifact_container(self) -> Any:
        return self._emulator.service.container()  # type: ignore[attr-defined]

    # --- code assets ----------------------------------------------------------------------------------
    def code_versions(self, request: Request, match: re.Match[str]) -> Response:
        """``GET codes/{name}/versions`` — with ``hash``: the versions whose content has that hash (any name)."""
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        wanted = request.query.get("hash")
        with self._lock:
            codes = list(self.codes.values())
        if wanted:
            chosen = [c for c in codes if c.content_hash == wanted]
        else:
            chosen = [c for c in codes if c.name == match["name"]]
        return json_response(200, {"value": [self._code_json(found, c) for c in chosen]})

    def code_version(self, request: Request, match: re.Match[str]) -> Response:
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        with self._lock:
            code = self.codes.get((match["name"], match["version"]))
        if code is None:
            return error_response(
                request,
                404,
                f"Could not find asset with name {match['name']} and version {match['version']}.",
                "UserError",
            )
        return json_response(200, self._code_json(found, code))

    def start_pending_upload(self, request: Request, match: re.Match[str]) -> Response:
        """A fresh container of the storage account and a container SAS for it (write, list, read)."""
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        body = request.json()
        if body.get("pendingUploadType", "TemporaryBlobReference") != "TemporaryBlobReference":
            return error_response(request, 400, f"Unsupported pendingUploadType {body.get('pendingUploadType')}.")
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        # As the service names them (recording test_download_directory_code.json): "86530095-7-<uuid>".
        container = f"{uuid.uuid4().int % 10**8:08d}-{len(self.pending_uploads) % 10}-{uuid.uuid4()}"
        self._blob_service().create_container(container)
        expiry = datetime.now(UTC) + timedelta(hours=8)
        sas = generate_container_sas(
            ACCOUNT_NAME,
            container,
            account_key=ACCOUNT_KEY,
            permission=ContainerSasPermissions(read=True, create=True, write=True, list=True),
            start=datetime.now(UTC) - timedelta(minutes=10),
            expiry=expiry,
        )
        with self._lock:
            self.pending_uploads[container] = f"{match['name']}/{match['version']}"
        account_url = f"https://{ACCOUNT_NAME}.blob.core.windows.net"
        account_id = (
            f"/subscriptions/{found.subscription_id}/resourceGroups/{found.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{ACCOUNT_NAME}"
        )
        return json_response(
            200,
            {
                "blobReferenceForConsumption": {
                    "blobUri": f"https://{ACCOUNT_NAME}.blob.core.windows.net:443/{container}",
                    "storageAccountArmId": account_id,
                    "credential": {"credentialType": "SAS", "sasUri": f"{account_url}/{container}?{sas}"},
                },
                "pendingUploadId": str(uuid.uuid4()),
                "pendingUploadType": "None",
            },
        )

    def put_code_version(self, request: Request, match: re.Match[str]) -> Response:
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        body = request.json()
        uri = str(body.get("properties", {}).get("codeUri") or "")
        place = re.fullmatch(r"https://[^/]+/(?P<container>[^/]+)/?(?P<prefix>.*)", uri)
        if place is None:
            return error_response(request, 400, f"Invalid codeUri {uri!r}: expected a blob storage URI.", "UserError")
        properties = body.setdefault("properties", {})
        # The service keeps asset properties as strings (the SDK sends hash_version as a number).
        properties["properties"] = {str(k): str(v) for k, v in (properties.get("properties") or {}).items()}
        key = (match["name"], match["version"])
        code = CodeVersion(match["name"], match["version"], body, place["container"], place["prefix"].strip("/"))
        code.content_hash = self._content_hash(code)
        with self._lock:
            created = key not in self.codes
            self.codes[key] = code
        answer = json_response(201 if created else 200, self._code_json(found, code))
        if created:
            answer.headers["Location"] = f"{request.base_url}{request.path}?{request.raw_query}"
        return answer

    def _content_hash(self, code: CodeVersion) -> str:
        """The snapshot's content hash as the SDK computes it before uploading (``get_content_hash``): file count,
        then ``#path#`` and size of each file, then the contents, files sorted by lower-case relative path."""
        client = self._blob_service().get_container_client(code.container)
        prefix = f"{code.prefix}/" if code.prefix else ""
        files = sorted(
            (
                (item.name[len(prefix) :], item.name, int(item.size))
                for item in client.list_blobs(name_starts_with=prefix)
            ),
            key=lambda f: f[0].lower(),
        )
        digest = hashlib.sha256(str(len(files)).encode())
        for relative, _, size in files:
            digest.update(f"#{relative}#".encode())
            digest.update(str(size).encode())
        for _, blob, _ in files:
            digest.update(client.download_blob(blob).readall())
        return digest.hexdigest()

    def _code_json(self, workspace: Workspace, code: CodeVersion) -> dict[str, Any]:
        properties = dict(code.body.get("properties", {}))
        properties.setdefault("description", None)
        properties.setdefault("tags", {})
        properties.setdefault("properties", {})
        properties.setdefault("isArchived", False)
        properties.setdefault("isAnonymous", False)
        properties["provisioningState"] = "Succeeded"
        return {
            "id": f"{workspace.arm_id}/codes/{code.name}/versions/{code.version}",
            "name": code.version,
            "type": f"{ML_PROVIDER}/workspaces/codes/versions",
            "properties": properties,
            "systemData": _system_data(code.created_at),
        }

    def _code_from_id(self, code_id: str) -> CodeVersion | None:
        place = re.search(r"/codes/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$", code_id)
        if place is None:
            return None
        with self._lock:
            return self.codes.get((place["name"], place["version"]))

    # --- environments ---------------------------------------------------------------------------------
    def environment_containers(self, request: Request, match: re.Match[str]) -> Response:
        """``GET environments``: one container per name, with its latest version."""
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        with self._lock:
            versions = list(self.environments.values())
        latest: dict[str, dict[str, Any]] = {}
        for resource in versions:
            name = resource["id"].split("/environments/")[1].split("/")[0]
            if name == ANONYMOUS_ENV or resource["properties"]["environmentType"] == "Curated":
                continue
            current = latest.get(name)
            if current is None or _version_key(resource["name"]) > _version_key(current["name"]):
                latest[name] = resource
        value = [
            {
                "id": f"{found.arm_id}/environments/{name}",
                "name": name,
                "type": f"{ML_PROVIDER}/workspaces/environments",
                "properties": {
                    "description": resource["properties"].get("description"),
                    "tags": dict(resource["properties"].get("tags") or {}),
                    "properties": {},
                    "isArchived": False,
                    "latestVersion": resource["name"],
                    "nextVersion": str(int(resource["name"]) + 1) if resource["name"].isdigit() else None,
                    "provisioningState": "Succeeded",
                },
                "systemData": resource["systemData"],
            }
            for name, resource in sorted(latest.items())
        ]
        return json_response(200, {"value": value})

    def environment_versions(self, request: Request, match: re.Match[str]) -> Response:
        """``GET environments/{name}/versions`` (``$orderBy=createdtime desc&$top=1`` for ``@latest``)."""
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        with self._lock:
            versions = [r for (name, _), r in self.environments.items() if name == match["name"]]
        versions.sort(key=lambda r: _version_key(r["name"]), reverse=True)
        top = request.query.get("$top")
        if top and top.isdigit():
            versions = versions[: int(top)]
        return json_response(200, {"value": versions})

    def environment_version(self, request: Request, match: re.Match[str]) -> Response:
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        with self._lock:
            resource = self.environments.get((match["name"], match["version"]))
        if resource is None:
            return error_response(
                request,
                404,
                f"Could not find asset with name {match['name']} and version {match['version']}.",
                "UserError",
            )
        return json_response(200, resource)

    def put_environment_version(self, request: Request, match: re.Match[str]) -> Response:
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        body = request.json()
        properties = body.get("properties", {})
        if not properties.get("image") and not properties.get("build"):
            return error_response(
                request, 400, "An environment needs a docker image or a docker build context.", "UserError"
            )
        key = (match["name"], match["version"])
        resource = _environment_json(
            found,
            match["name"],
            match["version"],
            properties.get("image"),
            properties.get("description") or "",
            properties.get("condaFile"),
        )
        resource["properties"]["isAnonymous"] = bool(properties.get("isAnonymous"))
        resource["properties"]["tags"] = dict(properties.get("tags") or {})
        with self._lock:
            created = key not in self.environments
            self.environments[key] = resource
        return json_response(201 if created else 200, resource)

    def _environment_known(self, environment_id: str) -> bool:
        """Whether the job's ``environmentId`` names an environment the workspace has (or a registry's)."""
        if environment_id.startswith("azureml://registries/"):
            return True
        text = environment_id.removeprefix("azureml:")
        place = re.search(r"/environments/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$", text)
        if place is not None:
            name, version = place["name"], place["version"]
        elif "@" in text:
            name, version = text.split("@", 1)[0], ""
        elif ":" in text:
            name, version = text.split(":", 1)
        else:
            name, version = text, ""
        with self._lock:
            if version:
                return (name, version) in self.environments
            return any(n == name for n, _ in self.environments)

    # --- jobs -----------------------------------------------------------------------------------------
    def put_job(self, request: Request, match: re.Match[str]) -> Response:
        found = self._workspace(request, match)
        if isinstance(found, Response):
            return found
        name = match["job"]
        body = request.json()
        properties = body.get("properties") or {}
        if properties.get("jobType") != "Command":
            return error_response(
                request, 400, f"The emulator only runs Command jobs, not {properties.get('jobType')!r}.", "UserError"
            )
        with self._lock:
            earlier = self.jobs.get(name)
        if earlier is not None and earlier.body == body:  # a retried PUT (ARM's PUT is idempotent)
            run = job_model.mlflow_run(self._upstream, name)
            if run is not None:
                tenant = self._state.tenants[0].tenant_id
                return json_response(
                    200, job_model.job_resource(self._state, found, run, earlier.experiment, request.host, tenant)
                )
        with self._lock:
            if name in self.jobs or job_model.mlflow_run(self._upstream, name) is not None:
                return error_response(
                    request,
                    400,
                    f"A job with name {name} already exists; properties other than tags, description and display "
                    "name cannot be changed.",
                    "UserError",
                )
        command = str(properties.get("command") or "").strip()
        if not command:
            return error_response(request, 400, "The command of a Command job must not be empty.", "UserError")
        compute_id = str(properties.get("computeId") or "")
        compute = compute_id.rstrip("/").rsplit("/", 1)[-1] if compute_id else ""
        refusal = self._compute_refusal(found, compute_id, compute)
        if refusal:
            return error_response(request, 400, refusal, "UserError")
        environment_id = str(properties.get("environmentId") or "")
        if not environment_id:
            return error_response(request, 400, "A Command job needs an environment (environmentId).", "UserError")
        if not self._environment_known(environment_id):
            return error_response(
                request, 400, f"Environment {environment_id} was not found in workspace {found.name}.", "UserError"
            )
        code_id = properties.get("codeId")
        if (
            code_id
            and not str(code_id).startswith("azureml://registries/")
            and self._code_from_id(str(code_id)) is None
        ):
            return error_response(request, 400, f"Code {code_id} was not found in workspace {found.name}.", "UserError")
        experiment = str(properties.get("experimentName") or "Default")
        display_name = properties.get("displayName") or name
        tags = {str(k): str(v) for k, v in (properties.get("tags") or {}).items() if v is not None}
        self._create_run(name, experiment, str(display_name), tags, properties.get("description"))
        submitted = {
            "command": command,
            "computeId": f"{found.arm_id}/computes/{compute}" if compute else None,
            "environmentId": environment_id,
            "codeId": code_id,
            "inputs": properties.get("inputs") or {},
            "environmentVariables": properties.get("environmentVariables") or {},
            "properties": {
                **(properties.get("properties") or {}),
                "_azureml.ComputeTargetType": "amlctrain",
                "ContentSnapshotId": str(uuid.uuid4()),
            },
            "resources": properties.get("resources") or {"instanceCount": 1, "shmSize": "2g", "properties": {}},
            "queueSettings": properties.get("queueSettings") or {"jobTier": "Null"},
        }
        if properties.get("distribution") is not None:
            submitted["distribution"] = properties["distribution"]
        if properties.get("limits") is not None:
            submitted["limits"] = properties["limits"]
        self._state.set_job_properties(name, submitted)
        self._state.set_job_status(name, "Starting")
        submission = Submission(name, body, compute, command, code_id, experiment, found)
        with self._lock:
            self.jobs[name] = submission
        run = job_model.mlflow_run(self._upstream, name)
        assert run is not None
        tenant = self._state.tenants[0].tenant_id
        resource = job_model.job_resource(self._state, found, run, experiment, request.host, tenant)
        threading.Thread(target=self._run, args=(submission,), name=f"azure-job-{name}", daemon=True).start()
        return json_response(201, resource, {"Location": f"{request.base_url}{request.path}?{request.raw_query}"})

    def _compute_refusal(self, workspace: Workspace, compute_id: str, compute: str) -> str:
        if not compute_id:
            return ""  # serverless: no compute to check
        if not compute_id.startswith("/subscriptions/") or "/computes/" not in compute_id:
            return f"The computeId {compute_id!r} is not the ARM id of a compute of workspace {workspace.name}."
        if not compute_id.lower().startswith(workspace.arm_id.lower() + "/computes/"):
            return f"Compute {compute_id} does not belong to workspace {workspace.name}."
        if self._compute_state(compute, workspace) is None:
            return (
                f"Compute '{compute}' was not found in workspace '{workspace.name}'. Create it, or submit to one "
                "of the workspace's compute instances or clusters."
            )
        return ""

    def _compute_state(self, compute: str, workspace: Workspace) -> str | None:
        """An instance's state (Running, Stopped…), a cluster's allocation state, None when there is no such compute."""
        controller = getattr(self._emulator, "compute", None)
        if controller is not None:
            return controller.state_of(compute, workspace)  # type: ignore[no-any-return]
        if compute in DEFAULT_CLUSTERS:
            return "Steady"
        return DEFAULT_INSTANCES.get(compute)

    def _is_instance(self, compute: str, workspace: Workspace) -> bool:
        controller = getattr(self._emulator, "compute", None)
        if controller is None:
            return compute in DEFAULT_INSTANCES
        kind_of = getattr(controller, "kind_of", None)
        if callable(kind_of):
            return kind_of(compute, workspace) == "ComputeInstance"
        with controller._lock:
            found = controller._find(compute, workspace)
        return getattr(found, "kind", "") == "ComputeInstance"

    def _instance_busy(self, submission: Submission, busy: bool) -> None:
        """A compute instance reads JobRunning while a job runs on it, and Running again after its last job."""
        controller = getattr(self._emulator, "compute", None)
        workspace = submission.workspace
        if controller is None or not self._is_instance(submission.compute, workspace):
            return
        with self._lock:
            others = [
                j for j in self.jobs.values() if j is not submission and j.compute == submission.compute and j.running
            ]
            submission.running = busy
        with controller._lock:
            state = controller.state_of(submission.compute, workspace)
            if busy and state == "Running" and not controller.busy(submission.compute, workspace):
                controller.set_state(submission.compute, "JobRunning", workspace)
            elif not busy and not others and state == "JobRunning":
                controller.set_state(submission.compute, "Running", workspace)

    # --- the run in MLflow ----------------------------------------------------------------------------
    def _create_run(
        self, name: str, experiment: str, display_name: str, tags: dict[str, str], description: Any
    ) -> None:
        experiment_id = self._names.experiment_id(experiment)
        if experiment_id is None:
            experiment_id = str(self._upstream.post("experiments/create", {"name": experiment})["experiment_id"])
        all_tags = [{"key": k, "value": v} for k, v in tags.items()]
        all_tags.append({"key": "mlflow.user", "value": "Ada Lovelace"})
        if description:
            all_tags.append({"key": "mlflow.note.content", "value": str(description)})
        created = self._upstream.post(
            "runs/create",
            {
                "experiment_id": experiment_id,
                "run_name": display_name,
                "start_time": int(time.time() * 1000),
                "tags": all_tags,
                "user_id": "Ada Lovelace",
            },
        )
        run_id = created["run"]["info"]["run_id"]
        self._rename_run(run_id, name)
        self._mlflow_status(name, "SCHEDULED")

    def _rename_run(self, run_id: str, name: str) -> None:
        """Give the MLflow run the job's name as its id, in the server's SQLite store (OSS chooses run ids)."""
        with contextlib.closing(sqlite3.connect(_mlflow_database(self._upstream), timeout=30)) as db, db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                columns = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
                for column in ("run_uuid", "run_id"):
                    if column in columns:
                        db.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE "{column}" = ?', (name, run_id))
            db.execute(
                "UPDATE runs SET artifact_uri = replace(artifact_uri, ?, ?) WHERE run_uuid = ?", (run_id, name, name)
            )

    def _set_start_time(self, name: str, ms: int) -> None:
        with contextlib.closing(sqlite3.connect(_mlflow_database(self._upstream), timeout=30)) as db, db:
            db.execute("UPDATE runs SET start_time = ? WHERE run_uuid = ?", (ms, name))

    def _mlflow_status(self, name: str, status: str, end: bool = False) -> None:
        body: dict[str, Any] = {"run_id": name, "run_uuid": name, "status": status}
        if end:
            body["end_time"] = int(time.time() * 1000)
        with contextlib.suppress(Exception):  # the run may be gone with its test
            self._upstream.post("runs/update", body)

    # --- the runner -----------------------------------------------------------------------------------
    def _canceled(self, submission: Submission) -> bool:
        return self._state.job_status(submission.name) in ("CancelRequested", "Canceled")

    def _move(self, submission: Submission, status: str, message: str | None = None) -> bool:
        """Set the job's Azure status unless it was canceled or reset; False when the runner must stop."""
        with self._state.lock:
            if self._canceled(submission) or submission.abandoned.is_set():
                return False
            self._state.set_job_status(submission.name, status)
            submission.status = status
            submission.statuses.append(status)
            submission.status_message = message
        return True

    def _run(self, submission: Submission) -> None:
        workdir: Path | None = None
        log: _Log | None = None
        try:
            log = _Log(self._artifact_container(), f"{job_model_run_root(submission.name)}{LOG_PATH}")
            if not self._move(submission, "Preparing"):
                return
            workdir = Path(tempfile.mkdtemp(prefix=f"azure-job-{submission.name}-"))
            submission.workdir = str(workdir)
            self._download_code(submission, workdir)
            if not self._move(submission, "Queued"):
                return
            if not self._wait_until_runnable(submission):
                return
            log.create()
            if not self._move(submission, "Running"):
                return
            self._set_start_time(submission.name, int(time.time() * 1000))
            self._mlflow_status(submission.name, "RUNNING")
            self._execute(submission, workdir, log)
        except Exception as error:  # the emulator's own failure: the job fails loudly
            print(f"azure emulator: job {submission.name} runner failed: {error!r}", file=sys.stderr)
            if log is not None:
                with contextlib.suppress(Exception):
                    log.append(f"\nemulator: the job could not run: {error!r}\n".encode())
            self._fail(submission, f"The emulator could not run the job: {error!r}")
        finally:
            if self._canceled(submission):
                submission.status = "Canceled"
            elif submission.abandoned.is_set() and submission.status not in job_model.TERMINAL:
                submission.status = "Canceled"
                self._mlflow_status(submission.name, "KILLED", end=True)
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
            submission.done.set()

    def _wait_until_runnable(self, submission: Submission) -> bool:
        """Stay Queued while held or while the instance is not Running; False when canceled or reset."""
        while True:
            with self._lock:
                held = self._held
            waiting_for = ""
            if not held and self._is_instance(submission.compute, submission.workspace):
                state = self._compute_state(submission.compute, submission.workspace)
                if state not in RUNNING_INSTANCE_STATES:
                    waiting_for = f"Waiting for compute instance {submission.compute} to be Running (it is {state})."
            if not held and not waiting_for:
                return True
            submission.status_message = waiting_for or "Queued"
            if self._canceled(submission) or submission.abandoned.is_set():
                return False
            with self._lock:
                self._release.wait(POLL_S)

    def _download_code(self, submission: Submission, workdir: Path) -> None:
        if not submission.code_id:
            return
        code = self._code_from_id(submission.code_id)
        if code is None:
            raise RuntimeError(f"code {submission.code_id} vanished")
        client = self._blob_service().get_container_client(code.container)
        prefix = f"{code.prefix}/" if code.prefix else ""
        for item in client.list_blobs(name_starts_with=prefix):
            relative = item.name[len(prefix) :]
            if not relative or relative.endswith("/"):
                continue
            target = workdir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(client.download_blob(item.name).readall())

    def _execute(self, submission: Submission, workdir: Path, log: _Log) -> None:
        arguments = shlex.split(submission.command)
        if arguments and arguments[0] in ("python", "python3"):
            arguments[0] = sys.executable
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": self._upstream.url,
            "MLFLOW_RUN_ID": submission.name,
            "MLFLOW_EXPERIMENT_NAME": submission.experiment,
            "AZUREML_RUN_ID": submission.name,
            "PYTHONUNBUFFERED": "1",
        }
        env.update(
            {str(k): str(v) for k, v in (submission.body["properties"].get("environmentVariables") or {}).items()}
        )
        process = subprocess.Popen(
            arguments,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        submission.process = process
        pump = threading.Thread(target=log.pump, args=(process,), name=f"azure-job-log-{submission.name}", daemon=True)
        pump.start()
        self._instance_busy(submission, True)
        stopped_under = ""
        try:
            killed = False
            while process.poll() is None:
                if not killed and (self._canceled(submission) or submission.abandoned.is_set()):
                    killed = True
                elif not killed and self._is_instance(submission.compute, submission.workspace):
                    state = self._compute_state(submission.compute, submission.workspace)
                    if state not in RUNNING_INSTANCE_STATES:
                        killed = True
                        stopped_under = (
                            f"The compute instance {submission.compute} left Running ({state}) while the job ran."
                        )
                if killed:
                    with contextlib.suppress(OSError):
                        os.killpg(process.pid, 9)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(POLL_S)
            pump.join(30)
        finally:
            self._instance_busy(submission, False)
        submission.exit_code = process.returncode
        user_process = shlex.split(submission.command)[0]
        if stopped_under:
            with contextlib.suppress(Exception):
                log.append(f"\n{stopped_under}\n".encode())
            self._fail(submission, stopped_under)
        elif killed or self._canceled(submission):
            with contextlib.suppress(Exception):
                log.append(b"\nThe job was canceled: the process was stopped.\n")
            # the cancel route ends the run as KILLED
        elif process.returncode == 0:
            if self._move(submission, "Finalizing"):
                self._move(submission, "Completed")
                self._mlflow_status(submission.name, "FINISHED", end=True)
        else:
            self._fail(
                submission,
                f"Execution failed. User process '{user_process}' exited with status code {process.returncode}.",
            )

    def _fail(self, submission: Submission, message: str) -> None:
        if self._move(submission, "Failed", message):
            self._state.set_job_error(submission.name, message)
            self._mlflow_status(submission.name, "FAILED", end=True)


class _Log:
    """The job's ``std_log.txt``: an append blob that grows while the process writes."""

    def __init__(self, container: Any, path: str) -> None:
        self._blob = container.get_blob_client(path)
        self._lock = threading.Lock()
        self._created = False

    def create(self) -> None:
        with self._lock:
            if not self._created:
                self._blob.create_append_blob(content_settings=_text_settings())
                self._created = True

    def append(self, data: bytes) -> None:
        if not data:
            return
        self.create()
        with self._lock:
            for start in range(0, len(data), 4 * 1024 * 1024):
                self._blob.append_block(data[start : start + 4 * 1024 * 1024])

    def pump(self, process: subprocess.Popen[bytes]) -> None:
        """Copy the process's output to the blob, a block at most every ``LOG_FLUSH_S``, until it ends."""
        stream = process.stdout
        assert stream is not None
        pending = bytearray()
        last = time.monotonic()
        fd = stream.fileno()
        while True:
            readable, _, _ = select.select([fd], [], [], LOG_FLUSH_S)
            chunk = os.read(fd, 65536) if readable else None
            if chunk:
                pending += chunk
            ended = chunk == b""
            if pending and (ended or time.monotonic() - last >= LOG_FLUSH_S or len(pending) > 1 << 20):
                self.append(bytes(pending))
                pending.clear()
                last = time.monotonic()
            if ended:
                break
        stream.close()


def _text_settings() -> Any:
    from azure.storage.blob import ContentSettings

    return ContentSettings(content_type="text/plain; charset=utf-8")


def job_model_run_root(name: str) -> str:
    """Where a job's files are in the artifact store (what the studio's ``blob_files.RUN_ROOT`` reads)."""
    return f"ExperimentRun/dcid.{name}/"


def _mlflow_database(upstream: Any) -> str:
    """The SQLite file of the mlflow server behind ``upstream`` (``tracking.BackgroundMlflow.database_path``)."""
    owner = getattr(getattr(upstream, "_start", None), "__self__", None)
    path = getattr(owner, "database_path", None)
    if path is None:
        raise RuntimeError("the emulator's mlflow server has no known SQLite store: cannot name a job's run")
    return str(path)


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (-1, version)


def _system_data(created_at: str) -> dict[str, Any]:
    return {
        "createdAt": created_at,
        "createdBy": "Ada Lovelace",
        "createdByType": "User",
        "lastModifiedAt": created_at,
        "lastModifiedBy": "Ada Lovelace",
        "lastModifiedByType": "User",
    }


def _environment_json(
    workspace: Workspace,
    name: str,
    version: str,
    image: str | None,
    description: str,
    conda_file: str | None,
    *,
    curated: bool = False,
) -> dict[str, Any]:
    """An environment version as ARM answers it (``EnvironmentVersion``)."""
    return {
        "id": f"{workspace.arm_id}/environments/{name}/versions/{version}",
        "name": version,
        "type": f"{ML_PROVIDER}/workspaces/environments/versions",
        "properties": {
            "description": description or None,
            "tags": {},
            "properties": {"azureml.labels": "latest"} if curated else {},
            "isArchived": False,
            "isAnonymous": False,
            "environmentType": "Curated" if curated else "UserCreated",
            "image": image,
            "condaFile": conda_file,
            "build": None,
            "osType": "Linux",
            "inferenceConfig": None,
            "autoRebuild": "Disabled",
            "provisioningState": "Succeeded",
        },
        "systemData": _system_data("2026-01-15T09:31:00.0000000Z"),
    }


def register(emulator: Emulator) -> None:
    """Add the code, environment and job-create routes; ``emulator.submissions`` is the controller."""
    submissions = Submissions(emulator)
    emulator.submissions = submissions  # type: ignore[attr-defined]
    route = emulator.route
    code = WS + r"/codes/(?P<name>[^/]+)/versions"
    route("GET", ARM_HOST, code, submissions.code_versions)
    route("GET", ARM_HOST, code + r"/(?P<version>[^/]+)", submissions.code_version)
    route("PUT", ARM_HOST, code + r"/(?P<version>[^/]+)", submissions.put_code_version)
    route("POST", ARM_HOST, code + r"/(?P<version>[^/]+)/startPendingUpload", submissions.start_pending_upload)
    environment = WS + r"/environments"
    route("GET", ARM_HOST, environment, submissions.environment_containers)
    route("GET", ARM_HOST, environment + r"/(?P<name>[^/]+)/versions", submissions.environment_versions)
    route(
        "GET", ARM_HOST, environment + r"/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", submissions.environment_version
    )
    route(
        "PUT",
        ARM_HOST,
        environment + r"/(?P<name>[^/]+)/versions/(?P<version>[^/]+)",
        submissions.put_environment_version,
    )
    route("PUT", ARM_HOST, WS + r"/jobs/(?P<job>[^/]+)", submissions.put_job)
