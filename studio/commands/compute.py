"""`studio compute list|create|start|stop|restart|delete`, after `az ml compute`."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from studio.commands.output import common_options, print_record, print_table
from studio.commands.workspace import compute_of, open_from_args
from studio.core.compute import ComputeInfo


def add_parser(sub: Any) -> None:
    """Register the compute subcommands."""
    common = common_options()
    compute = sub.add_parser("compute", help="manage compute instances")
    actions = compute.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="list compute instances", parents=[common])
    create = actions.add_parser("create", help="create and start an instance", parents=[common])
    create.add_argument("name")
    create.add_argument("--max-concurrent-jobs", type=int, default=1, metavar="N")
    create.add_argument("--idle-shutdown-minutes", type=float, default=None, metavar="MIN")
    create.add_argument("--no-wait", action="store_true", help="return without waiting for it to run")
    for action, text in (("start", "start"), ("stop", "stop (cancels running jobs)"), ("restart", "restart")):
        p = actions.add_parser(action, help=f"{text} an instance", parents=[common])
        p.add_argument("name")
        p.add_argument("--no-wait", action="store_true", help="return without waiting")
    delete = actions.add_parser("delete", help="delete an instance (stops it first)", parents=[common])
    delete.add_argument("name")


def run(args: argparse.Namespace) -> int:
    """Execute a compute subcommand."""
    backend = open_from_args(args, writes=True)
    try:
        compute = compute_of(backend)
        if args.action == "list":
            rows = [_row(c) for c in compute.list_compute()]
            print_table(
                rows,
                ["name", "state", "running_jobs", "queued_jobs", "max_concurrent_jobs", "idle_shutdown_minutes"],
                args.output,
            )
            return 0
        wait = not getattr(args, "no_wait", False)
        if args.action == "create":
            info = compute.create_compute(args.name, args.max_concurrent_jobs, args.idle_shutdown_minutes, wait=wait)
        elif args.action == "start":
            info = compute.start_compute(args.name, wait=wait)
        elif args.action == "stop":
            info = compute.stop_compute(args.name, wait=wait)
        elif args.action == "restart":
            info = compute.restart_compute(args.name, wait=wait)
        else:
            compute.delete_compute(args.name)
            print_record({"name": args.name, "deleted": True}, args.output)
            return 0
        print_record(_row(info), args.output)
        return 0
    finally:
        backend.close()


def _row(info: ComputeInfo) -> dict[str, Any]:
    row = asdict(info)
    row["state"] = info.state.value
    return row
