"""Run.wait_for_completion: poll the status, optionally streaming the job's log."""

from __future__ import annotations

import codecs
import sys
import time
from typing import TYPE_CHECKING, Any

from studio.core.errors import StudioError
from studio.core.status import RunStatus

if TYPE_CHECKING:
    from studio.sdk.run import Run

STD_LOG = "user_logs/std_log.txt"
POLL_S = 0.1


def wait_for_run(run: Run, *, show_output: bool, raise_on_error: bool, timeout: float | None) -> dict[str, Any]:
    """Block until ``run`` ends; see Run.wait_for_completion."""
    backend = run._ws._backend
    deadline = None if timeout is None else time.monotonic() + timeout
    offset = 0
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # characters split across reads
    while True:
        info = backend.get_run(run.id)
        if show_output:
            offset = _print_new(run, offset, decoder)
        if info.status.is_terminal:
            if show_output:
                _print_new(run, offset, decoder)
                print(f"\nRun {run.id} ended: {info.status.value}", flush=True)
            break
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"run {run.id} is still {info.status.value} after {timeout} s")
        time.sleep(POLL_S)
    details = run.get_details()
    if raise_on_error and info.status == RunStatus.FAILED:
        message = (info.error or {}).get("message", info.status_reason)
        raise StudioError(f"Run {run.id} failed: {message}")
    return details


def _print_new(run: Run, offset: int, decoder: codecs.IncrementalDecoder) -> int:
    try:
        chunk = run._ws._backend.read_file_range(run.id, STD_LOG, offset, 1 << 20)
    except (KeyError, OSError):
        return offset
    if chunk:
        sys.stdout.write(decoder.decode(chunk))
        sys.stdout.flush()
    return offset + len(chunk)
