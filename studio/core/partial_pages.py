"""Whether the caller of ``list_runs`` can show a page that is not final yet.

A kind that sorts on this computer what its server cannot order (the MLflow and Azure kinds) reads the matching
runs in the background. A caller that asks again until the answer is final (the runs table) says so with
``partial_pages()``; it then gets at once the first page of what is sorted so far, with ``RunPage.complete`` False
and a note saying how far the reading is. Every other caller (the command line, the SDK, the contract suite) gets
only complete pages, as before: ``list_runs`` waits for the reading to end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ACCEPTED: ContextVar[bool] = ContextVar("studio_partial_pages", default=False)


@contextmanager
def partial_pages() -> Iterator[None]:
    """Within: ``list_runs`` may answer with a page marked partial (``RunPage.complete`` False) instead of waiting."""
    token = _ACCEPTED.set(True)
    try:
        yield
    finally:
        _ACCEPTED.reset(token)


def partial_pages_accepted() -> bool:
    """Whether the current caller said it asks again until a page is complete."""
    return _ACCEPTED.get()
