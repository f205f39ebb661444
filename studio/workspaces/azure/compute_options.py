"""What an Azure ML workspace offers for new instances and script jobs (``ComputeOptions``), and the checks a new
instance's settings get before anything is sent.

VM sizes: ``ml_client.compute.list_sizes(location=…)`` (the workspace's location is known since opening, so the SDK
does not GET the workspace again), only those that can be compute instances. Environments: a few curated ones
(Azure ML's registry; the default ``azureml:AzureML-sklearn-1.5@latest``) and the workspace's registered
environments (``ml_client.environments.list()``, each as ``azureml:<name>@latest``; ``AzureML-*`` ones count as
curated). A listing the account may not read leaves its part empty (the rest still shows); no network raises.
Snapshot limits: none — azure-ai-ml uploads the code to blob storage and enforces no size or file count.
"""

from __future__ import annotations

import logging
import re

from studio.core.compute import ComputeOptions, EnvironmentChoice, VmSize
from studio.core.errors import StudioError
from studio.workspaces.azure.compute_shapes import supports_instances, vm_size
from studio.workspaces.azure.connection import AzureConnection
from studio.workspaces.azure.offline_sync import is_network_error

log = logging.getLogger(__name__)

DEFAULT_VM_SIZE = "Standard_DS3_v2"
DEFAULT_ENVIRONMENT = "azureml:AzureML-sklearn-1.5@latest"
CURATED = (
    EnvironmentChoice(DEFAULT_ENVIRONMENT, "scikit-learn 1.5, Python 3.10 (CPU)", curated=True),
    EnvironmentChoice("azureml:AzureML-acpt-pytorch-2.2-cuda12.1@latest", "PyTorch 2.2, CUDA 12.1", True),
    EnvironmentChoice("azureml:AzureML-tensorflow-2.12-cuda11@latest", "TensorFlow 2.12, CUDA 11", True),
    EnvironmentChoice("azureml:AzureML-lightgbm-3.3@latest", "LightGBM 3.3 (CPU)", curated=True),
)
MIN_IDLE_MINUTES, MAX_IDLE_MINUTES = 15, 3 * 24 * 60
"""Azure ML's range for a compute instance's idle shutdown."""
_INSTANCE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]")


def compute_options(connection: AzureConnection) -> ComputeOptions:
    """The region's VM sizes and the environments (see the module docstring): two requests."""
    sizes = _sizes(connection)
    names = {s.name.lower() for s in sizes}
    default_size = DEFAULT_VM_SIZE if not sizes or DEFAULT_VM_SIZE.lower() in names else sizes[0].name
    return ComputeOptions(
        vm_sizes=sizes,
        default_vm_size=default_size,
        max_concurrent_jobs=False,
        clusters=True,
        environments=_environments(connection),
        default_environment=DEFAULT_ENVIRONMENT,
        packages_environment=False,
        conda_file_environment=True,
        snapshot_max_bytes=None,
        snapshot_max_files=None,
        min_name_length=3,
        idle_minutes_range=(MIN_IDLE_MINUTES, MAX_IDLE_MINUTES),
        default_idle_minutes=60,
    )


def _sizes(connection: AzureConnection) -> tuple[VmSize, ...]:
    location = connection.details().location or None
    try:
        found = connection.sdk_call("the region's VM sizes", connection.ml_client.compute.list_sizes, location=location)
        sizes = [vm_size(s) for s in found or () if supports_instances(s)]
    except StudioError as exc:
        if is_network_error(exc):
            raise
        log.info("VM sizes not listed: %s", exc)
        return ()
    return tuple(sorted((s for s in sizes if s.name), key=lambda s: s.name.lower()))


def _environments(connection: AzureConnection) -> tuple[EnvironmentChoice, ...]:
    try:
        found = connection.sdk_call(
            "the workspace's environments", lambda: list(connection.ml_client.environments.list())
        )
    except StudioError as exc:
        if is_network_error(exc):
            raise
        log.info("environments not listed: %s", exc)
        found = []
    curated = {c.reference.lower() for c in CURATED}
    registered = []
    for environment in found:
        name = str(getattr(environment, "name", "") or "")
        reference = f"azureml:{name}@latest"
        if name and reference.lower() not in curated:
            description = str(getattr(environment, "description", "") or "")
            registered.append(EnvironmentChoice(reference, description, curated=name.startswith("AzureML-")))
    registered.sort(key=lambda e: (not e.curated, e.reference.lower()))
    return (*CURATED, *registered)


def check_instance_name(name: object) -> str:
    """``name`` if Azure ML accepts it for a compute instance (3 to 24 letters, digits or '-', starting with a letter,
    not ending with '-'), else ValueError saying the rule."""
    if not isinstance(name, str) or not _INSTANCE_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} cannot name an Azure ML compute instance: use 3 to 24 letters, digits or '-', "
            "starting with a letter and not ending with '-'."
        )
    return name


def idle_minutes(minutes: float | None) -> int | None:
    """Whole minutes of idle shutdown Azure ML accepts (None: never), else TypeError/ValueError saying why."""
    if minutes is None:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not minutes == minutes:
        raise TypeError(f"the idle shutdown must be a number of minutes, not {minutes!r}")
    whole = round(minutes)
    if not MIN_IDLE_MINUTES <= whole <= MAX_IDLE_MINUTES:
        raise ValueError(
            f"Azure ML shuts an idle compute instance down after {MIN_IDLE_MINUTES} minutes to 3 days; "
            f"{minutes:g} minutes is outside that."
        )
    return int(whole)
