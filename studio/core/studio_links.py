"""``studio://`` links: what ``Run.get_portal_url()`` writes and what ``studio <link>`` opens.

- ``studio://run/<run id>?workspace=<location>`` opens a run; ``&file=<path>`` names one of its files
  (the run's log files in ``Run.get_details()``);
- ``studio://experiment/<name>?workspace=<location>`` names an experiment;
- ``studio://open?workspace=…&experiment=…&run=…[&file=…]``, the form written before, is still read:
  logged run details hold such links.

``<location>`` is a workspace location (a local workspace's absolute folder, ``mlflow+http(s)://…``,
``azureml://…``), percent-encoded. Values are decoded with ``unquote``, never ``unquote_plus``: a ``+`` is
part of ``mlflow+https://``, and a space is written ``%20``. Only strings are handled here; which kind owns
the location is the workspace registry's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

SCHEME = "studio"
_PREFIX = f"{SCHEME}://"
_SAFE = "/:"
"""Left as they are in a location (RFC 3986 allows them in a query): links to folders stay readable."""
_FORM = "studio://run/<run id>?workspace=<location>"


@dataclass(frozen=True)
class StudioLink:
    """What a link names: a workspace, and in it maybe an experiment, a run and one of the run's files."""

    workspace: str
    run_id: str | None = None
    experiment: str | None = None
    file: str | None = None


def is_studio_link(text: str) -> bool:
    """True if ``text`` is meant as a ``studio:`` link (well-formed or not)."""
    return text.strip().lower().startswith(f"{SCHEME}:")


def run_link(location: str, run_id: str, file: str | None = None) -> str:
    """The link that opens run ``run_id`` of the workspace at ``location`` (and names ``file`` of it)."""
    link = f"{_PREFIX}run/{quote(run_id, safe='')}?workspace={quote(location, safe=_SAFE)}"
    return link if file is None else f"{link}&file={quote(file, safe='/')}"


def experiment_link(location: str, experiment: str) -> str:
    """The link that names experiment ``experiment`` of the workspace at ``location``."""
    return f"{_PREFIX}experiment/{quote(experiment, safe='')}?workspace={quote(location, safe=_SAFE)}"


def parse_link(text: str) -> StudioLink:
    """What the link ``text`` names; ValueError in one sentence if it is not a link Studio can open."""
    value = text.strip()
    if not value.lower().startswith(_PREFIX):
        raise ValueError(f"{value!r} is not a Studio link: a link looks like {_FORM}.")
    target, _, query = value[len(_PREFIX) :].partition("?")
    host, _, path = target.partition("/")
    names = [unquote(part).strip() for part in path.split("/") if part.strip()]
    fields = _query(query)
    host = host.lower()
    if host == "open":  # the form written before: everything in the query
        names = [fields["run"]] if fields.get("run") else []
        experiment = fields.get("experiment") or None
    elif host in ("run", "experiment"):
        experiment = None
    else:
        raise ValueError(f"{value!r} is not a link Studio knows ({host or 'nothing'} after studio://): use {_FORM}.")
    if host != "open" and len(names) != 1:
        thing = "a run id" if host == "run" else "an experiment name"
        problem = "names nothing" if not names else "has more than one part"
        raise ValueError(f"The link {value!r} {problem} after studio://{host}/: it needs {thing} there.")
    workspace = fields.get("workspace", "")
    if not workspace:
        raise ValueError(f"The link {value!r} names no workspace: add ?workspace=<the workspace's folder or address>.")
    file = fields.get("file") or None
    if host == "experiment":
        return StudioLink(workspace, experiment=names[0])
    return StudioLink(workspace, run_id=names[0] if names else None, experiment=experiment, file=file)


def _query(query: str) -> dict[str, str]:
    """The query's fields, decoded (the first of a repeated one); keys are case-insensitive."""
    fields: dict[str, str] = {}
    for pair in query.split("&"):
        key, _, raw = pair.partition("=")
        fields.setdefault(unquote(key).strip().lower(), unquote(raw).strip())
    return fields
