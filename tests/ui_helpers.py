"""Helpers for GUI tests: a backend that refuses calls from the GUI thread, and a sample workspace."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class GuiThreadCall(AssertionError):
    """A backend method was called on the GUI thread."""


class GuardedBackend:
    """Wraps a WorkspaceBackend; any call from the main (GUI) thread fails the test."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.violations: list[str] = []
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def guarded(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is threading.main_thread():
                self.violations.append(name)
                raise GuiThreadCall(f"backend.{name} was called on the GUI thread")
            self.calls.append(name)
            return attr(*args, **kwargs)

        return guarded


class RecordingBackend:
    """Passes calls through and remembers the (name, start) of every get_series call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.series_calls: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get_series(self, run_id: str, name: str, start: int = 0) -> Any:
        self.series_calls.append((name, start))
        return self.inner.get_series(run_id, name, start)


class GuardedOpener:
    """Wraps a WorkspaceOpener so that every backend it opens is guarded (open itself is also I/O)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.backends: list[GuardedBackend] = []
        self.kind: str = inner.kind
        self.label: str = inner.label
        self.location_form: str = inner.location_form

    def owns(self, location: str) -> bool:
        return bool(self._inner.owns(location))

    def default_location(self) -> str | None:
        return self._inner.default_location()  # type: ignore[no-any-return]

    def display_name(self, location: str) -> str:
        return str(self._inner.display_name(location))

    def is_workspace(self, location: str) -> bool:
        if threading.current_thread() is threading.main_thread():
            raise GuiThreadCall("opener.is_workspace was called on the GUI thread")
        return bool(self._inner.is_workspace(location))

    def is_missing(self, location: str) -> bool:
        if threading.current_thread() is threading.main_thread():
            raise GuiThreadCall("opener.is_missing was called on the GUI thread")
        return bool(self._inner.is_missing(location))

    def open(self, location: str, create: bool = False) -> GuardedBackend:
        if threading.current_thread() is threading.main_thread():
            raise GuiThreadCall("opener.open was called on the GUI thread")
        backend = GuardedBackend(self._inner.open(location, create))
        self.backends.append(backend)
        return backend

    @property
    def violations(self) -> list[str]:
        return [v for b in self.backends for v in b.violations]


@contextmanager
def collector_off() -> Iterator[None]:
    """Turn the cyclic garbage collector off for the block: what is freed in it was freed by reference counting.

    A Qt object that only the collector frees goes whenever a collection runs, even in the middle
    of painting it (a crash); tests check that dropped widgets go at once instead.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
