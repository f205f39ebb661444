"""A parsed filter and order applied in plain Python, with MLflow's semantics (no Qt, no storage).

This is the reference: live refresh can use it on runs that arrive one by one, and the contract suite's property
test compares each backend's answers against it.

Semantics (MLflow's ``SearchUtils.filter`` / ``SearchUtils.sort``, except where noted):
- a run lacking the key never matches, not even ``!=`` or ``NOT IN``;
- ``=`` ``!=`` ``LIKE`` compare text case-sensitively, ``ILIKE`` ignores case; in patterns ``%`` is any run of
  characters and ``_`` one character, every other character is literal (MLflow passes them to a regex unescaped);
- a numeric attribute that is None (``end_time`` of a running run) counts as missing;
- sorting: values first, then NaN, then missing, in either direction; ties newest ``created`` first, then
  ``run_id`` ascending, so every order is total (MLflow ties on start time, then run id).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from studio.core.search.syntax import Comparison, Filter, Key, OrderKey
from studio.core.types import RunInfo


class RunView(Protocol):
    """What the evaluator reads of a run: one mapping per key kind (see ``RunValues``)."""

    @property
    def metrics(self) -> Mapping[str, float]:
        """Last value of each numeric metric."""

    @property
    def params(self) -> Mapping[str, str]:
        """MLflow-style parameters (empty for local runs)."""

    @property
    def tags(self) -> Mapping[str, str]:
        """Tags."""

    @property
    def properties(self) -> Mapping[str, str]:
        """Local runs' properties."""

    @property
    def attributes(self) -> Mapping[str, Any]:
        """status, run_name, run_id, start_time, end_time, created, duration (None when unknown)."""


@dataclass(frozen=True)
class RunValues:
    """A plain RunView: attributes hold status, run_name, run_id, start_time, end_time, created, duration."""

    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)


def run_values(info: RunInfo) -> RunValues:
    """A RunInfo as the evaluator sees it: times in seconds as RunInfo has them, status as RunStatus names it."""
    return RunValues(
        metrics=info.metrics,
        params=info.params,
        tags=info.tags,
        properties=info.properties,
        attributes={
            "status": info.status.value,
            "run_name": info.display_name,
            "run_id": info.id,
            "start_time": info.started_at,
            "end_time": info.ended_at,
            "created": info.created_at,
            "duration": info.duration,
        },
    )


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def lookup(run: RunView, key: Key) -> Any:
    """The run's value for a key, or None when it lacks it."""
    values: Mapping[str, Any] = getattr(run, key.kind)
    return values.get(key.name)


def matches(query: Filter, run: RunView) -> bool:
    """Whether the run passes every comparison of the filter."""
    return all(_holds(c, run) for c in query.comparisons)


def _holds(comparison: Comparison, run: RunView) -> bool:
    have = lookup(run, comparison.key)
    if have is None:
        return False
    op, want = comparison.op, comparison.value
    if comparison.key.numeric:
        return _COMPARE[op](float(have), want)
    have = str(have)
    if op in ("IN", "NOT IN"):
        assert isinstance(want, tuple)
        return (have in want) == (op == "IN")
    if op in ("LIKE", "ILIKE"):
        assert isinstance(want, str)
        return like_pattern(want, op == "ILIKE").fullmatch(have) is not None
    return _COMPARE[op](have, want)


@lru_cache(maxsize=256)
def like_pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """SQL LIKE pattern (``%`` any run, ``_`` one character) as a compiled regex to fullmatch."""
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


class _Reversed:
    """Wraps a sort value so that ascending sorting of it yields descending order."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and bool(self.value == other.value)

    def __hash__(self) -> int:
        return hash(self.value)


def _value_rank(value: Any) -> tuple[int, Any]:
    # Numbers before text, as SQLite orders mixed columns; properties can hold either.
    if isinstance(value, bool | int | float):
        return (0, float(value))
    return (1, str(value))


def sort_key(order: tuple[OrderKey, ...] | list[OrderKey]) -> Callable[[RunView], tuple[Any, ...]]:
    """A key function for ``sorted(runs, key=...)`` that orders runs as ``RunQuery.order_by`` says."""
    order = tuple(order)

    def key(run: RunView) -> tuple[Any, ...]:
        parts: list[Any] = []
        for item in order:
            value = lookup(run, item.key)
            if value is None:
                parts.append((2, None))
            elif isinstance(value, float) and math.isnan(value):
                parts.append((1, None))
            else:
                ranked = _value_rank(value)
                parts.append((0, _Reversed(ranked) if item.descending else ranked))
        created = run.attributes.get("created")
        parts.append((1, 0.0) if created is None else (0, -float(created)))
        parts.append(str(run.attributes.get("run_id", "")))
        return tuple(parts)

    return key
