"""A RunQuery (quick words, MLflow filter, order) as SQL over runs, run_tags, run_properties, metric_summaries.

The semantics are ``studio.core.search``'s (``apply_query`` is the reference the property test compares
against), in particular:

- a run lacking a key never matches, not even ``!=`` / ``NOT IN``: every comparison on a metric, tag or
  property is an ``EXISTS`` over the run's row for that name; a NULL attribute (``end_time`` of a running run,
  a ``duration`` without both ends) fails every SQL comparison;
- a metric's last value NaN is stored as NULL: NULL fails ``= < <= > >=`` as NaN does in Python, and ``!=``
  adds ``OR last IS NULL`` because ``nan != x`` is True in Python;
- ``=`` ``!=`` ``IN`` compare text with SQLite's BINARY collation (case-sensitive, like Python); ``LIKE`` and
  ``ILIKE`` and the quick words use SQLite's LIKE where it agrees with Python (it folds ASCII letters only)
  and the functions of ``sql_functions`` where it may not, so non-ASCII text matches as in Python;
- local runs have no params: a ``params.*`` comparison matches nothing and a ``params.*`` order puts every
  run in the "missing" group;
- order: values first, then NaN, then runs lacking the key, in either direction; ties newest ``created_at``
  first, then ``id`` ascending (``evaluate.sort_key``).

Speed (100,000 runs of one experiment with 10 metrics each): the first order key splits the runs into
segments (values, NaN, missing), each read on its own, so a metric order walks the index
``metric_summaries(experiment_id, name, last)`` in order and stops after a page instead of sorting 100,000
runs. A filter whose index range (a tag's value, a metric's range) holds few runs starts from those runs
instead (``few_runs``): a walk of the order would pass every run the filter drops. A count walks the indexes of
the comparisons that have one (see ``count``) instead of checking every comparison on every run.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.core.errors import NotFoundError
from studio.core.search import Comparison, Filter, OrderKey
from studio.core.status import RunStatus
from studio.core.types import RunQuery

#: Attribute -> SQL on the runs row ``r``; the nullable ones are missing while NULL.
ATTRIBUTE_SQL = {
    "status": "r.status",
    "run_name": "r.display_name",
    "run_id": "r.id",
    "created": "r.created_at",
    "start_time": "r.started_at",
    "end_time": "r.ended_at",
    # RunInfo.duration: max(0, end - start); SQLite's max() of a NULL is NULL, so missing until both ends exist.
    "duration": "max(0.0, r.ended_at - r.started_at)",
}
NULLABLE_ATTRIBUTES = frozenset({"start_time", "end_time", "duration"})
_PAIR_TABLES = {"tags": "run_tags", "properties": "run_properties"}
_TIES = ("r.created_at DESC", "r.id ASC")
_SORTED_TOKEN = re.compile(r"s(\d{1,19})\.([0-2])\.(\d{1,19})")


@dataclass
class Sql:
    """A piece of SQL and its parameters, in the order they appear."""

    text: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, text: str, *params: Any) -> None:
        """Append a piece (a clause, a join, an order term)."""
        self.text.append(text)
        self.params.extend(params)


# -- text matching --------------------------------------------------------------------------------


def _ascii(x: str) -> str:
    # Characters == bytes: only ASCII (NUL included, which length() stops at, so such text takes the slow path).
    return f"length({x}) = length(CAST({x} AS BLOB))"


def _like_literal(pattern: str) -> str:
    """A studio LIKE pattern for SQLite's LIKE ... ESCAPE '\\': % and _ stay wildcards, a backslash is literal."""
    return pattern.replace("\\", "\\\\")


def _contains_literal(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def contains_sql(x: str, needle: str) -> tuple[str, list[Any]]:
    """``needle.lower() in x.lower()`` (the quick words' case-insensitive substring)."""
    if needle.isascii():
        # ASCII text: SQLite's LIKE folds exactly Python's lower(); other text (which lower() may turn into
        # ASCII, like the Kelvin sign) goes to Python.
        return (
            f"(CASE WHEN {_ascii(x)} THEN {x} LIKE ? ESCAPE '\\' ELSE studio_contains({x}, ?) END)",
            [_contains_literal(needle), needle],
        )
    return f"studio_contains({x}, ?)", [needle]


def _text_sql(x: str, op: str, value: Any) -> tuple[str, list[Any]]:
    if op in ("=", "!="):
        return f"{x} {op} ?", [value]
    if op in ("IN", "NOT IN"):
        return f"{x} {op} ({','.join('?' * len(value))})", list(value)
    if op == "LIKE":
        # SQLite's LIKE ignores ASCII case, so it keeps a superset of the case-sensitive matches; Python decides.
        return f"({x} LIKE ? ESCAPE '\\' AND studio_like(?, 0, {x}))", [_like_literal(value), value]
    if op == "ILIKE":
        if value.isascii():
            # ASCII pattern and text: SQLite's LIKE is Python's IGNORECASE; other text may fold further.
            return (
                f"(CASE WHEN {_ascii(x)} THEN {x} LIKE ? ESCAPE '\\' ELSE studio_like(?, 1, {x}) END)",
                [_like_literal(value), value],
            )
        return f"studio_like(?, 1, {x})", [value]
    raise ValueError(f"{op} does not compare text")


def _number_sql(x: str, op: str, value: float, nan_is_null: bool) -> tuple[str, list[Any]]:
    if op == "!=" and nan_is_null:
        return f"({x} != ? OR {x} IS NULL)", [value]  # nan != value is True in Python
    return f"{x} {op} ?", [value]


# -- filter ---------------------------------------------------------------------------------------


def comparison_sql(c: Comparison, alias: str) -> tuple[str, list[Any]]:
    """One comparison as a condition on the runs row ``r``; ``alias`` names its subquery's table."""
    key = c.key
    if key.kind == "params":
        return "0", []  # local runs have no params, and a run lacking the key never matches
    if key.kind == "metrics":
        assert isinstance(c.value, float)
        cond, params = _number_sql(f"{alias}.last", c.op, c.value, nan_is_null=True)
        return (
            f"EXISTS (SELECT 1 FROM metric_summaries {alias} WHERE {alias}.run_seq = r.seq "
            f"AND {alias}.name = ? AND {cond})",
            [key.name, *params],
        )
    if key.kind in _PAIR_TABLES:
        cond, params = _text_sql(f"{alias}.value", c.op, c.value)
        return (
            f"EXISTS (SELECT 1 FROM {_PAIR_TABLES[key.kind]} {alias} WHERE {alias}.run_seq = r.seq "
            f"AND {alias}.key = ? AND {cond})",
            [key.name, *params],
        )
    x = ATTRIBUTE_SQL[key.name]
    if key.numeric:
        assert isinstance(c.value, float)
        return _number_sql(x, c.op, c.value, nan_is_null=False)
    return _text_sql(x, c.op, c.value)


def base_where(exp_id: int, query: RunQuery, parent_seq: int | None, comparisons: Sequence[Comparison]) -> Sql:
    """The conditions on ``r`` that select an experiment's runs matching the quick words and comparisons."""
    where = Sql()
    where.add("r.experiment_id = ?", exp_id)
    if parent_seq is None:
        where.add("r.parent_seq IS NULL")
    else:
        where.add("r.parent_seq = ?", parent_seq)
    if query.text:
        name, name_params = contains_sql("r.display_name", query.text)
        run_id, id_params = contains_sql("r.id", query.text)
        where.add(f"({name} OR {run_id})", *name_params, *id_params)
    if query.status is not None:
        where.add("r.status = ?", RunStatus(query.status).value)
    if query.tag:
        cond, params = contains_sql("(q.key || '=' || q.value)", query.tag)
        where.add(f"EXISTS (SELECT 1 FROM run_tags q WHERE q.run_seq = r.seq AND {cond})", *params)
    for i, c in enumerate(comparisons):
        cond, params = comparison_sql(c, f"f{i}")
        where.add(cond, *params)
    return where


# -- count ----------------------------------------------------------------------------------------


def _index_range(c: Comparison, exp_id: int, alias: str) -> Sql | None:
    """``SELECT run_seq`` of the runs passing ``c``, from an index (to extend with more conditions), or None."""
    key, select = c.key, Sql()
    if key.kind in _PAIR_TABLES and c.op in ("=", "IN"):
        select.add(f"SELECT {alias}.run_seq FROM {_PAIR_TABLES[key.kind]} {alias} WHERE {alias}.key = ?", key.name)
        text, params = _text_sql(f"{alias}.value", c.op, c.value)
        select.add(f"AND {text}", *params)
        return select
    if key.kind == "metrics" and c.op != "!=":
        select.add(
            f"SELECT {alias}.run_seq FROM metric_summaries {alias} "
            f"WHERE {alias}.experiment_id = ? AND {alias}.name = ? AND {alias}.last {c.op} ?",
            exp_id,
            key.name,
            c.value,
        )
        return select
    return None


def count(conn: sqlite3.Connection, exp_id: int, query: RunQuery, parent_seq: int | None, flt: Filter) -> int:
    """How many runs match.

    Checking each comparison on each run costs a b-tree lookup per run and comparison (about 300 ms for two
    comparisons on 100,000 runs). Instead the runs come from the index range of one comparison: a tag's or
    property's value when there is one (usually few runs; the rest are then checked per run), else a metric's
    range, with the other metric ranges as nested ``IN`` sets (building a set from an index range costs less
    than a lookup per run). Only the runs left are looked up in ``runs`` and checked against the rest. A range
    holding at most FEW runs (``few_runs``) goes first of all.
    """
    comparisons = list(flt.comparisons)
    few = few_runs(conn, exp_id, flt)
    if few is not None:  # a small range: its runs, each checked against every comparison
        where = base_where(exp_id, query, parent_seq, comparisons)
        where.add(f"r.seq IN ({' '.join(few.text)})", *few.params)
        return int(
            conn.execute(f"SELECT count(*) FROM runs r WHERE {' AND '.join(where.text)}", where.params).fetchone()[0]
        )
    pairs = [c for c in comparisons if c.key.kind in _PAIR_TABLES and _index_range(c, exp_id, "d") is not None]
    if pairs:
        driving = [pairs[0]]
    else:
        driving = [c for c in comparisons if c.key.kind == "metrics" and _index_range(c, exp_id, "d") is not None]
    where = base_where(exp_id, query, parent_seq, [c for c in comparisons if c not in driving])
    chain = Sql()
    for i, c in enumerate(reversed(driving)):
        select = _index_range(c, exp_id, f"d{i}")
        assert select is not None
        if chain.text:
            select.add(f"AND d{i}.run_seq IN ({' '.join(chain.text)})", *chain.params)
        chain = select
    if chain.text:
        where.add(f"r.seq IN ({' '.join(chain.text)})", *chain.params)
    sql = f"SELECT count(*) FROM runs r WHERE {' AND '.join(where.text)}"
    return int(conn.execute(sql, where.params).fetchone()[0])


# -- order ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """Runs in one group of the first order key: 0 has a value, 1 has NaN, 2 lacks the key."""

    number: int
    source: str  # FROM: a table driving the walk, joined to runs r
    where: Sql  # conditions of the group
    first: str | None  # the first key's value term of ORDER BY (group 0 only)


def segments(first: OrderKey, exp_id: int) -> list[Segment]:
    """The groups of the first order key, each with the SQL that lists its runs in order."""
    key, direction = first.key, "DESC" if first.descending else "ASC"
    if key.kind == "params":
        return [Segment(2, "runs r", Sql(), None)]
    if key.kind == "metrics":
        driven = "metric_summaries o CROSS JOIN runs r ON r.seq = o.run_seq"
        values, nans, missing = Sql(), Sql(), Sql()
        for group, last in ((values, "o.last IS NOT NULL"), (nans, "o.last IS NULL")):
            group.add("o.experiment_id = ?", exp_id)
            group.add("o.name = ?", key.name)
            group.add(last)
        missing.add("NOT EXISTS (SELECT 1 FROM metric_summaries o WHERE o.run_seq = r.seq AND o.name = ?)", key.name)
        return [
            Segment(0, driven, values, f"o.last {direction}"),
            Segment(1, driven, nans, None),
            Segment(2, "runs r", missing, None),
        ]
    if key.kind in _PAIR_TABLES:
        table = _PAIR_TABLES[key.kind]
        present, missing = Sql(), Sql()
        present.add("o.key = ?", key.name)
        missing.add(f"NOT EXISTS (SELECT 1 FROM {table} o WHERE o.run_seq = r.seq AND o.key = ?)", key.name)
        return [
            Segment(0, f"{table} o CROSS JOIN runs r ON r.seq = o.run_seq", present, f"o.value {direction}"),
            Segment(2, "runs r", missing, None),
        ]
    x = ATTRIBUTE_SQL[key.name]
    if key.name not in NULLABLE_ATTRIBUTES:
        return [Segment(0, "runs r", Sql(), f"{x} {direction}")]
    present, missing = Sql(), Sql()
    present.add(f"{x} IS NOT NULL")
    missing.add(f"{x} IS NULL")
    return [Segment(0, "runs r", present, f"{x} {direction}"), Segment(2, "runs r", missing, None)]


@dataclass
class OrderSql:
    """LEFT JOINs and ORDER BY terms for order keys, and each key's group (its ``Segment.number``) as SQL."""

    joins: Sql = field(default_factory=Sql)
    terms: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


def order_sql(order: Sequence[OrderKey]) -> OrderSql:
    """Joins and terms (group, then value) that sort runs by ``order`` without walking any index in order."""
    out = OrderSql()
    for i, item in enumerate(order):
        key, direction, a = item.key, "DESC" if item.descending else "ASC", f"k{i}"
        if key.kind == "params":
            out.groups.append("2")  # every run lacks it: one group, no effect on the order
            continue
        if key.kind == "metrics":
            out.joins.add(f"LEFT JOIN metric_summaries {a} ON {a}.run_seq = r.seq AND {a}.name = ?", key.name)
            group = f"(CASE WHEN {a}.run_seq IS NULL THEN 2 WHEN {a}.last IS NULL THEN 1 ELSE 0 END)"
            value = f"{a}.last"
        elif key.kind in _PAIR_TABLES:
            table = _PAIR_TABLES[key.kind]
            out.joins.add(f"LEFT JOIN {table} {a} ON {a}.run_seq = r.seq AND {a}.key = ?", key.name)
            group, value = f"(CASE WHEN {a}.run_seq IS NULL THEN 2 ELSE 0 END)", f"{a}.value"
        else:
            value = ATTRIBUTE_SQL[key.name]
            group = f"(CASE WHEN {value} IS NULL THEN 2 ELSE 0 END)" if key.name in NULLABLE_ATTRIBUTES else "0"
        out.groups.append(group)
        out.terms += ([group] if group != "0" else []) + [f"{value} {direction}"]
    return out


@dataclass(frozen=True)
class SortedPosition:
    """Where a page of a sorted listing starts.

    Offsets rather than keys: a key position would have to hold every order value of the last run (text of
    any length, floats) and compare them with OR chains that no index serves. An offset is exact while
    nothing changes; ``max_seq`` (the newest run when the first page was read) keeps runs created since out
    of the later pages, so new runs never shift them. A run whose value changes while someone pages can move
    between pages; the next listing shows it where it belongs. A later page walks past the ones before it
    (the index in order, no sort), which costs little next to reading the page's runs.
    """

    max_seq: int
    segment: int
    offset: int

    def token(self) -> str:
        """The page token: ``s<max_seq>.<segment>.<offset>`` (never a bare number, as default-order tokens are)."""
        return f"s{self.max_seq}.{self.segment}.{self.offset}"

    @staticmethod
    def parse(token: str) -> SortedPosition:
        """The position a token names; NotFoundError for anything this module did not make."""
        match = _SORTED_TOKEN.fullmatch(token)
        if match is None:
            raise NotFoundError(f"invalid page token {token!r}")
        return SortedPosition(int(match[1]), int(match[2]), int(match[3]))


def sorted_page(
    conn: sqlite3.Connection,
    exp_id: int,
    query: RunQuery,
    parent_seq: int | None,
    flt: Filter,
    order: Sequence[OrderKey],
    position: SortedPosition | None,
    limit: int,
) -> tuple[list[int], SortedPosition | None]:
    """The seqs of one page of runs in ``order`` and the position of the next page (None at the end)."""
    if position is None:
        newest = conn.execute("SELECT coalesce(max(seq), 0) FROM runs").fetchone()[0]
        position = SortedPosition(int(newest), 0, 0)
    where = base_where(exp_id, query, parent_seq, flt.comparisons)
    # "+" keeps SQLite from walking runs by seq for this bound: the walk that matters is the order's.
    where.add("+r.seq <= ?", position.max_seq)
    few = few_runs(conn, exp_id, flt)
    if few is None and parent_seq is not None:
        # A parent's children are few next to the experiment's runs that a walk of the order would pass.
        few = Sql()
        few.add("SELECT c.seq AS run_seq FROM runs c WHERE c.parent_seq = ?", parent_seq)
    if few is not None:
        return _sorted_few(conn, few, where, order, position, limit)
    later = order_sql(order[1:])
    found: list[tuple[int, int, int]] = []  # (seq, segment, offset in the segment)
    for segment in segments(order[0], exp_id):
        if segment.number < position.segment:
            continue
        offset = position.offset if segment.number == position.segment else 0
        order_by = ([segment.first] if segment.first else []) + later.terms + list(_TIES)
        sql = (
            f"SELECT r.seq FROM {segment.source} {' '.join(later.joins.text)} "
            f"WHERE {' AND '.join(segment.where.text + where.text)} "
            f"ORDER BY {', '.join(order_by)} LIMIT ? OFFSET ?"
        )
        params = [*later.joins.params, *segment.where.params, *where.params, limit + 1 - len(found), offset]
        rows = conn.execute(sql, params).fetchall()
        found += [(seq, segment.number, offset + i) for i, (seq,) in enumerate(rows)]
        if len(found) > limit:  # one more than the page says another page exists, and where it starts
            _, number, at = found[limit]
            return [seq for seq, _, _ in found[:limit]], SortedPosition(position.max_seq, number, at)
    return [seq for seq, _, _ in found], None


def _sorted_few(
    conn: sqlite3.Connection,
    few: Sql,
    where: Sql,
    order: Sequence[OrderKey],
    position: SortedPosition,
    limit: int,
) -> tuple[list[int], SortedPosition | None]:
    """``sorted_page`` for a filter that leaves few runs: sort them all, then cut the page.

    Walking the order's index to find a page would pass every run the filter drops (all 100,000 when it
    keeps 50). The positions are the same (segment, offset) as the walk's, so either can follow the other.
    """
    by = order_sql(order)
    sql = (
        f"SELECT r.seq, {by.groups[0]} FROM ({' '.join(few.text)}) x CROSS JOIN runs r ON r.seq = x.run_seq "
        f"{' '.join(by.joins.text)} WHERE {' AND '.join(where.text)} ORDER BY {', '.join(by.terms + list(_TIES))}"
    )
    placed, counts = [], [0, 0, 0]
    for seq, number in conn.execute(sql, [*few.params, *by.joins.params, *where.params]):
        placed.append((seq, number, counts[number]))
        counts[number] += 1
    start = next(
        (i for i, (_, number, at) in enumerate(placed) if (number, at) >= (position.segment, position.offset)),
        len(placed),
    )
    page = placed[start : start + limit + 1]
    following = None
    if len(page) > limit:
        _, number, at = page[limit]
        following = SortedPosition(position.max_seq, number, at)
    return [seq for seq, _, _ in page[:limit]], following


#: A filter whose index ranges leave at most this many runs is answered from them (see ``few_runs``).
FEW = 5_000


def few_runs(conn: sqlite3.Connection, exp_id: int, flt: Filter) -> Sql | None:
    """``SELECT run_seq`` of the smallest index range of the filter's comparisons when it holds at most FEW runs.

    Each range is counted only up to FEW + 1 entries of its index (a fraction of a millisecond each), so a
    listing can afford to ask on every page. None when no comparison has a range that small.
    """
    best, best_count = None, FEW + 1
    for c in flt.comparisons:
        select = _index_range(c, exp_id, "e")
        if select is None:
            continue
        sql = f"SELECT count(*) FROM ({' '.join(select.text)} LIMIT {FEW + 1})"
        found = int(conn.execute(sql, select.params).fetchone()[0])
        if found < best_count:
            best, best_count = select, found
    return best
