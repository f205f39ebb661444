"""`studio compute list|create|start|stop|restart|delete`, after `az ml compute`."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from studio.commands.output import common_options, print_record, print_table
from studio.commands.workspace import compute_of, open_from_args
from studio.core.compute import CLUSTER, ClusterNodes, ComputeInfo, ComputeState, up_text

LOCAL_COLUMNS = ["name", "state", "running_jobs", "queued_jobs", "max_concurrent_jobs", "idle_shutdown_minutes"]
"""``compute list``'s table where the kind counts jobs per instance (local)."""
SERVICE_COLUMNS = ["name", "kind", "state", "vm_size", "nodes", "idle_shutdown", "running_for", "last_operation"]
"""``compute list``'s table where it does not (Azure ML: instances and clusters, sizes, nodes, idle shutdown)."""


def add_parser(sub: Any) -> None:
    """Register the compute subcommands."""
    common = common_options()
    compute = sub.add_parser("compute", help="manage compute instances (and see Azure ML clusters)")
    actions = compute.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="list compute instances and clusters", parents=[common])
    create = actions.add_parser("create", help="create and start an instance", parents=[common])
    create.add_argument("name")
    create.add_argument("--vm-size", default=None, metavar="SIZE", help="Azure ML: the VM size (Standard_DS3_v2…)")
    create.add_argument("--max-concurrent-jobs", type=int, default=1, metavar="N", help="local: jobs run at once")
    create.add_argument("--idle-shutdown-minutes", type=float, default=None, metavar="MIN")
    create.add_argument("--no-wait", action="store_true", help="return without waiting for it to run")
    for action, text in (("start", "start"), ("stop", "stop (cancels running jobs)"), ("restart", "restart")):
        p = actions.add_parser(action, help=f"{text} an instance", parents=[common])
        p.add_argument("name")
        p.add_argument("--no-wait", action="store_true", help="return once the service accepted it")
    delete = actions.add_parser("delete", help="delete an instance (stops it first)", parents=[common])
    delete.add_argument("name")
    delete.add_argument("--no-wait", action="store_true", help="return once the service accepted it")


def run(args: argparse.Namespace) -> int:
    """Execute a compute subcommand."""
    backend = open_from_args(args, writes=True)
    try:
        compute = compute_of(backend)
        if args.action == "list":
            infos = compute.list_compute()
            rows = [_row(c) for c in infos]
            service = any(not c.counts_jobs or c.kind == CLUSTER for c in infos)
            formats = {"state": _state_cell, "nodes": _nodes_cell} if service else None
            print_table(rows, SERVICE_COLUMNS if service else LOCAL_COLUMNS, args.output, formats)
            return 0
        wait = not getattr(args, "no_wait", False)
        if args.action == "create":
            info = compute.create_compute(
                args.name, args.max_concurrent_jobs, args.idle_shutdown_minutes, wait=wait, vm_size=args.vm_size
            )
        elif args.action == "start":
            info = compute.start_compute(args.name, wait=wait)
        elif args.action == "stop":
            info = compute.stop_compute(args.name, wait=wait)
        elif args.action == "restart":
            info = compute.restart_compute(args.name, wait=wait)
        else:
            compute.delete_compute(args.name, wait=wait)
            record: dict[str, Any] = {"name": args.name, "deleted": True}
            if not wait:
                record = {"name": args.name, "deleted": False, "state": ComputeState.DELETING.value}
            print_record(record, args.output)
            return 0
        print_record(_row(info) if args.output == "json" else _shown(_row(info)), args.output)
        return 0
    finally:
        backend.close()


def _row(info: ComputeInfo) -> dict[str, Any]:
    """Every field of the record (JSON-able), with the state's words and the table's derived cells."""
    row = asdict(info)
    row["state"] = info.state.value
    row["state_label"] = info.state.label
    row["actions"] = sorted(a.value for a in info.allowed)
    row["schedules"] = list(info.schedules)
    row["idle_shutdown"] = _minutes(info.idle_shutdown_minutes)
    row["running_for"] = _running_for(info)
    row["nodes_text"] = info.nodes.text if info.nodes is not None else None
    return row


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """The record as text shows it: the fields this kind fills (a local instance has no VM size, user or nodes)."""
    return {key: value for key, value in row.items() if value not in ("", None, [], {})}


def _state_cell(value: Any) -> str:
    try:
        return ComputeState(value).label
    except ValueError:
        return str(value)


def _nodes_cell(value: Any) -> str:
    return ClusterNodes(**value).text if isinstance(value, dict) else "-"


def _minutes(minutes: float | None) -> str | None:
    if minutes is None:
        return None
    return f"{minutes:g} min" if minutes < 120 else f"{minutes / 60:g} h"


def _running_for(info: ComputeInfo) -> str | None:
    seconds = info.up_seconds()
    return None if seconds is None else up_text(seconds)
