"""Submitting a script to Azure ML: ``azure.ai.ml.command(...)`` through ``ml_client.jobs.create_or_update``.

What the service would refuse is refused here first, before a byte is uploaded: a missing source folder or a script
outside it, an experiment name Azure does not take, a compute the workspace does not have (or one being deleted or
failed), a snapshot that cannot be read, an environment reference with no version or label, a conda file that is
missing or not YAML, tags or arguments that are not text. Then the SDK uploads the folder (``.amlignore`` /
``.gitignore`` apply, as ``studio.core.snapshot`` plans them) and creates the job; its name is the run id.

The environment (``submit_script``'s ``environment``):
- ``{"name": "azureml:AzureML-sklearn-1.5@latest"}`` or ``azureml:name:version`` (``azureml:`` may be left out;
  registry ids ``azureml://registries/…`` pass as they are), None for the default curated one;
- ``{"conda_file": "/abs/env.yml", "image": "<base image>"}`` (image optional): an environment built by Azure;
- the studio SDK's package lists (``{"name", "pip_packages", "conda_packages"}``): made into a conda file on the
  default image, so a ``ScriptRunConfig`` written for the local kind runs on Azure too.
Round trips: the compute list if not listed in the last ``FRESH_S`` (1 per page), then the SDK's code-upload
sequence (hash lookup, pending upload, blob PUTs, code version PUT) and the job PUT.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from studio.core.compute import ComputeInfo, ComputeState
from studio.core.errors import NotFoundError, RunStateError, StudioError
from studio.core.snapshot import plan_snapshot
from studio.core.validation import check_experiment_name, relative_file_name
from studio.workspaces.azure.compute import DEFAULT_ENVIRONMENT, AzureCompute
from studio.workspaces.azure.connection import AzureConnection

DEFAULT_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
"""The base image of an environment made from a conda file or package list (Azure ML's own CPU base)."""
_REFERENCE = re.compile(r"^azureml:[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}(?:@latest|:[A-Za-z0-9][A-Za-z0-9_.\-]{0,49})$")
_REGISTRY = re.compile(r"^azureml://registries/[^/]+/environments/[^/]+/(?:versions/[^/]+|labels/[^/]+)$")


def submit_script(
    connection: AzureConnection,
    compute: AzureCompute,
    experiment: str,
    source_directory: str,
    script: str,
    arguments: list[Any] | None = None,
    target: str | None = None,
    *,
    environment: dict[str, Any] | None = None,
    display_name: str | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Create a command job running ``python script arguments`` from ``source_directory``; returns its name."""
    check_experiment_name(experiment)
    source = Path(source_directory).expanduser().absolute()
    if not source.is_dir():
        raise NotFoundError(f"The source folder {source} does not exist.")
    script_name = relative_file_name(script)
    if not (source / script_name).is_file():
        raise NotFoundError(f"The script {script_name} is not in {source}.")
    args = [_argument(a) for a in arguments or ()]
    if display_name is not None and not isinstance(display_name, str):
        raise TypeError(f"the display name must be text, not {type(display_name).__name__}")
    job_tags = _tags(tags)
    job_environment = job_environment_of(environment)
    compute_name = _target(compute, target)
    plan = plan_snapshot(source)
    if plan.problem:
        raise StudioError(plan.problem)
    from azure.ai.ml import command

    job = command(
        code=str(source),
        command=" ".join(["python", shlex.quote(script_name), *(shlex.quote(a) for a in args)]),
        environment=job_environment,
        compute=compute_name,
        experiment_name=experiment,
        display_name=display_name or None,
        tags=job_tags,
    )
    created = connection.sdk_call(
        f"a job in the experiment {experiment!r}", connection.ml_client.jobs.create_or_update, job
    )
    return str(created.name)


def job_environment_of(environment: dict[str, Any] | None) -> Any:
    """The ``environment`` argument of ``command(...)``: a reference text or an ``Environment`` entity."""
    if environment is None:
        return DEFAULT_ENVIRONMENT
    if not isinstance(environment, dict):
        raise TypeError(f"the environment must be a dict, not {type(environment).__name__}")
    pip = list(environment.get("pip_packages") or ())
    conda = list(environment.get("conda_packages") or ())
    if environment.get("conda_file"):
        return _from_conda_file(environment["conda_file"], environment.get("image"))
    if pip or conda:
        return _from_packages(
            str(environment.get("name") or "studio-environment"), conda, pip, environment.get("image")
        )
    name = environment.get("name")
    if not name:
        return DEFAULT_ENVIRONMENT
    return environment_reference(name)


def environment_reference(name: object) -> str:
    """``azureml:name@latest`` / ``azureml:name:version`` (``azureml:`` added when left out), or a registry id;
    ValueError saying the form otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"an environment reference must be text, not {type(name).__name__}")
    text = name.strip()
    if _REGISTRY.match(text):
        return text
    if not text.startswith("azureml:"):
        text = f"azureml:{text}"
    if not _REFERENCE.match(text):
        raise ValueError(
            f"{name!r} is not an Azure ML environment reference: write azureml:<name>@latest or "
            "azureml:<name>:<version> (e.g. azureml:AzureML-sklearn-1.5@latest)."
        )
    return text


def _from_conda_file(path_text: Any, image: Any) -> Any:
    path = Path(str(path_text)).expanduser().absolute()
    if not path.is_file():
        raise NotFoundError(f"The conda file {path} does not exist.")
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"The conda file {path} is not readable YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(document, dict) or not isinstance(document.get("dependencies"), list):
        raise ValueError(
            f"The conda file {path} lists no dependencies (a conda environment file has a 'dependencies' list)."
        )
    from azure.ai.ml.entities import Environment

    return Environment(image=_image(image), conda_file=str(path))


def _from_packages(name: str, conda: list[Any], pip: list[Any], image: Any) -> Any:
    for package in (*conda, *pip):
        if not isinstance(package, str) or not package.strip():
            raise TypeError(f"package names must be text, not {package!r}")
    dependencies: list[Any] = ["python=3.10", "pip", *conda]
    if pip:
        dependencies.append({"pip": pip})
    from azure.ai.ml.entities import Environment

    conda_name = re.sub(r"[^A-Za-z0-9_.\-]", "-", name) or "studio-environment"
    return Environment(
        image=_image(image), conda_file={"name": conda_name, "channels": ["conda-forge"], "dependencies": dependencies}
    )


def _image(image: Any) -> str:
    if image is None or image == "":
        return DEFAULT_IMAGE
    if not isinstance(image, str) or any(c.isspace() for c in image.strip()) or not image.strip():
        raise ValueError(f"{image!r} is not a container image name (e.g. {DEFAULT_IMAGE}).")
    return image.strip()


def _target(compute: AzureCompute, target: str | None) -> str | None:
    """The compute's name if the workspace has it and it can take jobs; None (serverless) when not given."""
    if target is None or target == "":
        return None
    if not isinstance(target, str):
        raise TypeError(f"the compute must be a name, not {type(target).__name__}")
    name = target.strip()
    if name.startswith("azureml:"):
        name = name[len("azureml:") :]
    info = compute.known(name)
    if info is None:
        listed = compute.list()
        found = {c.name: c for c in listed}
        if name not in found:
            names = ", ".join(sorted(found)) or "none"
            raise NotFoundError(f"The workspace has no compute named {name} (it has: {names}).")
        info = found[name]
    _check_usable(info)
    return name


def _check_usable(info: ComputeInfo) -> None:
    if info.state is ComputeState.DELETING:
        raise RunStateError(f"{info.name} is being deleted; pick another compute.")
    if info.state.is_failed:
        error = f" ({info.last_error})" if info.last_error else ""
        raise RunStateError(f"{info.name} is {info.state.label}{error}; pick another compute.")


def _tags(tags: dict[str, str] | None) -> dict[str, str] | None:
    if tags is None:
        return None
    if not isinstance(tags, dict):
        raise TypeError(f"tags must be a dict of text, not {type(tags).__name__}")
    for key, value in tags.items():
        if not isinstance(key, str) or not key.strip():
            raise TypeError(f"tag names must be non-empty text, not {key!r}")
        if not isinstance(value, str):
            raise TypeError(f"the tag {key!r} must have a text value, not {type(value).__name__}")
    return dict(tags)


def _argument(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"script arguments must be text or numbers, not {type(value).__name__}")
    return str(value)
