"""How a script's way of ending ends its run, checked in real interpreter processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from studio.core.status import RunStatus
from studio.core.types import RunInfo
from studio.sdk import Workspace

IN_A_WITH_BLOCK = """
import sys
from studio.sdk import Experiment, Workspace
with Experiment(Workspace(), "exits").start_logging() as run:
    print(run.id, flush=True)
    run.log("x", 1.0)
    {ending}
"""

LEFT_OPEN = """
import sys
from studio.sdk import Experiment, Workspace
run = Experiment(Workspace(), "exits").start_logging()
print(run.id, flush=True)
run.log("x", 1.0)
{ending}
"""


def _run_script(template: str, ending: str, ws_path: Path) -> tuple[RunInfo, int, list[float]]:
    """Run the script in a fresh interpreter; returns its run, its exit status and the logged points."""
    code = textwrap.dedent(template).format(ending=ending)
    env = {**os.environ, "STUDIO_WORKSPACE": str(ws_path)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    run_id = proc.stdout.split()[0]
    ws = Workspace(ws_path)
    try:
        return ws.backend.get_run(run_id), proc.returncode, ws.backend.get_series(run_id, "x").values.tolist()
    finally:
        ws.close()


@pytest.mark.parametrize("template", [IN_A_WITH_BLOCK, LEFT_OPEN], ids=["with-block", "left-open"])
@pytest.mark.parametrize("ending", ["pass", "sys.exit(0)", "sys.exit(None)", "sys.exit()"])
def test_a_clean_exit_completes_the_run(template: str, ending: str, ws_path: Path) -> None:
    run, status, points = _run_script(template, ending, ws_path)
    assert status == 0
    assert run.status == RunStatus.COMPLETED and run.error is None
    assert points == [1.0]


@pytest.mark.parametrize(
    ("ending", "exit_status", "message"),
    [
        ("sys.exit(3)", 3, "exit code 3"),
        ("sys.exit(True)", 1, "exit code 1"),
        ("sys.exit('no data')", 1, "exit code 1: no data"),
    ],
)
def test_sys_exit_with_a_failure_status_in_a_with_block_fails_the_run(
    ending: str, exit_status: int, message: str, ws_path: Path
) -> None:
    run, status, points = _run_script(IN_A_WITH_BLOCK, ending, ws_path)
    assert status == exit_status
    assert run.status == RunStatus.FAILED
    assert run.error is not None and message in run.error["message"]
    assert run.error.get("code") == "SystemExit"
    assert points == [1.0]  # the points logged before the exit are kept


def test_an_uncaught_exception_fails_a_run_left_open_with_its_traceback(ws_path: Path) -> None:
    run, status, _ = _run_script(LEFT_OPEN, "raise ValueError('bad input')", ws_path)
    assert status == 1
    assert run.status == RunStatus.FAILED
    assert run.error is not None and run.error["message"] == "bad input" and run.error["code"] == "ValueError"
    assert "Traceback" in run.error["traceback"]


@pytest.mark.parametrize(
    ("ending", "exit_status", "message"),
    [
        ("sys.exit(3)", 3, "exit code 3"),
        ("sys.exit('no data')", 1, "exit code 1: no data"),
        ("def main():\n    sys.exit(4)\nmain()", 4, "exit code 4"),
    ],
)
def test_sys_exit_with_a_failure_status_fails_a_run_left_open(
    ending: str, exit_status: int, message: str, ws_path: Path
) -> None:
    run, status, points = _run_script(LEFT_OPEN, ending, ws_path)
    assert status == exit_status
    assert run.status == RunStatus.FAILED
    assert run.error is not None and message in run.error["message"]
    assert points == [1.0]


def test_a_sys_exit_the_script_survived_does_not_fail_a_later_run(ws_path: Path) -> None:
    ending = (
        "try:\n    sys.exit(2)\nexcept SystemExit:\n    pass\n"
        "run.complete()\n"
        "later = Experiment(Workspace(), 'exits').start_logging()\n"
        "later.log('x', 2.0)\n"
        "print(later.id, flush=True)"
    )
    code = textwrap.dedent(LEFT_OPEN).format(ending=ending)
    env = {**os.environ, "STUDIO_WORKSPACE": str(ws_path)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    later_id = proc.stdout.split()[1]
    ws = Workspace(ws_path)
    try:
        assert ws.backend.get_run(later_id).status == RunStatus.COMPLETED
    finally:
        ws.close()
