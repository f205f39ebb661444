"""References from a widget's helpers back to the widget that do not keep it alive.

A helper that a widget keeps (a task slot, a sliced work) and that holds the widget's own
methods, or the widget itself, makes a reference cycle. A widget in such a cycle is not freed
when its last outside reference goes but by the cyclic garbage collector, later, at whatever
moment an allocation sets it off. For a widget owned by Python (no Qt parent: a top-level
window, a tab made in a test) that frees its C++ object, and all its children, there and
then, even while Qt is inside one of their paint events (pyqtgraph paints in Python, so a
collection can start in the middle of drawing a plot): Qt then goes on with freed objects
and the process crashes. Held weakly, the widget is freed by reference counting as soon as
it is dropped, outside any event.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def callback_ref(callback: F | None, owner: object | None) -> Callable[[], F | None]:
    """A getter for ``callback``: weak if it is a method of ``owner`` (then None once the owner is gone), else strong."""
    if callback is not None and owner is not None and getattr(callback, "__self__", None) is owner:
        return weakref.WeakMethod(callback)
    return lambda: callback


def owner_ref(owner: Any) -> Callable[[], Any]:
    """A getter for ``owner`` that does not keep it alive (None once it is gone; None for no owner)."""
    return (lambda: None) if owner is None else weakref.ref(owner)
