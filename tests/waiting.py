"""The one way tests wait: poll a probe until it answers, and fail saying what did not happen.

With ``qtbot`` the wait runs Qt's event loop (``qtbot.waitUntil``), for GUI tests; without it,
the probe is polled with short sleeps, for processes, daemons and files. Never a fixed sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0


def wait_until(
    probe: Callable[[], T | None],
    what: str = "condition",
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = 0.02,
    qtbot: Any = None,
) -> T:
    """Call ``probe`` until it returns something truthy and return that; AssertionError naming ``what`` at ``timeout`` s."""
    if qtbot is not None:
        answer: list[T] = []

        def answered() -> bool:
            value = probe()
            if value:
                answer[:] = [value]
            return bool(value)

        from pytestqt.exceptions import TimeoutError as QtTimeoutError  # not an AssertionError

        try:
            qtbot.waitUntil(answered, timeout=int(timeout * 1000))
        except (AssertionError, QtTimeoutError) as exc:
            raise AssertionError(f"{what} not reached within {timeout} s") from exc
        return answer[0]
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout} s (last value {value!r})")
        time.sleep(interval)
