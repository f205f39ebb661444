"""A whole ``RunQuery`` (quick words plus MLflow filter plus order) applied in plain Python, and the box parser.

Backends that cannot do better (the test fake, a remote kind for what its server cannot answer) page through
``apply_query``; the GUI's live refresh uses ``query_matches`` on runs that arrive one by one; the contract
suite's property test compares every backend against both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from studio.core.errors import QueryError
from studio.core.search.box import split_box
from studio.core.search.evaluate import matches, run_values, sort_key
from studio.core.search.parser import parse_filter, parse_order_by
from studio.core.search.syntax import Filter, OrderKey
from studio.core.status import RunStatus
from studio.core.types import RunInfo, RunKeys, RunQuery

_STATUS_BY_NAME = {s.value.lower(): s for s in RunStatus}


@dataclass(frozen=True)
class CompiledQuery:
    """A RunQuery's filter and order, parsed."""

    filter: Filter
    order: tuple[OrderKey, ...]


def compile_query(query: RunQuery) -> CompiledQuery:
    """Parse the query's ``filter`` and ``order_by`` (cached: a table pages through one query many times).

    Raises QueryError for a malformed filter or order item; an order item's error names the item.
    """
    return _compile(query.filter, tuple(query.order_by))


@lru_cache(maxsize=128)
def _compile(filter_text: str, order_by: tuple[str, ...]) -> CompiledQuery:
    order = []
    for item in order_by:
        try:
            order.append(parse_order_by(item))
        except QueryError as error:
            raise QueryError(
                f"In the order {item!r}: {error}", position=error.position, expected=error.expected
            ) from None
    return CompiledQuery(parse_filter(filter_text), tuple(order))


def quick_matches(query: RunQuery, run: RunInfo) -> bool:
    """Whether a run passes the quick fields (text, status, tag substrings), case-insensitively."""
    if query.status is not None and run.status != query.status:
        return False
    text = query.text.lower()
    if text and text not in run.display_name.lower() and text not in run.id.lower():
        return False
    tag = query.tag.lower()
    return not tag or any(tag in f"{k}={v}".lower() for k, v in run.tags.items())


def query_matches(query: RunQuery, run: RunInfo) -> bool:
    """Whether a run passes the whole query: quick fields and MLflow filter (not the parent, not the order)."""
    return quick_matches(query, run) and matches(compile_query(query).filter, run_values(run))


def apply_query(query: RunQuery, runs: Iterable[RunInfo]) -> list[RunInfo]:
    """The runs that pass the query, in its order: the reference every backend's paging must agree with.

    ``runs`` come oldest first (creation order); with no ``order_by`` the answer is that order or its reverse.
    """
    compiled = compile_query(query)
    kept = [r for r in runs if quick_matches(query, r) and matches(compiled.filter, run_values(r))]
    if compiled.order:
        by = sort_key(compiled.order)
        return sorted(kept, key=lambda r: by(run_values(r)))
    return kept[::-1] if query.newest_first else kept


def run_keys_of(runs: Iterable[RunInfo]) -> RunKeys:
    """The names the runs use, each with how many runs have it (what ``list_run_keys`` answers)."""
    counts: dict[str, Counter[str]] = {kind: Counter() for kind in ("metrics", "params", "tags", "properties")}
    for run in runs:
        counts["metrics"].update(run.metrics.keys())
        counts["params"].update(run.params.keys())
        counts["tags"].update(run.tags.keys())
        counts["properties"].update(run.properties.keys())
    sorted_counts = {kind: dict(sorted(c.items())) for kind, c in counts.items()}
    return RunKeys(**sorted_counts)


def query_from_box(text: str) -> RunQuery:
    """The filter box's text as a query: ``resnet status:failed tag:lr=0.01 metrics.acc > 0.9``.

    Quick words come first (words match names and ids, ``status:X`` and ``tag:k=v`` narrow), then MLflow's
    grammar from its first comparison on (``split_box`` says where). Raises QueryError for an unknown status or a
    malformed filter, with the position counted in the whole box.
    """
    words_text, filter_text = split_box(text)
    words, status, tag = [], None, ""
    for token in words_text.split():
        low = token.lower()
        if low.startswith("status:"):
            name = low[len("status:") :]
            if name not in _STATUS_BY_NAME:
                known = ", ".join(s.value for s in RunStatus)
                raise QueryError(
                    f"Unknown status {name!r}; use one of {known}.",
                    position=text.lower().find(low),
                    expected=f"one of {known}",
                )
            status = _STATUS_BY_NAME[name]
        elif low.startswith("tag:"):
            tag = token[len("tag:") :]
        else:
            words.append(token)
    if filter_text:
        offset = text.find(filter_text)
        try:
            parse_filter(filter_text)
        except QueryError as error:
            position = offset + error.position
            message = str(error).replace(f"column {error.position + 1}", f"column {position + 1}", 1)
            raise QueryError(message, position=position, expected=error.expected) from None
    return RunQuery(text=" ".join(words), status=status, tag=tag, filter=filter_text)
