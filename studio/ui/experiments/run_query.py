"""The filter box's two languages: quick words (``resnet status:Failed tag:lr=0.01``) then MLflow's grammar.

Both are parsed in ``studio.core.search`` (the CLI and every backend share them); this module names them for the
experiment pane.
"""

from __future__ import annotations

from studio.core.search import query_from_box, query_matches
from studio.core.types import RunInfo, RunQuery


def parse_filter(text: str) -> RunQuery:
    """The box's text as a RunQuery; raises QueryError (a ValueError) with the column of the mistake."""
    return query_from_box(text)


def matches(run: RunInfo, query: RunQuery) -> bool:
    """Whether a run (that arrived through live refresh) passes the same filter the backend applies."""
    return query_matches(query, run)
