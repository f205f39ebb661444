"""Words and colours of the compute pane: states, elapsed times, how long an instance has been up, names."""

from __future__ import annotations

import re
import time

from studio.core.compute import CLUSTER, ComputeInfo, ComputeState
from studio.core.validation import COMPUTE_NAME, COMPUTE_NAME_RULE

GREEN, BLUE, GREY, AMBER, RED = "#2e9d4f", "#1e88e5", "#9e9e9e", "#f0a30a", "#d9363e"  # as in status_style

STATE_COLORS: dict[ComputeState, str] = {
    ComputeState.RUNNING: GREEN,
    ComputeState.JOB_RUNNING: BLUE,
    ComputeState.STOPPED: GREY,
    ComputeState.UNKNOWN: GREY,
    ComputeState.STEADY: GREEN,
    **{state: AMBER for state in ComputeState if state.is_transitional},
    **{state: RED for state in ComputeState if state.is_failed},
}
"""The colour of a state's icon: running green, jobs blue, stopped grey, on its way amber, failed red."""


def state_color(state: ComputeState) -> str:
    """The colour of ``state``'s icon (grey for anything unknown)."""
    return STATE_COLORS.get(state, GREY)


def state_text(state: ComputeState) -> str:
    """The state as shown ("Starting…", "Running jobs", "Create failed")."""
    return state.label


def elapsed_text(seconds: float) -> str:
    """A stopwatch: "0:42", "12:05", "1:02:03"."""
    s = max(0, int(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def is_running(info: ComputeInfo) -> bool:
    """Running or running jobs: the instance is up (and, on Azure, billed)."""
    return info.is_running


def up_for(info: ComputeInfo, now: float | None = None) -> float | None:
    """Seconds a running instance has been up (from ``started_at``), or None."""
    return info.up_seconds(now)


def idle_text(minutes: float | None) -> str:
    """The idle shutdown setting as shown: "-" or "30 min"."""
    return "-" if minutes is None else f"{minutes:g} min"


def type_text(info: ComputeInfo) -> str:
    """ "Instance" or "Cluster"."""
    return "Cluster" if info.kind == CLUSTER else "Instance"


def when_text(epoch: float | None, now: float | None = None) -> str:
    """A time of day for today ("14:05"), else a date and time ("3 Dec 14:05")."""
    if not epoch:
        return ""
    moment, today = time.localtime(epoch), time.localtime(time.time() if now is None else now)
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M", moment)
    return time.strftime("%-d %b %H:%M", moment)


def jobs_text(count: int, kind: str) -> str:
    """ "1 running job", "2 queued jobs"."""
    return f"{count} {kind} job" + ("" if count == 1 else "s")


NAME_RULE = COMPUTE_NAME_RULE


def name_problem(name: str, existing: set[str], min_length: int = 2) -> str:
    """Why ``name`` cannot be a new compute instance's name, or "" if it can (``min_length``: the kind's)."""
    if COMPUTE_NAME.match(name) and len(name) >= min_length and not (min_length > 2 and name.endswith("-")):
        return f"{name} already exists." if name in existing else ""
    if not name:
        return "Enter a name: " + NAME_RULE
    if not re.fullmatch(r"[A-Za-z0-9-]*", name):
        return "Use only letters (a-z), digits and '-'."
    if not name[0].isalpha():
        return "Start the name with a letter."
    if len(name) > 24:
        return f"Use {min_length} to 24 characters."
    if len(name) < min_length:
        return f"Use at least {min_length} characters."
    return "End the name with a letter or a digit."
