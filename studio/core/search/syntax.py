"""What a parsed MLflow-style run filter is made of (no Qt, no storage).

One parse serves every consumer: the local backend turns it into SQL, the MLflow kind sends ``to_text`` of it on,
and ``evaluate.matches`` checks it in plain Python (the reference the contract suite compares the SQL against).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

KeyKind = Literal["metrics", "params", "tags", "properties", "attributes"]
Op = Literal["=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN"]
Value = float | str | tuple[str, ...]

# MLflow's own spellings of each prefix (mlflow/utils/search_utils.py, SearchUtils._VALID_IDENTIFIERS), plus
# this project's "properties". Lower-cased before the lookup: MLflow's prefixes are case-sensitive, ours are not.
PREFIXES: dict[str, KeyKind] = {
    "metric": "metrics",
    "metrics": "metrics",
    "param": "params",
    "params": "params",
    "parameter": "params",
    "parameters": "params",
    "tag": "tags",
    "tags": "tags",
    "property": "properties",
    "properties": "properties",
    "attribute": "attributes",
    "attributes": "attributes",
    "attr": "attributes",
    "run": "attributes",
}

NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "created", "duration"})
STRING_ATTRIBUTES = frozenset({"status", "run_name", "run_id"})
ATTRIBUTES = NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES
# MLflow accepts "run name" (any capitalisation, in backticks) for run_name. Attribute names are matched
# case-insensitively, which also covers MLflow's "Created".
ATTRIBUTE_ALIASES = {"run name": "run_name"}

NUMBER_OPS: tuple[Op, ...] = ("=", "!=", "<", "<=", ">", ">=")
TEXT_OPS: tuple[Op, ...] = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")


@dataclass(frozen=True)
class Key:
    """A run's value to filter or sort on: ``Key("metrics", "val loss")`` is ``metrics.`val loss```."""

    kind: KeyKind
    name: str

    @property
    def numeric(self) -> bool:
        """Whether values of this key are numbers (metrics, times, duration) rather than text."""
        return self.kind == "metrics" or (self.kind == "attributes" and self.name in NUMERIC_ATTRIBUTES)

    def __str__(self) -> str:
        return key_text(self)


@dataclass(frozen=True)
class Comparison:
    """``key op value``: value is a float for numeric keys, a str, or a tuple of str for IN / NOT IN."""

    key: Key
    op: Op
    value: Value


@dataclass(frozen=True)
class Filter:
    """Comparisons joined by AND (MLflow's grammar has no OR); an empty filter matches every run."""

    comparisons: tuple[Comparison, ...] = ()


@dataclass(frozen=True)
class OrderKey:
    """One ``"<key> [ASC|DESC]"`` of ``RunQuery.order_by``."""

    key: Key
    descending: bool = False


def key_text(key: Key) -> str:
    """``metrics.acc``, or ``metrics.`val loss``` when the name needs quoting (as MLflow requires)."""
    if re.fullmatch(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*", key.name):
        return f"{key.kind}.{key.name}"
    escaped = "".join("\\" + c if c in "\\`" else c for c in key.name)
    return f"{key.kind}.`{escaped}`"
