"""One request per key in flight: a second caller asking for the same thing waits for the first one's answer.

Opening a run asks for the same run, histories and folders from two places at once (the Overview and the
Metrics tab); without this each asked the server separately.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


class SingleFlight:
    """Runs ``fetch`` once per key at a time; callers that come meanwhile share its result or its error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flying: dict[Hashable, Future[object]] = {}

    def run(self, key: Hashable, fetch: Callable[[], T]) -> T:
        """``fetch()``, or the answer of the call for ``key`` already in flight."""
        with self._lock:
            flying = self._flying.get(key)
            leader = flying is None
            if flying is None:
                flying = self._flying[key] = Future()
        if not leader:
            return flying.result()  # type: ignore[return-value]
        try:
            value = fetch()
        except BaseException as exc:
            flying.set_exception(exc)
            raise
        else:
            flying.set_result(value)
            return value
        finally:
            with self._lock:
                del self._flying[key]

    def kept_or_fetched(self, key: Hashable, kept: Callable[[], T | None], fetch: Callable[[], T]) -> T:
        """``kept()`` if it has the answer, else ``fetch()`` once for everyone asking ``key`` meanwhile.

        ``kept`` is asked again inside the flight: a caller that missed it just as another caller's fetch filled it
        finds the answer there instead of asking the server a second time. ``fetch`` keeps what it fetched.
        """
        found = kept()
        if found is not None:
            return found
        return self.run(key, lambda: _first_of(kept(), fetch))


def _first_of(found: T | None, fetch: Callable[[], T]) -> T:
    return found if found is not None else fetch()
