"""`studio job submit|list|show|logs|cancel|download`, after `az ml job`."""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from studio.commands.output import common_options, print_record, print_table
from studio.commands.workspace import compute_of, open_from_args
from studio.core.backend import WorkspaceBackend
from studio.core.errors import NotFoundError
from studio.core.search import Key, compile_query, key_text, lookup, parse_keys, run_values, sort_key
from studio.core.status import RunStatus
from studio.core.types import RunInfo, RunQuery

STD_LOG = "user_logs/std_log.txt"
EXACT_WORKERS = 8
"""Active runs of a listing whose current status is asked at once."""
FOLLOW_LOCAL_S, FOLLOW_REMOTE_S = 0.2, 1.0
"""``job logs --follow``: seconds between looks at a local run's log, and at a remote one's (a server's)."""
DETAIL_FIELDS = (
    ("runType", "type"),
    ("target", "compute"),
    ("command", "command"),
    ("environment", "environment"),
    ("inputs", "inputs"),
    ("outputs", "outputs"),
    ("createdBy", "created_by"),
    ("studioUrl", "studio_url"),
)
"""``get_run_details`` keys ``job show`` prints (those the run has), and their names in its output."""


def add_parser(sub: Any) -> None:
    """Register the job subcommands."""
    common = common_options()
    job = sub.add_parser("job", help="submit and follow script jobs")
    actions = job.add_subparsers(dest="action", metavar="ACTION", required=True)
    submit = actions.add_parser(
        "submit",
        help="run a script on a compute instance or cluster",
        description="Run python SCRIPT [ARGS...] from a source folder: studio job submit --experiment NAME "
        "[--compute NAME] [options] DIR SCRIPT [ARGS...] (or --source-dir DIR SCRIPT [-- ARGS...]). Options go "
        "before DIR: what follows the script is the script's.",
        parents=[common],
    )
    submit.add_argument("--experiment", required=True)
    submit.add_argument(
        "--compute", default=None, help="instance or cluster name (default: local; Azure ML: serverless compute)"
    )
    submit.add_argument(
        "--source-dir", default=None, help="folder uploaded with the script (default: DIR if given, else here)"
    )
    submit.add_argument("--name", default=None, help="display name of the run")
    submit.add_argument(
        "--environment",
        default=None,
        metavar="REF|CONDA.yml",
        help="Azure ML: an environment (azureml:AzureML-sklearn-1.5@latest, azureml:name:version) or a conda file",
    )
    submit.add_argument("--image", default=None, help="Azure ML: the base image for a conda file's environment")
    submit.add_argument(
        "--tag", action="append", default=[], type=_tag, metavar="KEY=VALUE", help="a tag of the run (repeatable)"
    )
    submit.add_argument("--stream", action="store_true", help="then print the run's log until it ends")
    submit.add_argument("script", metavar="[DIR] SCRIPT")
    submit.add_argument("script_args", nargs=argparse.REMAINDER, help="arguments for the script")
    lst = actions.add_parser(
        "list",
        help="list runs, newest first, or filtered and sorted with MLflow's search syntax",
        description="List runs. --filter and --order-by take MLflow's search syntax with the keys metrics.<name>, "
        "params.<name>, tags.<name>, properties.<name> and attributes.<status|run_name|run_id|start_time|end_time|"
        "created|duration>; names with spaces or dots go in backticks (metrics.`val loss`). Only MLflow's syntax: "
        "the window's quick words (resnet status:Failed) are not read here, so a mistyped key fails instead of "
        "silently becoming a word to search for; write attributes.status = 'Failed'.",
        parents=[common],
    )
    lst.add_argument("--experiment", default=None, help="only this experiment (default: every experiment)")
    lst.add_argument(
        "--filter",
        default="",
        metavar="FILTER",
        help="e.g. \"metrics.acc > 0.9 and params.lr = '0.01'\" (comparators = != < <= > >= LIKE ILIKE IN, NOT IN)",
    )
    lst.add_argument(
        "--order-by",
        action="append",
        default=[],
        metavar="KEY [ASC|DESC]",
        help='e.g. "metrics.acc DESC"; repeat for ties (default: newest first)',
    )
    lst.add_argument(
        "--columns",
        default="",
        metavar="KEYS",
        help="comma-separated keys to show after the fixed columns, e.g. metrics.acc,params.lr,tags.model",
    )
    lst.add_argument("--limit", type=_positive, default=50, help="at most this many runs (default: 50)")
    for action, text in (("show", "show a run"), ("cancel", "cancel a run")):
        p = actions.add_parser(action, help=text, parents=[common])
        p.add_argument("run")
    logs = actions.add_parser("logs", help="print a run's log", parents=[common])
    logs.add_argument("run")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")
    dl = actions.add_parser("download", help="download a run's files", parents=[common])
    dl.add_argument("run")
    dl.add_argument("--prefix", default="", help="only files under this path (e.g. outputs)")
    dl.add_argument("--output-dir", default=".")


def run(args: argparse.Namespace) -> int:
    """Execute a job subcommand."""
    backend = open_from_args(args, writes=args.action == "submit")
    try:
        return _ACTIONS[args.action](backend, args)
    finally:
        backend.close()


def _submit(backend: WorkspaceBackend, args: argparse.Namespace) -> int:
    source, script, script_args = _submit_paths(args)
    environment: dict[str, Any] | None = None
    if args.environment:
        conda = Path(args.environment).expanduser()
        if conda.suffix.lower() in (".yml", ".yaml") or conda.is_file():
            environment = {"conda_file": str(conda.absolute()), "image": args.image}
        else:
            environment = {"name": args.environment}
    run_id = compute_of(backend).submit_script(
        args.experiment,
        source,
        script,
        script_args,
        args.compute,
        environment=environment,
        display_name=args.name,
        tags=dict(args.tag) or None,
    )
    try:
        info = backend.get_run(run_id)
    except NotFoundError:  # a service may list the new job a moment later: its id is what matters
        row: dict[str, Any] = {"id": run_id, "experiment": args.experiment, "status": RunStatus.NOT_STARTED.value}
        status = RunStatus.NOT_STARTED.value
    else:
        row = _row(info)
        status = info.status.value + (": " + info.status_reason if info.status_reason else "")
    if args.output == "json":
        print_record(row, "json")
    else:
        print(f"Submitted {run_id} ({status})")
    if args.stream:
        sys.stdout.flush()
        _follow(backend, run_id, just_submitted=True)
    return 0


def _submit_paths(args: argparse.Namespace) -> tuple[str, str, list[str]]:
    """(source folder, script, script arguments) of ``--source-dir DIR SCRIPT [-- ARGS]`` or ``DIR SCRIPT [ARGS]``."""
    rest = list(args.script_args)
    first = args.script
    if args.source_dir is None and rest and rest[0] != "--" and Path(first).expanduser().is_dir():
        source, script, rest = first, rest[0], rest[1:]
    else:
        source, script = args.source_dir or ".", first
    if rest and rest[0] == "--":
        rest = rest[1:]
    return source, script, rest


def _tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key.strip(), value


def _list(backend: WorkspaceBackend, args: argparse.Namespace) -> int:
    query = RunQuery(filter=args.filter, order_by=tuple(args.order_by))
    compiled = compile_query(query)  # a malformed filter or order fails here, before any request
    columns = parse_keys(args.columns)
    names = [args.experiment] if args.experiment else [e.name for e in backend.list_experiments()]
    runs: list[RunInfo] = []
    notes: set[str] = set()
    for name in names:
        runs += _first_runs(backend, name, query, args.limit, notes)
    for note in sorted(notes):  # what a server could not answer, on stderr so that --output json stays clean
        print(f"note: {note}", file=sys.stderr)
    if len(names) > 1:  # each experiment came in order; merge them into one
        if compiled.order:
            by = sort_key(compiled.order)
            runs.sort(key=lambda r: by(run_values(r)))
        else:
            runs.sort(key=lambda r: r.created_at, reverse=True)
    rows = [_list_row(r, columns) for r in _exact(backend, runs[: args.limit])]
    fixed = ["id", "experiment", "display_name", "status", "created_at", "duration"]
    shown = [key_text(k) for k in columns]
    numbers = {key_text(k): _number_cell for k in columns if k.kind == "metrics" or k.name == "duration"}
    print_table(rows, fixed + shown, args.output, numbers)
    return 0


def _first_runs(
    backend: WorkspaceBackend, experiment: str, query: RunQuery, limit: int, notes: set[str]
) -> list[RunInfo]:
    """Up to ``limit`` runs of one experiment, following page tokens (the pages' notes go into ``notes``)."""
    runs: list[RunInfo] = []
    token: str | None = None
    while len(runs) < limit:
        page = backend.list_runs(experiment, query, page_token=token, page_size=min(limit - len(runs), 1000))
        runs += page.runs
        if page.note:
            notes.add(page.note)
        token = page.next_token
        if token is None:
            break
    return runs[:limit]


def _exact(backend: WorkspaceBackend, runs: list[RunInfo]) -> list[RunInfo]:
    """The runs with the current status of those still active.

    A window's list may show an active run's last known status and correct it a moment later (an Azure ML job's
    own status is asked in the background); a command prints once, so it asks each active run (a few at once).
    """
    active = [i for i, r in enumerate(runs) if r.status.is_active]
    if not active:
        return runs
    exact = list(runs)
    with ThreadPoolExecutor(max_workers=EXACT_WORKERS) as pool:
        for index, info in zip(active, pool.map(lambda i: _current(backend, runs[i]), active), strict=True):
            exact[index] = info
    return exact


def _current(backend: WorkspaceBackend, run: RunInfo) -> RunInfo:
    if backend.info().offline:  # listed from a cache without a network: the last known status is all there is
        return run
    try:
        return backend.get_run(run.id)
    except NotFoundError:  # deleted since it was listed: as listed
        return run


def _list_row(info: RunInfo, columns: tuple[Key, ...]) -> dict[str, Any]:
    """The run's fixed fields, every metric, param, tag and property, and the chosen columns by key text."""
    row = _row(info)
    row.update(
        metrics={k: _json_number(v) for k, v in info.metrics.items()},
        params=info.params,
        properties=info.properties,
    )
    values = run_values(info)
    for key in columns:
        value = lookup(values, key)
        row[key_text(key)] = _json_number(value) if isinstance(value, float) else value
    return row


def _json_number(value: float) -> float | str:
    """JSON has no NaN or infinity: write them as MLflow's REST API does ("NaN", "Infinity", "-Infinity")."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _number_cell(value: Any) -> str:
    """A metric's last value in a table: 6 significant digits, empty when the run lacks it."""
    if value is None:
        return ""
    if isinstance(value, str):  # "NaN", "Infinity"
        return value
    return f"{value:.6g}"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give 1 or more")
    return value


def _show(backend: WorkspaceBackend, args: argparse.Namespace) -> int:
    info = backend.get_run(args.run)
    row = _row(info)
    row["parent_id"] = info.parent_id
    row["description"] = info.description
    for name in ("properties", "params", "metrics"):  # an MLflow run has params and metrics, a local one properties
        if getattr(info, name):
            row[name] = getattr(info, name)
    details = backend.get_run_details(args.run)
    for key, name in DETAIL_FIELDS:  # how the job was made, where the kind says (an Azure ML job's type, command…)
        if details.get(key) not in (None, "", [], {}):
            row[name] = details[key]
    row["files"] = [f.path for f in backend.list_files(args.run)]
    print_record(row, args.output)
    return 0


def _cancel(backend: WorkspaceBackend, args: argparse.Namespace) -> int:
    status = backend.cancel_run(args.run)
    print_record({"id": args.run, "status": status.value}, args.output)
    return 0


def _logs(backend: WorkspaceBackend, args: argparse.Namespace) -> int:
    if args.follow:
        _follow(backend, args.run)
        return 0
    backend.get_run(args.run)  # NotFoundError for a run that is not there
    _print_from(backend, args.run, 0)
    return 0


def _follow(backend: WorkspaceBackend, run_id: str, *, just_submitted: bool = False) -> None:
    """Print the run's log as it grows until the run ends."""
    offset = 0
    # A remote workspace is asked as often as the window polls it (each round is a few requests to the service).
    pause = FOLLOW_LOCAL_S if backend.info().kind == "local" else FOLLOW_REMOTE_S
    while True:
        try:
            info: RunInfo | None = backend.get_run(run_id)
        except NotFoundError:
            if not just_submitted:
                raise
            info = None  # a job just submitted to a service may be listed a moment later
        offset = _print_from(backend, run_id, offset)
        if info is not None and info.status.is_terminal:
            _print_from(backend, run_id, offset)
            return
        time.sleep(pause)


def _print_from(backend: WorkspaceBackend, run_id: str, offset: int) -> int:
    while True:
        try:
            chunk = backend.read_file_range(run_id, STD_LOG, offset, 1 << 20)
        except NotFoundError:
            return offset
        if not chunk:
            return offset
        sys.stdout.flush()
        sys.stdout.buffer.write(chunk)  # raw bytes: a character split across reads stays whole
        sys.stdout.buffer.flush()
        offset += len(chunk)


def _download(backend: WorkspaceBackend, args: argparse.Namespace) -> int:
    prefix = args.prefix.strip("/")
    names = [f.path for f in backend.list_files(args.run) if not prefix or f.path.startswith(prefix + "/")]
    paths = backend.download_files(args.run, names, Path(args.output_dir), overwrite=False)
    print_table([{"path": str(p)} for p in paths], ["path"], args.output)
    return 0


def _row(info: RunInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "experiment": info.experiment,
        "display_name": info.display_name,
        "status": info.status.value,
        "status_reason": info.status_reason,
        "created_at": info.created_at,
        "started_at": info.started_at,
        "ended_at": info.ended_at,
        "duration": None if info.duration is None else round(info.duration, 1),
        "error": info.error,
        "tags": info.tags,
    }


_ACTIONS = {"submit": _submit, "list": _list, "show": _show, "cancel": _cancel, "logs": _logs, "download": _download}
