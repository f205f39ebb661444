"""The Submit script dialog's rules, without Qt: reading the fields, and the first reason a submit would be refused.

``scan_folder`` runs on a worker (it walks the source folder); everything else is pure and quick, so the
dialog checks the fields at every keystroke and shows the reason Submit is disabled.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.compute import CLUSTER, ComputeInfo, ComputeOptions, ComputeState
from studio.core.snapshot import ALWAYS_IGNORED, SnapshotPlan, plan_snapshot
from studio.core.validation import check_experiment_name, check_metric_name, relative_file_name

MAX_LISTED_SCRIPTS = 2000
"""The entry-script list stops at this many .py files (a folder of thousands is not a source folder)."""
PACKAGES, NAMED, CONDA = "packages", "named", "conda"
"""How the job's environment is given: a package list (local), a named environment or a conda file (Azure)."""
_SKIPPED_DIRS = {d.rstrip("/") for d in ALWAYS_IGNORED}
_ENVIRONMENT = re.compile(
    r"^(?:azureml:)?[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}(?:@latest|:[A-Za-z0-9][A-Za-z0-9_.\-]{0,49})$"
    r"|^azureml://registries/[^/]+/environments/[^/]+/(?:versions|labels)/[^/]+$"
)
"""A named environment as Azure ML takes it: ``azureml:name@latest``, ``azureml:name:version`` or a registry id."""


@dataclass(frozen=True)
class FolderScan:
    """What the source folder uploads (the snapshot plan) and the Python files in it."""

    folder: str
    plan: SnapshotPlan
    uploaded_scripts: tuple[str, ...] = ()
    """.py files the snapshot takes, relative POSIX names."""
    present_scripts: frozenset[str] = frozenset()
    """Every .py file found (also those .amlignore leaves out), up to ``MAX_LISTED_SCRIPTS``."""


def scan_folder(folder: str, max_bytes: int | None, max_files: int | None) -> FolderScan:
    """On a worker: the snapshot plan of ``folder`` under the kind's limits, and its Python files."""
    plan = plan_snapshot(Path(folder), max_bytes, max_files)
    uploaded = tuple(rel for _path, rel in plan.files if rel.endswith(".py"))
    present: set[str] = set(uploaded)
    root = Path(folder).expanduser()
    if root.is_dir():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS)
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            prefix = "" if rel_dir == "." else rel_dir + "/"
            present.update(prefix + f for f in filenames if f.endswith(".py"))
            if len(present) >= MAX_LISTED_SCRIPTS:
                break
    listed = uploaded if plan.complete else tuple(sorted(present))
    return FolderScan(folder, plan, listed, frozenset(present))


@dataclass(frozen=True)
class SubmitFields:
    """The dialog's fields as typed."""

    folder: str = ""
    script: str = ""
    arguments: str = ""
    experiment: str = ""
    compute: str = ""
    env_mode: str = PACKAGES
    packages: str = ""
    environment: str = ""
    conda_file: str = ""
    display_name: str = ""
    tags: str = ""


@dataclass(frozen=True)
class SubmitRequest:
    """``ComputeBackend.submit_script``'s arguments."""

    experiment: str
    source_directory: str
    script: str
    arguments: list[str] = field(default_factory=list)
    compute: str | None = None
    environment: dict[str, Any] | None = None
    display_name: str | None = None
    tags: dict[str, str] | None = None

    def call(self, backend: Any) -> str:
        """On a worker: submit; returns the new run's id."""
        return str(
            backend.submit_script(
                self.experiment,
                self.source_directory,
                self.script,
                self.arguments,
                self.compute,
                environment=self.environment,
                display_name=self.display_name,
                tags=self.tags,
            )
        )


def parse_arguments(text: str) -> list[str]:
    """The list the script gets in ``sys.argv[1:]`` (shell quoting rules); ValueError for a bad quote."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"Arguments: {exc} (check the quotes).") from None


def parse_tags(text: str) -> dict[str, str]:
    """``key=value`` lines (blank lines skipped); ValueError naming the line that is not one."""
    tags: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"Tags, line {number}: write key=value (“{line.strip()}” is not).")
        try:
            check_metric_name(key)
        except ValueError as exc:
            raise ValueError(f"Tags, line {number}: {exc}.") from None
        if key in tags:
            raise ValueError(f"Tags, line {number}: the tag {key!r} is given twice.")
        tags[key] = value.strip()
    return tags


def parse_packages(text: str) -> list[str]:
    """One requirement per line (``numpy``, ``pandas>=2``); blank lines and ``#`` comments skipped."""
    packages = []
    for number, line in enumerate(text.splitlines(), 1):
        requirement = line.split("#", 1)[0].strip()
        if not requirement:
            continue
        if requirement.startswith("-"):
            raise ValueError(f"Packages, line {number}: give a requirement such as numpy>=2, not a pip option.")
        packages.append(requirement)
    return packages


def environment_of(fields: SubmitFields) -> dict[str, Any] | None:
    """The ``environment`` argument for the chosen mode (None: the compute's own Python / the kind's default)."""
    if fields.env_mode == PACKAGES:
        packages = parse_packages(fields.packages)
        return {"pip_packages": packages} if packages else None
    if fields.env_mode == CONDA:
        return {"conda_file": fields.conda_file.strip()}
    reference = fields.environment.strip()
    return {"name": reference} if reference else None


def compute_text(info: ComputeInfo) -> str:
    """ "local — Running", "cpu-cluster — cluster, 0 of 0-4"."""
    if info.kind == CLUSTER:
        nodes = f", {info.nodes.text}" if info.nodes is not None else ""
        return f"{info.name} — cluster{nodes}"
    return f"{info.name} — {info.state.label}"


def compute_warning(info: ComputeInfo | None, starts_local: bool) -> str:
    """What happens to a job sent to an instance that does not run ("" when it runs or is a cluster)."""
    if info is None or info.kind == CLUSTER:
        return ""
    if info.state == ComputeState.STOPPED:
        if starts_local:
            return f"{info.name} is Stopped: it is started for this job."
        return f"{info.name} is Stopped: the job waits until it runs (start it in the Compute pane)."
    if info.state.is_failed or info.state in (ComputeState.UNUSABLE, ComputeState.UNKNOWN):
        return f"{info.name} is {info.state.label}: the job may never start."
    if info.state.is_transitional:
        return f"{info.name} is {info.state.label} the job waits until it runs."
    return ""


def problem_of(
    fields: SubmitFields,
    scan: FolderScan | None,
    computes: list[ComputeInfo] | None,
    options: ComputeOptions | None,
    failure: str = "",
) -> str:
    """The first reason a submit would be refused, or "" (waiting for a scan or a list counts as a reason).

    ``failure`` is why the options or the compute could not be listed (the limits and targets are unknown).
    """
    folder = fields.folder.strip()
    if not folder:
        return "Choose the source folder."
    if options is None:
        return failure or "Loading the workspace's options…"
    if scan is None or scan.folder != folder:
        return "Reading the source folder…"
    if scan.plan.problem:
        return scan.plan.problem
    script = fields.script.strip()
    if not script:
        return "Choose the entry script." if scan.uploaded_scripts else f"{folder} has no Python script."
    try:
        script = relative_file_name(script)
    except ValueError:
        return f"The entry script must be a file inside {folder}."
    if script not in scan.uploaded_scripts:
        if script in scan.present_scripts:
            return f"{script} is left out by {scan.plan.ignore_file}: it would not be uploaded."
        return f"{script} is not in {folder}."
    if not script.endswith(".py"):
        return "The entry script must be a Python file (.py)."
    if not fields.experiment.strip():
        return "Choose an experiment or type a new name."
    try:
        parse_arguments(fields.arguments)
        check_experiment_name(fields.experiment.strip())
    except ValueError as exc:
        return _sentence(exc)
    if computes is None:
        return failure or "Loading the compute…"
    if not computes:
        return "The workspace has no compute: create an instance in the Compute pane."
    if fields.compute not in {c.name for c in computes}:
        return "Choose the compute."
    try:
        if fields.env_mode == PACKAGES:
            parse_packages(fields.packages)
        elif fields.env_mode == CONDA and not fields.conda_file.strip():
            return "Choose a conda file (Browse…)."
        elif fields.env_mode == NAMED:
            reference = fields.environment.strip()
            if not reference and not options.default_environment:
                return "Choose an environment."
            if reference and not _ENVIRONMENT.match(reference):
                return "Environment: write azureml:<name>@latest or azureml:<name>:<version>."
        parse_tags(fields.tags)
    except ValueError as exc:
        return _sentence(exc)
    return ""


def request_of(fields: SubmitFields) -> SubmitRequest:
    """The submit call for fields ``problem_of`` found nothing wrong with."""
    return SubmitRequest(
        experiment=fields.experiment.strip(),
        source_directory=str(Path(fields.folder.strip()).expanduser()),
        script=relative_file_name(fields.script.strip()),
        arguments=parse_arguments(fields.arguments),
        compute=fields.compute or None,
        environment=environment_of(fields),
        display_name=fields.display_name.strip() or None,
        tags=parse_tags(fields.tags) or None,
    )


def _sentence(exc: ValueError) -> str:
    text = str(exc)
    if text.startswith("invalid experiment name"):
        return "Experiment: " + text.removeprefix("invalid ") + "."
    return text[:1].upper() + text[1:]
