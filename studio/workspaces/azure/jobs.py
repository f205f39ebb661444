"""Job details as the Overview shows them, from azure-ai-ml's job entity (``ml_client.jobs.get``).

``job_details`` reads the entity defensively (every attribute through ``getattr``): command, sweep, pipeline and
AutoML jobs carry different fields, and a pipeline's child comes from run history with fewer. ARM jobs have no
start or end time; the backend adds those from MLflow. Run history's children (``children_page``) are plain
JSON: ``runId``, ``displayName``, ``status``, ``createdUtc``, ``startTimeUtc``, ``endTimeUtc``, ``tags``….
"""

from __future__ import annotations

import logging
import shlex
import threading
from datetime import datetime
from enum import Enum
from typing import Any

_warmed = threading.Lock()
_warm_done = False

JOBS_API = "2024-01-01-preview"
"""The ARM api-version of ``{WS}/jobs/{name}``."""

JOB_TYPES = {"command": "command", "sweep": "sweep", "pipeline": "pipeline", "automl": "AutoML", "spark": "spark"}


def job_details(job: Any) -> dict[str, object]:
    """A JSON-able dict of what the job is: type, names, status, compute, command, environment, inputs…"""
    details: dict[str, object] = {}
    raw_type = str(getattr(job, "type", "") or "")
    details["runType"] = JOB_TYPES.get(raw_type.lower(), raw_type or "job")
    _put(details, "name", getattr(job, "name", None))
    _put(details, "displayName", getattr(job, "display_name", None))
    _put(details, "description", getattr(job, "description", None))
    _put(details, "experimentName", getattr(job, "experiment_name", None))
    _put(details, "azureStatus", getattr(job, "status", None))
    compute = getattr(job, "compute", None)
    details["target"] = _last_segment(str(compute)) if compute else "serverless"
    command = getattr(job, "command", None)
    if isinstance(command, str) and command:
        details["command"] = command
        script, arguments = split_command(command)
        _put(details, "script", script)
        if arguments:
            details["arguments"] = arguments
    environment = getattr(job, "environment", None)
    if environment is not None:
        details["environment"] = _text(environment)
    code = getattr(job, "code", None)
    if code:
        details["codeId"] = _text(code)
    inputs = _io(getattr(job, "inputs", None))
    if inputs:
        details["inputs"] = inputs
    outputs = _io(getattr(job, "outputs", None))
    if outputs:
        details["outputs"] = outputs
    tags = getattr(job, "tags", None)
    if isinstance(tags, dict):
        details["azureTags"] = {str(k): str(v) for k, v in tags.items()}
    properties = getattr(job, "properties", None)
    if isinstance(properties, dict) and properties:
        details["properties"] = {str(k): str(v) for k, v in properties.items()}
    services = _services(getattr(job, "services", None))
    if services:
        details["services"] = services
    studio = getattr(job, "studio_url", None) or services.get("Studio")
    if studio:
        details["studioUrl"] = str(studio)
    context = getattr(job, "creation_context", None)
    if context is not None:
        _put(details, "createdBy", getattr(context, "created_by", None))
        created = getattr(context, "created_at", None)
        if isinstance(created, datetime):
            details["createdAt"] = created.timestamp()
    _type_specific(job, details, str(details["runType"]))
    return details


def arm_job_details(document: dict[str, Any]) -> dict[str, object]:
    """The same dict from ARM's ``JobBase`` JSON (``GET {WS}/jobs/{name}``), for jobs azure-ai-ml cannot parse."""
    props = document.get("properties") or {}
    details: dict[str, object] = {}
    raw_type = str(props.get("jobType") or "")
    details["runType"] = JOB_TYPES.get(raw_type.lower(), raw_type or "job")
    _put(details, "name", document.get("name"))
    for key, field in (
        ("displayName", "displayName"),
        ("description", "description"),
        ("experimentName", "experimentName"),
        ("azureStatus", "status"),
    ):
        _put(details, key, props.get(field))
    compute = props.get("computeId")
    details["target"] = _last_segment(str(compute)) if compute else "serverless"
    trial: dict[str, Any] = props["trial"] if isinstance(props.get("trial"), dict) else {}
    command = props.get("command") or trial.get("command")
    if isinstance(command, str) and command:
        details["command"] = command
        script, arguments = split_command(command)
        _put(details, "script", script)
        if arguments:
            details["arguments"] = arguments
    _put(details, "environment", props.get("environmentId") or trial.get("environmentId"))
    _put(details, "codeId", props.get("codeId") or trial.get("codeId"))
    for key in ("inputs", "outputs"):
        items = props.get(key)
        if isinstance(items, dict) and items:
            found = {}
            for name, item in items.items():
                if not isinstance(item, dict):
                    found[str(name)] = str(item)
                    continue
                value = item.get("uri") or item.get("value") or ""
                kind = item.get("jobInputType") or item.get("jobOutputType")
                found[str(name)] = f"{value}" + (f" ({kind})" if kind and value else (str(kind) if kind else ""))
            details[key] = found
    if isinstance(props.get("tags"), dict):
        details["azureTags"] = {str(k): str(v) for k, v in props["tags"].items()}
    if isinstance(props.get("properties"), dict) and props["properties"]:
        details["properties"] = {str(k): str(v) for k, v in props["properties"].items()}
    services = _services(props.get("services"))
    if services:
        details["services"] = services
    if services.get("Studio"):
        details["studioUrl"] = services["Studio"]
    system = document.get("systemData") or {}
    _put(details, "createdBy", system.get("createdBy"))
    created = iso_seconds(system.get("createdAt"))
    if created is not None:
        details["createdAt"] = created
    objective = props.get("objective")
    if isinstance(objective, dict) and objective.get("primaryMetric"):
        details["objective"] = f"{objective.get('goal') or ''} {objective['primaryMetric']}".strip()
    algorithm = props.get("samplingAlgorithm")
    if isinstance(algorithm, dict) and algorithm.get("samplingAlgorithmType"):
        details["samplingAlgorithm"] = str(algorithm["samplingAlgorithmType"])
    limits = props.get("limits")
    if isinstance(limits, dict):
        kept = {k: v for k, v in limits.items() if k != "jobLimitsType" and v is not None}
        if kept:
            details["limits"] = kept
    steps = props.get("jobs")
    if isinstance(steps, dict) and steps:
        details["steps"] = sorted(str(k) for k in steps)
    task = props.get("taskDetails")
    if isinstance(task, dict):
        _put(details, "task", task.get("taskType"))
        _put(details, "primaryMetric", task.get("primaryMetric"))
    return details


def warm_sdk() -> None:
    """Read one small job body with azure-ai-ml, once per process, so the first real ``jobs.get`` costs what the next
    ones do. Its first parse of a job's ``queueSettings`` (an experimental field) walks ``inspect.stack()``, which
    builds inspect's module cache: ~120 ms of CPU holding the GIL, measured while the window drew a job's first
    chart. Done on a worker when a workspace opens (and by ``opener.preload``); any failure is only logged."""
    global _warm_done
    with _warmed:
        if _warm_done:
            return
        _warm_done = True
    try:
        from azure.ai.ml._restclient.arm_ml_service.models import JobBase
        from azure.ai.ml.entities import Job

        ws = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
        body = {
            "id": f"{ws}/jobs/warm",
            "name": "warm",
            "properties": {
                "jobType": "Command",
                "command": "python train.py",
                "environmentId": "azureml:env:1",
                "computeId": f"{ws}/computes/c",
                "experimentName": "warm",
                "status": "Completed",
                "queueSettings": {"jobTier": "Null"},
                "outputs": {},
                "inputs": {},
            },
        }
        Job._from_rest_object(JobBase(body))
    except Exception as exc:  # a warm-up only: the real call says what is wrong
        logging.getLogger(__name__).debug("azure-ai-ml warm-up failed: %s", exc)


def split_command(command: str) -> tuple[str | None, list[str]]:
    """(script, arguments) of ``python train.py --lr 0.1``-like commands; (None, []) when it is not one."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None, []
    for index, word in enumerate(words):
        if word.endswith(".py"):
            return word, words[index + 1 :]
    return None, []


def _type_specific(job: Any, details: dict[str, object], kind: str) -> None:
    """Sweep objective and limits, a pipeline's steps, AutoML's task."""
    if kind not in ("sweep", "pipeline", "AutoML"):
        return
    objective = getattr(job, "objective", None)
    if objective is not None:
        goal = getattr(objective, "goal", None)
        metric = getattr(objective, "primary_metric", None)
        if metric:
            details["objective"] = f"{_plain(goal) if goal else ''} {_plain(metric)}".strip()
    algorithm = getattr(job, "sampling_algorithm", None)
    if algorithm is not None:
        kind_of = getattr(algorithm, "type", None) or algorithm
        details["samplingAlgorithm"] = str(kind_of.value if isinstance(kind_of, Enum) else kind_of)
    limits = getattr(job, "limits", None)
    if limits is not None:
        for attribute in ("max_total_trials", "max_concurrent_trials", "timeout"):
            value = getattr(limits, attribute, None)
            if value is not None:
                details.setdefault("limits", {})[attribute] = value  # type: ignore[index]
    steps = getattr(job, "jobs", None)
    if isinstance(steps, dict) and steps:
        details["steps"] = sorted(str(k) for k in steps)
    task = getattr(job, "task_type", None)
    if task:
        details["task"] = _plain(task)
    metric = getattr(job, "primary_metric", None)
    if metric and "objective" not in details:
        details["primaryMetric"] = _plain(metric)


def _services(services: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    if isinstance(services, dict):
        for name, service in services.items():
            endpoint = getattr(service, "endpoint", None)
            if endpoint is None and isinstance(service, dict):
                endpoint = service.get("endpoint")
            if endpoint:
                found[str(name)] = str(endpoint)
    return found


def _io(items: Any) -> dict[str, str]:
    """Inputs or outputs by name: a path or URI, or the literal value."""
    found: dict[str, str] = {}
    if not isinstance(items, dict):
        return found
    for name, item in items.items():
        if isinstance(item, str | int | float | bool):
            found[str(name)] = str(item)
            continue
        path = getattr(item, "path", None) or getattr(item, "uri", None)
        kind = getattr(item, "type", None)
        if path:
            found[str(name)] = f"{path}" + (f" ({kind})" if kind else "")
        elif kind:
            found[str(name)] = str(kind)
        else:
            found[str(name)] = _text(item)
    return found


def _text(value: Any) -> str:
    """An entity's name (and version) or id, else its text."""
    if isinstance(value, str):
        return value
    name = getattr(value, "name", None)
    version = getattr(value, "version", None)
    if name:
        return f"{name}:{version}" if version else str(name)
    identifier = getattr(value, "id", None)
    return str(identifier) if identifier else str(value)


def _last_segment(value: str) -> str:
    return value.rstrip("/").rsplit("/", 1)[-1]


def _plain(value: Any) -> str:
    """An SDK enum's value ("Classification", not "TaskType.CLASSIFICATION"), else the text."""
    return str(value.value if isinstance(value, Enum) else value)


def _put(details: dict[str, object], key: str, value: Any) -> None:
    if isinstance(value, Enum):  # the SDK's enums print as "JobStatus.RUNNING"
        value = value.value
    if value is not None and value != "":
        details[key] = value if isinstance(value, int | float | bool) else str(value)


def iso_seconds(text: Any) -> float | None:
    """Seconds since the epoch of run history's ISO 8601 times (``2026-12-04T17:20:00.123Z``); None if absent."""
    if not isinstance(text, str) or not text:
        return None
    value = text.strip().replace("Z", "+00:00")
    # Run history sends up to seven fractional digits; fromisoformat takes six.
    if "." in value:
        head, _, tail = value.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits) :]
        value = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def is_service_failure(exc: BaseException) -> bool:
    """Whether azure-core says the service failed or was not reached (not that the SDK failed to parse)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return isinstance(getattr(exc, "status_code", None), int) or bool(
        names & {"HttpResponseError", "ServiceRequestError", "ServiceResponseError", "ClientAuthenticationError"}
    )
