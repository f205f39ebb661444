"""The ``studio`` command: the desktop studio by default, plus workspace subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from studio import __version__
from studio.commands import compute, jobs
from studio.commands.output import OneLineErrorParser, common_options


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``studio`` command."""
    parser = OneLineErrorParser(
        prog="studio",
        description="Studio: a desktop studio for machine-learning experiments. "
        "Browse experiments and runs, read metrics as charts, get run outputs.",
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    parser.add_argument(
        "--workspace",
        metavar="LOCATION",
        help="a workspace folder, mlflow+http(s)://host[:port], or azureml://subscriptions/<sub>/resourcegroups/"
        "<rg>/workspaces/<name> (default: $STUDIO_WORKSPACE, else the default local workspace)",
    )
    parser.add_argument("--output", choices=("table", "json"), default="table", help="output format")
    parser.add_argument(
        "--open-run", metavar="RUN_ID", help="open the window on this run (or hand it to a running studio)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("info", help="show the workspace: location, experiments and run counts", parents=[common_options()])
    compute.add_parser(sub)
    jobs.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code. Errors print one line on stderr."""
    args = build_parser().parse_args(argv)
    from studio.core.errors import StudioError

    try:
        if args.command == "compute":
            return compute.run(args)
        if args.command == "job":
            return jobs.run(args)
        if args.command == "info":
            return _workspace_info(args)
        return _gui(args)
    except (StudioError, OSError, ValueError, TypeError, TimeoutError) as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _gui(args: argparse.Namespace) -> int:
    """The desktop window (Qt is imported only here)."""
    from studio.workspaces import kinds, opener_for, resolve_location

    location = resolve_location(args.workspace)
    preload = getattr(opener_for(location), "preload", None)  # optional: the kind's heavy imports, now
    if preload is not None:
        preload()
    if args.open_run:
        from studio.core.validation import check_run_id

        check_run_id(args.open_run)
    from studio.ui.shell.app import run_gui

    return run_gui(kinds(), location, args.open_run)


def _workspace_info(args: argparse.Namespace) -> int:
    from studio.commands.workspace import open_from_args

    backend = open_from_args(args)
    try:
        info = backend.info()
        experiments = backend.list_experiments()
    finally:
        backend.close()
    if args.output == "json":
        print(
            json.dumps(
                {
                    "workspace": info.name,
                    "location": info.location,
                    "experiments": [
                        {"name": e.name, "runs": e.run_count, "runs_exact": e.run_count_exact} for e in experiments
                    ],
                },
                indent=2,
            )
        )
        return 0
    print(f"Studio {__version__} - {info.kind} workspace {info.name!r} at {info.location}")
    if not experiments:
        print("No experiments yet. Log one from Python:  from studio.sdk import Workspace, Experiment")
    for e in experiments:
        count = f"{e.run_count:,}" + ("" if e.run_count_exact else "+")
        print(f"  {e.name:<40} {count:>8} runs")
    return 0
