"""What ``--open-run`` accepts: a run id, a run's location, or the web studio address of an Azure ML job.

- ``<run id>``: a run of the workspace ``--workspace`` (else ``$STUDIO_WORKSPACE``, else the default) names;
- ``<workspace location>/jobs/<run id>`` (or ``/runs/<run id>``) for a location with a scheme, e.g.
  ``azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<name>/jobs/<job>``: the run and its workspace;
- the address "Open in Azure ML studio" opens (and a browser's address bar shows),
  ``https://ml.azure.com/runs/<job>?wsid=/subscriptions/<sub>/resourcegroups/<rg>/providers/
  Microsoft.MachineLearningServices/workspaces/<name>&tid=…``: the job and its workspace, in Azure's location
  form. Any host (sovereign clouds have their own studio); the ``wsid`` query names the workspace.

Only strings are read here: which kind owns a location is the workspace registry's business.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

RUN_SEGMENTS = ("jobs", "runs")
_WSID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.machinelearningservices"
    r"/workspaces/(?P<ws>[^/]+)/?$",
    re.IGNORECASE,
)


def split_run_location(text: str) -> tuple[str | None, str]:
    """(the workspace location it names or None, the run id) of what ``--open-run`` was given."""
    value = text.strip()
    if value.lower().startswith(("https://", "http://")):
        return _studio_address(value)
    if "://" in value:
        head, _, tail = value.rstrip("/").rpartition("/")
        workspace, _, segment = head.rpartition("/")
        if segment.lower() in RUN_SEGMENTS and workspace and tail:
            return workspace, unquote(tail)
        raise ValueError(f"{value!r} is not a run: give a run id, or a workspace location followed by /jobs/<run id>.")
    return None, value


def _studio_address(url: str) -> tuple[str, str]:
    """The workspace and job of an Azure ML studio address (``…/runs/<job>?wsid=…``)."""
    parts = urlsplit(url)
    path = [unquote(p) for p in parts.path.split("/") if p]
    query = parse_qs(parts.query)
    wsid = (query.get("wsid") or [""])[0]
    match = _WSID.match(wsid)
    run = next((path[i + 1] for i in range(len(path) - 1) if path[i].lower() in RUN_SEGMENTS), "")
    if not run or match is None:
        raise ValueError(
            f"{url!r} is not the address of a job: copy it from the job's page in Azure ML studio "
            "(…/runs/<job>?wsid=/subscriptions/…/workspaces/<name>)."
        )
    workspace = f"azureml://subscriptions/{match['sub']}/resourcegroups/{match['rg']}/workspaces/{match['ws']}"
    return workspace, run
