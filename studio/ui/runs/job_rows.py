"""What a run's details dict says, as the Overview's rows: readable HTML per row, never a raw dict dump.

``get_run_details`` answers a dict whose keys depend on the kind (see ``WorkspaceBackend.get_run_details``): a
local run has ``target``, ``script``, ``arguments`` and an ``environment`` dict; an MLflow run ``runType`` "mlflow"
and a ``user``; an Azure ML job its type, ``command``, ``environment`` (a name), ``inputs`` / ``outputs`` (name →
URI), ``services`` (name → endpoint), ``createdBy`` / ``createdAt``, ``studioUrl`` and, for sweeps, pipelines and
AutoML, ``objective``, ``samplingAlgorithm``, ``limits``, ``steps``, ``task``. This module reads them all
defensively (any value may be missing or of another type) and returns the text each row shows; a row with
nothing to show is ``None`` and the Overview hides it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

STUDIO_ACTION = "Open in Azure ML studio"
"""The button's and menus' words for a run whose details carry a ``studioUrl`` (only Azure ML jobs do)."""
WEB_SCHEMES = ("https://", "http://")
"""The only links the Overview makes clickable (a service's endpoint may be ``azureml://`` or anything else)."""
ENDPOINT_CHARS = 64
"""A service's endpoint longer than this is cut in the middle in its row (whole in the tooltip)."""
MAX_ITEMS = 50
"""Inputs, outputs, services or steps shown at most (a pipeline may have hundreds): the rest are counted."""
RECORDED = ("mlflow",)
"""Run types that a script logged to a server rather than one the workspace ran (no compute, command…)."""
LOCAL_TYPES = ("inline", "script", "job")
"""A local run's types (how it was started, shown by Compute and Script) and a job of no known type."""
TYPE_WORDS = {
    "command": "Command job",
    "sweep": "Sweep job",
    "pipeline": "Pipeline job",
    "AutoML": "AutoML job",
    "spark": "Spark job",
}
LIMIT_WORDS = {"max_total_trials": "trials", "max_concurrent_trials": "at once", "timeout": "timeout"}


def run_type(details: Mapping[str, Any]) -> str | None:
    """The kind of job in words ("Sweep job"); None for a run with no job type worth a row (local or MLflow)."""
    kind = details.get("runType")
    if not isinstance(kind, str) or not kind or kind in RECORDED or kind in LOCAL_TYPES:
        return None
    return TYPE_WORDS.get(kind, f"{kind[:1].upper()}{kind[1:]} job")


def environment(details: Mapping[str, Any]) -> str | None:
    """The environment's name (a local run's dict, an Azure ``azureml:…`` reference or ``name:version``)."""
    env = details.get("environment")
    if isinstance(env, Mapping):
        name = env.get("name")
        return html.escape(str(name)) if name else "default"
    if isinstance(env, str) and env:
        return _code(_short_asset(env))
    return None


def command(details: Mapping[str, Any]) -> str | None:
    """The full command line the job ran, in a fixed font (wrapped by the label)."""
    text = details.get("command")
    return _code(text) if isinstance(text, str) and text.strip() else None


def uris(items: Any) -> str | None:
    """Inputs or outputs: one line each, ``name: URI (type)`` with the type small."""
    if not isinstance(items, Mapping) or not items:
        return None
    lines = []
    for name, value in list(items.items())[:MAX_ITEMS]:
        text = str(value)
        kind = ""
        if text.endswith(")") and " (" in text:  # "azureml://… (uri_folder)"
            text, _, kind = text[:-1].rpartition(" (")
        small = f" <small>({html.escape(kind)})</small>" if kind else ""
        lines.append(f"<b>{html.escape(str(name))}</b>: {_code(text)}{small}")
    return "<br>".join(lines) + _more(len(items))


def services(details: Mapping[str, Any]) -> str | None:
    """The job's services (Studio, TensorBoard, Jupyter…): web endpoints as links, others as text."""
    found = details.get("services")
    if not isinstance(found, Mapping) or not found:
        return None
    links, others = [], []
    for name, endpoint in list(found.items())[:MAX_ITEMS]:
        url = str(endpoint)
        label = html.escape(str(name))
        if url.startswith(WEB_SCHEMES):
            links.append(f"<a href='{html.escape(url, quote=True)}'>{label}</a>")
        else:  # e.g. Tracking: the MLflow URI of the workspace (Azure ends it with a bare "?"); whole in the tooltip
            others.append(f"{label}: {_code(_middle_cut(url.rstrip('?')))}")
    return "<br>".join(filter(None, [" · ".join(links), *others])) + _more(len(found))


def services_tooltip(details: Mapping[str, Any]) -> str:
    """Every service's whole endpoint, one a line (the row cuts long ones in the middle)."""
    found = details.get("services")
    if not isinstance(found, Mapping):
        return ""
    return "\n".join(f"{name}: {str(endpoint).rstrip('?')}" for name, endpoint in list(found.items())[:MAX_ITEMS])


def studio_url(details: Mapping[str, Any]) -> str | None:
    """The job's page in its service's web studio (``studioUrl``), if it is a web address."""
    url = details.get("studioUrl")
    return url if isinstance(url, str) and url.startswith(WEB_SCHEMES) else None


def created_by(details: Mapping[str, Any]) -> str | None:
    """Who made the run: the service's ``createdBy``, else the user a script logged as."""
    for key in ("createdBy", "user"):
        value = details.get(key)
        if isinstance(value, str) and value and value.lower() != "unknown":  # MLflow's "unknown" says nothing
            return html.escape(value)
    return None


def sweep(details: Mapping[str, Any]) -> dict[str, str | None]:
    """A sweep's, pipeline's or AutoML job's own rows: Objective, Sampling, Limits, Steps, Task."""
    rows: dict[str, str | None] = {}
    objective = details.get("objective") or details.get("primaryMetric")
    rows["Objective"] = html.escape(str(objective)) if objective else None
    algorithm = details.get("samplingAlgorithm")
    rows["Sampling"] = html.escape(str(algorithm)) if algorithm else None
    limits = details.get("limits")
    if isinstance(limits, Mapping) and limits:
        rows["Limits"] = ", ".join(
            f"{html.escape(str(value))} {LIMIT_WORDS.get(str(key), html.escape(str(key)))}"
            if key != "timeout"
            else f"timeout {html.escape(str(value))} s"
            for key, value in limits.items()
        )
    else:
        rows["Limits"] = None
    steps = details.get("steps")
    if isinstance(steps, list | tuple) and steps:
        rows["Steps"] = ", ".join(html.escape(str(s)) for s in steps[:MAX_ITEMS]) + _more(len(steps), ", ")
    else:
        rows["Steps"] = None
    task = details.get("task")
    rows["Task"] = html.escape(str(task)) if task else None
    return rows


def service_error(details: Mapping[str, Any]) -> dict[str, Any] | None:
    """The error the service recorded for a failed job (``{"code", "message"}``), if the details carry one."""
    error = details.get("error")
    if isinstance(error, Mapping) and error.get("message"):
        return dict(error)
    if isinstance(error, str) and error:
        return {"message": error}
    return None


def job_properties(run_properties: Mapping[str, str], details: Mapping[str, Any]) -> str | None:
    """The run's properties, else the job's (without the service's own ``_``-prefixed bookkeeping)."""
    shown = dict(run_properties)
    if not shown and isinstance(details.get("properties"), Mapping):
        shown = {str(k): str(v) for k, v in details["properties"].items() if not str(k).startswith("_")}
    if not shown:
        return None
    return html.escape(", ".join(f"{k}={v}" for k, v in shown.items()))


def _code(text: str) -> str:
    """Text in a fixed font that still wraps (a long command or URI must not widen the page)."""
    return f"<code style='white-space:pre-wrap'>{html.escape(text)}</code>"


def _short_asset(reference: str) -> str:
    """``azureml://registries/azureml/environments/sklearn-1.5/versions/19`` → ``sklearn-1.5:19`` (full in tooltip)."""
    parts = reference.rstrip("/").split("/")
    if "environments" in parts:
        at = parts.index("environments")
        name = parts[at + 1] if at + 1 < len(parts) else ""
        version = parts[at + 3] if at + 3 < len(parts) and parts[at + 2] == "versions" else ""
        if name:
            return f"{name}:{version}" if version else name
    return reference.removeprefix("azureml:")


def _middle_cut(text: str, keep: int = ENDPOINT_CHARS) -> str:
    """A long endpoint as its start and end around an ellipsis, cut at path segments
    (``azureml://eastus.api.azureml.ms/…/workspaces/ws``)."""
    if len(text) <= keep:
        return text
    head, tail = text[: keep // 2], text[-(keep // 2) :]
    scheme = head.find("://") + 3 if "://" in head else 0
    head_cut, tail_cut = head.rfind("/"), tail.find("/")
    head = head[: head_cut + 1] if head_cut >= max(scheme, 1) else head  # not inside "scheme://"
    tail = tail[tail_cut:] if tail_cut > 0 else tail
    return f"{head}…{tail}"


def _more(count: int, separator: str = "<br>") -> str:
    return f"{separator}… and {count - MAX_ITEMS:,} more" if count > MAX_ITEMS else ""
