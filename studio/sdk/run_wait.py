"""Run.wait_for_completion: poll the status, optionally streaming the job's log."""

from __future__ import annotations

import codecs
import sys
import time

from studio.core.backend import WorkspaceBackend
from studio.core.errors import StudioError
from studio.core.status import RunStatus
from studio.core.types import RunInfo

STD_LOG = "user_logs/std_log.txt"
POLL_S = 0.1


def wait_for_run(
    backend: WorkspaceBackend, run_id: str, *, show_output: bool, raise_on_error: bool, timeout: float | None
) -> RunInfo:
    """Block until run ``run_id`` ends and return it; see Run.wait_for_completion."""
    deadline = None if timeout is None else time.monotonic() + timeout
    offset = 0
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # characters split across reads
    while True:
        info = backend.get_run(run_id)
        if show_output:
            offset = _print_new(backend, run_id, offset, decoder)
        if info.status.is_terminal:
            if show_output:
                _print_new(backend, run_id, offset, decoder)
                print(f"\nRun {run_id} ended: {info.status.value}", flush=True)
            break
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} is still {info.status.value} after {timeout} s")
        time.sleep(POLL_S)
    if raise_on_error and info.status == RunStatus.FAILED:
        message = (info.error or {}).get("message", info.status_reason)
        raise StudioError(f"Run {run_id} failed: {message}")
    return info


def _print_new(backend: WorkspaceBackend, run_id: str, offset: int, decoder: codecs.IncrementalDecoder) -> int:
    try:
        chunk = backend.read_file_range(run_id, STD_LOG, offset, 1 << 20)
    except (KeyError, OSError):
        return offset
    if chunk:
        sys.stdout.write(decoder.decode(chunk))
        sys.stdout.flush()
    return offset + len(chunk)
