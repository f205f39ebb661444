"""The ``studio`` command: the desktop studio by default, plus workspace subcommands."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from studio import __version__
from studio.commands import compute, install_desktop, jobs
from studio.commands.output import OneLineErrorParser, common_options
from studio.commands.run_location import link_as_open_run

if TYPE_CHECKING:
    from studio.core.opener import WorkspaceOpener

SDK_LOGGERS = ("azure", "msal")
"""Libraries whose warnings are not the command's output."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``studio`` command."""
    parser = OneLineErrorParser(
        prog="studio",
        description="Studio: a desktop studio for machine-learning experiments. "
        "Browse experiments and runs, read metrics as charts, get run outputs.",
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    parser.add_argument(
        "--diagnostics",
        action="store_true",
        help="print versions, the display and OpenGL, the keyring and the studio's folders for a bug report",
    )
    parser.add_argument(
        "--workspace",
        metavar="LOCATION",
        help="a workspace folder, mlflow+http(s)://host[:port], or azureml://subscriptions/<sub>/resourcegroups/"
        "<rg>/workspaces/<name> (default: $STUDIO_WORKSPACE, else the default local workspace)",
    )
    parser.add_argument("--output", choices=("table", "json"), default="table", help="output format")
    parser.add_argument(
        "--open-run",
        metavar="RUN",
        help="open the window on this run (or hand it to a running studio): a run id, <workspace location>/jobs/"
        "<run id>, a job's Azure ML studio address (https://…/runs/<job>?wsid=…), or a link studio://run/<run id>"
        "?workspace=<location> (also given alone: studio 'studio://run/…')",
    )
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="the Python interpreter that runs local jobs' scripts, checked and remembered (default: the studio's "
        "own; in a desktop bundle, python3 on PATH); 'default' forgets the one named",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("info", help="show the workspace: location, experiments and run counts", parents=[common_options()])
    compute.add_parser(sub)
    jobs.add_parser(sub)
    install_desktop.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code. Errors print one line on stderr."""
    from studio.core.self_command import ROLE_FLAG, run_role

    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == [ROLE_FLAG]:  # a frozen studio running its own daemon (studio.core.self_command)
        return run_role(arguments[1:])
    args = build_parser().parse_args(link_as_open_run(arguments))
    _quiet_sdk_logs()
    if args.diagnostics:  # first: it must answer where the window or a subcommand fails
        return _diagnostics(args)

    try:
        code = _dispatch(args)
        sys.stdout.flush()  # here, not at exit: a reader that left is then handled below
        return code
    except BrokenPipeError:  # `studio job list | head`: the reader left; say nothing, as other tools do
        _silence_stdout()
        return 141  # 128 + SIGPIPE, what a shell reports for a writer the pipe stopped


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so Python's flush at exit does not fail again on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command parsed; errors print one line on stderr."""
    from studio.core.errors import StudioError

    try:
        if args.python is not None:
            _set_job_python(args.python)
        if args.command == "compute":
            return compute.run(args)
        if args.command == "job":
            return jobs.run(args)
        if args.command == "install-desktop":
            return install_desktop.run(args)
        if args.command == "info":
            return _workspace_info(args)
        return _gui(args)
    except BrokenPipeError:
        raise
    except (StudioError, OSError, ValueError, TypeError, TimeoutError) as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _set_job_python(named: str) -> None:
    """Check and remember the interpreter for local jobs (``--python``); says which on stderr."""
    from studio.workspaces.local.compute.interpreter import default_python, save_python

    interpreter = save_python(named)
    if interpreter is None:
        print(f"studio: local jobs run with the default interpreter, {default_python()}", file=sys.stderr)
    else:
        print(f"studio: local jobs run with {interpreter.path} (Python {interpreter.version_text})", file=sys.stderr)


def _quiet_sdk_logs() -> None:
    """The Azure SDK and MSAL log their failures as warnings, which Python prints on stderr when nothing handles
    them ("AzureCliCredential.get_token_info failed: …"): the command says each failure once, in its own line."""
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())


def _diagnostics(args: argparse.Namespace) -> int:
    """``studio --diagnostics``: Qt is asked by studio.ui's probe, in a child process (commands import no Qt)."""
    from studio.commands import diagnostics
    from studio.ui.shell.qt_probe import probe_in_child

    return diagnostics.run(args, probe_in_child)


def _gui(args: argparse.Namespace) -> int:
    """The desktop window (Qt is imported only here, after checking that its platform plugin can load)."""
    from studio.commands.display_check import check_display
    from studio.workspaces import kinds, opener_for, resolve_location

    problem = check_display()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from studio.core import app_log

    app_log.start(__version__)  # studio.log and crash.log of this run (a warning on stderr if they cannot be)

    run_id: str | None = None
    experiment: str | None = None  # a link to an experiment
    named = args.workspace
    if args.open_run:
        from studio.commands.run_location import linked_experiment, split_run_location
        from studio.core.validation import check_run_id

        run_workspace, run_id = split_run_location(args.open_run)
        if run_id is not None:
            check_run_id(run_id)
        experiment = linked_experiment(args.open_run)
        if run_workspace is not None:
            if named and resolve_location(named) != resolve_location(run_workspace):
                raise ValueError(f"--open-run names a run of {run_workspace}, not of --workspace {named}.")
            named = run_workspace
    location = resolve_location(named)
    preload = getattr(opener_for(location), "preload", None)  # optional: the kind's heavy imports, now
    if preload is not None:
        preload()
    from studio.ui.shell.app import run_gui

    # A run to open (a link clicked anywhere) never makes an empty workspace: the window says it is missing.
    return run_gui(window_kinds(kinds()), location, run_id, create=not args.open_run, open_experiment=experiment)


def window_kinds(openers: Sequence[WorkspaceOpener]) -> Sequence[WorkspaceOpener]:
    """The openers as the window wants them: a kind with an offline cache (``paint_from_cache``, the Azure kind)
    paints from it first, since the window marks what is cached and refreshes it. The command line and the SDK
    leave it off and never get a stale listing. Set here, not by the window: the GUI imports no kind. Copies: the
    registry's own openers stay as the command line wants them, whatever ran in this process before."""
    import copy

    chosen: list[WorkspaceOpener] = []
    for opener in openers:
        if hasattr(opener, "paint_from_cache"):
            opener = copy.copy(opener)
            setattr(opener, "paint_from_cache", True)  # noqa: B010 (not on the protocol)
        chosen.append(opener)
    return chosen


def _workspace_info(args: argparse.Namespace) -> int:
    from studio.commands.workspace import open_from_args

    backend = open_from_args(args)
    try:
        info = backend.info()
        experiments = backend.list_experiments()
        note = backend.info().note  # a kind with an offline cache: "Offline: showing the cache of 12:03. <why>"
    finally:
        backend.close()
    if note:  # on stderr, as job list's notes, so that --output json stays clean
        print(f"note: {note}", file=sys.stderr)
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
