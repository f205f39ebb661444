"""What ``--open-run`` accepts: a run id, a run's location, a ``studio://`` link, or an Azure ML job's web address.

- ``<run id>``: a run of the workspace ``--workspace`` (else ``$STUDIO_WORKSPACE``, else the default) names;
- ``<workspace location>/jobs/<run id>`` (or ``/runs/<run id>``) for a location with a scheme, e.g.
  ``azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<name>/jobs/<job>``: the run and its workspace;
- the address "Open in Azure ML studio" opens (and a browser's address bar shows),
  ``https://ml.azure.com/runs/<job>?wsid=/subscriptions/<sub>/resourcegroups/<rg>/providers/
  Microsoft.MachineLearningServices/workspaces/<name>&tid=…``: the job and its workspace, in Azure's location
  form. Any host (sovereign clouds have their own studio); the ``wsid`` query names the workspace;
- ``studio://run/<run id>?workspace=<location>`` (``studio.core.studio_links``; also the older
  ``studio://open?workspace=…&run=…``): the run and its workspace. A link to an experiment, or to a workspace
  alone, names no run: the window opens (or raises) its workspace.

Only strings are read here: which kind owns a location is the workspace registry's business.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from urllib.parse import parse_qs, unquote, urlsplit

from studio.core.studio_links import is_studio_link, parse_link

RUN_SEGMENTS = ("jobs", "runs")
_WSID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.machinelearningservices"
    r"/workspaces/(?P<ws>[^/]+)/?$",
    re.IGNORECASE,
)


def split_run_location(text: str) -> tuple[str | None, str | None]:
    """(the workspace location it names or None, the run id) of what ``--open-run`` was given.

    The run id is None only for a ``studio://`` link that names no run (an experiment's link).
    """
    value = text.strip()
    if is_studio_link(value):
        link = parse_link(value)
        return link.workspace, link.run_id
    if value.lower().startswith(("https://", "http://")):
        return _studio_address(value)
    if "://" in value:
        head, _, tail = value.rstrip("/").rpartition("/")
        workspace, _, segment = head.rpartition("/")
        if segment.lower() in RUN_SEGMENTS and workspace and tail:
            return workspace, unquote(tail)
        raise ValueError(f"{value!r} is not a run: give a run id, or a workspace location followed by /jobs/<run id>.")
    return None, value


def linked_experiment(text: str) -> str | None:
    """The experiment a ``studio://`` link names when it names no run; None for anything else.

    ValueError if the name cannot be an experiment's (checked here: the window would only say it has no runs).
    """
    if not is_studio_link(text):
        return None
    link = parse_link(text)
    if link.run_id is not None or link.experiment is None:
        return None
    from studio.core.validation import check_experiment_name  # numpy: not at every start of the command

    return check_experiment_name(link.experiment)


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


def link_as_open_run(argv: Sequence[str] | None) -> list[str]:
    """The command line with a bare ``studio://`` link turned into ``--open-run <link>``.

    A desktop's handler for ``studio://`` runs ``studio <link>`` (the desktop entry's ``Exec=studio %U``). Only
    the first positional argument is looked at, so a subcommand's arguments are never touched; an option's value
    (``--open-run studio://…``, ``--workspace …``) is not positional. An argparse positional would clash with the
    subcommands, hence the rewrite before parsing. Several links at once (``%U`` may pass them) open the last.
    """
    items = list(sys.argv[1:] if argv is None else argv)
    rewritten: list[str] = []
    for index, item in enumerate(items):
        previous = items[index - 1] if index else ""
        if item.startswith("-") or (previous.startswith("-") and "=" not in previous):
            rewritten.append(item)
        elif is_studio_link(item):
            rewritten += ["--open-run", item]
        else:  # the subcommand: the rest is its own
            return rewritten + items[index:]
    return rewritten
